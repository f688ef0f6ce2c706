"""Report: the explain step's figures (PNG bytes, matplotlib Agg) and its one self-contained HTML page.

Every function here is pure: it takes numbers and returns bytes or text; the step writes them.
"""

from __future__ import annotations

import base64
import html
import io as _io
from collections.abc import Sequence
from typing import Any

import numpy as np

from tasks.reporting.explain_report import Contribution, ExplainReport

FIG_DPI = 100


def _pyplot() -> Any:
    """Return matplotlib.pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def figure_png(fig: Any, crop: bool = True) -> bytes:
    """Return the figure as PNG bytes (no software/time metadata, so bytes are stable) and close it.

    crop: grow or trim the canvas to what is drawn (costs a second layout pass); without it the figure
    keeps its size, so it must already fit its labels (fig.tight_layout()).
    """
    plt = _pyplot()
    buf = _io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=FIG_DPI, bbox_inches="tight" if crop else None, metadata={"Software": None})
    finally:
        plt.close(fig)
    return buf.getvalue()


def plot_importance(features: Sequence[str], mean_abs: Sequence[float], top: int = 20) -> bytes:
    """Return a horizontal bar chart of mean |SHAP| per feature (largest on top)."""
    plt = _pyplot()
    names, vals = list(features)[:top][::-1], np.asarray(mean_abs, dtype=float)[:top][::-1]
    fig, ax = plt.subplots(figsize=(7, 0.32 * len(names) + 1.2))
    ax.barh(names, vals, color="#1f77b4")
    ax.set_xlabel("mean |SHAP| (test rows, sample re-weighted)")
    ax.set_title("Global feature importance")
    ax.grid(axis="x", alpha=0.3)
    return figure_png(fig)


def swarm_offsets(values: np.ndarray, n_bins: int = 60, step: float = 0.035, width: float = 0.4) -> np.ndarray:
    """Return vertical offsets that spread points sharing a SHAP-value bin (a deterministic beeswarm)."""
    if len(values) == 0:
        return np.zeros(0)
    lo, hi = float(np.min(values)), float(np.max(values))
    bins = np.zeros(len(values), dtype=int) if hi <= lo else ((values - lo) / (hi - lo) * (n_bins - 1)).astype(int)
    order = np.argsort(bins, kind="mergesort")
    sorted_bins = bins[order]
    starts = np.searchsorted(sorted_bins, sorted_bins, side="left")
    rank = np.empty(len(values), dtype=int)
    rank[order] = np.arange(len(values)) - starts
    signed = np.where(rank % 2 == 0, 1, -1) * ((rank + 1) // 2)
    widest = int(np.abs(signed).max())
    return signed * (min(step, width / widest) if widest else step)


def plot_beeswarm(shap_values: np.ndarray, x: np.ndarray, features: Sequence[str], numeric: set[str], top: int = 15) -> bytes:
    """Return a beeswarm: one row per top feature, SHAP on x, numeric feature value as colour (grey: category)."""
    plt = _pyplot()
    order = np.argsort(-np.abs(shap_values).mean(axis=0), kind="mergesort")[:top]
    fig, ax = plt.subplots(figsize=(8, 0.42 * len(order) + 1.5))
    cmap = plt.get_cmap("coolwarm")
    for pos, j in enumerate(order[::-1]):
        v = shap_values[:, j]
        y = pos + swarm_offsets(v)
        col = x[:, j].astype(float)
        if features[j] in numeric and np.isfinite(col).any():
            finite = np.isfinite(col)
            lo, hi = np.percentile(col[finite], [5, 95])
            if hi <= lo:
                lo, hi = float(col[finite].min()), float(col[finite].max())
            scaled = np.clip((np.nan_to_num(col, nan=lo) - lo) / (hi - lo), 0, 1) if hi > lo else np.full(len(col), 0.5)
            colors = np.where(finite[:, None], cmap(scaled), (0.6, 0.6, 0.6, 1.0))
        else:
            colors = np.tile((0.55, 0.55, 0.55, 1.0), (len(v), 1))
        ax.scatter(v, y, c=colors, s=6, linewidths=0, alpha=0.8, rasterized=True)
    ax.set_yticks(range(len(order)), [features[j] for j in order[::-1]])
    ax.axvline(0, color="black", lw=0.6)
    ax.set_xlabel("SHAP value (impact on model output)")
    ax.set_title("SHAP values of the explained sample (colour: low→high feature value; grey: categorical/missing)")
    return figure_png(fig)


def format_raw(value: Any, width: int = 24) -> str:
    """Return a raw feature value for a label: integral numbers without '.0', others to 4 digits, text shortened."""
    if value is None or type(value).__name__ in ("NAType", "NaTType"):
        return "missing"
    if isinstance(value, (float, np.floating)) and not np.isfinite(value):
        return "missing" if np.isnan(value) else str(value)
    if isinstance(value, (bool, np.bool_)):
        return str(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        return str(int(value)) if float(value).is_integer() else f"{float(value):.4g}"
    text = str(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def waterfall_rows(
    values: np.ndarray, raw: Sequence[Any], features: Sequence[str], max_display: int = 10
) -> tuple[list[str], np.ndarray]:
    """Return bar labels and SHAP values bottom-up: the smallest |SHAP| summed as 'N other features' at the
    bottom (when there are more than max_display features), then one bar per feature, the largest on top."""
    values = np.asarray(values, dtype=float)
    order = np.argsort(-np.abs(values), kind="stable")
    shown = order if len(values) <= max_display else order[: max_display - 1]
    labels = [f"{format_raw(raw[j])} = {features[j]}" for j in shown]
    vals = values[shown]
    if len(shown) < len(values):
        labels.append(f"{len(values) - len(shown)} other features")
        vals = np.append(vals, values[order[len(shown) :]].sum())
    return labels[::-1], vals[::-1]


def plot_waterfall(
    values: np.ndarray, base: float, raw: Sequence[Any], features: Sequence[str], title: str, max_display: int = 10
) -> bytes:
    """Return a SHAP waterfall for one row: from the base value (bottom) each bar adds one feature's SHAP value
    (red pushes the output up, blue down) up to the row's output; labels carry the row's raw values."""
    plt = _pyplot()
    labels, vals = waterfall_rows(values, raw, features, max_display)
    ends = float(base) + np.cumsum(vals)
    starts = ends - vals
    fig, ax = plt.subplots(figsize=(8, 0.42 * len(vals) + 1.5))
    y = np.arange(len(vals))
    ax.barh(y, vals, left=starts, height=0.7, color=np.where(vals > 0, "#ff0051", "#008bfb"))
    for yi, end, v in zip(y, ends, vals):
        ax.text(end, yi, f" {v:+.3g} ", ha="left" if v > 0 else "right", va="center", fontsize=8)
    output = float(ends[-1]) if len(ends) else float(base)
    ax.axvline(float(base), color="grey", ls=":", lw=1)
    ax.axvline(output, color="black", ls="--", lw=1)
    lo, hi = min(float(base), output, *starts, *ends), max(float(base), output, *starts, *ends)
    pad = 0.15 * (hi - lo or 1.0)
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_yticks(y, labels, fontsize=9)
    ax.set_ylim(-0.6, len(vals) - 0.4)
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_xlabel(f"model output: base value E[f(X)] = {float(base):.3f} (dotted) → f(x) = {output:.3f} (dashed)")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()  # the labels fit a fixed canvas: one layout pass fewer than cropping
    return figure_png(fig, crop=False)


def plot_slices(segments: Sequence[str], rates: Sequence[float], rows: Sequence[int], overall: float, measure: str) -> bytes:
    """Return a bar chart of the weakest segments' error measure against the overall value."""
    plt = _pyplot()
    names = [s if len(s) <= 60 else s[:57] + "..." for s in segments][::-1]
    vals, counts = list(rates)[::-1], list(rows)[::-1]
    fig, ax = plt.subplots(figsize=(8, 0.4 * max(len(names), 1) + 1.4))
    bars = ax.barh(names, vals, color="#d62728")
    for bar, n in zip(bars, counts):
        ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f"  n={n}", va="center", fontsize=8)
    ax.axvline(overall, color="black", ls="--", lw=1)
    ax.set_xlim(0, max([*vals, overall, 1e-12]) * 1.18)
    ax.set_xlabel(measure.replace("_", " "))
    ax.set_title(f"Weakest segments of the test set (dashed line: overall {overall:.3g})")
    return figure_png(fig)


