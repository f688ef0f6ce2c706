"""Whole-table rule counts agree with Great Expectations where GX sees the whole table, and catch what a sample misses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tasks.quality.gx_store import open_context, run_suite
from tasks.quality.rule_counts import sample_rows, whole_table_verdict
from tasks.quality.suite import time_parameters
from tasks.quality.validation import bootstrap_suite, validate_frame
from tasks.quality.verdicts import with_whole_table_verdicts
from tests.conftest import make_config

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def broken_frame(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    """Return a bookings-like frame with a bit of everything wrong: nulls, out-of-range, unseen, duplicated ids."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "booking_id": np.arange(n),
            "arrival": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 700, n), unit="D"),
            "lead_time": rng.integers(0, 300, n).astype(float),
            "hotel": pd.Categorical(rng.choice(["City", "Resort"], n)),
            "country": rng.choice(["PRT", "GBR", "FRA", "ESP"], n).astype(object),
            "is_canceled": rng.integers(0, 2, n),
        }
    )
    return df


def mutate(df: pd.DataFrame) -> pd.DataFrame:
    """Return df with problems planted (some rare: a handful of rows each)."""
    df = df.copy()
    df.loc[[3, 500, 2900], "lead_time"] = [-50.0, 9999.0, np.nan]
    df.loc[10:400, "lead_time"] = np.nan
    df["country"] = df["country"].astype(object)
    df.loc[[7, 8], "country"] = "XXX"
    df.loc[[20], "booking_id"] = 21
    df.loc[[30], "arrival"] = pd.Timestamp("2999-01-01")
    df.loc[[40, 41], "is_canceled"] = 7
    return df


@pytest.fixture()
def suite_and_cfg(tmp_path):
    cfg = make_config(
        tmp_path,
        data={
            "target": "is_canceled",
            "task": "binary",
            "time_column": "arrival",
            "id_column": "booking_id",
            "categorical_columns": [],
            "segment_columns": [],
            "drop_columns": {},
        },
        validate={"min_rows": 100, "gx_max_rows": 1000},
    )
    ref = broken_frame()
    bootstrap_suite(ref, cfg.paths, cfg.data, cfg.validate)
    return cfg


def gx_results(cfg, df):
    ctx = open_context(cfg.paths)
    params = time_parameters(pd.Timestamp("2026-01-01", tz="UTC").to_pydatetime())
    return run_suite(ctx, cfg.validate.suite_name, df, params), params


def test_whole_table_counts_agree_with_great_expectations_on_the_whole_table(suite_and_cfg):
    df = mutate(broken_frame(seed=1))
    results, params = gx_results(suite_and_cfg, df)
    recounted = with_whole_table_verdicts(results, df, params)
    checked = 0
    for gx_res, ours in zip(results, recounted):
        assert ours["success"] == gx_res["success"], ours["expectation_config"]
        for key in ("unexpected_count", "observed_value"):
            if key in (gx_res.get("result") or {}) and key in ours["result"] and gx_res["result"][key] is not None:
                gx_value, our_value = gx_res["result"][key], ours["result"][key]
                if isinstance(gx_value, float):
                    assert our_value == pytest.approx(gx_value), (key, ours["expectation_config"])
                elif not isinstance(gx_value, list):
                    assert our_value == gx_value, (key, ours["expectation_config"])
        if "unexpected_percent" in (gx_res.get("result") or {}) and gx_res["result"]["unexpected_percent"] is not None:
            assert ours["result"]["unexpected_percent"] == pytest.approx(gx_res["result"]["unexpected_percent"])
            assert (
                ours["result"]["partial_unexpected_list"] == gx_res["result"]["partial_unexpected_list"][:20]
                or ours["expectation_config"]["type"] == "expect_column_values_to_not_be_null"
            )
        checked += ours is not gx_res
    failed = {
        (r["expectation_config"]["kwargs"].get("column"), r["expectation_config"]["meta"]["rule"])
        for r in recounted
        if not r["success"]
    }
    assert {
        ("booking_id", "unique_id"),
        ("arrival", "time_not_future"),
        ("is_canceled", "label_domain"),
        ("country", "category_set"),
        ("lead_time", "value_range"),
    } <= failed
    assert checked >= 20  # most expectations were recounted, not passed through


def test_a_rare_problem_outside_the_gx_sample_still_stops_validation(suite_and_cfg):
    df = broken_frame(n=20_000, seed=2)
    rows = sample_rows(len(df), suite_and_cfg.validate.gx_max_rows, suite_and_cfg.validate.random_state)
    outside = np.setdiff1d(np.arange(len(df)), rows)
    df.loc[outside[:1], "arrival"] = pd.Timestamp("2999-01-01")  # one row, not in the sample
    df.loc[outside[1:3], "booking_id"] = df.loc[outside[3], "booking_id"]
    report = validate_frame(df, suite_and_cfg.paths, suite_and_cfg.data, suite_and_cfg.validate)
    assert report.counts.gx_sample_rows == 1000
    assert not report.passed
    by_rule = {f.rule: f for f in report.failures}
    assert by_rule["time_not_future"].unexpected_count == 1
    assert "found on the whole table" in by_rule["time_not_future"].detail
    assert by_rule["unique_id"].unexpected_count == 3


