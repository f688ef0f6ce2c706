"""Promotion: gather the scores the gate needs, record its decision in the registry, write the model cards.

IO around tasks.evaluation.gate: reads the scored test frame and the bundles, registers and switches versions.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tasks.core import io
from tasks.core.config import Config
from tasks.core.metrics import score_columns
from tasks.core.reports import CvReport, EvaluateReport, Metrics, SplitReport, read_optional_report
from tasks.evaluation.diagnosis import diagnose_loss, diagnosis_markdown
from tasks.evaluation.gate import FIRST_MODEL, Latency, ModelScores, format_metric, near_perfect_findings
from tasks.modelling.bundle import ModelBundle, bundle_digest, load_bundle
from tasks.modelling.reports import TrainReport
from tasks.quality.findings import SUSPECT, WARN, Finding, excuse_all
from tasks.quality.reports import ValidateReport
from tasks.registry.catalog import production_version
from tasks.registry.lifecycle import attach_model_card, register_version, set_production
from tasks.registry.manifest import production_bundle_dir
from tasks.registry.provenance import code_digest, dvc_provenance, git_commit, git_dirty
from tasks.registry.records import Action, CandidateRecord, GateOutcome, PromotionStatus, RecordStatus
from tasks.reporting import model_card
from tasks.reporting.card_inputs import read_card_inputs
from tasks.reporting.card_report import ModelCard
from tasks.reporting.explain_report import ExplainReport
from tasks.reporting.promotion_report import Decision, LossDiagnosis, PromotionReport

log = logging.getLogger(__name__)
CODE_DIR = Path(__file__).resolve().parents[1]  # the tasks package whose code ran (named by the model card)
CARD_MD, CARD_JSON = "model_card.md", "model_card.json"  # in paths.reports_dir (promote stage outputs)
EXPERIMENT = PromotionStatus.EXPERIMENT  # a gate run under `dvc exp run`: decided, nothing registered or switched
DRIVERS = 3  # strongest drivers a near-perfect model finding names


def measure_latency(bundle: ModelBundle, rows: pd.DataFrame, max_single: int = 200) -> Latency:
    """Return p95 single-row latency and batch rows/second of bundle.predict_scores on these rows."""
    if rows.empty:
        return Latency(0.0, float("inf"), 0)
    bundle.predict_scores(rows.iloc[:1])  # warm-up
    single = []
    for i in range(min(len(rows), max_single)):
        start = time.perf_counter()
        bundle.predict_scores(rows.iloc[i : i + 1])
        single.append((time.perf_counter() - start) * 1000)
    batch = []
    for _ in range(3):
        start = time.perf_counter()
        bundle.predict_scores(rows)
        batch.append(time.perf_counter() - start)
    return Latency(float(np.percentile(single, 95)), float(len(rows) / max(min(batch), 1e-9)), int(len(rows)))


def params_digest(cfg: Config) -> str:
    """Return the sha256 of the whole typed configuration (what produced this model)."""
    return hashlib.sha256(io.to_json(cfg.model_dump(mode="json", by_alias=True)).encode()).hexdigest()


def scores_match(bundle: ModelBundle, rows: pd.DataFrame, recorded: np.ndarray) -> bool:
    """Return True when the bundle reproduces the recorded scores on these rows."""
    return bool(len(rows) == 0 or np.allclose(bundle.predict_scores(rows), recorded, rtol=1e-6, atol=1e-7))


def production_scores(scored: pd.DataFrame, bundle: ModelBundle, task: str, sample: int) -> np.ndarray:
    """Return the production model's test scores: evaluate's column when it matches this model, else rescored."""
    has_column = any(c == "score_production" or c.startswith("proba_production_") for c in scored.columns)
    recorded = score_columns(scored, "production", task) if has_column else None
    if recorded is not None and scores_match(bundle, scored.iloc[:sample], recorded[:sample]):
        return recorded
    missing = [c for c in bundle.features if c not in scored.columns]
    if missing:
        raise io.InputError(
            f"{scored.attrs.get('path', 'scored test frame')}: lacks production model inputs {missing[:10]}; re-run evaluate"
        )
    log.warning(
        "promote: evaluate's production scores are missing or from another model; rescoring the "
        "current production model on the scored test rows"
    )
    return bundle.predict_scores(scored)


def model_threshold(meta: Mapping[str, Any] | None, metrics: Metrics | None) -> float:
    """Return a model's decision threshold from evaluate's metrics or its meta (0.5 when neither says)."""
    for value in (metrics.threshold if metrics else None, (meta or {}).get("threshold")):
        if value is not None and np.isfinite(value):
            return float(value)
    return 0.5


def top_drivers(explain: ExplainReport | None, meta: Mapping[str, Any], k: int = DRIVERS) -> list[str]:
    """Return the model's k strongest drivers: explain's global importance, else the bundle's first features."""
    ranked = [g.feature for g in (explain.global_importance if explain else []) if g.feature]
    return ranked[:k] if ranked else [str(c) for c in (meta.get("features") or [])[:k]]


