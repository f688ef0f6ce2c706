"""Ingest: snapshots are byte copies (stable DVC hash), SQL works, types and time columns are built."""

import sqlite3

import pandas as pd
import pytest

from tasks import ingest
from tasks.core.config import IngestParams
from tasks.core.errors import ConfigError, InputError
from tasks.core.table_params import TimeParts
from tasks.data import sources
from tests.conftest import make_config

REPO_PARAMS = __import__("pathlib").Path(__file__).resolve().parents[2] / "params.yaml"


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


def test_time_from_a_year_alone_or_a_year_and_month_is_the_first_of_the_period():
    df = pd.DataFrame({"y": [1982, 1988], "m": [3, 12], "label": [0, 1]})
    cfg = make_config(__import__("pathlib").Path("/tmp"), data={"time_column": "when"})
    yearly = sources.type_table(df, IngestParams(source="x.csv", time_from_parts=TimeParts(year="y")), cfg.data)[0]
    assert yearly["when"].tolist() == [pd.Timestamp("1982-01-01"), pd.Timestamp("1988-01-01")]
    monthly = sources.type_table(df, IngestParams(source="x.csv", time_from_parts=TimeParts(year="y", month="m")), cfg.data)[0]
    assert monthly["when"].tolist() == [pd.Timestamp("1982-03-01"), pd.Timestamp("1988-12-01")]


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
    assert report.rows == len(frame)
    assert isinstance(out["colour"].dtype, pd.CategoricalDtype)
    assert pd.api.types.is_datetime64_any_dtype(out["when"])


def test_reader_options_read_a_semicolon_file_with_decimal_commas_and_extra_markers(tmp_path):
    path = tmp_path / "bank.csv"
    path.write_text("age;job;balance\n30;admin.;1,5\n41;unknown;?\n52;?;-3,25\n", encoding="latin-1")
    p = IngestParams(source=str(path), separator=";", decimal=",", encoding="latin-1", extra_na_values=["?", "unknown"])
    df = sources.read_snapshot(path, p)
    assert list(df.columns) == ["age", "job", "balance"]
    assert df["balance"].tolist()[0] == 1.5 and df["balance"].isna().tolist() == [False, True, False]
    assert df["job"].isna().tolist() == [False, True, True]  # the extra markers add to na_values
    assert IngestParams(source="x.csv").na_values == ["", "NA", "NULL", "null", "NaN", "nan"]


def test_a_file_read_as_one_glued_column_names_the_separator_key(tmp_path):
    path = tmp_path / "bank.csv"
    path.write_text('"age";"job";"y"\n30;"admin.";"no"\n41;"services";"yes"\n')
    with pytest.raises(ConfigError, match=r"probably separated by ';'\. Set ingest\.separator"):
        sources.read_snapshot(path, IngestParams(source=str(path)))


def test_an_unknown_reader_option_is_a_config_error_naming_it():
    import yaml

    from tasks.core.config import parse_config

    raw = yaml.safe_load(open(REPO_PARAMS).read())
    raw["ingest"]["seperator"] = ";"
    with pytest.raises(ConfigError, match=r"ingest\.seperator: unknown key"):
        parse_config(raw)


def test_time_from_parts_takes_hour_and_minute_and_refuses_unparseable_parts():
    df = pd.DataFrame({"y": [2011, 2011], "m": [1, 1], "d": [1, 2], "h": [0, 23], "mi": [5, 59]})
    p = IngestParams(source="x.csv", time_from_parts=TimeParts(year="y", month="m", day="d", hour="h", minute="mi"))
    t = sources.build_time_column(df, p, "when")
    assert t.tolist() == [pd.Timestamp("2011-01-01 00:05"), pd.Timestamp("2011-01-02 23:59")]
    with pytest.raises(ConfigError, match=r"ingest\.time_from_parts\.hour: column 'h' has 1 value"):
        sources.build_time_column(df.assign(h=["0", "late"]), p, "when")


