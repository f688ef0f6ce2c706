"""Promote: gate the challenger against absolute floors, the baseline, the production model, segments,
input schema, latency, the leak suspects validate found and a near-perfect model; register it and switch
production atomically when it passes. An unexcused suspect blocks promotion (the run still succeeds).

A rejected challenger is a successful run (the gate did its job): the step exits 0 and says why.
Under `dvc exp run` (DVC sets DVC_EXP_NAME for every stage) the gate decides as usual but nothing is
registered and production never moves: the report says "experiment: production unchanged".
Writes reports/promotion.{json,md}, reports/headline.json (the few numbers dvc.yaml declares as metrics) and the model card reports/model_card.{md,json} (tasks.reporting.model_card),
also kept with a version registered by the run (registry versions/<id>/model_card.{md,json}).
"""

from __future__ import annotations

import logging
import os

from tasks.core import io
from tasks.core.config import Config
from tasks.core.entry import step_main
from tasks.core.metrics import check_thresholds_fit, score_columns
from tasks.core.reports import (
    CvReport,
    EvaluateReport,
    IngestReport,
    SplitReport,
    read_optional_report,
    read_report,
    write_report,
)
from tasks.evaluation.gate import GateInput, ModelScores, decide_promotion
from tasks.evaluation.promotion import (
    EXPERIMENT,
    apply_decision,
    build_record,
    challenger_scores,
    champion_scores,
    gather_suspects,
    log_outcome,
    loss_diagnosis,
    measure_latency,
    model_threshold,
    read_scored_test,
    render_markdown,
    write_cards,
)
from tasks.reporting.headline import headline_metrics
from tasks.reporting.promotion_report import PromotionReport

STEP_VERSION = "2"
EXPERIMENT_ENV = "DVC_EXP_NAME"  # set by `dvc exp run` (and queued / --temp runs) for every stage command
log = logging.getLogger(__name__)


# ---------------------------------------------------------------- metrics


# ---------------------------------------------------------------- rules


# ---------------------------------------------------------------- impure helpers


def run(cfg: Config) -> PromotionReport:
    """Gate the LightGBM challenger, write reports/promotion.{json,md}, register and promote when it passes."""
    p, reports = cfg.promote, cfg.paths.reports_dir
    metrics_report = read_report(EvaluateReport, reports / "metrics.json")
    task = metrics_report.task
    primary = metrics_report.primary_metric
    check_thresholds_fit(task, p.thresholds)
    scored = read_scored_test(cfg)
    models = metrics_report.models
    bundle, challenger = challenger_scores(cfg, scored, task, models)
    baseline = ModelScores(score_columns(scored, "baseline", task), model_threshold(None, models.get("baseline")))
    production_vid, production = champion_scores(cfg, scored, task)
    seg_cols = [c for c in cfg.data.segment_columns if c in scored.columns]
    absent = sorted(set(cfg.data.segment_columns) - set(seg_cols))
    notes = [f"segment column(s) {absent} are not in the scored test frame"] if absent else []
    latency = measure_latency(bundle, scored.iloc[: p.latency_rows])
    judged, shown = gather_suspects(cfg, metrics_report, bundle.meta)
    decision = decide_promotion(
        GateInput(
            task,
            primary,
            scored["y_true"].to_numpy(),
            challenger,
            baseline,
            production,
            scored[seg_cols] if seg_cols else None,
            cfg.evaluate.segment_min_rows,
            latency,
            judged,
        ),
        p,
    )

    record = build_record(cfg, decision, None, metrics_report, latency, production_vid)
    experiment = os.environ.get(EXPERIMENT_ENV) or None
    if experiment:  # a dvc experiment: the verdict is recorded in the report only; the registry is not touched
        status, vid = EXPERIMENT, None
    else:
        status, vid = apply_decision(cfg, decision, cfg.paths.models_dir / "lightgbm", record, production_vid)
    report = PromotionReport(
        step_version=STEP_VERSION,
        status=status,
        version_id=vid,
        production_version=production_vid,
        experiment=experiment,
        challenger_digest=challenger.digest or "",
        test_rows=int(len(scored)),
        test_fingerprint=metrics_report.test_fingerprint,
        decision=decision,
        suspects=shown,
        notes=notes,
        diagnosis=loss_diagnosis(cfg, decision, shown),
    )
    write_report(report, reports / "promotion.json")
    io.write_text(render_markdown(report), reports / "promotion.md")
    ingest = read_optional_report(IngestReport, reports / "ingest.json")
    headline = headline_metrics(
        metrics_report,
        read_optional_report(CvReport, reports / "cv.json"),
        read_optional_report(SplitReport, reports / "split.json"),
        ingest,
        report,
    )
    io.write_json(headline, reports / "headline.json")
    write_cards(cfg, bundle.meta, report, record)
    log_outcome(status, vid, production_vid, decision, latency, experiment, report.diagnosis)
    return report


if __name__ == "__main__":
    from tasks import (
        promote,  # this module under its real name (loggers say tasks.promote)
    )

    step_main("promote", promote.run, __doc__)