def gather_suspects(
    cfg: Config, metrics_report: EvaluateReport, meta: Mapping[str, Any]
) -> tuple[list[Finding] | None, list[Finding]]:
    """Return (the findings the gate judges, or None without reports/validate.json; every finding to show).

    Judged: validate's leak suspects and a near-perfect model, excused against the current validate.keep_suspects.
    Shown besides: validate's warnings and the split step's train-vs-test warnings (split.expected_shift excuses).
    """
    reports, keep = cfg.paths.reports_dir, cfg.validate.keep_suspects
    validate = read_optional_report(ValidateReport, reports / "validate.json")
    split = read_optional_report(SplitReport, reports / "split.json")
    explain = read_optional_report(ExplainReport, reports / "explain" / "explain.json")
    models = metrics_report.models
    dummy = models["dummy"].computed() if "dummy" in models else None
    drivers = top_drivers(explain, meta)
    near = [
        f
        for m in ("lightgbm", "baseline")
        if m in models
        for f in near_perfect_findings(m, models[m].computed(), dummy, cfg.promote.near_perfect, drivers, keep)
    ]
    data = excuse_all(validate.leakage.suspects if validate and validate.leakage else [], keep)
    judged = None if validate is None else [f for f in data if f.severity is SUSPECT] + near
    shown = (
        data + near + excuse_all([f for f in (split.suspects if split else []) if f.severity is WARN], cfg.split.expected_shift)
    )
    return judged, shown


def loss_diagnosis(cfg: Config, decision: Decision, shown: Sequence[Finding]) -> LossDiagnosis | None:
    """Return why the challenger lost to the baseline from train.json, cv.json and split.json (None when it did not)."""
    reports = cfg.paths.reports_dir
    split = read_optional_report(SplitReport, reports / "split.json")
    cv = read_optional_report(CvReport, reports / "cv.json")
    shifted = [c for f in shown if f.check == "feature_shift" and not f.excused for c in f.columns]
    train = read_optional_report(TrainReport, reports / "train.json")
    return diagnose_loss(
        decision.rules,
        decision.primary_metric,
        train,
        split.strategy if split else None,
        split.train_vs_test if split else None,
        shifted,
        cv.notes if cv else [],
    )


