"""Explain: where and why the LightGBM model errs on the test set.

SHAP (the Booster's TreeSHAP, as shap.TreeExplainer computes it) explains a deliberate sample of the
scored test rows: every error up to explain.max_errors (the worst ones always) plus a stratified sample
of the rest, up to explain.sample_size rows. Global importance is cross-checked against LightGBM gain
and permutation importance on validation rows; error slices are found over every scored test row
(tasks/evaluation/slices.py).
Outputs go to <reports_dir>/explain/: explain.json, explain_summary.json, PNGs and one report.html.
"""

from __future__ import annotations

import logging

from tasks.core import io
from tasks.core.config import Config
from tasks.core.entry import step_main
from tasks.core.reports import write_report
from tasks.evaluation.error_analysis import OUT_DIR, explain_model
from tasks.evaluation.error_outcomes import MODEL
from tasks.modelling.bundle import load_bundle
from tasks.reporting.explain_report import ExplainReport
from tasks.reporting.report_html import render_report

STEP_VERSION = "1"
log = logging.getLogger(__name__)


def run(cfg: Config) -> ExplainReport:
    """Explain the LightGBM model's test errors and write reports/explain/ (JSON, PNGs, report.html) atomically."""
    scored = io.read_frame(cfg.paths.scored_test)
    bundle = load_bundle(cfg.paths.models_dir / MODEL)
    valid = io.read_frame(cfg.paths.valid)
    report, images = explain_model(scored, valid, bundle, cfg.data, cfg.explain, STEP_VERSION)
    page = render_report(report, images)
    with io.atomic_dir(cfg.paths.reports_dir / OUT_DIR) as tmp:
        for name, png in images.items():
            (tmp / name).write_bytes(png)
        write_report(report, tmp / "explain.json")
        write_report(report.summary, tmp / "explain_summary.json")
        (tmp / "report.html").write_text(page, encoding="utf-8")
    return report


if __name__ == "__main__":
    from tasks import (
        explain,  # this module under its real name (loggers say tasks.explain)
    )

    step_main("explain", explain.run, __doc__)
