"""Card Markdown: the model card (tasks.reporting.card_report.ModelCard) rendered as reports/model_card.md (pure)."""

from __future__ import annotations

from typing import Any

from tasks.core.reports import MeanStd
from tasks.modelling.reports import TrainCompute
from tasks.reporting.card_report import (
    CardCv,
    CardData,
    CardFinding,
    CardGate,
    CardMetrics,
    CardTraining,
    CardVersions,
    CardWeaknesses,
    MetricRow,
    ModelCard,
    SegmentRow,
)
from tasks.reporting.card_sections import MODEL, ordered_metrics


def _f(x: Any) -> str:
    if isinstance(x, bool) or x is None:
        return "n/a" if x is None else str(x).lower()
    if isinstance(x, float):
        return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.4f}"
    if isinstance(x, int):
        return f"{x:,}"
    return str(x)


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    cell = lambda v: _f(v).replace("|", "\\|").replace("\n", " ")  # noqa: E731
    return [
        "| " + " | ".join(cell(h) for h in header) + " |",
        "|" + "---|" * len(header),
        *["| " + " | ".join(cell(v) for v in r) + " |" for r in rows],
    ]


def _ci(row: MetricRow) -> str:
    return "n/a" if row.low is None else f"[{_f(row.low)}, {_f(row.high)}]"


def _day(stamp: Any) -> str:
    text = str(stamp)
    return text[:-9] if text.endswith("T00:00:00") else text


def render_data(d: CardData) -> list[str]:
    """Return the Data section."""
    rng = d.time_range or []
    split = d.rows_by_split
    lines = [
        "## Data",
        "",
        f"- source: `{d.source}` (snapshot `{d.snapshot or 'n/a'}`, data version `{d.data_version or 'n/a'}`)",
        f"- rows: {_f(d.rows)}; time column `{d.time_column or '-'}`"
        + (f" from {_day(rng[0])} to {_day(rng[1])}" if len(rng) == 2 else ""),
        f"- split ({d.split_strategy or 'n/a'}): train {_f(split.train)}, valid {_f(split.valid)}, test {_f(split.test)}",
        f"- target `{d.target}` ({d.task})",
        "",
        "Columns left out:",
        "",
    ]
    left = d.columns_left_out
    lines += _table(["column", "why"], [[f"`{c}`", why] for c, why in left.items()]) if left else ["(none)"]
    return lines + [""]


def render_training(t: CardTraining) -> list[str]:
    """Return the Training section."""
    return [
        "## Training",
        "",
        f"- model: {t.kind}, {t.n_features} features ({len(t.numeric)} numeric, "
        f"{len(t.categorical)} categorical), trained on {_f(t.train_rows)} rows",
        f"- class weight: {t.class_weight or 'none'}",
        f"- best iteration: {_f(t.best_iteration)}; decision threshold: {_f(t.threshold)}",
        *render_compute(t.compute, t.trained_with),
        f"- features: {', '.join(f'`{c}`' for c in t.features) or 'n/a'}",
        "",
    ]


def render_compute(compute: TrainCompute | None, trained_with: str | None) -> list[str]:
    """Return the line saying where the cv and tuning folds and the final LightGBM ran (none when train.json predates it)."""
    if not compute:
        return []
    final = trained_with or "LightGBM in this process"
    return [f"- compute: engine {compute.engine} (cv and tuning folds); final LightGBM: {final}"]


def render_metrics(m: CardMetrics, cv: CardCv) -> list[str]:
    """Return the test metrics (with intervals) and cross-validation sections."""
    lines = [
        "## Test metrics",
        "",
        f"{_f(m.test_rows)} held-out test rows; 95% intervals ({m.interval_methods or 'bootstrap'}) over "
        f"{_f(m.bootstrap_samples)} resamples; primary metric `{m.primary_metric}`.",
        "",
    ]
    rows = m.rows
    lines += (
        _table(["metric", "value", "95% interval", "baseline"], [[r.metric, r.value, _ci(r), r.baseline] for r in rows])
        if rows
        else ["(not available)"]
    )
    lines += ["", "## Cross-validation (mean ± std over folds)", ""]
    if not cv.schemes:
        return lines + ["(not available)", ""]
    for scheme, body in cv.schemes.items():
        models = body.models
        names = ordered_metrics(set(models.get(MODEL, {})) | set(models.get("baseline", {})))
        flag = " — HIGH VARIANCE across folds" if body.high_variance else ""
        lines += [f"{scheme} ({body.folds} folds){flag}:", ""]
        lines += _table(
            ["metric", MODEL, "baseline"], [[n, *[_pm((models.get(k) or {}).get(n)) for k in (MODEL, "baseline")]] for n in names]
        )
        lines.append("")
    return lines


def _pm(stat: MeanStd | None) -> str:
    return "n/a" if stat is None or not stat.model_fields_set else f"{_f(stat.mean)} ± {_f(stat.std)}"


