"""tabgate init: what it infers from tables built here, and bad input refused with nothing written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from flows.cli import build_parser, dispatch
from tasks.core.config import parse_config
from tasks.core.errors import ConfigError, SchemaError
from tasks.data import column_roles, profiling, reader_guess
from tasks.data.sources import apply_label_map, type_table


def frame(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "customer_id": [f"C{i:05d}" for i in range(n)],
            "signup": pd.date_range("2020-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
            "age": rng.integers(18, 80, n),
            "plan": rng.choice(["basic", "pro", "max"], n),
            "country": "NL",
            "spend": rng.normal(50, 10, n).round(2),
            "churned": rng.choice(["yes", "no"], n, p=[0.3, 0.7]),
        }
    )


def init(tmp_path: Path, *argv: str) -> int:
    return dispatch(build_parser().parse_args(["init", *argv, "--dir", str(tmp_path)]))


def test_binary_text_label_time_id_and_constant(tmp_path: Path) -> None:
    df = frame()
    plan = profiling.plan_init(df, "t.csv", "churned")
    assert (plan.task, plan.positive_label) == ("binary", "yes")
    assert plan.time is not None and plan.time.column == "signup"
    assert plan.id_column == "customer_id"
    assert list(plan.drop_columns) == ["country"]
    cfg = parse_config(yaml.safe_load(profiling.render_params(plan)))
    assert cfg.data.positive_label == "yes" and cfg.data.time_column == "signup"
    assert cfg.promote.thresholds == {"roc_auc": 0.6}


def test_minority_class_is_positive_without_a_spelling() -> None:
    y = pd.Series(["stay"] * 70 + ["leave"] * 30)
    assert column_roles.infer_task(y, "y", "t.csv")[:2] == ("binary", "leave")


def test_regression_multiclass_and_thresholds_fit_the_task() -> None:
    df = frame()
    plan = profiling.plan_init(df, "t.csv", "spend")
    assert plan.task == "regression" and plan.positive_label is None
    cfg = parse_config(yaml.safe_load(profiling.render_params(plan)))
    assert "roc_auc" not in cfg.promote.thresholds and cfg.promote.thresholds == {"r2": 0.1}
    plan = profiling.plan_init(df, "t.csv", "plan")
    assert plan.task == "multiclass"
    parse_config(yaml.safe_load(profiling.render_params(plan)))


def test_date_parts_and_numbers_in_text() -> None:
    df = pd.DataFrame(
        {
            "visit_year": [2020, 2021] * 50,
            "visit_month": ["March", "May"] * 50,
            "visit_day": list(range(1, 29)) * 3 + list(range(1, 17)),
            "total": [" "] + [str(i * 1.5) for i in range(99)],
            "y": [0, 1] * 50,
        }
    )
    plan = profiling.plan_init(df, "t.csv", "y")
    assert plan.time is not None and plan.time.column == "visit"
    assert plan.time.parts == {"year": "visit_year", "month": "visit_month", "day": "visit_day"}
    assert list(plan.numeric_columns) == ["total"]
    cfg = parse_config(yaml.safe_load(profiling.render_params(plan)))
    assert cfg.ingest.time_from_parts is not None and cfg.ingest.numeric_columns == ["total"]


def test_sniffs_semicolon_decimal_comma_and_latin1() -> None:
    head = "naam;prijs;stad\nJosé;1,50;Zürich\nAna;2,75;Köln\n".encode("cp1252")
    assert reader_guess.sniff_reader(head) == reader_guess.ReaderGuess(separator=";", encoding="cp1252", decimal=",")
    assert reader_guess.sniff_reader(b"a,b\n1.5,2\n3.5,4\n") == reader_guess.ReaderGuess()


def test_init_reads_a_semicolon_file_end_to_end(tmp_path: Path) -> None:
    src = tmp_path / "t.csv"
    frame().assign(spend=lambda d: d.spend.map(lambda v: f"{v:.2f}".replace(".", ","))).to_csv(src, sep=";", index=False)
    assert init(tmp_path, str(src), "--target", "churned") == 0
    cfg = parse_config(yaml.safe_load((tmp_path / "params.yaml").read_text()))
    assert (cfg.ingest.separator, cfg.ingest.decimal, cfg.ingest.source) == (";", ",", "t.csv")
    assert (tmp_path / "gx" / "expectations" / "tabgate.json").exists()
    assert (tmp_path / "gx" / "reference_profile.json").exists()
    assert init(tmp_path, str(src), "--target", "churned") == 2  # params.yaml exists: --force needed


@pytest.mark.parametrize(
    "argv, code, words",
    [
        (["--target", "nope"], 2, ["--target 'nope'", "t.csv"]),
        (["--target", "country"], 3, ["'country'", "1 distinct", "t.csv"]),
        (["--target", "plan", "--task", "regression"], 2, ["--task regression", "'plan'", "t.csv"]),
        (["--target", "churned", "--time", "plan"], 2, ["--time 'plan'", "t.csv"]),
        (["--target", "churned", "--id", "nope"], 2, ["--id 'nope'"]),
    ],
)
def test_bad_options_exit_with_the_option_named_and_write_nothing(tmp_path: Path, caplog, argv, code, words) -> None:
    src = tmp_path / "t.csv"
    frame().to_csv(src, index=False)
    assert init(tmp_path, str(src), *argv) == code
    assert all(w in caplog.text for w in words), caplog.text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.csv"]


def test_a_file_that_does_not_parse_exits_3_naming_it(tmp_path: Path, caplog) -> None:
    src = tmp_path / "t.csv.gz"
    src.write_bytes(b"not gzip at all")
    assert init(tmp_path, str(src), "--target", "y") == 3
    assert "t.csv.gz" in caplog.text
    src = tmp_path / "u.csv"
    src.write_text('a,b\n"1,2\n')
    assert init(tmp_path, str(src), "--target", "a") == 3
    assert "u.csv" in caplog.text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.csv.gz", "u.csv"]


def test_one_class_and_text_regression_raise_directly() -> None:
    with pytest.raises(SchemaError):
        column_roles.infer_task(pd.Series([1, 1, 1]), "y", "t.csv")
    with pytest.raises(ConfigError):
        column_roles.infer_task(pd.Series(["a", "b", "c"]), "y", "t.csv", "regression")


def test_label_spelt_two_ways_is_mapped_by_init_and_at_ingest(tmp_path: Path) -> None:
    df = frame().assign(income=lambda d: np.where(np.arange(len(d)) % 3 == 0, ">50K", "<=50K"))
    df.loc[df.index[:20], "income"] = df.loc[df.index[:20], "income"] + "."  # the test file's spelling
    plan = profiling.plan_init(df, "t.csv", "income")
    assert plan.task == "binary" and plan.label_map == {"<=50K.": "<=50K", ">50K.": ">50K"}
    cfg = parse_config(yaml.safe_load(profiling.render_params(plan)))
    typed, notes = type_table(df, cfg.ingest, cfg.data)
    assert set(typed["income"]) == {">50K", "<=50K"}
    assert notes["label_map_rows"] == {"<=50K.": 13, ">50K.": 7}
    assert notes["label_counts"] == {"<=50K": 200, ">50K": 100}


def test_label_map_on_numbers_and_without_a_map() -> None:
    y = pd.Series([0, 1, 2, 2], name="y")
    out, rows = apply_label_map(y, {2: 1})
    assert out.tolist() == [0, 1, 1, 1] and rows == {"2": 2}
    assert apply_label_map(y, {})[0] is y


def test_init_reads_a_quoted_glob_or_a_folder_as_one_table_and_writes_the_source_relative(tmp_path: Path) -> None:
    df = frame()
    (tmp_path / "raw").mkdir()
    df.iloc[:150].to_csv(tmp_path / "raw" / "train.csv", sep=";", index=False)
    df.iloc[150:].to_csv(tmp_path / "raw" / "test.csv", sep=";", index=False)
    project = tmp_path / "project"
    project.mkdir()
    assert init(project, str(tmp_path / "raw" / "*.csv"), "--target", "churned") == 0
    cfg = parse_config(yaml.safe_load((project / "params.yaml").read_text()))
    assert cfg.ingest.source == (tmp_path / "raw" / "*.csv").as_posix() and cfg.ingest.separator == ";"
    assert "(300 rows, 7 columns)" in (project / "params.yaml").read_text()  # both files, one table
    assert cfg.ingest.file_column == "source_file" and "source_file" in cfg.data.drop_columns  # each row names its file
    assert cfg.data.id_column == "customer_id"  # the file column is neither an id nor a feature
    assert init(tmp_path, str(tmp_path / "raw"), "--target", "churned") == 0  # a folder, written relative to --dir
    cfg = parse_config(yaml.safe_load((tmp_path / "params.yaml").read_text()))
    assert cfg.ingest.source == "raw" and cfg.data.id_column == "customer_id"


def test_init_refuses_files_whose_columns_differ_and_a_shell_expanded_glob(tmp_path: Path, caplog) -> None:
    (tmp_path / "raw").mkdir()
    frame().iloc[:150].to_csv(tmp_path / "raw" / "a.csv", index=False)
    frame().iloc[150:].rename(columns={"spend": "spent"}).to_csv(tmp_path / "raw" / "b.csv", index=False)
    project = tmp_path / "project"
    project.mkdir()
    assert init(project, str(tmp_path / "raw" / "*.csv"), "--target", "churned") == 3
    assert "b.csv has column 'spent' that a.csv (the first file) lacks" in caplog.text
    assert init(project, str(tmp_path / "raw" / "a.csv"), str(tmp_path / "raw" / "b.csv"), "--target", "churned") == 2
    assert "the shell expanded a glob? Quote it" in caplog.text
    assert list(project.iterdir()) == []


def test_time_given_as_a_column_of_whole_years_is_built_from_that_part_only_when_asked() -> None:
    panel = pd.DataFrame({"state": np.repeat(np.arange(1, 6), 7), "year": np.tile(np.arange(1982, 1989), 5)})
    panel["y"] = np.arange(len(panel)) * 0.1
    guess, _ = column_roles.infer_time(panel, "y", "panel.csv", "year")
    assert guess is not None and guess.column == "year_date" and guess.parts == {"year": "year"}
    unasked, notes = column_roles.infer_time(panel, "y", "panel.csv")
    assert unasked is None and "whole years" in notes[0]  # a lone year may be a model year: never proposed unasked
    with pytest.raises(ConfigError, match="--time 'state'"):
        column_roles.infer_time(panel, "y", "panel.csv", "state")  # 1..5 are not years
