"""Model card: what a gated model is, what it learned from, how well it does (with intervals), where it
is weak, why the gate decided as it did, and which code, data and params made it.

Built by the promote step from the reports the earlier steps wrote (ingest, split, train, cv,
metrics, explain); a missing report becomes a note in the card, never an error. Written to
reports/model_card.{md,json} and, for a registered version, to registry versions/<id>/.
The card holds no timestamps or timings, so the same inputs give the same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tasks.core import io
from tasks.core.config import DataParams, PromoteParams
from tasks.core.credentials import redact_url
from tasks.core.metrics import HIGHER_IS_BETTER
from tasks.core.reports import CvReport, EvaluateReport, IngestReport, Interval, R, SplitReport, read_report
from tasks.reporting.explain_report import ExplainReport
from tasks.reporting.promotion_report import Decision, PromotionStatus

CARD_VERSION = "2"  # 2: the findings section (leak suspects, near-perfect model, train vs test)
MODEL = "lightgbm"  # the challenger the gate judges
REPORTS = {"ingest": "ingest.json", "split": "split.json", "train": "train.json", "cv": "cv.json",
           "metrics": "metrics.json", "explain": "explain/explain.json"}
TYPED = ("ingest", "split", "cv", "metrics", "explain")  # read through their models (CardInputs' fields)
ORDER = ("roc_auc", "pr_auc", "log_loss", "brier", "f1", "precision", "recall", "accuracy",
         "balanced_accuracy", "macro_f1", "rmse", "mae", "r2")


@dataclass(frozen=True)
class CardInputs:
    """The reports a card is built from ({} or None when absent) and a note per absent or unreadable one."""

    reports: dict[str, dict[str, Any]] = field(default_factory=dict)  # train.json: not typed yet
    missing: list[str] = field(default_factory=list)
    metrics: EvaluateReport | None = None
    ingest: IngestReport | None = None
    split: SplitReport | None = None
    cv: CvReport | None = None
    explain: ExplainReport | None = None

    def get(self, name: str) -> dict[str, Any]:
        """Return one report, {} when it was not available."""
        return self.reports.get(name) or {}


def read_card_inputs(reports_dir: Path) -> CardInputs:
    """Return every report the card uses; an absent or broken one is noted, not raised."""
    reports, missing = {}, []
    for name, rel in REPORTS.items():
        if name not in TYPED:
            try:
                reports[name] = io.read_json(Path(reports_dir) / rel)
            except io.InputError as err:
                missing.append(f"{name}: {err}")
    return CardInputs(reports, missing, metrics=_read_noted(EvaluateReport, reports_dir, "metrics", missing),
                      ingest=_read_noted(IngestReport, reports_dir, "ingest", missing),
                      split=_read_noted(SplitReport, reports_dir, "split", missing),
                      cv=_read_noted(CvReport, reports_dir, "cv", missing),
                      explain=_read_noted(ExplainReport, reports_dir, "explain", missing))


def _read_noted(model: type[R], reports_dir: Path, name: str, missing: list[str]) -> R | None:
    """Return one report through its model, or None with a note in missing when it is absent or does not fit."""
    try:
        return read_report(model, Path(reports_dir) / REPORTS[name])
    except io.InputError as err:
        missing.append(f"{name}: {err}")
        return None


# ---------------------------------------------------------------- sections (pure)


def _ordered(names: Any) -> list[str]:
    names = list(names)
    return sorted(names, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n))


def data_section(data: DataParams, source: str, data_version: str | None, inputs: CardInputs) -> dict[str, Any]:
    """Return where the data came from (a URL with its password hidden), its size and time range, the split sizes
    and the columns left out."""
    ingest, train = inputs.ingest, inputs.get("train")
    left_out = {**(inputs.explain.columns_left_out if inputs.explain else {}), **data.drop_columns}
    return {
        "source": redact_url(source), "snapshot": ingest.snapshot if ingest else None,
        "snapshot_sha256": ingest.snapshot_sha256 if ingest else None, "data_version": data_version,
        "rows": ingest.rows if ingest else None, "time_column": data.time_column,
        "time_range": ingest.time_range if ingest else None, "target": data.target, "task": data.task,
        "split_strategy": inputs.split.strategy if inputs.split else None,
        "rows_by_split": {"train": train.get("train_rows"), "valid": train.get("valid_rows"),
                          "test": inputs.metrics.test_rows if inputs.metrics else None},
        "columns_left_out": dict(sorted(left_out.items())),
    }


def training_section(meta: Mapping[str, Any], inputs: CardInputs) -> dict[str, Any]:
    """Return the features, class weighting, best iteration and decision threshold of the model."""
    train = inputs.get("train")
    features = list(meta.get("features") or train.get("features") or [])
    return {
        "kind": meta.get("kind", MODEL), "features": features, "n_features": len(features),
        "numeric": list(meta.get("numeric") or []), "categorical": list(meta.get("categorical") or []),
        "class_weight": meta.get("class_weight", train.get("class_weight")),
        "best_iteration": meta.get("best_iteration", train.get("best_iteration")),
        "threshold": meta.get("threshold", (train.get("thresholds") or {}).get(MODEL)),
        "train_rows": meta.get("train_rows", train.get("train_rows")),
        "compute": train.get("compute"), "trained_with": train.get("lightgbm_trained_with"),
    }


def metrics_section(inputs: CardInputs) -> dict[str, Any]:
    """Return the challenger's test metrics with their 95% intervals, and the baseline's for comparison."""
    m = inputs.metrics
    if m is None:
        return {"primary_metric": None, "test_rows": None, "test_fingerprint": None, "rows": [],
                "bootstrap_samples": 0, "interval_methods": ""}
    ours, base = m.model(MODEL), m.model("baseline")
    intervals = m.intervals.get(MODEL) or {}
    rows = []
    for name in _ordered(k for k in ours.computed() if k != "threshold"):
        ci = intervals.get(name) or Interval()
        rows.append({"metric": name, "value": ours.value(name), "low": ci.low, "high": ci.high,
                     "baseline": base.value(name)})
    return {"primary_metric": m.primary_metric, "test_rows": m.test_rows,
            "test_fingerprint": m.test_fingerprint, "rows": rows,
            "bootstrap_samples": max((c.n_samples for c in intervals.values()), default=0),
            "interval_methods": interval_methods(intervals)}


def interval_methods(intervals: Mapping[str, Interval]) -> str:
    """Return which metrics' intervals are DeLong's and which are bootstrapped, and on how many rows per resample."""
    delong = [k for k, c in intervals.items() if c.method == "delong"]
    boot = [c for c in intervals.values() if c.method == "bootstrap"]
    parts = [f"DeLong for {', '.join(delong)}"] if delong else []
    if boot:
        parts.append(f"bootstrap of {boot[0].resample_rows} of {boot[0].rows} rows per resample for the others")
    return "; ".join(parts)


def cv_section(inputs: CardInputs, primary: str | None) -> dict[str, Any]:
    """Return cross-validation mean and std per scheme for the challenger and the baseline."""
    cv = inputs.cv
    schemes = {}
    for scheme, body in sorted((cv.schemes if cv else {}).items()):
        per_model = {}
        for model in (MODEL, "baseline"):
            stats = body.summary.model(model)
            per_model[model] = {k: stats[k].to_data() for k in _ordered(stats) if k not in ("threshold", "best_iteration")}
        schemes[scheme] = {"high_variance": body.summary.high_variance, "models": per_model, "folds": len(body.folds)}
    return {"n_splits": cv.n_splits if cv else None, "rows": cv.rows if cv else None, "primary_metric": primary,
            "schemes": schemes}


def segments_section(inputs: CardInputs, primary: str | None) -> dict[str, list[dict[str, Any]]]:
    """Return per segment column the challenger's primary metric and rows per value, weakest first."""
    out = {}
    higher = HIGHER_IS_BETTER.get(primary or "", True)
    segments = inputs.metrics.segments if inputs.metrics else {}
    for column, values in sorted(segments.items()):
        rows: list[dict[str, Any]] = [{"value": v, "rows": s.rows, "metric": s.value(primary) if primary else None}
                for v, s in values.items()]
        defined = sorted((r for r in rows if isinstance(r["metric"], (int, float))),
                         key=lambda r: r["metric"] if higher else -r["metric"])
        out[column] = defined + [r for r in rows if not isinstance(r["metric"], (int, float))]
    return out


