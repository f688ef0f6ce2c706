"""Monitor: drift against the reference profile, live performance vs promotion, the retraining decision."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tasks.core import io
from tasks.core.config import MonitorParams, ScheduleParams, parse_config
from tasks.quality.drift import reference_profile
from tasks.serving import monitor
from tests.conftest import make_config, synthetic_frame


def profile_of(df: pd.DataFrame) -> dict:
    return reference_profile(df, ["x1", "x2"], ["colour", "city"], bins=10, max_categories=50)


def test_feature_profile_leaves_out_label_dropped_and_ignored_columns(tmp_path):
    cfg = make_config(tmp_path, data={"drop_columns": {"city": "after the fact"}})
    df = synthetic_frame()
    profile = reference_profile(df, ["x1", "x2", "label"], ["colour", "city"], bins=10, max_categories=50)
    kept = monitor.feature_profile(profile, cfg.data, {"x2": "seasonal"})
    assert sorted(kept["columns"]) == ["colour", "x1"]
    assert sorted(profile["columns"]) == ["city", "colour", "label", "x1", "x2"]  # input untouched


def test_a_shifted_column_is_the_only_drifted_feature():
    from tasks.quality.drift import drift_report

    ref = synthetic_frame(2000, seed=0)
    shifted = synthetic_frame(2000, seed=1).assign(x1=lambda d: d["x1"] * 4 + 6)
    drift = drift_report(shifted, profile_of(ref), "psi", 0.1, 0.5)
    assert monitor.drifted_features(drift) == ["x1"]
    assert monitor.drifted_features(drift_report(synthetic_frame(2000, seed=2), profile_of(ref), "psi", 0.1, 0.5)) == []


@pytest.mark.parametrize(
    "metric,live,ref,expected",
    [("roc_auc", 0.80, 0.90, 0.10), ("roc_auc", 0.95, 0.90, -0.05), ("rmse", 12.0, 10.0, 2.0), ("log_loss", 0.3, 0.4, -0.1)],
)
def test_metric_drop_is_oriented_so_positive_means_worse(metric, live, ref, expected):
    assert monitor.metric_drop({metric: live}, {metric: ref}, metric) == pytest.approx(expected)


def test_metric_drop_is_none_without_a_reference():
    assert monitor.metric_drop({"roc_auc": 0.8}, {}, "roc_auc") is None


def perf(drop: float | None, judged: bool = True) -> dict:
    return {"judged": judged, "metric": "roc_auc", "live": 0.9 - (drop or 0), "reference": 0.9, "drop": drop}


def test_decide_retraining_names_each_reason():
    p = MonitorParams(max_metric_drop=0.05)
    assert monitor.decide_retraining([], perf(0.01), p) == {"retrain": False, "reasons": []}
    both = monitor.decide_retraining(["lead_time"], perf(0.08), p)
    assert both["retrain"] and len(both["reasons"]) == 2
    assert "lead_time" in both["reasons"][0] and "0.0800 below" in both["reasons"][1]


def test_decide_retraining_respects_switches_and_small_samples():
    assert not monitor.decide_retraining(["x1"], perf(None, False), MonitorParams(retrain_on_drift=False))["retrain"]
    assert not monitor.decide_retraining([], perf(0.5, judged=False), MonitorParams())["retrain"]


def test_encode_labels_maps_to_the_model_classes_and_rejects_unknown_ones():
    assert monitor.encode_labels(pd.Series([0, 1, 1]), [0, 1], "binary").tolist() == [0, 1, 1]
    assert monitor.encode_labels(pd.Series(["yes", "no"]), ["no", "yes"], "binary").tolist() == [1, 0]
    with pytest.raises(ValueError, match="not seen in training"):
        monitor.encode_labels(pd.Series([0, 2]), [0, 1], "binary")


def test_labelled_rows_drops_unlabelled_and_handles_a_missing_label_column():
    df = pd.DataFrame({"x": [1, 2, 3], "label": [1, None, 0]})
    assert monitor.labelled_rows(df, "label")["x"].tolist() == [1, 3]
    assert monitor.labelled_rows(df.drop(columns="label"), "label").empty


class ConstantModel:
    """A stand-in bundle: meta like tasks.modelling.bundle.ModelBundle, scores from column x1."""

    meta = {"target": "label", "classes": [0, 1], "threshold": 0.5}

    def predict_scores(self, df: pd.DataFrame) -> np.ndarray:
        assert "label" not in df.columns
        return 1 / (1 + np.exp(-3 * df["x1"].to_numpy()))


def test_live_performance_compares_with_the_metrics_at_promotion():
    df = synthetic_frame(800, seed=4)
    out = monitor.live_performance(ConstantModel(), df, {"roc_auc": 0.99}, "binary", min_rows=100)
    assert out["judged"] and out["rows"] == 800 and 0.5 < out["live"] < 0.99
    assert out["drop"] == pytest.approx(0.99 - out["live"])
    small = monitor.live_performance(ConstantModel(), df.head(50), {"roc_auc": 0.99}, "binary", min_rows=100)
    assert not small["judged"] and "min_labelled_rows" in small["note"]
    assert monitor.live_performance(None, df, {}, "binary", 10)["note"] == "no production model in the registry"


def test_monitor_batch_writes_the_report_and_decides(tmp_path, monkeypatch):
    cfg = make_config(tmp_path)
    ref = synthetic_frame(2000, seed=0)
    from tasks.quality.gx_store import profile_path

    io.write_json(profile_of(ref), profile_path(cfg.paths))
    batch = synthetic_frame(1000, seed=5).assign(x2=lambda d: d["x2"] + 30)
    batch.to_csv(tmp_path / "batch.csv", index=False)
    monkeypatch.setattr(monitor, "production_reference", lambda reg: (ConstantModel(), "v0001-abcdef12", {"roc_auc": 0.7}))
    monkeypatch.setattr(monitor, "read_batch", lambda path, cfg: pd.read_csv(path))
    report = monitor.monitor_batch(cfg, tmp_path / "batch.csv")
    assert report["retrain"] and report["drifted_features"] == ["x2"]
    assert report["production_version"] == "v0001-abcdef12" and report["performance"]["judged"]
    assert io.read_json(cfg.paths.reports_dir / "monitor.json")["reasons"] == report["reasons"]


def test_schedule_cron_must_have_five_fields():
    assert ScheduleParams(cron="0 3 * * 1").enabled
    with pytest.raises(ValueError, match="5 fields"):
        ScheduleParams(cron="0 3 * *")


def test_monitor_section_typo_is_a_config_error(tmp_path):
    from tasks.core.errors import ConfigError

    raw = {"data": {"target": "y"}, "ingest": {"source": "x.csv"}, "monitor": {"max_metric_dropp": 0.1}}
    with pytest.raises(ConfigError, match="monitor.max_metric_dropp"):
        parse_config(raw)


def seasonal_frame(n: int, seed: int, months: list[int] | None = None) -> pd.DataFrame:
    """Return bookings whose price and month columns follow the season (summer dearer), years 2015-2016."""
    rng = np.random.default_rng(seed)
    when = pd.Timestamp("2015-01-01") + pd.to_timedelta(rng.integers(0, 730, size=n), unit="D")
    if months is not None:
        when = pd.to_datetime([f"2016-{rng.choice(months):02d}-{d:02d}" for d in rng.integers(1, 29, size=n)])
    month = pd.Series(when).dt.month.to_numpy()
    summer = np.isin(month, [6, 7, 8])
    return pd.DataFrame(
        {
            "when": when,
            "month": month,
            "week": pd.Series(when).dt.isocalendar().week.to_numpy(),
            "price": rng.normal(100, 10, size=n) + 60 * summer,
            "channel": np.where(rng.random(n) < np.where(summer, 0.7, 0.3), "online", "agent"),
            "lead": rng.exponential(30, size=n),
            "label": (rng.random(n) < 0.3).astype(int),
        }
    )


def seasonal_setup(tmp_path, period: str, batch: pd.DataFrame):
    from tasks.quality.gx_store import profile_path

    cfg = make_config(tmp_path, monitor={"seasonal_reference": period})
    ref = seasonal_frame(6000, seed=0)
    io.write_json(
        reference_profile(ref, ["month", "week", "price", "lead"], ["channel"], bins=10, max_categories=50),
        profile_path(cfg.paths),
    )
    io.write_frame(ref.iloc[:5000], cfg.paths.train)
    io.write_frame(ref.iloc[5000:], cfg.paths.valid)
    batch.drop(columns="label").to_csv(tmp_path / "batch.csv", index=False)
    return cfg


@pytest.fixture
def no_model(monkeypatch):
    monkeypatch.setattr(monitor, "production_reference", lambda reg: (None, None, {}))
    monkeypatch.setattr(monitor, "read_batch", lambda path, cfg: pd.read_csv(path, parse_dates=["when"]))


def test_an_unshifted_batch_from_one_season_drifts_only_against_the_whole_year(tmp_path, no_model):
    august = seasonal_frame(1500, seed=7, months=[8])
    whole_year = monitor.monitor_batch(seasonal_setup(tmp_path / "a", "none", august), tmp_path / "a" / "batch.csv")
    assert {"month", "week", "price"} <= set(whole_year["drifted_features"]), whole_year["drifted_features"]
    same_season = monitor.monitor_batch(seasonal_setup(tmp_path / "b", "month", august), tmp_path / "b" / "batch.csv")
    assert same_season["drifted_features"] == [] and not same_season["retrain"]
    assert same_season["drift"]["reference"]["kind"] == "seasonal"
    assert same_season["drift"]["reference"]["seasons"]["8"]["matched"] is True
    assert "against all reference rows" not in same_season["drift"]["reference"]["note"]


def test_a_batch_of_every_month_is_wholly_matched_despite_float_sums():
    mix = {m: 0.1 for m in range(1, 11)}  # ten months a tenth each: the shares sum to 0.9999999999999999
    assert monitor.unmatched_share(mix) == 0.0
    assert monitor.unmatched_share({8: 0.75}) == 0.25


def test_a_shifted_batch_from_one_season_still_drifts_against_its_season(tmp_path, no_model):
    august = seasonal_frame(1500, seed=7, months=[8]).assign(lead=lambda d: d["lead"] * 4 + 50)
    report = monitor.monitor_batch(seasonal_setup(tmp_path, "month", august), tmp_path / "batch.csv")
    assert report["drifted_features"] == ["lead"] and report["retrain"]


def test_a_season_with_too_few_training_rows_falls_back_to_the_whole_reference():
    ref = seasonal_frame(600, seed=0)
    batch = seasonal_frame(300, seed=1, months=[7, 8])
    seasons = monitor.season_of(ref["when"], "month")
    mix = monitor.season_mix(monitor.season_of(batch["when"], "month"), seasons, min_rows=10_000)
    assert mix == {}
    profile = reference_profile(ref, ["price"], [], bins=10, max_categories=50)
    assert monitor.seasonal_profile(profile, ref, seasons, mix) == profile


def test_a_batch_without_the_label_column_says_so_and_never_shows_nan(tmp_path, no_model):
    report = monitor.monitor_batch(
        seasonal_setup(tmp_path, "month", seasonal_frame(500, seed=3, months=[3])), tmp_path / "batch.csv"
    )
    perf = report["performance"]
    assert not perf["judged"] and "no label column `label`" in perf["note"]
    assert not any("nan" in line.lower() for line in monitor.summary_lines(report))


def test_a_one_class_labelled_batch_explains_the_undefined_metric():
    df = synthetic_frame(400, seed=4).assign(label=1)
    out = monitor.live_performance(ConstantModel(), df, {"roc_auc": 0.9}, "binary", min_rows=100)
    assert out["live"] is None and not out["judged"] and "one class only" in out["note"]
    assert out["metrics"]["roc_auc"] is None
    line = monitor.performance_line(out)
    assert "nan" not in line.lower() and "one class only" in line


def decided(retrain: bool) -> dict:
    return {
        "batch": "b.csv",
        "rows": 10,
        "production_version": "v1",
        "retrain": retrain,
        "reasons": ["drift: 1 feature(s) at the error level: x1"] if retrain else [],
        "drift": {"metric": "psi", "warn": 0.1, "error": 0.5, "columns": {"x1": {"level": "error", "value": 1.0}}},
        "performance": {"judged": False, "metric": "roc_auc", "note": "no label column `y` in the batch"},
    }


def test_a_disabled_retrain_is_never_announced_as_one():
    text = "\n".join(monitor.summary_lines(decided(True), started=False, disabled_by="--no-retrain"))
    assert "RETRAIN" not in text and "retraining started" not in text
    assert "would be advised, but it is disabled (--no-retrain): nothing started" in text
    started = monitor.summary_lines(decided(True), started=True, ran=["train", "evaluate"])[-1]
    assert started == "action: retraining started: the training flow ran train, evaluate"
    assert "no step" in monitor.summary_lines(decided(True), started=True, ran=[])[-1]
    assert monitor.summary_lines(decided(False))[-1] == "action: no retraining needed: nothing started"


def test_no_retrain_wins_over_params_and_each_switch_is_named():
    from flows.monitoring import retrain_switch

    assert retrain_switch(True, False) == (False, "--no-retrain")
    assert retrain_switch(False, None) == (False, "monitor.retrain: false in params.yaml")
    assert retrain_switch(True, None) == (True, None)


def test_seasons_are_months_or_iso_weeks_and_missing_times_stay_missing():
    times = pd.Series(pd.to_datetime(["2016-08-01", "2017-01-01", None]))
    assert monitor.season_of(times, "month").tolist()[:2] == [8, 1]
    assert monitor.season_of(times, "week").tolist()[:2] == [31, 52]  # 2017-01-01 is in ISO week 52 of 2016
    assert monitor.season_of(times, "month").isna().tolist() == [False, False, True]
