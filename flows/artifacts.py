"""Artifacts: Prefect UI views rendered from the JSON reports DVC tracks, under stable keys."""

from __future__ import annotations

import base64
import logging
from pathlib import Path

from prefect import get_run_logger
from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_table_artifact,
)
from prefect.exceptions import MissingContextError

from tasks.core.config import Config
from tasks.core.errors import is_user_error
from tasks.core.reports import CvReport, EvaluateReport, Finding, SplitReport, read_report
from tasks.quality.data_docs import docs_index
from tasks.quality.reports import LeakageScreen, ValidateReport
from tasks.quality.validation import ensure_data_docs
from tasks.reporting.explain_report import ExplainReport
from tasks.reporting.promotion_report import PromotionReport, Verdict
from tasks.reporting.registry_table import read_registry_rows, table_of
from tasks.serving.trend import CHART_BATCHES, TREND_FILE, read_trend, trend_rows, trend_svg

REGISTRY_KEY = "model-registry"
TREND_KEY, TREND_CHART_KEY = "monitoring-trend", "monitoring-trend-chart"


def _fresh(path: Path, since: float | None = None) -> bool:
    """Whether the report at path exists and (since given) was written at or after since (epoch s)."""
    return path.exists() and (since is None or path.stat().st_mtime >= since)


def _fmt(v) -> str:
    return f"{v:.4f}" if isinstance(v, float) else str(v)


def metrics_markdown(report: EvaluateReport) -> str:
    """Return the test metrics of every model, with intervals, as a Markdown table."""
    models = {name: m.computed() for name, m in report.models.items()}
    names = sorted({k for m in models.values() for k in m})
    lines = ["| metric | " + " | ".join(models) + " | 95% CI (lightgbm) |", "|---" * (len(models) + 2) + "|"]
    for metric in names:
        ci = report.interval("lightgbm", metric)
        ci_text = f"{ci.low:.4f} .. {ci.high:.4f}" if ci and ci.low is not None and ci.high is not None else ""
        lines.append(f"| {metric} | " + " | ".join(_fmt(m.get(metric, "")) for m in models.values()) + f" | {ci_text} |")
    lift = ", ".join(f"{k}: {v:+.4f}" for k, v in report.lift.to_data().items() if v is not None)
    return (
        f"## Test metrics ({report.test_rows} rows, primary {report.primary_metric})\n\n"
        + "\n".join(lines)
        + f"\n\nLightGBM lift on {report.primary_metric}: {lift}\n"
    )


def cv_rows(report: CvReport) -> list[dict]:
    """Return one table row per CV scheme and model: mean and std of every metric."""
    rows = []
    for scheme, body in report.schemes.items():
        for model, metrics in body.summary.models().items():
            rows.append(
                {
                    "scheme": scheme,
                    "model": model,
                    "high_variance": body.summary.high_variance,
                    **{k: f"{v.mean:.4f} ± {v.std:.4f}" for k, v in metrics.items()},
                }
            )
    return rows


def promotion_rows(report: PromotionReport) -> list[dict]:
    """Return one table row per promotion rule: rule, metric, value, threshold, result, reason."""
    results = {Verdict.PASS: "pass", Verdict.FAIL: "FAIL", Verdict.NOT_APPLICABLE: "n/a"}
    return [
        {
            "rule": r.rule,
            "metric": r.metric or "",
            "value": _fmt(r.value),
            "threshold": _fmt(r.threshold),
            "result": results[r.verdict],
            "reason": r.reason,
        }
        for r in report.decision.rules
    ]


def slice_rows(report: ExplainReport, limit: int = 20) -> list[dict]:
    """Return the explain step's worst error slices: segment, rows, error rate, lift, z, top drivers."""
    return [
        {
            "segment": s.segment,
            "rows": s.rows,
            "error_rate": _fmt(s.error_rate),
            "lift": _fmt(s.lift),
            "z": _fmt(s.z),
            "drivers": ", ".join(d.feature for d in s.drivers[:3]),
        }
        for s in report.slices.top[:limit]
    ]


