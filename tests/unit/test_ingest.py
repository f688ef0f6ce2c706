"""Ingest: snapshots are byte copies (stable DVC hash), SQL works, types and time columns are built."""

import sqlite3

import pandas as pd
import pytest

from tasks import ingest
from tasks.core.config import IngestParams, TimeParts
from tasks.core.errors import InputError
from tasks.data import sources
from tests.conftest import make_config


def test_file_snapshot_is_a_byte_copy_and_replaces_old_content(tmp_path):
    src = tmp_path / "t.csv"
    src.write_text("a,b\n1,x\n2,y\n")
    data = tmp_path / "data"
    data.mkdir()
    (data / "old.csv").write_text("stale")
    info = sources.snapshot_source(IngestParams(source=str(src)), data)
    assert [p.name for p in data.iterdir()] == ["t.csv"]
    assert (data / "t.csv").read_bytes() == src.read_bytes()
    assert info["format"] == "csv" and info["bytes"] == src.stat().st_size


def test_sql_table_snapshot(tmp_path):
    db = tmp_path / "src.sqlite"
    with sqlite3.connect(db) as conn:
        pd.DataFrame({"a": [1, 2, 3], "label": [0, 1, 0]}).to_sql("bookings", conn, index=False)
    p = IngestParams(source=f"sqlite:///{db}", table="bookings")
    info = sources.snapshot_source(p, tmp_path / "data")
    back = pd.read_parquet(tmp_path / "data" / "bookings.parquet")
    assert info["format"] == "sql" and back["a"].tolist() == [1, 2, 3]


def test_sql_query_snapshot(tmp_path):
    db = tmp_path / "src.sqlite"
    with sqlite3.connect(db) as conn:
        pd.DataFrame({"a": [1, 2, 3]}).to_sql("t", conn, index=False)
    p = IngestParams(source=f"sqlite:///{db}", format="sql", query="select a from t where a > 1")
    sources.snapshot_source(p, tmp_path / "data")
    assert pd.read_parquet(tmp_path / "data" / "query.parquet")["a"].tolist() == [2, 3]


def test_missing_source_names_the_file(tmp_path):
    with pytest.raises(InputError, match="nope.csv: no such file"):
        sources.snapshot_source(IngestParams(source=str(tmp_path / "nope.csv")), tmp_path / "data")


def test_time_from_parts_with_month_names():
    df = pd.DataFrame({"y": [2016, 2017], "m": ["July", "march"], "d": [1, 31], "label": [0, 1]})
    p = IngestParams(source="x.csv", time_from_parts=TimeParts(year="y", month="m", day="d"))
    cfg = make_config(__import__("pathlib").Path("/tmp"), data={"time_column": "when"})
    out, notes = sources.type_table(df, p, cfg.data)
    assert out["when"].tolist() == [pd.Timestamp("2016-07-01"), pd.Timestamp("2017-03-31")]
    assert notes["time_unparsed_rows"] == 0
    assert "when" not in df.columns  # input not mutated


def test_numeric_coercion_counts_failures_but_not_blanks():
    df = pd.DataFrame({"total": ["1.5", " ", "abc", "3"], "label": [0, 1, 0, 1]})
    out, failures = sources.coerce_numeric(df, ["total"])
    assert out["total"].isna().tolist() == [False, True, True, False]
    assert failures == {"total": 1}


def test_not_a_table_is_an_input_error(tmp_path):
    bad = tmp_path / "data.csv"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00binary junk \xff\xfe")
    with pytest.raises(InputError, match="data.csv: cannot be read as a table"):
        sources.read_snapshot(bad, IngestParams(source=str(bad)))


def test_empty_table_is_an_input_error(tmp_path):
    cfg = make_config(tmp_path)
    with pytest.raises(InputError, match="empty"):
        sources.type_table(pd.DataFrame({"a": []}), cfg.ingest, cfg.data)


def test_run_writes_typed_parquet(tmp_path, frame):
    cfg = make_config(tmp_path, data={"time_column": "when"})
    (tmp_path / "data").mkdir()
    frame.assign(colour=frame["colour"].astype(str)).to_csv(tmp_path / "data" / "t.csv", index=False)
    report = ingest.run(cfg)
    out = pd.read_parquet(cfg.paths.ingested)
    assert report["rows"] == len(frame)
    assert isinstance(out["colour"].dtype, pd.CategoricalDtype)
    assert pd.api.types.is_datetime64_any_dtype(out["when"])