def render_segments(segments: dict[str, list[SegmentRow]], primary: str | None) -> list[str]:
    """Return the per-segment section (weakest value of each column first)."""
    lines = [f"## Segments (test `{primary}`, weakest first)", ""]
    if not segments:
        return lines + ["(not available)", ""]
    for column, rows in segments.items():
        lines += _table([f"`{column}`", "rows", primary or "metric"], [[r.value, r.rows, r.metric] for r in rows])
        lines.append("")
    return lines


def render_weaknesses(w: CardWeaknesses) -> list[str]:
    """Return the known weaknesses section from the explain step."""
    lines = ["## Known weaknesses", ""]
    if not w.available:
        return lines + ["(the explain report was not available)", ""]
    lines += [
        f"Error: {w.error_definition}; overall error rate {_f(w.overall_error)}; "
        f"{_f(w.slices_flagged)} of {_f(w.slices_tried)} slices clearly worse than overall.",
        "",
    ]
    if w.weakest_slices:
        lines += _table(
            ["weakest slice", "rows", "error rate", "lift", "z", "drivers"],
            [[s.segment, s.rows, s.error_rate, s.lift, s.z, ", ".join(s.drivers)] for s in w.weakest_slices],
        ) + [""]
    lines += ["Warnings: " + ("; ".join(w.warnings) if w.warnings else "none"), ""]
    if w.top_drivers:
        lines += [f"Top drivers (mean |SHAP|, {w.shap_units or 'model units'}):", ""]
        lines += _table(
            ["feature", "share of |SHAP|", "SHAP rank", "permutation rank"],
            [[d.feature, d.share, d.shap_rank, d.permutation_rank] for d in w.top_drivers],
        )
        lines.append("")
    return lines


def render_findings(findings: list[CardFinding]) -> list[str]:
    """Return the findings section: leak suspects, a near-perfect model and train-vs-test warnings."""
    lines = ["## Leak suspects and data findings", ""]
    if not findings:
        return lines + ["None: no leak suspect, no near-perfect model, no train-vs-test warning.", ""]
    lines += _table(
        ["columns", "check", "value", "threshold", "effect", "detail"],
        [[", ".join(f.columns or []) or "(rows)", f.check, f.value, f.threshold, f.effect, f.detail] for f in findings],
    )
    return lines + [""]


def render_gate(g: CardGate) -> list[str]:
    """Return the gate decision section with every rule."""
    lines = [
        "## Promotion gate",
        "",
        f"- outcome: **{g.outcome.value.upper()}** -> status `{g.status.value}` (version `{g.version_id or '-'}`)",
        f"- compared with production: `{g.compared_with or 'none (first model)'}`",
        "",
    ]
    result = lambda p: "n/a" if p is None else ("pass" if p else "**FAIL**")  # noqa: E731
    lines += (
        _table(
            ["rule", "value", "threshold", "result", "reason"],
            [[r.rule, r.value, r.threshold, result(r.passed), r.reason] for r in g.rules],
        )
        if g.rules
        else ["(no rules evaluated)"]
    )
    notes = [f"- {n}" for n in g.notes]
    return lines + ([""] + notes if notes else []) + [""]


def render_versions(v: CardVersions) -> list[str]:
    """Return the provenance section: code, data, params, and where DVC keeps the model."""
    dvc = v.dvc or {}
    dirty = " (uncommitted changes when it ran)" if v.git_dirty else ""
    code = (
        f"- code digest (sha256 of the tasks package's source): `{v.code_digest}`; the git commit is in the registry record"
        if v.code_digest
        else f"- code commit: `{v.git_commit or 'n/a'}`{dirty}"
    )
    return [
        "## Versions",
        "",
        code,
        f"- data version (data.dvc md5): `{v.data_version or 'n/a'}`",
        f"- params digest (sha256 of the typed config): `{v.params_digest or 'n/a'}`",
        f"- bundle digest: `{v.bundle_digest or 'n/a'}`",
        f"- DVC: output `{dvc.get('output') or 'n/a'}` md5 `{dvc.get('md5') or 'n/a'}`, model path "
        f"`{dvc.get('path') or 'n/a'}`, artifact `{dvc.get('artifact') or 'n/a'}`",
        "",
    ]


def render_model_card(card: ModelCard) -> str:
    """Return the card as Markdown."""
    title = card.version_id or "unregistered challenger"
    lines = [f"# Model card: {title}", "", f"{card.task} model of `{card.target}`; status **{card.status.value}**.", ""]
    lines += render_data(card.data)
    lines += render_training(card.training)
    lines += render_metrics(card.metrics, card.cv)
    lines += render_segments(card.segments, card.metrics.primary_metric)
    lines += render_weaknesses(card.weaknesses)
    lines += render_findings(card.findings)
    lines += render_gate(card.gate)
    lines += render_versions(card.versions)
    if card.notes:
        lines += ["## Notes", "", *[f"- {n}" for n in card.notes], ""]
    return "\n".join(lines).rstrip() + "\n"