def publish_data_docs(cfg: Config) -> None:
    """Publish the `data-docs` link to the Data Docs of this validation, building them first when this machine has
    none (tasks.quality.validation.ensure_data_docs); without an ingested table, say how to build them instead."""
    docs = ensure_data_docs(cfg.paths, cfg.data, cfg.validate)
    if docs is None:
        create_markdown_artifact(
            key="data-docs",
            markdown=(
                f"## Data Docs not built on this machine\n\n`{docs_index(cfg.paths).as_posix()}` does not exist and there is no "
                f"ingested table (`{cfg.paths.ingested}`) to validate. Run `tabgate step ingest` (or `dvc pull`), then "
                "`tabgate validate --data-docs` to build them."
            ),
            description="Great Expectations Data Docs: not built",
        )
        return
    index = Path(docs).resolve()
    create_link_artifact(
        key="data-docs",
        link=index.as_uri(),
        link_text="Great Expectations Data Docs",
        description=f"open {index} in a browser on the machine that ran the flow (works offline)",
    )


def publish_step_artifacts(step: str, cfg: Config, since: float | None = None) -> None:
    """Publish the Prefect artifacts for one step from its report on disk (no-op for steps without one).

    since (epoch seconds): publish only a report written at or after it, i.e. by a step that failed after writing
    it (a failed validation writes reports/validate.json, then stops the run), never a previous run's.
    """
    reports = cfg.paths.reports_dir
    if since is not None:
        if step == "validate" and _fresh(reports / "validate.json", since):
            create_markdown_artifact(
                key="validation-summary",
                markdown=validation_markdown(read_report(ValidateReport, reports / "validate.json")),
                description="Data validation FAILED: failed expectations, drift, leakage",
            )
            publish_data_docs(cfg)
        return
    if step == "validate" and (reports / "validate.json").exists():
        create_markdown_artifact(
            key="validation-summary",
            markdown=validation_markdown(read_report(ValidateReport, reports / "validate.json")),
            description="Data validation: failed expectations, drift, leakage",
        )
        publish_data_docs(cfg)
    elif step == "split" and (reports / "split.json").exists():
        create_markdown_artifact(
            key="train-vs-test",
            markdown=split_markdown(read_report(SplitReport, reports / "split.json")),
            description="Is the test set like the training part? Label shift, drift, warnings",
        )
    elif step == "cv" and (reports / "cv.json").exists():
        create_table_artifact(
            key="cv-table", table=cv_rows(read_report(CvReport, reports / "cv.json")), description="Cross-validation mean ± std"
        )
    elif step == "evaluate" and (reports / "metrics.json").exists():
        create_markdown_artifact(
            key="test-metrics",
            markdown=metrics_markdown(read_report(EvaluateReport, reports / "metrics.json")),
            description="Test metrics",
        )
    elif step == "explain":
        html = (reports / "explain" / "report.html").resolve()
        if html.exists():
            create_link_artifact(
                key="explain-report",
                link=html.as_uri(),
                link_text="SHAP error analysis report",
                description=f"open {html} in a browser on the machine that ran the flow",
            )
        explain = reports / "explain" / "explain.json"
        if explain.exists() and (rows := slice_rows(read_report(ExplainReport, explain))):
            create_table_artifact(
                key="error-slices", table=rows, description="Segments where the model errs clearly more than overall"
            )
    elif step == "promote" and (reports / "promotion.json").exists():
        promotion = read_report(PromotionReport, reports / "promotion.json")
        md = reports / "promotion.md"
        create_markdown_artifact(
            key="promotion-decision",
            markdown=md.read_text() if md.exists() else f"status: {promotion.status.value}",
            description="Promotion gate: decision and reasons",
        )
        if promotion_rows(promotion):
            create_table_artifact(
                key="promotion-rules",
                table=promotion_rows(promotion),
                description=f"Promotion rules for {promotion.version_id}: {promotion.status.value}",
            )