def test_row_count_is_the_whole_tables():
    df = pd.DataFrame({"a": range(10)})
    verdict = whole_table_verdict("expect_table_row_count_to_be_between", {"min_value": 5}, df, df.__getitem__, {})
    assert verdict == {"success": True, "observed_value": 10}
    verdict = whole_table_verdict("expect_table_row_count_to_be_between", {"min_value": 11}, df, df.__getitem__, {})
    assert verdict["success"] is False


def test_sample_rows_is_deterministic_and_none_when_the_table_fits():
    assert sample_rows(100, 1000, 0) is None
    a, b = sample_rows(10_000, 1000, 7), sample_rows(10_000, 1000, 7)
    assert np.array_equal(a, b) and len(np.unique(a)) == 1000 and np.all(np.diff(a) > 0)


def test_a_rebootstrapped_suite_is_what_the_next_validation_uses(suite_and_cfg):
    shifted = broken_frame(seed=3)
    shifted["country"] = "NEW"
    first = validate_frame(shifted, suite_and_cfg.paths, suite_and_cfg.data, suite_and_cfg.validate)
    assert "category_set" in {f.rule for f in first.failures}
    bootstrap_suite(shifted, suite_and_cfg.paths, suite_and_cfg.data, suite_and_cfg.validate)  # the suite learns the new category
    second = validate_frame(shifted, suite_and_cfg.paths, suite_and_cfg.data, suite_and_cfg.validate)
    assert "category_set" not in {f.rule for f in second.failures}


def test_text_categories_are_counted_like_their_text(suite_and_cfg):
    df = mutate(broken_frame(seed=4))
    as_category = df.assign(country=df["country"].astype("category"))
    results, params = gx_results(suite_and_cfg, df)
    plain = with_whole_table_verdicts(results, df, params)
    categorical = with_whole_table_verdicts(results, as_category, params)
    assert [r["success"] for r in plain] == [r["success"] for r in categorical]
    assert [r["result"].get("unexpected_count") for r in plain] == [r["result"].get("unexpected_count") for r in categorical]


def stored_results(cfg) -> list[dict]:
    """Return every validation result GX keeps for the project (what Data Docs render), as JSON."""
    store = open_context(cfg.paths).validation_results_store
    return [store.get(k).to_json_dict() for k in store.list_keys()]


def test_data_docs_judge_the_row_count_on_every_row_not_the_gx_sample(suite_and_cfg):
    """A clean 5,000-row table validated on a 1,000-row sample: the row-count rule (between half and twice the
    reference's 3,000 rows) fails on the sample and must pass on the table, in the stored result Data Docs show."""
    df = broken_frame(n=5000, seed=4)  # clean: the reference's own generator, ids unique
    report = validate_frame(df, suite_and_cfg.paths, suite_and_cfg.data, suite_and_cfg.validate)
    assert report.passed and report.counts.gx_sample_rows == 1000 and report.counts.failed_warn == 0
    [stored] = stored_results(suite_and_cfg)
    assert stored["success"] is True, [r["expectation_config"]["type"] for r in stored["results"] if not r["success"]]
    assert stored["statistics"]["unsuccessful_expectations"] == 0
    row_counts = [r for r in stored["results"] if r["expectation_config"]["type"] == "expect_table_row_count_to_be_between"]
    assert row_counts and all(r["result"]["observed_value"] == 5000 for r in row_counts)
    assert any(r["result"]["sample_success"] is False for r in row_counts)  # what the sample alone said
    assert stored["meta"]["tabgate"] == {"verdicts_counted_on_rows": 5000, "gx_sample_rows": 1000}
    page = next(Path(report.data_docs).parent.glob("validations/**/*.html")).read_text()
    assert "Succeeded" in page and "Failed" not in page.replace("Failed Only", "") and "5000" in page


def test_data_docs_show_a_failure_found_outside_the_gx_sample(suite_and_cfg):
    df = broken_frame(n=5000, seed=2)
    rows = sample_rows(len(df), suite_and_cfg.validate.gx_max_rows, suite_and_cfg.validate.random_state)
    outside = np.setdiff1d(np.arange(len(df)), rows)
    df.loc[outside[:1], "arrival"] = pd.Timestamp("2999-01-01")
    validate_frame(df, suite_and_cfg.paths, suite_and_cfg.data, suite_and_cfg.validate)
    [stored] = stored_results(suite_and_cfg)
    failed = [r for r in stored["results"] if not r["success"]]
    assert stored["success"] is False
    assert [r["expectation_config"]["meta"]["rule"] for r in failed] == ["time_not_future"]
    assert failed[0]["result"]["unexpected_count"] == 1 and failed[0]["result"]["sample_success"] is True