def weaknesses_section(inputs: CardInputs, p: PromoteParams) -> dict[str, Any]:
    """Return explain's weakest error slices, its warnings and the strongest drivers of the model."""
    ex = inputs.explain
    if ex is None:
        return {"available": False, "error_definition": None, "overall_error": None, "slices_flagged": None,
                "slices_tried": None, "weakest_slices": [], "warnings": [], "top_drivers": [], "shap_units": None,
                "agreement": {}}
    slices = ex.slices
    weakest = [{"segment": s.segment, "rows": s.rows, "error_rate": s.error_rate, "lift": s.lift, "z": s.z,
                "drivers": [d.feature for d in s.drivers][:3]}
               for s in slices.top[: p.card_top_slices]]
    drivers = [{"feature": g.feature, "share": g.share, "mean_abs_shap": g.mean_abs_shap,
                "shap_rank": g.shap_rank, "permutation_rank": g.permutation_rank}
               for g in ex.global_importance[: p.card_top_features]]
    return {"available": True, "error_definition": ex.error_definition,
            "overall_error": ex.summary.overall_error if "overall_error" in ex.summary.model_fields_set
            else slices.overall_rate,
            "slices_flagged": slices.n_flagged, "slices_tried": slices.n_candidates,
            "weakest_slices": weakest, "warnings": list(ex.warnings), "top_drivers": drivers,
            "shap_units": ex.shap_units, "agreement": ex.agreement.to_data()}