def _logger() -> logging.Logger | logging.LoggerAdapter:
    """Return the flow run's logger inside a run (its lines show in the UI), else the module's."""
    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger(__name__)


def publish_registry_table(cfg: Config) -> bool:
    """Publish the `model-registry` table (one row per version, newest first); return whether it was published.

    Called after every registry change (promote step, approvals, rollbacks). Best effort: a server that cannot
    be reached (or refuses the artifact) is a warning, never a failed run; the registry itself already changed.
    """
    try:
        rows = read_registry_rows(cfg.paths.registry_dir)
        production = next((r.version for r in rows if r.production), None)
        create_table_artifact(
            key=REGISTRY_KEY,
            table=table_of(rows),
            description=f"Model registry ({cfg.paths.registry_dir}/): {len(rows)} version(s), "
            f"newest first; production {production or 'none'}",
        )
    except Exception as err:
        _logger().warning(
            "could not publish the %s artifact (the registry change stands): %s: %s", REGISTRY_KEY, type(err).__name__, err
        )
        return False
    return True


def chart_markdown(svg: str, title: str) -> str:
    """Return Markdown showing an SVG picture as a data-URI image (the Prefect UI drops inline <svg>, checked in
    Chromium against prefect 3.8; an image's data: URI renders)."""
    data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    return f"## {title}\n\n![{title}](data:image/svg+xml;base64,{data})\n"


def publish_monitoring_trend(cfg: Config) -> bool:
    """Publish the `monitoring-trend` table and the `monitoring-trend-chart` picture from
    reports/monitoring_trend.jsonl (the last CHART_BATCHES batches); return whether both were published.

    Best effort: a server that refuses them is a warning; the batch's trend line is already in the file."""
    path = cfg.paths.reports_dir / TREND_FILE
    try:
        entries = read_trend(path)
        latest = entries[-1] if entries else None
        note = f"{len(entries)} batch(es) in {path}; latest {latest.batch if latest else 'none'}"
        create_table_artifact(key=TREND_KEY, table=trend_rows(entries), description=f"Monitoring trend: {note}")
        create_markdown_artifact(
            key=TREND_CHART_KEY,
            markdown=chart_markdown(trend_svg(entries), f"Monitoring trend, last {min(len(entries), CHART_BATCHES)} batches"),
            description=f"Live metric and prediction mean per batch: {note}",
        )
    except Exception as err:
        _logger().warning(
            "could not publish the %s artifacts (%s keeps the trend): %s: %s", TREND_KEY, path, type(err).__name__, err
        )
        return False
    return True


def publish_failure(err: BaseException) -> None:
    """Publish the error of a failed run as the `run-failure` markdown artifact (best effort: never masks err)."""
    try:
        kind = type(err).__name__
        user = (
            "bad input or configuration: fix what it names and run again"
            if is_user_error(err)
            else "unexpected error: see the flow run logs for the traceback"
        )
        create_markdown_artifact(
            key="run-failure",
            markdown=f"## Run FAILED: {kind}\n\n{user}\n\n```\n{err}\n```\n",
            description=f"Why this run failed ({kind})",
        )
    except Exception:  # pragma: no cover - the original error matters more
        pass


def publish_run_summary(result: dict) -> None:
    """Publish the `run-summary` markdown artifact: versions, steps run and skipped."""
    lines = [
        "## Training run",
        "",
        f"- data version: `{result.get('data_version') or 'unversioned'}`",
        f"- model version: `{result.get('model_version') or 'none'}`",
        f"- ran: {', '.join(result.get('ran') or []) or 'nothing (everything up to date)'}",
        f"- skipped (up to date): {', '.join(result.get('skipped') or []) or 'none'}",
        f"- waited for the project lock: {result.get('waited_for_lock_seconds', 0)} s",
    ]
    if result.get("approval_run"):
        lines.append(f"- waiting for approval in the UI: flow run `{result['approval_run']}` (tabgate-approval)")
    diagnosis = getattr((result.get("reports") or {}).get("promote"), "diagnosis", None)
    if diagnosis is not None:  # the challenger lost to the baseline: what the reports show, what to try
        lines += [
            "",
            f"### The model lost to the {diagnosis.lost_to}",
            "",
            *[f"- {e}" for e in diagnosis.evidence],
            "",
            "Try:",
            *[f"- {t}" for t in diagnosis.try_next],
        ]
    create_markdown_artifact(key="run-summary", markdown="\n".join(lines) + "\n", description="What this run did")


