"""Evaluate: the test set is read once, here, after the models are chosen; metrics, intervals, segments, plots.

Scores of every model (and of the production model, when there is one) are computed on the same
test rows and written to the scored test table, so promote and explain never read the test split.
"""

from __future__ import annotations

import logging

from tasks.core import io
from tasks.core.config import Config
from tasks.core.entry import step_main
from tasks.core.reports import CvReport, EvaluateReport, SplitReport, read_optional_report, write_report
from tasks.data.splitting import fingerprint_rows
from tasks.evaluation.holdout import evaluate_models, load_models
from tasks.registry.catalog import production_version
from tasks.reporting.evaluation_report import render_evaluation
from tasks.reporting.plots import write_evaluation_plots, write_plot_data

STEP_VERSION = "2"
log = logging.getLogger(__name__)


def run(cfg: Config) -> EvaluateReport:
    """Score every model on the test set (read once), write metrics, plots and the scored test table."""
    models = load_models(cfg.paths.models_dir, cfg.paths.registry_dir)
    test = io.read_frame(cfg.paths.test)
    log.info("evaluate: scoring %s on %d test rows (the only read of the test set)", sorted(models), len(test))
    scores, scored = evaluate_models(test, models, cfg.data, cfg.evaluate)
    report = scores.model_copy(
        update={
            "step_version": STEP_VERSION,
            "test_fingerprint": fingerprint_rows(test),
            "production_version": production_version(cfg.paths.registry_dir) if "production" in models else None,
        }
    )
    io.write_frame(scored, cfg.paths.scored_test)
    write_report(report, cfg.paths.reports_dir / "metrics.json")

    io.write_text(
        render_evaluation(
            report,
            read_optional_report(CvReport, cfg.paths.reports_dir / "cv.json"),
            read_optional_report(SplitReport, cfg.paths.reports_dir / "split.json"),
        ),
        cfg.paths.reports_dir / "evaluate" / "report.md",
    )
    write_evaluation_plots(scored, report, list(models), cfg.paths.reports_dir / "evaluate")
    write_plot_data(scored, report.task, cfg.paths.reports_dir / "plots")
    pm = report.primary_metric
    production = report.models.get("production")
    log.info(
        "evaluate: test %s lightgbm %.4f, baseline %.4f%s",
        pm,
        report.model("lightgbm").value(pm),
        report.model("baseline").value(pm),
        f", production {production.value(pm):.4f}" if production else "",
    )
    return report


if __name__ == "__main__":
    from tasks import (
        evaluate,  # this module under its real name (loggers say tasks.evaluate)
    )

    step_main("evaluate", evaluate.run, __doc__)
