"""Several files as one table: a folder or a glob of CSV / Parquet files, snapshot and read in sorted path order,
each file and its md5 in reports/ingest.json, and files whose columns differ refused naming the file and column."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest

from tasks import ingest
from tasks.core.config import IngestParams
from tasks.core.errors import ConfigError, InputError
from tasks.data import file_sets, sources
from tests.conftest import make_config


def write_parts(frame: pd.DataFrame, folder: Path, names: list[str], sep: str = ",") -> list[pd.DataFrame]:
    """Write frame cut into len(names) consecutive pieces, one CSV per name (below folder); return the pieces."""
    folder.mkdir(parents=True, exist_ok=True)
    size = -(-len(frame) // len(names))
    pieces = [frame.iloc[i * size : (i + 1) * size] for i in range(len(names))]
    for name, piece in zip(names, pieces, strict=True):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        piece.to_csv(folder / name, index=False, sep=sep)
    return pieces


def plain(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(
        colour=frame["colour"].astype(str), city=frame["city"].astype(str), when=frame["when"].dt.strftime("%Y-%m-%d")
    )


def test_glob_is_read_in_sorted_path_order_whatever_order_the_files_were_written(tmp_path, frame):
    src = plain(frame)
    # written b, a, c; sorted path order is a, b, c (and sub/ after the top-level files: 'a' < 'b' < 'c' < 's')
    pieces = write_parts(src, tmp_path / "raw", ["b.csv", "a.csv", "c.csv"])
    read = sources.read_source(IngestParams(source=str(tmp_path / "raw" / "*.csv")))
    expected = pd.concat([pieces[1], pieces[0], pieces[2]], ignore_index=True)
    pd.testing.assert_frame_equal(read, pd.read_csv(pd.io.common.StringIO(expected.to_csv(index=False))))
    assert file_sets.glob_root(str(tmp_path / "raw" / "*.csv")) == tmp_path / "raw"
    assert file_sets.glob_root("*.csv") == Path(".")


def test_glob_snapshot_copies_the_matched_files_and_ingest_records_each_with_its_md5(tmp_path, frame):
    cfg = make_config(tmp_path, data={"time_column": "when"}, ingest={"source": str(tmp_path / "raw" / "*.csv")})
    write_parts(plain(frame), tmp_path / "raw", ["train.csv", "test.csv"])
    (tmp_path / "raw" / "README.md").write_text("not matched by *.csv")
    info = sources.snapshot_source(cfg.ingest, cfg.paths.data_dir)
    snap = cfg.paths.data_dir / "raw"
    assert info["format"] == "csv" and info["file"] == "raw"
    assert sorted(p.name for p in snap.iterdir()) == ["test.csv", "train.csv"]
    assert all((snap / n).read_bytes() == (tmp_path / "raw" / n).read_bytes() for n in ("test.csv", "train.csv"))
    report = ingest.run(cfg)
    assert report.rows == len(frame) and report.files is not None
    assert [f.file for f in report.files] == ["test.csv", "train.csv"]
    for f in report.files:
        assert f.md5 == hashlib.md5((tmp_path / "raw" / f.file).read_bytes()).hexdigest()
        assert f.bytes == (tmp_path / "raw" / f.file).stat().st_size
    out = pd.read_parquet(cfg.paths.ingested)
    assert pd.api.types.is_datetime64_any_dtype(out["when"]) and isinstance(out["colour"].dtype, pd.CategoricalDtype)
    # the same table as the source read directly (init and `tabgate config --check` read it so)
    direct = sources.read_source(cfg.ingest)
    assert out["x1"].tolist() == direct["x1"].tolist()


def test_folder_of_csv_files_nested_and_compressed_is_one_table_skipping_notes_and_hidden_files(tmp_path, frame):
    src = plain(frame)
    pieces = write_parts(src, tmp_path / "exports", ["2020/q1.csv", "2020/q2.csv.gz", "2021/q1.csv"])
    (tmp_path / "exports" / "NOTES.txt").write_text("a note, not a table")
    (tmp_path / "exports" / ".hidden.csv").write_text("x\n1\n")
    (tmp_path / "exports" / "_tmp").mkdir()
    (tmp_path / "exports" / "_tmp" / "partial.csv").write_text("x\n1\n")
    assert [file_sets.relative_name(f, tmp_path / "exports") for f in file_sets.folder_files(tmp_path / "exports")] == [
        "2020/q1.csv",
        "2020/q2.csv.gz",
        "2021/q1.csv",
    ]
    p = IngestParams(source=str(tmp_path / "exports"))
    assert sources.source_format(p) == "csv"
    data = tmp_path / "data"
    sources.snapshot_source(p, data)
    back = sources.read_snapshot(sources.snapshot_file(data), p)
    assert len(back) == len(frame) and back["x1"].round(9).tolist() == pd.concat(pieces)["x1"].round(9).tolist()
    assert not (data / "exports" / "NOTES.txt").exists()


def test_semicolon_files_use_the_reader_options_for_every_file(tmp_path, frame):
    write_parts(plain(frame)[["x1", "label"]], tmp_path / "eu", ["a.csv", "b.csv"], sep=";")
    read = sources.read_source(IngestParams(source=str(tmp_path / "eu" / "*.csv"), separator=";"))
    assert list(read.columns) == ["x1", "label"] and len(read) == len(frame)


def test_columns_in_another_order_are_aligned_to_the_first_file(tmp_path):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "a.csv").write_text("x,y,label\n1,2,0\n")
    (tmp_path / "s" / "b.csv").write_text("label,y,x\n1,20,10\n")
    read = sources.read_source(IngestParams(source=str(tmp_path / "s")))
    assert list(read.columns) == ["x", "y", "label"] and read["x"].tolist() == [1, 10]


@pytest.mark.parametrize(
    "second, words",
    [
        ("x,y,z,label\n1,2,3,0\n", ["b.csv has column 'z' that a.csv (the first file) lacks"]),
        ("x,label\n1,0\n", ["b.csv lacks column 'y' that a.csv (the first file) has"]),
        ("x,Y,label\n1,2,0\n", ["b.csv has column 'Y'", "also differ: ['y']"]),
    ],
)
def test_files_whose_columns_differ_are_refused_naming_the_file_and_the_column(tmp_path, second, words):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "a.csv").write_text("x,y,label\n1,2,0\n")
    (tmp_path / "s" / "b.csv").write_text(second)
    for read in (
        lambda: sources.read_source(IngestParams(source=str(tmp_path / "s" / "*.csv"))),
        lambda: sources.read_source(IngestParams(source=str(tmp_path / "s"))),
    ):
        with pytest.raises(InputError) as err:
            read()
        assert all(w in str(err.value) for w in words), str(err.value)
        assert "ingest.source" in str(err.value)
    cfg = make_config(tmp_path, ingest={"source": str(tmp_path / "s" / "*.csv")})
    sources.snapshot_source(cfg.ingest, cfg.paths.data_dir)  # the snapshot is a copy; ingest refuses to read it
    with pytest.raises(InputError, match="b.csv"):
        ingest.run(cfg)
    assert not cfg.paths.ingested.exists()


def test_parquet_parts_with_differing_columns_are_refused(tmp_path, frame):
    (tmp_path / "pq").mkdir()
    frame.iloc[:300].to_parquet(tmp_path / "pq" / "part-0.parquet", index=False)
    frame.iloc[300:].drop(columns=["x2"]).to_parquet(tmp_path / "pq" / "part-1.parquet", index=False)
    with pytest.raises(InputError, match="part-1.parquet lacks column 'x2' that part-0.parquet"):
        sources.read_source(IngestParams(source=str(tmp_path / "pq")))
    with pytest.raises(InputError, match="part-1.parquet lacks column 'x2'"):
        sources.read_source(IngestParams(source=str(tmp_path / "pq" / "*.parquet")))


def test_glob_of_parquet_files_and_a_mix_of_formats(tmp_path, frame):
    (tmp_path / "pq").mkdir()
    frame.iloc[:300].to_parquet(tmp_path / "pq" / "b.parquet", index=False)
    frame.iloc[300:].to_parquet(tmp_path / "pq" / "a.parquet", index=False)
    p = IngestParams(source=str(tmp_path / "pq" / "*.parquet"))
    assert sources.source_format(p) == "parquet"
    read = sources.read_source(p)
    assert read["x1"].tolist() == frame["x1"].iloc[300:].tolist() + frame["x1"].iloc[:300].tolist()
    sources.snapshot_source(p, tmp_path / "data")
    assert sources.read_snapshot(tmp_path / "data" / "pq", p)["x1"].tolist() == read["x1"].tolist()
    frame.iloc[:10].to_csv(tmp_path / "pq" / "c.csv", index=False)
    with pytest.raises(ConfigError, match=r"mixes Parquet .* and text files .*c\.csv"):
        sources.read_source(IngestParams(source=str(tmp_path / "pq" / "*")))


def test_a_glob_matching_nothing_names_the_pattern(tmp_path):
    p = IngestParams(source=str(tmp_path / "nope" / "*.csv"))
    with pytest.raises(InputError, match=r"nope/\*\.csv matches no file"):
        sources.snapshot_source(p, tmp_path / "data")
    with pytest.raises(InputError, match="matches no file"):
        sources.read_source(p)


def test_file_column_names_each_rows_file_the_same_in_source_snapshot_and_ingested_table(tmp_path, frame):
    cfg = make_config(
        tmp_path,
        data={"time_column": "when", "drop_columns": {"source_file": "which file"}},
        ingest={"source": str(tmp_path / "raw"), "file_column": "source_file"},
    )
    pieces = write_parts(plain(frame), tmp_path / "raw", ["2016/q1.csv", "2016/q2.csv", "2017.csv"])
    expected = ["2016/q1.csv"] * len(pieces[0]) + ["2016/q2.csv"] * len(pieces[1]) + ["2017.csv"] * len(pieces[2])
    direct = sources.read_source(cfg.ingest)
    assert direct.columns[-1] == "source_file" and direct["source_file"].tolist() == expected
    sources.snapshot_source(cfg.ingest, cfg.paths.data_dir)
    assert sources.read_snapshot(cfg.paths.data_dir / "raw", cfg.ingest)["source_file"].tolist() == expected
    ingest.run(cfg)
    assert pd.read_parquet(cfg.paths.ingested)["source_file"].astype(str).tolist() == expected
    assert sources.source_columns(cfg.ingest)[-1] == "source_file"  # what `tabgate config --check` sees


def test_file_column_for_parquet_parts_and_a_single_file(tmp_path, frame):
    (tmp_path / "pq" / "year=2016").mkdir(parents=True)
    (tmp_path / "pq" / "year=2017").mkdir()
    frame.iloc[:250].to_parquet(tmp_path / "pq" / "year=2016" / "part-0.parquet", index=False)
    frame.iloc[250:].to_parquet(tmp_path / "pq" / "year=2017" / "part-0.parquet", index=False)
    read = sources.read_source(IngestParams(source=str(tmp_path / "pq"), file_column="part"))
    assert read["part"].tolist() == ["year=2016/part-0.parquet"] * 250 + ["year=2017/part-0.parquet"] * (len(frame) - 250)
    assert read["year"].tolist() == [2016] * 250 + [2017] * (len(frame) - 250)
    plain(frame).to_csv(tmp_path / "one.csv", index=False)
    assert set(sources.read_source(IngestParams(source=str(tmp_path / "one.csv"), file_column="f"))["f"]) == {"one.csv"}


def test_file_column_must_be_dropped_and_must_not_clash(tmp_path, frame):
    with pytest.raises(ValueError, match=r"ingest.file_column 'source_file' must also be listed in data.drop_columns"):
        make_config(tmp_path, ingest={"source": "raw/*.csv", "file_column": "source_file"})
    with pytest.raises(ValueError, match="ingest.file_column 'label' is also data.target"):
        make_config(tmp_path, ingest={"source": "raw/*.csv", "file_column": "label"})
    write_parts(plain(frame), tmp_path / "raw", ["a.csv", "b.csv"])
    with pytest.raises(ConfigError, match="ingest.file_column 'colour': a.csv already has a column of that name"):
        sources.read_source(IngestParams(source=str(tmp_path / "raw" / "*.csv"), file_column="colour"))