def gate_section(decision: Decision, status: PromotionStatus, version_id: str | None,
                 production_version: str | None) -> dict[str, Any]:
    """Return the gate's outcome, the resulting status and every rule with its result."""
    return {"status": status.value, "outcome": decision.outcome.value, "version_id": version_id,
            "compared_with": production_version, "first_model": decision.first_model,
            "notes": list(decision.notes), "rules": [r.to_data() for r in decision.rules]}


def findings_section(findings: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Return the findings the promote step gathered (leak suspects, a near-perfect model, train-vs-test warnings),
    each with what it does to promotion."""
    keys = ("columns", "check", "severity", "value", "threshold", "excused", "reason", "detail")
    out = []
    for f in findings:
        row = {k: f.get(k) for k in keys}
        row["effect"] = (f"excused: {f.get('reason')}" if f.get("excused") else
                         "blocks promotion" if f.get("severity") == "suspect" else str(f.get("severity")))
        out.append(row)
    return out


def build_model_card(*, data: DataParams, source: str, p: PromoteParams,
                     meta: Mapping[str, Any], inputs: CardInputs, decision: Decision, status: PromotionStatus,
                     version_id: str | None, production_version: str | None,
                     versions: Mapping[str, Any], findings: Sequence[Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """Return the whole card as JSON-able data; what is missing is listed under `notes`."""
    metrics = metrics_section(inputs)
    primary = metrics["primary_metric"] or decision.primary_metric
    weaknesses = weaknesses_section(inputs, p)
    notes = [f"input not available: {m}" for m in inputs.missing]
    return {
        "card_version": CARD_VERSION, "version_id": version_id, "status": status.value, "target": data.target,
        "task": data.task, "data": data_section(data, source, versions.get("data_version"), inputs),
        "training": training_section(meta, inputs), "metrics": metrics,
        "cv": cv_section(inputs, primary), "segments": segments_section(inputs, primary),
        "weaknesses": weaknesses, "findings": findings_section(list(findings or [])),
        "gate": gate_section(decision, status, version_id, production_version),
        "versions": dict(versions), "notes": notes,
    }


# ---------------------------------------------------------------- Markdown (pure)


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
    return ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "---|" * len(header),
            *["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]]


def _ci(row: Mapping[str, Any]) -> str:
    return "n/a" if row.get("low") is None else f"[{_f(row['low'])}, {_f(row['high'])}]"


def _day(stamp: Any) -> str:
    text = str(stamp)
    return text[:-9] if text.endswith("T00:00:00") else text


def render_data(d: Mapping[str, Any]) -> list[str]:
    """Return the Data section."""
    rng = d.get("time_range") or []
    split = d.get("rows_by_split") or {}
    lines = ["## Data", "",
             f"- source: `{d.get('source')}` (snapshot `{d.get('snapshot') or 'n/a'}`, data version "
             f"`{d.get('data_version') or 'n/a'}`)",
             f"- rows: {_f(d.get('rows'))}; time column `{d.get('time_column') or '-'}`"
             + (f" from {_day(rng[0])} to {_day(rng[1])}" if len(rng) == 2 else ""),
             f"- split ({d.get('split_strategy') or 'n/a'}): train {_f(split.get('train'))}, "
             f"valid {_f(split.get('valid'))}, test {_f(split.get('test'))}",
             f"- target `{d.get('target')}` ({d.get('task')})", "", "Columns left out:", ""]
    left = d.get("columns_left_out") or {}
    lines += _table(["column", "why"], [[f"`{c}`", why] for c, why in left.items()]) if left else ["(none)"]
    return lines + [""]


def render_training(t: Mapping[str, Any]) -> list[str]:
    """Return the Training section."""
    return ["## Training", "",
            f"- model: {t.get('kind')}, {t.get('n_features')} features ({len(t.get('numeric') or [])} numeric, "
            f"{len(t.get('categorical') or [])} categorical), trained on {_f(t.get('train_rows'))} rows",
            f"- class weight: {t.get('class_weight') or 'none'}",
            f"- best iteration: {_f(t.get('best_iteration'))}; decision threshold: {_f(t.get('threshold'))}",
            *render_compute(t),
            f"- features: {', '.join(f'`{c}`' for c in t.get('features') or []) or 'n/a'}", ""]


def render_compute(t: Mapping[str, Any]) -> list[str]:
    """Return the line saying where the cv and tuning folds and the final LightGBM ran (none when train.json predates it)."""
    compute = t.get("compute")
    if not compute:
        return []
    final = t.get("trained_with") or "LightGBM in this process"
    return [f"- compute: engine {compute.get('engine')} (cv and tuning folds); final LightGBM: {final}"]


def render_metrics(m: Mapping[str, Any], cv: Mapping[str, Any]) -> list[str]:
    """Return the test metrics (with intervals) and cross-validation sections."""
    lines = ["## Test metrics", "",
             f"{_f(m.get('test_rows'))} held-out test rows; 95% intervals ({m.get('interval_methods') or 'bootstrap'}) over "
             f"{_f(m.get('bootstrap_samples'))} resamples; primary metric `{m.get('primary_metric')}`.", ""]
    rows = m.get("rows") or []
    lines += _table(["metric", "value", "95% interval", "baseline"],
                    [[r["metric"], r["value"], _ci(r), r["baseline"]] for r in rows]) if rows else ["(not available)"]
    lines += ["", "## Cross-validation (mean ± std over folds)", ""]
    schemes = cv.get("schemes") or {}
    if not schemes:
        return lines + ["(not available)", ""]
    for scheme, body in schemes.items():
        models = body.get("models") or {}
        names = _ordered(set(models.get(MODEL, {})) | set(models.get("baseline", {})))
        flag = " — HIGH VARIANCE across folds" if body.get("high_variance") else ""
        lines += [f"{scheme} ({body.get('folds')} folds){flag}:", ""]
        lines += _table(["metric", MODEL, "baseline"],
                        [[n, *[_pm((models.get(k) or {}).get(n)) for k in (MODEL, "baseline")]] for n in names])
        lines.append("")
    return lines


def _pm(stat: Mapping[str, Any] | None) -> str:
    return "n/a" if not stat else f"{_f(stat.get('mean'))} ± {_f(stat.get('std'))}"


def render_segments(segments: Mapping[str, list], primary: str | None) -> list[str]:
    """Return the per-segment section (weakest value of each column first)."""
    lines = [f"## Segments (test `{primary}`, weakest first)", ""]
    if not segments:
        return lines + ["(not available)", ""]
    for column, rows in segments.items():
        lines += _table([f"`{column}`", "rows", primary or "metric"], [[r["value"], r["rows"], r["metric"]] for r in rows])
        lines.append("")
    return lines


def render_weaknesses(w: Mapping[str, Any]) -> list[str]:
    """Return the known weaknesses section from the explain step."""
    lines = ["## Known weaknesses", ""]
    if not w.get("available"):
        return lines + ["(the explain report was not available)", ""]
    lines += [f"Error: {w.get('error_definition')}; overall error rate {_f(w.get('overall_error'))}; "
              f"{_f(w.get('slices_flagged'))} of {_f(w.get('slices_tried'))} slices clearly worse than overall.", ""]
    if w.get("weakest_slices"):
        lines += _table(["weakest slice", "rows", "error rate", "lift", "z", "drivers"],
                        [[s["segment"], s["rows"], s["error_rate"], s["lift"], s["z"], ", ".join(s["drivers"])]
                         for s in w["weakest_slices"]]) + [""]
    lines += ["Warnings: " + ("; ".join(w["warnings"]) if w.get("warnings") else "none"), ""]
    if w.get("top_drivers"):
        lines += [f"Top drivers (mean |SHAP|, {w.get('shap_units') or 'model units'}):", ""]
        lines += _table(["feature", "share of |SHAP|", "SHAP rank", "permutation rank"],
                        [[d["feature"], d["share"], d["shap_rank"], d["permutation_rank"]] for d in w["top_drivers"]])
        lines.append("")
    return lines


def render_findings(findings: list[Mapping[str, Any]]) -> list[str]:
    """Return the findings section: leak suspects, a near-perfect model and train-vs-test warnings."""
    lines = ["## Leak suspects and data findings", ""]
    if not findings:
        return lines + ["None: no leak suspect, no near-perfect model, no train-vs-test warning.", ""]
    lines += _table(["columns", "check", "value", "threshold", "effect", "detail"],
                    [[", ".join(f.get("columns") or []) or "(rows)", f.get("check"), f.get("value"), f.get("threshold"),
                      f.get("effect"), f.get("detail")] for f in findings])
    return lines + [""]


def render_gate(g: Mapping[str, Any]) -> list[str]:
    """Return the gate decision section with every rule."""
    lines = ["## Promotion gate", "",
             f"- outcome: **{str(g.get('outcome')).upper()}** -> status `{g.get('status')}`"
             f" (version `{g.get('version_id') or '-'}`)",
             f"- compared with production: `{g.get('compared_with') or 'none (first model)'}`", ""]
    rules = g.get("rules") or []
    result = lambda p: "n/a" if p is None else ("pass" if p else "**FAIL**")  # noqa: E731
    lines += _table(["rule", "value", "threshold", "result", "reason"],
                    [[r["rule"], r["value"], r["threshold"], result(r["passed"]), r["reason"]] for r in rules]) \
        if rules else ["(no rules evaluated)"]
    notes = [f"- {n}" for n in g.get("notes") or []]
    return lines + ([""] + notes if notes else []) + [""]


def render_versions(v: Mapping[str, Any]) -> list[str]:
    """Return the provenance section: code, data, params, and where DVC keeps the model."""
    dvc = v.get("dvc") or {}
    dirty = " (uncommitted changes when it ran)" if v.get("git_dirty") else ""
    return ["## Versions", "",
            f"- code commit: `{v.get('git_commit') or 'n/a'}`{dirty}",
            f"- data version (data.dvc md5): `{v.get('data_version') or 'n/a'}`",
            f"- params digest (sha256 of the typed config): `{v.get('params_digest') or 'n/a'}`",
            f"- bundle digest: `{v.get('bundle_digest') or 'n/a'}`",
            f"- DVC: output `{dvc.get('output') or 'n/a'}` md5 `{dvc.get('md5') or 'n/a'}`, model path "
            f"`{dvc.get('path') or 'n/a'}`, artifact `{dvc.get('artifact') or 'n/a'}`", ""]


def render_model_card(card: Mapping[str, Any]) -> str:
    """Return the card as Markdown."""
    title = card.get("version_id") or "unregistered challenger"
    lines = [f"# Model card: {title}", "",
             f"{card.get('task')} model of `{card.get('target')}`; status **{card.get('status')}**.", ""]
    lines += render_data(card.get("data") or {})
    lines += render_training(card.get("training") or {})
    lines += render_metrics(card.get("metrics") or {}, card.get("cv") or {})
    lines += render_segments(card.get("segments") or {}, (card.get("metrics") or {}).get("primary_metric"))
    lines += render_weaknesses(card.get("weaknesses") or {})
    lines += render_findings(card.get("findings") or [])
    lines += render_gate(card.get("gate") or {})
    lines += render_versions(card.get("versions") or {})
    if card.get("notes"):
        lines += ["## Notes", "", *[f"- {n}" for n in card["notes"]], ""]
    return "\n".join(lines).rstrip() + "\n"


def write_model_card(card: Mapping[str, Any], md_path: Path, json_path: Path) -> str:
    """Write the card as Markdown and JSON (atomically); return the Markdown."""
    markdown = render_model_card(card)
    io.write_json(dict(card), json_path)
    io.write_text(markdown, md_path)
    return markdown
