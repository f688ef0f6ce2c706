"""Tests for tasks/quality/leakage.py: planted leaks are flagged with their evidence, honest features are not."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tasks.core.config import DataParams, SplitParams, ValidateParams
from tasks.quality.findings import Finding
from tasks.quality.leakage import (
    screen_leakage,
    shared_duplicate_rows,
    single_feature_auc,
    single_feature_r2,
)

SHARED = Path(__file__).parents[2].parent / "shared" / "data"


def bookings(n: int = 2000, seed: int = 0) -> pd.DataFrame:
    """A small booking table with honest features (three of similar strength) and planted leaks."""
    rng = np.random.default_rng(seed)
    lead_time = rng.gamma(2.0, 40.0, n)
    requests = rng.poisson(1.0, n)
    parking = rng.binomial(1, 0.2, n)
    logit = 0.012 * (lead_time - 80) - 0.6 * (requests - 1) - 1.2 * (parking - 0.2)
    y = (logit + rng.logistic(size=n) > 0).astype(int)
    arrival = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 300, n), unit="D")
    status = np.where(y == 1, rng.choice(["Canceled", "No-Show"], n), "Check-Out")
    return pd.DataFrame(
        {
            "is_canceled": y,
            "lead_time": lead_time,  # honest, moderately predictive
            "special_requests": requests,  # honest, moderately predictive
            "parking": parking,  # honest, moderately predictive
            "noise": rng.normal(size=n),  # honest, useless
            "hotel": pd.Categorical(rng.choice(["City", "Resort"], n)),
            "guest_id": pd.Categorical([f"g{i}" for i in range(n)]),  # unique per row: memorisable, not predictive
            "label_copy": np.where(y == 1, "yes", "no"),  # the label under another name
            "reservation_status": pd.Categorical(status),  # perfect categorical proxy
            "arrival_date": arrival,
            "status_date": pd.Categorical(
                (arrival + pd.to_timedelta(rng.integers(1, 9, n), unit="D")).strftime("%Y-%m-%d")
            ),  # written after arrival
            "booking_date": arrival - pd.to_timedelta(rng.integers(1, 90, n), unit="D"),  # before arrival: fine
        }
    )


DATA = DataParams(target="is_canceled", time_column="arrival_date")


def finding(report: dict, column: str, check: str) -> Finding | None:
    return next((f for f in report["suspects"] if column in f.columns and f.check == check), None)


@pytest.fixture(scope="module")
def report() -> dict:
    return screen_leakage(bookings(), DATA, ValidateParams())


def test_copy_of_label_is_flagged_with_evidence(report):
    copy = finding(report, "label_copy", "copy_of_label")
    auc = finding(report, "label_copy", "single_feature_auc")
    assert {k: copy.to_data()[k] for k in ("columns", "check", "value", "threshold", "severity", "rows", "excused")} == {
        "columns": ["label_copy"],
        "check": "copy_of_label",
        "value": 1.0,
        "threshold": 1.0,
        "severity": "suspect",
        "rows": 2000,
        "excused": False,
    }
    assert "label under another name" in copy.detail
    assert auc.value == 1.0 and auc.threshold == 0.98 and auc.rows == 2000


def test_perfect_categorical_proxy_is_flagged(report):
    auc = finding(report, "reservation_status", "single_feature_auc")
    assert auc is not None and auc.value >= 0.999
    assert finding(report, "reservation_status", "copy_of_label") is None  # 3 values for 2 classes: not a copy
    assert "reservation_status" in report["unexcused"]


def test_honest_features_are_not_flagged(report):
    flagged = {c for f in report["suspects"] for c in f.columns}
    assert {"lead_time", "special_requests", "parking", "noise", "hotel", "guest_id", "booking_date"}.isdisjoint(flagged)
    assert 0.55 < report["scores"]["lead_time"] < 0.9
    # the quick models ran on the honest features only (the flagged columns were set aside) and found no leak
    assert report["probes"]["set_aside"] == ["label_copy", "reservation_status", "status_date"]
    assert 0.6 < report["probes"]["tree"]["score"] < 0.9
    assert abs(report["scores"]["noise"] - 0.5) < 0.05
    # out-of-fold target rates: a unique id cannot score by memorising its row
    assert report["scores"]["guest_id"] < 0.6


def test_date_written_after_the_event_is_flagged(report):
    after = finding(report, "status_date", "after_event_time")
    assert after.value == 1.0 and after.threshold == 0.5 and after.rows == 2000
    assert report["unexcused"] == ["label_copy", "reservation_status", "status_date"]


def test_keep_suspects_reports_but_excuses():
    p = ValidateParams(
        keep_suspects={"reservation_status": "known at booking time in our system", "label_copy": "test", "status_date": "test"}
    )
    report = screen_leakage(bookings(), DATA, p)
    proxy = finding(report, "reservation_status", "single_feature_auc")
    assert proxy.excused is True and proxy.reason == "known at booking time in our system"
    assert report["unexcused"] == []


def test_drop_columns_are_not_screened_but_listed():
    data = DataParams(
        target="is_canceled",
        time_column="arrival_date",
        drop_columns={"reservation_status": "written after the outcome", "label_copy": "copy", "status_date": "after"},
    )
    report = screen_leakage(bookings(), data, ValidateParams())
    assert report["excluded_by_configuration"] == {
        "label_copy": "copy",
        "reservation_status": "written after the outcome",
        "status_date": "after",
    }
    assert "reservation_status" not in report["scores"]
    assert report["suspects"] == [] and report["unexcused"] == []


def test_subsampling_is_capped_and_deterministic():
    p = ValidateParams(leakage_max_rows=500)
    a = screen_leakage(bookings(), DATA, p)
    b = screen_leakage(bookings(), DATA, p)
    assert a["rows_training"] == 2000 and a["rows_screened"] == 500
    assert a == b


def test_numeric_auc_is_direction_free():
    y = np.array([0, 0, 0, 1, 1, 1])
    x = pd.Series([6.0, 5.0, 4.0, 3.0, 2.0, 1.0])
    assert single_feature_auc(x, y, categorical=False, folds=2, random_state=0) == 1.0


def test_regression_copy_and_linear_proxy_are_flagged():
    rng = np.random.default_rng(3)
    price = rng.lognormal(12, 0.5, 3000)
    df = pd.DataFrame(
        {
            "price": price,
            "log_price": np.log(price),
            "price_k": price / 1000 + rng.normal(0, 0.5, 3000),
            "sqft": price / 300 + rng.normal(0, 600, 3000),
            "rooms": price / 60_000 + rng.normal(0, 3.0, 3000),
            "age": 80 - price / 5_000 + rng.normal(0, 35.0, 3000),
            "noise": rng.normal(size=3000),
        }
    )
    report = screen_leakage(df, DataParams(target="price", task="regression"), ValidateParams())
    assert report["metric"] == "r2_out_of_fold"
    assert finding(report, "log_price", "copy_of_label") is not None
    assert finding(report, "price_k", "single_feature_r2").value >= 0.98
    assert report["unexcused"] == ["log_price", "price_k"]
    assert report["scores"]["noise"] < 0.05
    assert 0.2 < report["scores"]["sqft"] < 0.9


def test_out_of_fold_r2_of_category_means():
    rng = np.random.default_rng(0)
    group = rng.choice(["a", "b", "c"], 3000)
    y = pd.Series(group).map({"a": 0.0, "b": 10.0, "c": 20.0}).to_numpy() + rng.normal(0, 1, 3000)
    r2 = single_feature_r2(pd.Series(group), y, categorical=True, folds=3, random_state=0)
    assert r2 == pytest.approx(1 - 1 / np.var(y), abs=0.01)


def test_multiclass_uses_macro_one_vs_rest():
    rng = np.random.default_rng(1)
    y = rng.choice(["a", "b", "c"], 1500)
    df = pd.DataFrame({"y": y, "proxy": pd.Series(y).map({"a": "x", "b": "y", "c": "z"}), "noise": rng.normal(size=1500)})
    report = screen_leakage(df, DataParams(target="y", task="multiclass"), ValidateParams())
    assert "multiclass: AUC is the macro one-vs-rest average" in report["notes"]
    assert report["scores"]["proxy"] == 1.0 and abs(report["scores"]["noise"] - 0.5) < 0.06
    assert report["unexcused"] == ["proxy"]


def test_single_class_skips_scores_with_a_note():
    df = pd.DataFrame({"y": [1] * 50, "x": np.arange(50.0)})
    report = screen_leakage(df, DataParams(target="y"), ValidateParams())
    assert report["scores"] == {} and report["suspects"] == []
    assert report["notes"] == ["single-feature scores skipped: 50 labelled rows, 1 class(es)"]


def test_shared_duplicate_rows_counts_test_rows_copied_from_train():
    train = pd.DataFrame({"a": [1, 2, 3, 3], "b": ["x", "y", "z", "z"], "c": [0.1, 0.2, 0.3, 0.4]})
    test = pd.DataFrame({"a": [3, 3, 9, 1], "b": ["z", "z", "q", "x"], "c": [9.0, 9.0, 9.0, 9.0]})
    assert shared_duplicate_rows(train, test, ["a", "b"]) == 3
    assert shared_duplicate_rows(train, test, ["a", "b", "c"]) == 0
    assert shared_duplicate_rows(train, test.iloc[:0], ["a"]) == 0
    # categoricals with different category sets still hash by value
    cat_train = train.assign(b=pd.Categorical(train["b"]))
    cat_test = test.assign(b=pd.Categorical(test["b"], categories=["q", "x", "z"]))
    assert shared_duplicate_rows(cat_train, cat_test, ["a", "b"]) == 3


@pytest.mark.shared_data
def test_real_hotel_table_flags_reservation_status():
    path = SHARED / "hotel_bookings.csv.gz"
    if not path.exists():
        pytest.skip(f"shared data not available at {path}")
    from tasks.data.splitting import training_rows

    raw = pd.read_csv(path)
    months = {
        m: i
        for i, m in enumerate(
            [
                "January",
                "February",
                "March",
                "April",
                "May",
                "June",
                "July",
                "August",
                "September",
                "October",
                "November",
                "December",
            ],
            1,
        )
    }
    df = raw.assign(
        arrival_date=pd.to_datetime(
            pd.DataFrame(
                {
                    "year": raw["arrival_date_year"],
                    "month": raw["arrival_date_month"].map(months),
                    "day": raw["arrival_date_day_of_month"],
                }
            )
        )
    )
    data = DataParams(target="is_canceled", time_column="arrival_date", categorical_columns=["agent", "company"])
    train = training_rows(df, data, SplitParams(test_start=date(2017, 3, 1)))
    report = screen_leakage(train, data, ValidateParams())
    status = finding(report, "reservation_status", "single_feature_auc")
    assert status is not None and status.value >= 0.99 and status.rows == 50_000
    assert "reservation_status" in report["unexcused"]
    assert finding(report, "reservation_status_date", "after_event_time") is not None
    assert report["rows_training"] == len(train) and report["rows_screened"] == 50_000
    # honest hotel features stay well below the threshold
    assert report["scores"]["lead_time"] < 0.9 and report["scores"]["adr"] < 0.9


def boundary_table(n: int = 400) -> pd.DataFrame:
    """A score that alone ranks the label perfectly (ROC-AUC exactly 1) and a date after the event on exactly half
    the rows."""
    rng = np.random.default_rng(0)
    y = (rng.random(n) < 0.4).astype(int)
    when = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 300, n), unit="D")
    return pd.DataFrame(
        {
            "label": y,
            "score": y * 2.0 + rng.random(n) * 0.5,
            "noise": rng.normal(size=n),
            "when": when,
            "later": when + pd.to_timedelta(np.where(np.arange(n) % 2 == 0, 3, -3), "D"),
        }
    )


def test_a_score_at_the_threshold_is_a_leak_and_a_share_at_the_threshold_is_not():
    """leakage_auc_threshold: `at or above` is a leak; leakage_after_event_share: `more than` is."""
    data = DataParams(target="label", time_column="when")
    at = screen_leakage(boundary_table(), data, ValidateParams(leakage_auc_threshold=1.0))
    assert at["scores"]["score"] == 1.0
    assert finding(at, "score", "single_feature_auc").threshold == 1.0
    assert finding(at, "later", "after_event_time") is None  # 0.5 of its dates after the event, limit 0.5
    below = screen_leakage(boundary_table(), data, ValidateParams(leakage_after_event_share=0.49))
    assert finding(below, "later", "after_event_time").value == 0.5