# ---------------------------------------------------------------- HTML

CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1180px;color:#222;padding:0 1em}
h1{font-size:1.6em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:1.8em}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}
.warn{background:#fff4e5;border-left:5px solid #f0a020;padding:.6em 1em;margin:.4em 0}
.ok{background:#eef8ee;border-left:5px solid #3a3;padding:.6em 1em}
img{max-width:100%;border:1px solid #eee;margin:.4em 0}.small{color:#666;font-size:.85em}
.pos{color:#c0392b}.neg{color:#2471a3}
"""


def esc(value: Any) -> str:
    """Return value as escaped HTML text (None as an em dash, floats to 4 significant digits)."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return html.escape(f"{value:.4g}")
    return html.escape(str(value))


def html_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], raw_cols: Sequence[int] = ()) -> str:
    """Return an HTML table; cells are escaped except the column indices in raw_cols (already HTML)."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = []
        for k, cell in enumerate(row):
            cls = ' class="num"' if isinstance(cell, (int, float)) and not isinstance(cell, bool) else ""
            cells.append(f"<td{cls}>{cell if k in raw_cols else esc(cell)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def img_tag(name: str, images: dict[str, bytes], alt: str) -> str:
    """Return an <img> with the PNG embedded as a base64 data URI (empty when the figure is absent)."""
    if name not in images:
        return ""
    data = base64.b64encode(images[name]).decode("ascii")
    return f'<img alt="{esc(alt)}" title="{esc(name)}" src="data:image/png;base64,{data}">'


def contributions_html(items: Sequence[Contribution]) -> str:
    """Return 'feature = raw value (SHAP ±x)' lines, coloured by the sign of the contribution."""
    parts = []
    for it in items:
        cls = "pos" if (it.shap or 0) > 0 else "neg"
        parts.append(f'<b>{esc(it.feature)}</b> = {esc(it.value)} <span class="{cls}">({it.shap:+.3f})</span>')
    return "<br>".join(parts)


def section_summary(r: ExplainReport) -> str:
    """Return the header, warnings and sample-size section."""
    s = r.sample
    warnings = "".join(f'<div class="warn">⚠ {esc(w)}</div>' for w in r.warnings) or '<div class="ok">No warnings.</div>'
    rows: list[list[Any]] = [[k.replace("_", " "), v] for k, v in sorted(s.sizes().items())]
    rows += [[f"errors total: {k.replace('_', ' ')}", v] for k, v in sorted(s.errors_by_kind.items())]
    rows += [[f"errors sampled: {k.replace('_', ' ')}", v] for k, v in sorted(s.errors_sampled_by_kind.items())]
    sizes = html_table(["quantity", "rows"], rows)
    return (
        f"<h1>Where the {esc(r.model)} model errs</h1>"
        f"<p class=small>task: {esc(r.task)} · errors: {esc(r.error_definition)} · "
        f"SHAP units: {esc(r.shap_units)} · step_version {esc(r.step_version)}</p>"
        f"<h2>Warnings</h2>{warnings}"
        f"<h2>Sample explained with SHAP</h2><p>All test rows are used for the segments; SHAP explains a deliberate "
        f"sample: every error up to the cap, the worst errors always, and a stratified sample of the rest. "
        f"Global means re-weight the sample back to the test set.</p>{sizes}"
    )


def section_drivers(r: ExplainReport, images: dict[str, bytes]) -> str:
    """Return the top drivers section: importance table, agreement, bar chart and beeswarm."""
    rows = [
        [
            g.feature,
            g.mean_abs_shap,
            f"{100 * (g.share or 0):.1f}%",
            g.shap_rank,
            g.gain_rank,
            g.permutation_drop,
            g.permutation_rank,
        ]
        for g in r.global_importance[:20]
    ]
    a = r.agreement
    agree = html_table(
        ["comparison", "Spearman rank correlation"],
        [
            ["mean |SHAP| vs LightGBM gain", a.spearman_shap_gain],
            [
                f"mean |SHAP| vs permutation ({a.permutation_metric}, {a.permutation_rows} validation rows, "
                f"{a.permutation_repeats} repeats)",
                a.spearman_shap_permutation,
            ],
        ],
    )
    table = html_table(
        ["feature", "mean |SHAP|", "share", "SHAP rank", "gain rank", "permutation drop", "permutation rank"], rows
    )
    return (
        f"<h2>Top drivers</h2>{table}<h3>Agreement between importance measures</h3>{agree}"
        f"{img_tag('importance.png', images, 'mean |SHAP| importance')}{img_tag('beeswarm.png', images, 'SHAP beeswarm')}"
    )


def section_worst(r: ExplainReport, images: dict[str, bytes]) -> str:
    """Return the worst-errors section: one table per error kind, then the waterfall plots."""
    out = [
        "<h2>Worst errors</h2><p>The most confident wrong calls (or largest residuals), with the features that "
        "pushed each prediction most (raw test values; SHAP in model-output units).</p>"
    ]
    for kind, items in sorted(r.worst_errors.items()):
        extra = [k for k in ("id", "time") if any(getattr(e, k) is not None for e in items)]
        rows = [
            [e.row, *[getattr(e, k) for k in extra], e.y_true, e.prediction, e.score, contributions_html(e.top_features)]
            for e in items
        ]
        headers = ["test row", *extra, "true", "predicted", "score", "top contributions"]
        out.append(f"<h3>{esc(kind.replace('_', ' '))} ({len(items)})</h3>")
        out.append(
            html_table(headers, rows, raw_cols=(len(headers) - 1,))
            if rows
            else "<p class=small>None in the test set (or none sampled).</p>"
        )
    out += [img_tag(name, images, name) for name in r.figures if name.startswith("waterfall_")]
    return "".join(out)


def section_slices(r: ExplainReport, images: dict[str, bytes]) -> str:
    """Return the weakest-segments section: table with drivers and the bar chart."""
    s = r.slices
    rows = []
    for sl in s.top:
        drivers = (
            "<br>".join(
                f"<b>{esc(d.feature)}</b> {esc(d.mean_abs_shap_errors)} vs {esc(d.global_mean_abs_shap)}" for d in sl.drivers
            )
            or '<span class="small">too few sampled errors</span>'
        )
        rows.append([sl.segment, sl.rows, sl.error_rate, sl.lift, sl.z, sl.excess_errors, sl.n_sampled_errors, drivers])
    intro = (
        f"<p>{esc(s.n_candidates)} candidate segments over {esc(s.rows)} test rows; {esc(s.n_flagged)} clearly worse "
        f"than overall ({esc(s.measure)} {esc(s.overall_rate)}; support ≥ {esc(s.min_support)}, z ≥ {esc(s.min_z)}, "
        f"lift ≥ {esc(s.min_lift)}). Ranked by excess errors = rows × (segment − overall). Drivers: mean |SHAP| on the "
        f"segment's sampled errors vs the global mean.</p>"
    )
    table = html_table(
        ["segment", "rows", s.measure, "lift", "z", "excess errors", "sampled errors", "what drives the errors there"],
        rows,
        raw_cols=(7,),
    )
    return f"<h2>Weakest segments</h2>{intro}{table if rows else '<p>No segment is clearly worse than overall.</p>'}{img_tag('slices.png', images, 'weakest segments')}"


def section_left_out(r: ExplainReport) -> str:
    """Return the 'Columns left out' section listing configured drops with their reasons."""
    rows = [[c, why] for c, why in sorted(r.columns_left_out.items())]
    return "<h2>Columns left out</h2><p>Never shown to the model (params.yaml data.drop_columns and the time/id columns).</p>" + (
        html_table(["column", "reason"], rows) if rows else "<p>None.</p>"
    )


def render_report(report: ExplainReport, images: dict[str, bytes]) -> str:
    """Return the whole report as one HTML document with every image embedded (no external resources)."""
    body = "".join(
        [
            section_summary(report),
            section_drivers(report, images),
            section_worst(report, images),
            section_slices(report, images),
            section_left_out(report),
        ]
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>tabgate explain: {esc(report.model)}</title><style>{CSS}</style></head>"
        f"<body>{body}</body></html>\n"
    )