def write_partitioned(frame: pd.DataFrame, root) -> pd.DataFrame:
    """Write frame as a hive-partitioned Parquet dataset (year=..., city=...) under root; return it with its year."""
    table = frame.assign(year=frame["when"].dt.year, colour=frame["colour"].astype(str), city=frame["city"].astype(str))
    table.to_parquet(root, partition_cols=["year", "city"], index=False)
    (root / "_SUCCESS").write_text("")  # a marker file as Spark writes it: copied, never read as a part
    return table


def test_partitioned_parquet_directory_is_snapshot_as_a_tree_and_read_in_path_order(tmp_path, frame):
    table = write_partitioned(frame, tmp_path / "bookings")
    data = tmp_path / "data"
    info = sources.snapshot_source(IngestParams(source=str(tmp_path / "bookings")), data)
    copied = sources.parquet_parts(data / "bookings")
    assert info["format"] == "parquet" and info["file"] == "bookings" and len(copied) == 8  # 2 years x 4 cities
    assert [p.relative_to(data / "bookings") for p in copied] == [
        p.relative_to(tmp_path / "bookings") for p in sources.parquet_parts(tmp_path / "bookings")
    ]
    assert all(p.read_bytes() == (tmp_path / "bookings" / p.relative_to(data / "bookings")).read_bytes() for p in copied)
    assert info["bytes"] == sum(p.stat().st_size for p in (tmp_path / "bookings").rglob("*") if p.is_file())
    again = sources.snapshot_source(IngestParams(source=str(tmp_path / "bookings")), tmp_path / "data2")
    assert again["sha256"] == info["sha256"]  # same tree, same digest (DVC hashes the same bytes too)
    back = sources.read_snapshot(sources.snapshot_file(data), IngestParams(source=str(tmp_path / "bookings")))
    assert len(back) == len(frame) and pd.api.types.is_integer_dtype(back["year"])  # a key reads back as a number
    keys = list(zip(back["year"], back["city"].astype(str), strict=True))
    assert keys == sorted(keys)  # parts in path order: year=2020/city=a, ..., year=2021/city=d
    expected = table.sort_values(["year", "city", "when", "x1"]).reset_index(drop=True)
    got = back.sort_values(["year", "city", "when", "x1"]).reset_index(drop=True)
    assert got["x1"].tolist() == expected["x1"].tolist() and got["label"].tolist() == expected["label"].tolist()


def test_ingest_run_types_a_partitioned_dataset_like_the_single_file(tmp_path, frame):
    cfg = make_config(tmp_path, data={"time_column": "when"})
    table = write_partitioned(frame, tmp_path / "parts")
    sources.snapshot_source(IngestParams(source=str(tmp_path / "parts")), cfg.paths.data_dir)
    report = ingest.run(cfg)
    out = pd.read_parquet(cfg.paths.ingested)
    assert report.rows == len(frame) and report.snapshot == "parts" and len(report.snapshot_sha256) == 64
    assert isinstance(out["city"].dtype, pd.CategoricalDtype) and pd.api.types.is_datetime64_any_dtype(out["when"])
    assert sorted(out["x1"].tolist()) == sorted(table["x1"].tolist())


def test_a_directory_without_table_files_or_read_as_another_format_is_refused(tmp_path, frame):
    (tmp_path / "empty" / "year=2020").mkdir(parents=True)
    (tmp_path / "empty" / "year=2020" / "notes.txt").write_text("not a part")  # a folder scan skips .txt notes
    with pytest.raises(InputError, match=r"empty is a folder with no CSV .* or \.parquet files below it"):
        sources.snapshot_source(IngestParams(source=str(tmp_path / "empty")), tmp_path / "data")
    write_partitioned(frame, tmp_path / "parts")
    with pytest.raises(ConfigError, match="folder of parquet files; ingest.format is 'csv'"):
        sources.snapshot_source(IngestParams(source=str(tmp_path / "parts"), format="csv"), tmp_path / "data")


def test_broken_parquet_error_points_at_the_file_not_at_csv_options(tmp_path):
    bad = tmp_path / "data.parquet"
    bad.write_bytes(b"\x00\x01\x02 not parquet")
    with pytest.raises(InputError, match="data.parquet: cannot be read as a table") as err:
        sources.read_snapshot(bad, IngestParams(source=str(bad)))
    assert "ingest.separator" not in str(err.value) and "Parquet file" in str(err.value)
