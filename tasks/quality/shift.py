"""Shift: is the test set like the training set? Measured by the split step, shown beside CV-vs-test.

- label_shift: class rates (Wilson 95% intervals) or the label mean (normal 95% interval) in training and in test,
  and the PSI between them (label binned by training quantiles for numbers);
- feature_shift: PSI of every feature from training to test, bins from training (values beyond the training range
  get bins of their own, tasks/quality/drift.py);
- adversarial: a shallow LightGBM told to find the test rows among training rows (capped samples); held-out
  ROC-AUC near 0.5 means it cannot, and its strongest features say what differs. Columns in split.expected_shift
  are left out of it (a calendar year always tells a later test period apart);
- new_categories: category values in test that training never had, and the share of test rows carrying them;
- shared_rows / shared_entities (counted on every row by the split step): test rows that copy a training row on
  the model's features, and test rows whose entity (data.id_column) is also in training.
Above the split.* thresholds each is a warning finding (tasks/quality/findings.py); a column in
split.expected_shift is reported with its reason.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from tasks.core.config import DataParams, SplitParams
from tasks.core.schema import infer_feature_types
from tasks.quality.drift import column_drift, profile_column
from tasks.quality.findings import WARN, Finding, make_finding
from tasks.quality.probes import fit_tree, probe_data

BINS = 10
FOLDS = 2  # adversarial validation: every row predicted once by a model fitted on the other half
Z95 = 1.96
TOP_FEATURES = 5
MAX_NEW_VALUES = 5


def wilson_interval(k: int, n: int) -> tuple[float, float]:
    """Return the Wilson score 95% interval of a proportion k / n ((nan, nan) without rows)."""
    if n == 0:
        return float("nan"), float("nan")
    p = k / n
    centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / (1 + Z95**2 / n)
    return centre - half, centre + half


def mean_interval(x: np.ndarray) -> dict[str, float]:
    """Return the mean of x with its normal 95% interval."""
    x = x[np.isfinite(x)]
    if not len(x):
        return {"mean": float("nan"), "low": float("nan"), "high": float("nan"), "rows": 0}
    half = Z95 * float(np.std(x, ddof=1)) / math.sqrt(len(x)) if len(x) > 1 else float("nan")
    return {"mean": float(np.mean(x)), "low": float(np.mean(x)) - half, "high": float(np.mean(x)) + half, "rows": int(len(x))}


def class_rates(y: pd.Series, classes: list[str]) -> dict[str, dict[str, float]]:
    """Return per class (as text) its rate and Wilson 95% interval among the rows of y."""
    text = y.astype(str)
    n = len(text)
    out = {}
    for c in classes:
        k = int((text == c).sum())
        low, high = wilson_interval(k, n)
        out[c] = {"rate": k / n if n else float("nan"), "low": low, "high": high}
    return out


def psi_between(train: pd.Series, test: pd.Series, categorical: bool) -> float:
    """Return PSI from train to test, bins (or categories) taken from train."""
    spec = profile_column(train, BINS, max_categories=50, categorical=categorical)
    return float(column_drift(test, spec, "psi", warn=math.inf, error=math.inf)["value"] or 0.0)


def label_shift(y_train: pd.Series, y_test: pd.Series, task: str) -> dict:
    """Return the label in training and in test (class rates or mean, with 95% intervals) and the PSI between them."""
    if task == "regression":
        a = pd.to_numeric(y_train, errors="coerce").to_numpy(dtype=float)
        b = pd.to_numeric(y_test, errors="coerce").to_numpy(dtype=float)
        return {
            "kind": "mean",
            "train": mean_interval(a),
            "test": mean_interval(b),
            "psi": psi_between(pd.Series(a), pd.Series(b), categorical=False),
        }
    classes = sorted({str(v) for v in pd.unique(pd.concat([y_train, y_test]).dropna())})
    return {
        "kind": "rates",
        "train": class_rates(y_train, classes),
        "test": class_rates(y_test, classes),
        "psi": psi_between(y_train.astype(str), y_test.astype(str), categorical=True),
    }


def label_text(shift: dict) -> str:
    """Return the label comparison in words, e.g. "class 1: 4.8% [4.5%, 5.1%] in training, 25.0% [..] in test"."""
    if shift["kind"] == "mean":
        a, b = shift["train"], shift["test"]
        return (
            f"mean {a['mean']:.6g} [{a['low']:.6g}, {a['high']:.6g}] in training, {b['mean']:.6g} "
            f"[{b['low']:.6g}, {b['high']:.6g}] in test"
        )
    parts = []
    for c in shift["train"]:
        a, b = shift["train"][c], shift["test"][c]
        parts.append(
            f"class {c}: {a['rate']:.1%} [{a['low']:.1%}, {a['high']:.1%}] in training, {b['rate']:.1%} "
            f"[{b['low']:.1%}, {b['high']:.1%}] in test"
        )
    return "; ".join(parts)


def new_categories(df: pd.DataFrame, train_idx: np.ndarray, test_idx: np.ndarray, categorical: list[str]) -> dict[str, dict]:
    """Return, per category column, the values the test rows have and no training row has (every row counted),
    and the share of test rows with one."""
    out = {}
    for c in categorical:
        col = df[c]
        seen = {str(v) for v in pd.unique(col.iloc[train_idx].dropna())}
        test_values = col.iloc[test_idx]
        counts = test_values.value_counts(dropna=True)
        counts = counts[counts > 0]
        new = {str(v): int(k) for v, k in counts.items() if str(v) not in seen}
        if new:
            out[c] = {
                "values": sorted(new)[:MAX_NEW_VALUES],
                "n_values": len(new),
                "test_share": round(sum(new.values()) / max(len(test_idx), 1), 6),
            }
    return out


def row_hashes(df: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """Return a 64-bit content hash per row over the given columns (categories hash by value)."""
    return pd.util.hash_pandas_object(df[columns], index=False).to_numpy()


def shared_rows(df: pd.DataFrame, train_idx: np.ndarray, test_idx: np.ndarray, features: list[str], target: str) -> dict:
    """Return how many test rows copy a training row on every feature, and how many of those with the same label."""
    if not features or not len(test_idx):
        return {"test_rows": 0, "test_share": 0.0, "same_label": 0}
    h = row_hashes(df, features)
    copied = np.isin(h[test_idx], np.unique(h[train_idx]))
    hl = row_hashes(df, [*features, target])
    same = np.isin(hl[test_idx], np.unique(hl[train_idx]))
    return {"test_rows": int(copied.sum()), "test_share": round(float(copied.mean()), 6), "same_label": int(same.sum())}


def shared_entities(ids: pd.Series, train_idx: np.ndarray, test_idx: np.ndarray) -> dict:
    """Return the entities (ids) found on both sides and the share of test rows that belong to one."""
    on_train = pd.unique(ids.iloc[train_idx].dropna())
    test_ids = ids.iloc[test_idx]
    both = test_ids.isin(on_train)
    return {
        "column": str(ids.name),
        "entities": int(test_ids[both].nunique()),
        "test_rows": int(both.sum()),
        "test_share": round(float(both.mean()) if len(test_ids) else 0.0, 6),
    }


def adversarial(train: pd.DataFrame, test: pd.DataFrame, numeric: list[str], categorical: list[str], random_state: int) -> dict:
    """Return the out-of-fold ROC-AUC of a shallow LightGBM telling test rows from training rows, and its strongest
    features by share of gain."""
    columns = numeric + categorical
    if not columns or len(train) < 20 or len(test) < 20:
        return {"roc_auc": None, "top_features": [], "note": "too few rows or features"}
    both = pd.concat([train[columns], test[columns]], ignore_index=True)
    y = np.r_[np.zeros(len(train), dtype=int), np.ones(len(test), dtype=int)]
    fit = fit_tree(probe_data(both, y, "binary", numeric, categorical, FOLDS, random_state), columns)
    total = sum(fit.importance.values()) or 1.0
    top = sorted(fit.importance, key=lambda c: (-fit.importance[c], c))[:TOP_FEATURES]
    return {
        "roc_auc": round(fit.score, 6),
        "rows": {"train": int(len(train)), "test": int(len(test))},
        "top_features": [{"feature": c, "gain_share": round(fit.importance[c] / total, 4)} for c in top],
    }


def sample_positions(idx: np.ndarray, max_rows: int, random_state: int) -> np.ndarray:
    """Return at most max_rows of the positions idx, drawn with random_state, in order."""
    if len(idx) <= max_rows:
        return idx
    return np.sort(np.random.default_rng(random_state).choice(idx, max_rows, replace=False))


def shift_findings(report: dict, target: str, p: SplitParams) -> list[Finding]:
    """Return a warning finding for every measure above its split.* threshold (expected shifts excused)."""
    ex, out = p.expected_shift, []
    label = report["label"]
    if label["psi"] >= p.shift_warn:
        out.append(
            make_finding(
                [target],
                "label_shift",
                label["psi"],
                p.shift_warn,
                WARN,
                f"{label_text(label)} (PSI {label['psi']:.3f}): the test set is not like training, "
                "so cross-validation does not predict the test numbers",
                ex,
            )
        )
    for c, v in report["feature_psi"].items():
        if v >= p.shift_warn:
            out.append(make_finding([c], "feature_shift", v, p.shift_warn, WARN, f"PSI {v:.3f} from training to test", ex))
    adv = report["adversarial"]
    if adv.get("roc_auc") is not None and adv["roc_auc"] >= p.adversarial_warn:
        top = [t["feature"] for t in adv["top_features"][:3]]
        out.append(
            make_finding(
                top,
                "adversarial",
                adv["roc_auc"],
                p.adversarial_warn,
                WARN,
                f"a model tells test rows from training rows with ROC-AUC {adv['roc_auc']:.3f}, mostly by {', '.join(top)}",
                ex,
            )
        )
    for c, v in report["new_categories"].items():
        if v["test_share"] >= p.new_category_warn and v["test_share"] > 0:
            out.append(
                make_finding(
                    [c],
                    "new_categories",
                    v["test_share"],
                    p.new_category_warn,
                    WARN,
                    f"{v['test_share']:.1%} of test rows carry {v['n_values']} value(s) training never had, e.g. {v['values']}",
                    ex,
                )
            )
    return out + shared_findings(report, p)


def shared_findings(report: dict, p: SplitParams) -> list[Finding]:
    """Return warnings for test rows that copy training rows, and for entities on both sides of the split."""
    out = []
    rows = report.get("shared_rows") or {}
    if rows.get("test_share", 0.0) > p.shared_rows_warn:
        out.append(
            make_finding(
                [],
                "shared_rows",
                rows["test_share"],
                p.shared_rows_warn,
                WARN,
                f"{rows['test_rows']} test row(s) ({rows['test_share']:.2%}) copy a training row on every "
                f"model feature ({rows['same_label']} with the same label): the test score partly "
                "measures memory",
                {},
            )
        )
    ents = report.get("shared_entities") or {}
    if ents.get("test_share", 0.0) > p.shared_entities_warn:
        out.append(
            make_finding(
                [ents["column"]],
                "shared_entities",
                ents["test_share"],
                p.shared_entities_warn,
                WARN,
                f"{ents['entities']} entit(ies) are on both sides of the split ({ents['test_share']:.2%} "
                "of test rows): the model may recognise them",
                p.expected_shift,
            )
        )
    return out


def compare_train_test(df: pd.DataFrame, train_idx: np.ndarray, test_idx: np.ndarray, data: DataParams, p: SplitParams) -> dict:
    """Return the train-vs-test comparison of df's rows at train_idx and test_idx: label, feature PSI and adversarial
    validation on samples of at most split.shift_max_rows rows a side; new categories, shared rows and entities
    on every row; its findings under `suspects`."""
    a = df.iloc[sample_positions(train_idx, p.shift_max_rows, p.random_state)]
    b = df.iloc[sample_positions(test_idx, p.shift_max_rows, p.random_state)]
    ft = infer_feature_types(a, data)
    numeric, categorical = list(ft.numeric), list(ft.categorical)
    report: dict = {
        "rows_compared": {"train": int(len(a)), "test": int(len(b))},
        "label": label_shift(a[data.target], b[data.target], data.task),
    }
    report["feature_psi"] = {c: round(psi_between(a[c], b[c], c in categorical), 6) for c in numeric + categorical}
    kept = [c for c in numeric + categorical if c not in p.expected_shift]
    report["adversarial"] = adversarial(
        a, b, [c for c in numeric if c in kept], [c for c in categorical if c in kept], p.random_state
    )
    report["adversarial"]["left_out"] = sorted(c for c in p.expected_shift if c in numeric + categorical)
    report["new_categories"] = new_categories(df, train_idx, test_idx, categorical)
    report["shared_rows"] = shared_rows(df, train_idx, test_idx, ft.all, data.target)
    if data.id_column:
        report["shared_entities"] = shared_entities(df[data.id_column], train_idx, test_idx)
    report["suspects"] = shift_findings(report, data.target, p)
    return report