def validation_markdown(report: ValidateReport) -> str:
    """Return the validation summary (counts, failed expectations, drift, leakage) as Markdown."""
    c = report.counts
    lines = [
        f"## Validation: {'passed' if report.passed else 'FAILED'}",
        "",
        f"{c.rows} rows, {c.columns} columns, {c.expectations} expectations: "
        f"{c.failed_error} error / {c.failed_warn} warning failure(s); drift "
        f"{c.drift_warn} warn / {c.drift_error} error",
        "",
    ]
    if report.failures:
        lines += [
            "### Failed expectations",
            "",
            "| severity | column | rule | unexpected | detail | examples |",
            "|---|---|---|---|---|---|",
        ]
        for f in report.failures[:50]:
            lines.append(
                f"| {f.severity.value} | {f.column} | {f.rule} | "
                f"{'' if f.unexpected_count is None else f.unexpected_count} | "
                f"{_cell(f.detail)} | {_cell(f.examples)} |"
            )
    else:
        lines.append("No failed expectations.")
    drift = report.drift
    moved = drift.moved()
    lines += ["", f"### Drift ({drift.metric or 'psi'}, warn {drift.warn}, error {drift.error})", ""]
    if moved:
        lines += ["| column | value | level |", "|---|---|---|"]
        lines += [f"| {k} | {_fmt(d.value)} | {d.level.value} |" for k, d in sorted(moved.items())]
    else:
        lines.append(drift.note or "No column drifted beyond the warning level.")
    leak = report.leakage or LeakageScreen()
    lines += ["", "### Leakage screen", ""]
    if leak.skipped:
        lines.append(f"skipped: {leak.skipped}")
    elif leak.suspects:
        lines += findings_table(leak.suspects)
        lines += [
            "",
            "Unexcused suspects block promotion (not the run): drop the column (data.drop_columns) or list "
            "it with a reason in validate.keep_suspects.",
        ]
    else:
        lines.append(
            f"No suspect among {len(leak.scores)} features "
            f"({leak.metric or 'roc_auc'} < {leak.threshold} on {leak.rows_screened} rows)."
        )
    return "\n".join(lines) + "\n"


def findings_table(findings: list[Finding]) -> list[str]:
    """Return Markdown table lines, one row per finding: columns, check, value, threshold, effect, detail."""
    lines = ["| columns | check | value | threshold | effect | detail |", "|---|---|---|---|---|---|"]
    for f in findings:
        lines.append(
            f"| {_cell(', '.join(f.columns) or '(rows)')} | {f.check} | "
            f"{_fmt(f.value)} | {_fmt(f.threshold)} | {_cell(f.effect)} | {_cell(f.detail)} |"
        )
    return lines


def split_markdown(report: SplitReport) -> str:
    """Return the train-vs-test comparison of the split step (label shift, adversarial AUC, warnings) as Markdown."""
    tvt = report.train_vs_test
    adv = tvt.get("adversarial") or {}
    lines = [
        f"## Split: {report.strategy}",
        "",
        f"train {report.train.rows}, valid {report.valid.rows}, test "
        f"{report.test.rows} rows; label PSI training -> test "
        f"{_fmt((tvt.get('label') or {}).get('psi'))}; adversarial ROC-AUC {_fmt(adv.get('roc_auc'))}",
        "",
    ]
    warnings = report.suspects
    return "\n".join(lines + (findings_table(warnings) if warnings else ["No train-vs-test warning."])) + "\n"


def _cell(v) -> str:
    return str(v if v is not None else "").replace("|", "\\|").replace("\n", " ")[:120]
