"""Artifacts: Prefect UI views rendered from the JSON reports DVC tracks, under stable keys."""

from __future__ import annotations

import json
from pathlib import Path

from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact

from tasks.config import Config


def _read(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.exists() else None


def _fmt(v) -> str:
    return f"{v:.4f}" if isinstance(v, float) else str(v)


def metrics_markdown(report: dict) -> str:
    """Return the test metrics of every model, with intervals, as a Markdown table."""
    models = report["models"]
    names = sorted({k for m in models.values() for k in m})
    lines = ["| metric | " + " | ".join(models) + " | 95% CI (lightgbm) |",
             "|---" * (len(models) + 2) + "|"]
    for metric in names:
        ci = report.get("intervals", {}).get("lightgbm", {}).get(metric)
        ci_text = f"{ci['low']:.4f} .. {ci['high']:.4f}" if ci and ci.get("low") is not None else ""
        lines.append(f"| {metric} | " + " | ".join(_fmt(m.get(metric, "")) for m in models.values()) + f" | {ci_text} |")
    lift = ", ".join(f"{k}: {v:+.4f}" for k, v in report.get("lift", {}).items())
    return f"## Test metrics ({report['test_rows']} rows, primary {report['primary_metric']})\n\n" + "\n".join(lines) + \
        f"\n\nLightGBM lift on {report['primary_metric']}: {lift}\n"


def cv_rows(report: dict) -> list[dict]:
    """Return one table row per CV scheme and model: mean and std of every metric."""
    rows = []
    for scheme, body in report["schemes"].items():
        for model, metrics in body["summary"].items():
            if model == "high_variance":
                continue
            rows.append({"scheme": scheme, "model": model, "high_variance": body["summary"]["high_variance"],
                         **{k: f"{v['mean']:.4f} ± {v['std']:.4f}" for k, v in metrics.items()}})
    return rows


def publish_step_artifacts(step: str, cfg: Config) -> None:
    """Publish the Prefect artifacts for one finished step (no-op for steps without one)."""
    reports = cfg.paths.reports_dir
    if step == "validate" and (r := _read(reports / "validate.json")):
        create_markdown_artifact(key="validation-summary", markdown=validation_markdown(r),
                                 description="Data validation: failed expectations, drift, leakage")
        docs = Path(cfg.paths.gx_dir, "uncommitted/data_docs/local_site/index.html").resolve()
        create_link_artifact(key="data-docs", link=docs.as_uri(), link_text="Great Expectations Data Docs")
    elif step == "cv" and (r := _read(reports / "cv.json")):
        create_table_artifact(key="cv-table", table=cv_rows(r), description="Cross-validation mean ± std")
    elif step == "evaluate" and (r := _read(reports / "metrics.json")):
        create_markdown_artifact(key="test-metrics", markdown=metrics_markdown(r), description="Test metrics")
    elif step == "explain":
        html = (reports / "explain" / "report.html").resolve()
        if html.exists():
            create_link_artifact(key="explain-report", link=html.as_uri(), link_text="SHAP error analysis report")
    elif step == "promote" and (md := reports / "promotion.md").exists():
        create_markdown_artifact(key="promotion-decision", markdown=md.read_text(), description="Promotion gate")


def validation_markdown(report: dict) -> str:
    """Return the validation summary as Markdown."""
    lines = [f"## Validation: {'passed' if report.get('passed') else 'FAILED'}", ""]
    failures = report.get("failures") or report.get("failed_expectations") or []
    if failures:
        lines += ["| column | rule | severity | unexpected | examples |", "|---|---|---|---|---|"]
        for f in failures[:50]:
            lines.append(f"| {f.get('column')} | {f.get('rule')} | {f.get('severity')} | {f.get('unexpected_count')} | "
                         f"{str(f.get('examples', f.get('example_values', '')))[:80]} |")
    else:
        lines.append("No failed expectations.")
    return "\n".join(lines)
