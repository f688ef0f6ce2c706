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


@pytest.mark.parametrize("metric,live,ref,expected", [
    ("roc_auc", 0.80, 0.90, 0.10), ("roc_auc", 0.95, 0.90, -0.05), ("rmse", 12.0, 10.0, 2.0), ("log_loss", 0.3, 0.4, -0.1)])
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
    assert monitor.live_performance(None, df, {}, "binary", 10)["note"] == "no production model"


def test_monitor_batch_writes_the_report_and_decides(tmp_path, monkeypatch):
    cfg = make_config(tmp_path)
    ref = synthetic_frame(2000, seed=0)
    from tasks.quality.validation import profile_path

    io.write_json(profile_of(ref), profile_path(cfg))
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
