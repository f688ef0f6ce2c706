"""The pipeline on every real table in ../shared/data through its params file alone (skipped without the data)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import yaml

from tasks.core.config import parse_config
from tests.conftest import REPO, SHARED_DATA, needs_shared

pytestmark = [pytest.mark.integration, pytest.mark.shared_data, needs_shared]
STEPS = ["ingest", "validate", "split", "preprocess", "cv", "train", "evaluate", "explain", "promote"]
TABLES = {
    # params file, source in ../shared/data, the metric to check, and a floor it must clear on the test set
    "hotel": ("params.yaml", "hotel_bookings.csv.gz", "roc_auc", 0.85),
    "telco": ("examples/telco/params.yaml", "WA_Fn-UseC_-Telco-Customer-Churn.csv.gz", "roc_auc", 0.80),
    "kc_house": ("examples/kc_house/params.yaml", "kc_house_data.csv.gz", "r2", 0.80),
}


def table_config(name: str, root: Path):
    """Return the table's own params with every path moved under root and a smaller budget for CI."""
    params_file, source, _, _ = TABLES[name]
    raw = yaml.safe_load((REPO / params_file).read_text())
    defaults = parse_config({"data": {"target": "x"}, "ingest": {"source": "x"}}).paths
    raw["paths"] = {
        k: str(root / k) if k.endswith("_dir") else str(root / Path(str(v)).name) for k, v in defaults.model_dump().items()
    }
    raw["paths"]["gx_dir"] = str(root / "gx")
    raw["ingest"]["source"] = str(SHARED_DATA / source)
    raw.setdefault("cv", {})["n_splits"] = 3
    raw.setdefault("train", {}).setdefault("tune", {})["enabled"] = False
    raw.setdefault("evaluate", {})["bootstrap_samples"] = 50
    return parse_config(raw)


@pytest.mark.parametrize("name", list(TABLES))
def test_every_step_runs_and_reports_cv_intervals_and_lift(name, tmp_path):
    from tasks.data.sources import snapshot_source
    from tasks.quality.validation import ensure_suite

    cfg = table_config(name, tmp_path)
    snapshot_source(cfg.ingest, cfg.paths.data_dir)
    ensure_suite(cfg.paths, cfg.ingest, cfg.data, cfg.validate)
    reports = {step: importlib.import_module(f"tasks.{step}").run(cfg) for step in STEPS}
    _, _, metric, floor = TABLES[name]
    metrics = reports["evaluate"]
    value = metrics.models["lightgbm"].value(metric)
    assert value > floor, f"{name}: test {metric} {value:.3f} below {floor}"
    ci = metrics.intervals["lightgbm"][metric]
    assert ci.low <= value <= ci.high
    assert metrics.lift.over_dummy > 0
    for scheme in reports["cv"].schemes.values():
        summary = scheme.summary.model("lightgbm")[metric]
        assert summary.std >= 0 and abs(summary.mean - value) < 0.15
    assert (cfg.paths.reports_dir / "explain" / "report.html").exists()
    assert (cfg.paths.reports_dir / "promotion.json").exists()
