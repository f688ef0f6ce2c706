"""Error figures: the explain report's PNGs (global importance, beeswarm, one waterfall per worst error, the flagged
slices), drawn by tasks/reporting/report_html.py from the report and the sample's SHAP values.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import pandas as pd

from tasks.core.config import ExplainParams
from tasks.reporting import report_html as rh


class ShapValues(Protocol):
    """The SHAP values of the explained sample (tasks.evaluation.feature_importance.ShapResult has them)."""

    @property
    def values(self) -> np.ndarray: ...

    @property
    def base(self) -> np.ndarray: ...

    @property
    def features(self) -> list[str]: ...


def waterfall_order(worst: dict[str, list[dict[str, Any]]], cap: int) -> list[dict[str, Any]]:
    """Return up to cap worst errors, alternating between kinds (FP1, FN1, FP2, ...)."""
    lists = [worst[k] for k in sorted(worst)]
    longest = max((len(x) for x in lists), default=0)
    merged = [lst[i] for i in range(longest) for lst in lists if i < len(lst)]
    return merged[:cap]


def render_figures(
    report: dict[str, Any],
    shap_res: ShapValues,
    x_sample: pd.DataFrame,
    sample_rows_: np.ndarray,
    scored: pd.DataFrame,
    numeric: set[str],
    p: ExplainParams,
) -> dict[str, bytes]:
    """Return the PNGs by file name: importance, beeswarm, one waterfall per worst error (capped), slices."""

    g = report["global_importance"]
    images = {
        "importance.png": rh.plot_importance([e["feature"] for e in g], [e["mean_abs_shap"] for e in g]),
        "beeswarm.png": rh.plot_beeswarm(
            shap_res.values, x_sample.to_numpy(dtype=float, na_value=np.nan), shap_res.features, numeric
        ),
    }
    row_pos = {int(r): k for k, r in enumerate(sample_rows_)}
    for i, e in enumerate(waterfall_order(report["worst_errors"], p.max_waterfalls), start=1):
        k = row_pos[e["row"]]
        raw = scored.iloc[e["row"]][shap_res.features].tolist()
        title = f"{e['kind'].replace('_', ' ')}: test row {e['row']}, true {e['y_true']}, predicted {e['prediction']}"
        images[f"waterfall_{i}_{e['kind']}_row{e['row']}.png"] = rh.plot_waterfall(
            shap_res.values[k], shap_res.base[k], raw, shap_res.features, title
        )
    s = report["slices"]
    if s["top"]:
        images["slices.png"] = rh.plot_slices(
            [e["segment"] for e in s["top"]],
            [e["error_rate"] for e in s["top"]],
            [e["rows"] for e in s["top"]],
            s["overall_rate"],
            s["measure"],
        )
    return images