def findings_markdown(findings: Sequence[Finding]) -> list[str]:
    """Return Markdown lines: one row per finding with what it does to promotion."""
    if not findings:
        return ["No findings: no leak suspect, no near-perfect model, no train-vs-test warning."]
    lines = ["| columns | check | value | threshold | effect | detail |", "|---|---|---|---|---|---|"]
    for f in findings:
        if f.excused:
            effect = f"excused: {f.reason}"
        else:
            effect = "**blocks promotion**" if f.severity is SUSPECT else f.severity.value
        cells = [", ".join(f.columns) or "(rows)", f.check, format_metric(f.value), format_metric(f.threshold), effect, f.detail]
        lines.append("| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in cells) + " |")
    return lines


def render_markdown(report: PromotionReport) -> str:
    """Return reports/promotion.md: the verdict and a table of every rule."""
    status = report.status.value.replace("_", " ").upper()
    champion = report.production_version or FIRST_MODEL
    decision = report.decision
    lines = [
        f"# Promotion: {status}",
        "",
        f"- challenger: `{report.challenger_digest[:12]}` -> version `{report.version_id or '-'}`",
        f"- champion (production): `{champion}`",
        f"- primary metric: `{decision.primary_metric}`; test rows: {report.test_rows}",
        *(
            [
                f"- experiment: production unchanged (`dvc exp run` experiment `{report.experiment}`; the gate's "
                f"verdict was **{decision.outcome.value.replace('_', ' ')}**, nothing was registered)"
            ]
            if report.experiment
            else []
        ),
        "",
        "| rule | metric | value | threshold | result | reason |",
        "|---|---|---|---|---|---|",
    ]
    for r in decision.rules:
        result = "n/a" if r.passed is None else ("pass" if r.passed else "**FAIL**")
        cells = [r.rule, r.metric or "", format_metric(r.value), format_metric(r.threshold), result, r.reason]
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    lines += ["", "## Findings (validate, split, the model's test metrics)", "", *findings_markdown(report.suspects)]
    notes = decision.notes + report.notes
    if notes:
        lines += ["", "Notes:", *[f"- {n}" for n in notes]]
    lines += diagnosis_markdown(report.diagnosis)
    return "\n".join(lines) + "\n"


def build_record(
    cfg: Config,
    decision: Decision,
    status: RecordStatus | None,
    metrics_report: EvaluateReport,
    latency: Latency | None,
    production_vid: str | None,
) -> CandidateRecord:
    """Return the registry record of a gated challenger (the version id, digest and timestamps are the registry's).

    `dvc` says where DVC keeps the same bytes (see tasks.registry.provenance.dvc_provenance), so the version can be
    fetched on a machine without this registry.
    """
    evaluated = metrics_report.models.get("lightgbm")
    return CandidateRecord(
        status=status,
        kind="lightgbm",
        task=cfg.data.task,
        primary_metric=decision.primary_metric,
        metrics=decision.metrics.get("challenger", {}),
        evaluate_metrics=evaluated.to_data() if evaluated is not None else None,
        data_version=io.data_version(Path(f"{cfg.paths.data_dir}.dvc")),
        git_commit=git_commit(),
        git_dirty=git_dirty(),
        params_digest=params_digest(cfg),
        dvc=dvc_provenance(cfg.paths.models_dir, cfg.paths.models_dir / "lightgbm"),
        test_fingerprint=metrics_report.test_fingerprint,
        test_rows=metrics_report.test_rows,
        compared_with=production_vid,
        decision=decision.summary(),
        latency=asdict(latency) if latency else None,
    )


def apply_decision(
    cfg: Config, decision: Decision, challenger_dir: Path, record: CandidateRecord, production_vid: str | None
) -> tuple[PromotionStatus, str | None]:
    """Register and (unless approval is required) switch production; return (status, version_id)."""
    p, reg = cfg.promote, cfg.paths.registry_dir
    if decision.outcome == GateOutcome.ALREADY_IN_PRODUCTION:
        return PromotionStatus.ALREADY_IN_PRODUCTION, production_vid
    if decision.outcome == GateOutcome.REJECT:
        if not p.register_rejected:
            return PromotionStatus.REJECTED, None
        return PromotionStatus.REJECTED, register_version(
            reg, challenger_dir, record.model_copy(update={"status": RecordStatus.REJECTED}), p.lock_timeout_seconds
        )
    status = RecordStatus.PENDING_APPROVAL if p.require_approval else RecordStatus.APPROVED
    vid = register_version(reg, challenger_dir, record.model_copy(update={"status": status}), p.lock_timeout_seconds)
    if p.require_approval:
        return PromotionStatus.PENDING_APPROVAL, vid
    primary = decision.primary_metric
    reason = f"gate passed: {primary} {format_metric(decision.metrics['challenger'].get(primary))}" + (
        f" ({FIRST_MODEL})" if decision.first_model else f", better than {production_vid}"
    )
    set_production(
        reg,
        vid,
        reason,
        "tabgate promote",
        action=Action.PROMOTE,
        expected_current=production_vid,
        lock_timeout=p.lock_timeout_seconds,
    )
    return PromotionStatus.PROMOTED, vid


def challenger_scores(
    cfg: Config, scored: pd.DataFrame, task: str, models: Mapping[str, Metrics]
) -> tuple[ModelBundle, ModelScores]:
    """Return the LightGBM bundle and its test scores; InputError when evaluate scored another model."""
    challenger_dir = cfg.paths.models_dir / "lightgbm"
    bundle = load_bundle(challenger_dir)
    scores = score_columns(scored, "lightgbm", task)
    sample = scored.iloc[: cfg.promote.latency_rows]
    if not scores_match(bundle, sample, scores[: len(sample)]):
        raise io.InputError(
            f"{cfg.paths.scored_test}: was scored by a different model than {challenger_dir}; "
            "re-run evaluate so the gate judges the model it would register"
        )
    threshold = model_threshold(bundle.meta, models.get("lightgbm"))
    return bundle, ModelScores(scores, threshold, bundle.meta, bundle_digest(challenger_dir))


def champion_scores(cfg: Config, scored: pd.DataFrame, task: str) -> tuple[str | None, ModelScores | None]:
    """Return the production version id and its test scores, or (None, None) when there is none."""
    version = production_version(cfg.paths.registry_dir)
    if version is None:
        return None, None
    prod_dir = production_bundle_dir(cfg.paths.registry_dir)
    if prod_dir is None:
        return None, None
    bundle = load_bundle(prod_dir)
    scores = production_scores(scored, bundle, task, cfg.promote.latency_rows)
    return version, ModelScores(scores, model_threshold(bundle.meta, None), bundle.meta, bundle_digest(prod_dir))


def read_scored_test(cfg: Config) -> pd.DataFrame:
    """Return evaluate's scored test rows; InputError when y_true is missing."""
    scored = io.read_frame(cfg.paths.scored_test)
    scored.attrs["path"] = str(cfg.paths.scored_test)
    if "y_true" not in scored.columns:
        raise io.InputError(f"{cfg.paths.scored_test}: has no y_true column; re-run evaluate")
    return scored


def write_cards(cfg: Config, meta: Mapping[str, Any], report: PromotionReport, record: CandidateRecord) -> ModelCard:
    """Write reports/model_card.{md,json} and, for a version registered by this run, its registry copy."""
    inputs = read_card_inputs(cfg.paths.reports_dir)
    status, vid = report.status, report.version_id
    versions = {  # no git commit: the card is a DVC output, and a commit would change it in every clone
        "code_digest": code_digest(CODE_DIR),
        "data_version": record.data_version,
        "params_digest": record.params_digest,
        "dvc": record.dvc.to_json_dict() if record.dvc else None,
        "bundle_digest": report.challenger_digest,
    }
    card = model_card.build_model_card(
        data=cfg.data,
        source=cfg.ingest.source,
        p=cfg.promote,
        meta=meta,
        inputs=inputs,
        decision=report.decision,
        status=status,
        version_id=vid,
        production_version=report.production_version,
        versions=versions,
        findings=report.suspects,
    )
    md = model_card.write_model_card(card, cfg.paths.reports_dir / CARD_MD, cfg.paths.reports_dir / CARD_JSON)
    if vid is not None and status != PromotionStatus.ALREADY_IN_PRODUCTION:
        attach_model_card(cfg.paths.registry_dir, vid, md, card.to_data(), cfg.promote.lock_timeout_seconds)
    for note in card.notes:
        log.warning("promote: model card: %s", note)
    return card


def log_outcome(
    status: PromotionStatus,
    vid: str | None,
    production_vid: str | None,
    decision: Decision,
    latency: Latency | None,
    experiment: str | None = None,
    diagnosis: LossDiagnosis | None = None,
) -> None:
    """Log the verdict clearly; a rejection is a warning, not an error."""
    if latency:
        log.info("promote: challenger latency p95 %.1f ms, %.0f rows/s", latency.p95_ms, latency.rows_per_second)
    if status == PromotionStatus.EXPERIMENT:
        log.info(
            "promote: experiment %s: production unchanged (%s); the gate's verdict was %s, nothing registered",
            experiment,
            production_vid or "none",
            decision.outcome.value,
        )
    elif status == PromotionStatus.REJECTED:
        log.warning(
            "promote: challenger REJECTED (registered as %s); production stays %s. Failed rules: %s",
            vid or "-",
            production_vid or "none",
            "; ".join(f"{r.rule}: {r.reason}" for r in decision.failed),
        )
    elif status == PromotionStatus.PENDING_APPROVAL:
        log.info(
            "promote: challenger passed the gate; registered %s pending approval "
            '(approve with `tabgate models promote %s --reason "..."`)',
            vid,
            vid,
        )
    elif status == PromotionStatus.PROMOTED:
        log.info("promote: %s is now production (was %s)", vid, production_vid or "none")
    else:
        log.info("promote: challenger is already production %s; nothing changed", vid)
    if diagnosis is not None:
        log.warning(
            "promote: why it lost to the %s: %s. Try: %s",
            diagnosis.lost_to,
            "; ".join(diagnosis.evidence),
            "; ".join(diagnosis.try_next),
        )
