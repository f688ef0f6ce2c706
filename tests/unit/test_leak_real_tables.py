"""Leaks planted in real tables, each one the single-column screen of old let through (its single-feature
ROC-AUC / R^2 stays below 0.98): a post-outcome column that dominates, a label that is the sum of two columns,
noisy copies of the label. The clean tables name nothing that params.yaml does not excuse with a reason.

Bundled tables (sample/) always run; the telco table is read from ../shared/data and skipped when absent.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from tasks.core.config import Config, load_config
from tasks.data.sources import read_snapshot, type_table
from tasks.data.splitting import labelled_rows, training_rows
from tasks.quality.findings import blocking
from tasks.quality.leakage import screen_leakage

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "data"
TELCO = SHARED / "WA_Fn-UseC_-Telco-Customer-Churn.csv.gz"


def typed_training_rows(params: str, source: Path) -> tuple[Config, pd.DataFrame]:
    """Return the config and the training rows (as the validate step screens them) of a real table."""
    cfg = load_config(REPO / params)
    df, _ = type_table(read_snapshot(source, cfg.ingest), cfg.ingest, cfg.data)
    return cfg, training_rows(labelled_rows(df, cfg.data), cfg.data, cfg.split).reset_index(drop=True)


@pytest.fixture(scope="module")
def hotel() -> tuple[Config, pd.DataFrame]:
    return typed_training_rows("params.yaml", REPO / "sample" / "hotel_bookings.csv.gz")


@pytest.fixture(scope="module")
def kc() -> tuple[Config, pd.DataFrame]:
    return typed_training_rows("examples/kc_house/params.yaml", REPO / "sample" / "kc_house_data.csv.gz")


@pytest.fixture(scope="module")
def telco() -> tuple[Config, pd.DataFrame]:
    if not TELCO.exists():
        pytest.skip(f"shared data not available at {TELCO}")
    return typed_training_rows("examples/telco/params.yaml", TELCO)


def named(report: dict, check: str) -> list[list[str]]:
    return [f.columns for f in report["suspects"] if f.check == check]


def old_screen_misses(report: dict, column: str) -> bool:
    """True when the single-column checks (the whole screen before issue 15) do not flag the column."""
    single = {"single_feature_auc", "single_feature_r2", "copy_of_label", "after_event_time"}
    return not any(column in f.columns for f in report["suspects"] if f.check in single)


def post_outcome(y: np.ndarray, seed: int) -> np.ndarray:
    """A column written after the outcome: the label plus independent noise (single-feature ROC-AUC about 0.82)."""
    return 1.3 * y + np.random.default_rng(seed).normal(0, 1, len(y))


# ---------------------------------------------------------------- clean tables


def test_clean_hotel_sample_blocks_nothing(hotel):
    cfg, train = hotel
    report = screen_leakage(train, cfg.data, cfg.validate)
    assert blocking(report["suspects"]) == [] and report["unexcused"] == []
    # what it names is excused with the reason params.yaml records
    assert {tuple(f.columns) for f in report["suspects"]} <= {("country",)}
    assert all(f.excused and "soft leak" in f.reason for f in report["suspects"])
    assert 0.9 < report["probes"]["tree"]["score"] < 0.99  # no near-perfect reconstruction


def test_clean_kc_house_blocks_nothing_and_reports_the_documented_relation(kc):
    cfg, train = kc
    report = screen_leakage(train, cfg.data, cfg.validate)
    assert blocking(report["suspects"]) == []
    relation = [f for f in report["suspects"] if f.check == "feature_relation"]
    assert [(f.columns, f.formula, f.exact, f.severity) for f in relation] == [
        (["sqft_living", "sqft_above", "sqft_basement"], "sqft_living = sqft_above + sqft_basement", True, "warn")
    ]


def test_clean_telco_blocks_nothing_and_reports_total_charges(telco):
    cfg, train = telco
    report = screen_leakage(train, cfg.data, cfg.validate)
    assert blocking(report["suspects"]) == []
    relation = next(f for f in report["suspects"] if f.check == "feature_relation")
    assert relation.formula == "TotalCharges ≈ tenure × MonthlyCharges" and relation.exact is False
    assert relation.value >= 0.995


# ---------------------------------------------------------------- a post-outcome column that dominates


def test_post_outcome_column_in_hotel_is_named_by_dominance(hotel):
    cfg, train = hotel
    y = train["is_canceled"].to_numpy()
    planted = train.assign(status_days=post_outcome(y, 1))
    assert 0.78 < roc_auc_score(y, planted["status_days"]) < 0.86
    report = screen_leakage(planted, cfg.data, cfg.validate)
    assert old_screen_misses(report, "status_days") and report["scores"]["status_days"] < 0.9
    assert ["status_days"] in named(report, "dominance")
    assert report["unexcused"] == ["status_days"]  # country beside it is excused by params.yaml
    finding = next(f for f in report["suspects"] if f.columns == ["status_days"])
    assert finding.severity == "suspect" and finding.value >= finding.threshold >= 0.1
    assert "confirm it is known at prediction time" in finding.detail


def test_post_outcome_column_in_telco_is_named_by_dominance(telco):
    cfg, train = telco
    y = (train["Churn"] == "Yes").to_numpy().astype(int)
    planted = train.assign(days_to_close=post_outcome(y, 2))
    assert 0.78 < roc_auc_score(y, planted["days_to_close"]) < 0.86
    report = screen_leakage(planted, cfg.data, cfg.validate)
    assert old_screen_misses(report, "days_to_close")
    assert named(report, "dominance") == [["days_to_close"]]
    assert report["unexcused"] == ["days_to_close"]


def test_post_outcome_column_in_kc_house_is_named_by_dominance(kc):
    cfg, train = kc
    log_price = np.log(train["price"].to_numpy())
    z = (log_price - log_price.mean()) / log_price.std()
    planted = train.assign(appraisal_after_sale=z + np.random.default_rng(3).normal(0, 0.4, len(train)))
    report = screen_leakage(planted, cfg.data, cfg.validate)
    assert old_screen_misses(report, "appraisal_after_sale")
    assert 0.75 < report["scores"]["appraisal_after_sale"] < 0.85  # single-feature R^2 about 0.8
    assert named(report, "dominance") == [["appraisal_after_sale"]]


# ---------------------------------------------------------------- a label rebuilt from other columns


def test_label_equal_to_the_sum_of_two_columns_is_a_relation(kc):
    cfg, train = kc
    price = train["price"].to_numpy()
    land = np.round(price * np.random.default_rng(4).uniform(0.2, 0.8, len(price)))
    planted = train.assign(land_value=land, building_value=price - land)
    report = screen_leakage(planted, cfg.data, cfg.validate)
    assert old_screen_misses(report, "land_value") and old_screen_misses(report, "building_value")
    assert max(report["scores"]["land_value"], report["scores"]["building_value"]) < 0.98
    relation = next(f for f in report["suspects"] if f.check == "target_relation")
    assert relation.columns == ["land_value", "building_value"] and relation.exact is True
    assert relation.formula == "price = land_value + building_value" and relation.value == 1.0
    assert report["unexcused"] == ["building_value", "land_value"]


def test_label_rebuilt_linearly_from_three_columns_names_all_three(kc):
    cfg, train = kc
    price = train["price"].to_numpy()
    rng = np.random.default_rng(5)
    land, building = np.round(price * rng.uniform(0.2, 0.5, len(price))), np.round(price * rng.uniform(0.1, 0.3, len(price)))
    planted = train.assign(land=land, building=building, fees=price - land - building)
    report = screen_leakage(planted, cfg.data, cfg.validate)
    assert named(report, "target_relation") == []  # three operands: no relation of two columns
    recon = next(f for f in report["suspects"] if f.check == "reconstruction" and f.model == "linear")
    assert sorted(recon.columns) == ["building", "fees", "land"] and recon.value >= 0.999
    assert all(recon.scores_without[c] < 0.999 for c in recon.columns)


# ---------------------------------------------------------------- noisy copies of the label


def test_noisy_copy_of_a_numeric_label_is_named(kc):
    cfg, train = kc
    price = train["price"].to_numpy()
    planted = train.assign(appraisal=price * np.exp(np.random.default_rng(6).normal(0, 0.25, len(price))))
    report = screen_leakage(planted, cfg.data, cfg.validate)
    assert old_screen_misses(report, "appraisal") and report["scores"]["appraisal"] < 0.98
    assert named(report, "dominance") == [["appraisal"]]


def test_noisy_copy_of_a_class_label_is_named(hotel):
    cfg, train = hotel
    y = train["is_canceled"].to_numpy()
    flip = np.random.default_rng(7).uniform(size=len(y)) < 0.15
    planted = train.assign(cancel_flag=pd.Categorical(np.where(flip, 1 - y, y).astype(str)))
    report = screen_leakage(planted, cfg.data, cfg.validate)
    assert old_screen_misses(report, "cancel_flag") and 0.8 < report["scores"]["cancel_flag"] < 0.9
    assert ["cancel_flag"] in named(report, "dominance")
    assert report["unexcused"] == ["cancel_flag"]
