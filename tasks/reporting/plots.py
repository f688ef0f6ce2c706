"""Plots: evaluation charts (ROC, precision-recall, calibration, confusion matrix, residuals) as PNG, and the same
curves as small CSV tables that dvc.yaml's top-level `plots:` declares (`dvc plots show / diff` draw them).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from tasks.core import io
from tasks.core.metrics import score_columns
from tasks.core.reports import EvaluateReport


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 5), dpi=100)
    return plt, fig, ax


def _save(plt, fig, path: Path) -> None:
    fig.tight_layout()
    with io.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def plot_roc_pr(scored: pd.DataFrame, models: list[str], out_dir: Path) -> None:
    """Write roc.png and pr.png with one curve per model (binary)."""
    from sklearn.metrics import auc, precision_recall_curve, roc_curve

    y = scored["y_true"].to_numpy()
    plt, fig, ax = _figure()
    for m in models:
        fpr, tpr, _ = roc_curve(y, scored[f"score_{m}"])
        ax.plot(fpr, tpr, label=f"{m} (AUC {auc(fpr, tpr):.3f})")
    ax.plot([0, 1], [0, 1], "k:", lw=1)
    ax.set(xlabel="False positive rate", ylabel="True positive rate", title="ROC on the test set")
    ax.legend(loc="lower right")
    _save(plt, fig, out_dir / "roc.png")
    plt, fig, ax = _figure()
    for m in models:
        prec, rec, _ = precision_recall_curve(y, scored[f"score_{m}"])
        ax.plot(rec, prec, label=m)
    ax.axhline(y.mean(), color="k", ls=":", lw=1, label="base rate")
    ax.set(xlabel="Recall", ylabel="Precision", title="Precision-recall on the test set")
    ax.legend(loc="lower left")
    _save(plt, fig, out_dir / "pr.png")


def plot_calibration(scored: pd.DataFrame, models: list[str], out_dir: Path) -> None:
    """Write calibration.png: observed positive rate against predicted probability, per model."""
    from sklearn.calibration import calibration_curve

    y = scored["y_true"].to_numpy()
    plt, fig, ax = _figure()
    for m in models:
        frac, mean_pred = calibration_curve(y, scored[f"score_{m}"], n_bins=10, strategy="quantile")
        ax.plot(mean_pred, frac, marker="o", label=m)
    ax.plot([0, 1], [0, 1], "k:", lw=1)
    ax.set(xlabel="Predicted probability", ylabel="Observed positive rate", title="Calibration on the test set")
    ax.legend(loc="upper left")
    _save(plt, fig, out_dir / "calibration.png")


def plot_confusion(matrix: list[list[int]], classes: list[str], out_dir: Path) -> None:
    """Write confusion_matrix.png for the LightGBM model."""
    plt, fig, ax = _figure()
    arr = np.asarray(matrix)
    ax.imshow(arr, cmap="Blues")
    for (i, j), v in np.ndenumerate(arr):
        ax.text(j, i, f"{v}", ha="center", va="center", color="white" if v > arr.max() / 2 else "black")
    ax.set_xticks(range(len(classes)), classes)
    ax.set_yticks(range(len(classes)), classes)
    ax.set(xlabel="Predicted", ylabel="True", title="Confusion matrix (LightGBM, test)")
    _save(plt, fig, out_dir / "confusion_matrix.png")


def plot_residuals(scored: pd.DataFrame, out_dir: Path) -> None:
    """Write residuals.png: residual against prediction for LightGBM (regression)."""
    plt, fig, ax = _figure()
    pred = score_columns(scored, "lightgbm", "regression")
    resid = scored["y_true"].to_numpy() - pred
    ax.scatter(pred, resid, s=3, alpha=0.3)
    ax.axhline(0, color="k", lw=1)
    ax.set(xlabel="Predicted", ylabel="Actual - predicted", title="Residuals (LightGBM, test)")
    _save(plt, fig, out_dir / "residuals.png")


def write_evaluation_plots(scored: pd.DataFrame, report: EvaluateReport, models: list[str], out_dir: Path) -> None:
    """Write the plots that fit the task into out_dir."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    task = report.task
    if task == "binary":
        plot_roc_pr(scored, models, out_dir)
        plot_calibration(scored, models, out_dir)
    if task in ("binary", "multiclass"):
        plot_confusion((report.confusion_matrix or {})["lightgbm"], report.classes or [], out_dir)
    if task == "regression":
        plot_residuals(scored, out_dir)


CURVE_MODELS = ("lightgbm", "baseline")
CURVE_POINTS = 200


def thin_curve(frame: pd.DataFrame, max_points: int = CURVE_POINTS) -> pd.DataFrame:
    """Return at most max_points evenly spaced rows of frame, first and last kept (small files, same shape)."""
    if len(frame) <= max_points:
        return frame.reset_index(drop=True)
    idx = np.unique(np.linspace(0, len(frame) - 1, max_points).round().astype(int))
    return frame.iloc[idx].reset_index(drop=True)


def binary_curve_tables(y: np.ndarray, scores: np.ndarray) -> dict[str, pd.DataFrame]:
    """Return the roc (fpr, tpr), pr (recall, precision) and calibration (predicted, observed) tables of one model."""
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import precision_recall_curve, roc_curve

    fpr, tpr, _ = roc_curve(y, scores)
    prec, rec, _ = precision_recall_curve(y, scores)
    observed, predicted = calibration_curve(y, scores, n_bins=10, strategy="quantile")
    return {
        "roc": thin_curve(pd.DataFrame({"fpr": fpr, "tpr": tpr})),
        "pr": thin_curve(pd.DataFrame({"recall": rec[::-1], "precision": prec[::-1]})),
        "calibration": pd.DataFrame({"predicted": predicted, "observed": observed}),
    }


def residual_table(y: np.ndarray, pred: np.ndarray, bins: int = 20) -> pd.DataFrame:
    """Return the mean residual (actual - predicted) per quantile bin of the prediction (regression)."""
    frame = pd.DataFrame({"predicted": pred, "residual": y - pred})
    groups = pd.qcut(frame["predicted"], q=bins, duplicates="drop")
    return frame.groupby(groups, observed=True).mean().reset_index(drop=True)


def curve_tables(scored: pd.DataFrame, task: str) -> dict[str, pd.DataFrame]:
    """Return the plot tables that fit the task, named <curve>_<model> (binary) or residuals_lightgbm (regression)."""
    y = scored["y_true"].to_numpy()
    out: dict[str, pd.DataFrame] = {}
    if task == "binary":
        for m in CURVE_MODELS:
            out |= {f"{name}_{m}": t for name, t in binary_curve_tables(y, scored[f"score_{m}"].to_numpy()).items()}
    if task == "regression":
        out["residuals_lightgbm"] = residual_table(y, score_columns(scored, "lightgbm", "regression"))
    return out


def write_plot_data(scored: pd.DataFrame, task: str, out_dir: Path) -> None:
    """Write each curve table of curve_tables as out_dir/<name>.csv (rounded: stable, small diffs)."""
    for name, table in curve_tables(scored, task).items():
        io.write_text(table.round(6).to_csv(index=False), Path(out_dir) / f"{name}.csv")
