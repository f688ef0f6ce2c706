"""`tabgate config`: the effective configuration (every key, its value, where it comes from, what it does) and
`tabgate config --check`: every column params.yaml names is in the table, else exit 2 naming key, column, file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from flows.cli import build_parser, dispatch
from tasks.core.config import ValidateParams, load_config, parse_config
from tasks.core.config_docs import effective_text, field_description
from tests.conftest import REPO


def config(tmp_path: Path, *argv: str) -> int:
    return dispatch(build_parser().parse_args(["--params", str(tmp_path / "params.yaml"), "config", *argv]))


def project(tmp_path: Path, extra: str = "") -> Path:
    pd.DataFrame(
        {
            "id": range(200),
            "when": pd.date_range("2021-01-01", periods=200).strftime("%Y-%m-%d"),
            "amount": range(200),
            "city": ["a", "b"] * 100,
            "y": [0, 1] * 100,
        }
    ).to_csv(tmp_path / "t.csv", index=False)
    (tmp_path / "params.yaml").write_text(
        f"data:\n  target: y\n  time_column: when\n  id_column: id\nvalidate:\n  min_rows: 150\n"
        f"ingest:\n  source: {tmp_path / 't.csv'}\n{extra}"
    )
    return tmp_path


def test_effective_configuration_has_every_key_loads_back_and_marks_what_params_sets(tmp_path, capsys) -> None:
    project(tmp_path)
    assert config(tmp_path) == 0
    out = capsys.readouterr().out
    assert parse_config(yaml.safe_load(out)) == load_config(tmp_path / "params.yaml")  # nothing lost or changed
    lines = out.splitlines()
    line = next(x for x in lines if x.startswith("  min_rows:"))
    assert line.startswith("  min_rows: 150  # [params.yaml; default 100] ")  # set here, differs from the default
    assert field_description(ValidateParams, "min_rows") in line
    line = next(x for x in lines if x.startswith("  null_tolerance:"))
    assert "[params.yaml" not in line and field_description(ValidateParams, "null_tolerance") in line  # a default
    assert "  target: y  # [params.yaml; required] the column to predict" in lines
    assert (
        "split:  # How the test set is held out: by time, by entity, or stratified at random. "
        "[not in params.yaml: all defaults]" in lines
    )
    assert "    num_leaves: 31  # LightGBM leaves per tree" in lines  # nested sections too


def test_bundled_params_effective_configuration_round_trips() -> None:
    text = effective_text(REPO / "params.yaml")
    assert parse_config(yaml.safe_load(text)) == load_config(REPO / "params.yaml")
    assert all(
        " # " in line or not line.strip() or line.startswith("#") or line.startswith("    ") for line in text.splitlines()
    )  # every key has its comment (mapping entries are values)


def test_check_passes_when_every_named_column_is_there(tmp_path, capsys) -> None:
    project(tmp_path, "split:\n  expected_shift:\n    amount: grows over time\n")
    assert config(tmp_path, "--check") == 0
    out = capsys.readouterr().out
    assert "OK" in out and "data.target" in out and "split.expected_shift" in out and "t.csv (5 columns)" in out


@pytest.mark.parametrize(
    "extra, words",
    [
        ("", []),  # the base project has a bad target below
        ("monitor:\n  passthrough_columns: [city, town]\n", ["monitor.passthrough_columns: no column 'town'"]),
        (
            "validate:\n  keep_suspects:\n    amont: known at booking\n",
            ["validate.keep_suspects.amont: no column 'amont'", "did you mean 'amount'?"],
        ),
        ("data:\n  target: y\n  drop_columns:\n    cty: leak\n", ["data.drop_columns.cty: no column 'cty'"]),
    ],
)
def test_check_exits_2_naming_the_key_the_column_and_the_file(tmp_path, caplog, extra, words) -> None:
    project(tmp_path)
    raw = yaml.safe_load((tmp_path / "params.yaml").read_text())
    raw["data"]["target"] = "Y"
    for key, value in (yaml.safe_load(extra) or {}).items():
        raw[key] = {**raw.get(key, {}), **value}
    if "target" in (yaml.safe_load(extra) or {}).get("data", {}):
        raw["data"]["target"] = "y"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    assert config(tmp_path, "--check") == 2
    file = str(tmp_path / "t.csv")
    if not words:
        words = ["data.target: no column 'Y'", "did you mean 'y'?"]
    assert all(w in caplog.text for w in words), caplog.text
    assert f"in {file}" in caplog.text and "params.yaml" in caplog.text


def test_check_on_time_parts_a_glob_with_mismatched_files_and_no_table(tmp_path, caplog) -> None:
    (tmp_path / "raw").mkdir()
    frame = pd.DataFrame({"yr": [2020, 2021], "mo": [1, 2], "dd": [3, 4], "y": [0, 1]})
    frame.to_csv(tmp_path / "raw" / "a.csv", index=False)
    (tmp_path / "params.yaml").write_text(
        f"data:\n  target: y\n  time_column: when\ningest:\n  source: '{tmp_path / 'raw' / '*.csv'}'\n"
        "  time_from_parts: {year: yr, month: month, day: dd}\nvalidate:\n  keep_suspects: {when: known}\n"
    )
    assert config(tmp_path, "--check") == 2  # the built column 'when' may be named; the part 'month' is missing
    assert "ingest.time_from_parts.month: no column 'month'" in caplog.text and "keep_suspects" not in caplog.text
    frame.drop(columns="dd").to_csv(tmp_path / "raw" / "b.csv", index=False)
    assert config(tmp_path, "--check") == 3  # a data problem: the files disagree
    assert "b.csv lacks column 'dd' that a.csv (the first file) has" in caplog.text
    (tmp_path / "params.yaml").write_text(
        f"data:\n  target: y\ningest:\n  source: {tmp_path / 'gone.csv'}\npaths:\n  data_dir: {tmp_path / 'data'}\n"
    )
    assert config(tmp_path, "--check") == 3
    assert "gone.csv is not there" in caplog.text and "run `tabgate ingest`" in caplog.text


def test_check_reads_the_snapshot_when_the_source_is_not_there(tmp_path, capsys) -> None:
    (tmp_path / "data").mkdir()
    pd.DataFrame({"a": [1], "y": [0]}).to_parquet(tmp_path / "data" / "t.parquet")
    (tmp_path / "params.yaml").write_text(
        f"data:\n  target: y\ningest:\n  source: {tmp_path / 'gone.csv'}\npaths:\n  data_dir: {tmp_path / 'data'}\n"
    )
    assert config(tmp_path, "--check") == 0
    assert "t.parquet (2 columns)" in capsys.readouterr().out


def test_a_bad_key_is_exit_2_before_the_table_is_read(tmp_path, caplog) -> None:
    project(tmp_path, "split:\n  tset_size: 0.1\n")
    assert config(tmp_path, "--check") == 2 and config(tmp_path) == 2
    assert "split.tset_size: unknown key" in caplog.text
