"""Preprocess: scikit-learn ColumnTransformers fitted on training rows only, applied unchanged elsewhere."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from tasks import io
from tasks.config import Config, PreprocessParams
from tasks.entry import step_main
from tasks.schema import FeatureTypes, infer_feature_types

STEP_VERSION = "1"
log = logging.getLogger(__name__)


def _category_text(col: pd.Series) -> pd.Series:
    """Return a column's values as text; number codes lose a trailing .0 (9.0 and 9 are both "9")."""
    if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
        num = col.astype("Float64")
        integral = bool(((num.round() == num) | num.isna()).all())
        return (num.astype("Int64") if integral else num).astype("string")
    return col.astype("string")


class CategoryCoder(TransformerMixin, BaseEstimator):
    """Encode categorical columns as integer codes learned on fit, vectorised through pandas categories.

    The `max_categories` most frequent values seen at least `min_frequency` times get codes 0..k-1;
    any other value (rare in training, or unseen) gets the code k ("other"); missing stays NaN.
    Number codes and their text are the same category (9.0, 9 and "9").
    """

    def __init__(self, min_frequency: int = 1, max_categories: int | None = None):
        self.min_frequency = min_frequency
        self.max_categories = max_categories

    def fit(self, X: pd.DataFrame, y=None) -> "CategoryCoder":
        """Learn each column's frequent categories (as text) from the training rows."""
        X = pd.DataFrame(X)
        self.feature_names_in_ = np.asarray([str(c) for c in X.columns], dtype=object)
        self.n_features_in_ = X.shape[1]
        self.categories_ = [self._frequent(X[c]) for c in X.columns]
        return self

    def _frequent(self, col: pd.Series) -> np.ndarray:
        counts = _value_counts_as_text(col)
        counts = counts[counts >= self.min_frequency].sort_values(ascending=False, kind="stable")
        if self.max_categories:
            counts = counts.head(self.max_categories)
        return np.asarray(sorted(counts.index), dtype=object)

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """Return the codes as float64 columns (NaN for missing), same column names."""
        X = pd.DataFrame(X)
        out = {str(c): _codes(X[c], cats) for c, cats in zip(X.columns, self.categories_)}
        return pd.DataFrame(out, index=X.index)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Return the input column names (one code column per input column)."""
        return self.feature_names_in_.copy()


def _value_counts_as_text(col: pd.Series) -> pd.Series:
    """Return value counts keyed by category text, counting through category codes when possible."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        counts = col.value_counts(dropna=True)
        counts.index = _category_text(pd.Series(counts.index.astype(col.cat.categories.dtype))).to_numpy()
    else:
        counts = _category_text(col).value_counts(dropna=True)
        counts.index = counts.index.astype(str)
    return counts.groupby(level=0).sum()


def _codes(col: pd.Series, categories: np.ndarray) -> np.ndarray:
    """Return float codes of col against the learned categories: k for any other value, NaN for missing."""
    known = pd.Index(categories)
    if isinstance(col.dtype, pd.CategoricalDtype):
        lookup = known.get_indexer(_category_text(pd.Series(col.cat.categories)).to_numpy(dtype=object))
        raw = col.cat.codes.to_numpy()
        codes = np.where(raw >= 0, lookup[np.maximum(raw, 0)], -2)
    else:
        text = _category_text(col)
        codes = known.get_indexer(text.to_numpy(dtype=object, na_value=None))
        codes = np.where(text.isna().to_numpy(), -2, codes)
    out = codes.astype(np.float64)
    out[codes == -1] = len(categories)  # rare in training or unseen: "other"
    out[codes == -2] = np.nan
    return out


def build_linear_preprocessor(ft: FeatureTypes, p: PreprocessParams) -> ColumnTransformer:
    """Return impute + scale for numbers and category codes + one-hot for categories (for linear models)."""
    numeric_steps: list = [("impute", SimpleImputer(strategy=p.numeric_impute, add_indicator=True))]
    if p.scale_numeric:
        numeric_steps.append(("scale", StandardScaler()))
    categorical = Pipeline([
        ("codes", CategoryCoder(p.min_category_frequency, p.max_categories)),
        # sparse: ColumnTransformer goes sparse when density < 0.3: ~5x less memory, faster fits
        ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=True)),
    ])
    return ColumnTransformer(
        [("num", Pipeline(numeric_steps), list(ft.numeric)), ("cat", categorical, list(ft.categorical))],
        remainder="drop",
        verbose_feature_names_out=False,
    )


def build_tree_preprocessor(ft: FeatureTypes, p: PreprocessParams) -> ColumnTransformer:
    """Return numbers as they are and categories as integer codes (rare and unseen: "other"; missing: NaN), for trees."""
    transformer = ColumnTransformer(
        [("num", "passthrough", list(ft.numeric)),
         ("cat", CategoryCoder(p.min_category_frequency, p.max_categories), list(ft.categorical))],
        remainder="drop",
        verbose_feature_names_out=False,
    )
    return transformer.set_output(transform="pandas")


def fit_preprocessors(train: pd.DataFrame, ft: FeatureTypes, p: PreprocessParams) -> dict[str, ColumnTransformer]:
    """Return the linear and tree preprocessors, both fitted on the training rows only."""
    return {
        "linear": build_linear_preprocessor(ft, p).fit(train[ft.all]),
        "tree": build_tree_preprocessor(ft, p).fit(train[ft.all]),
    }


def summarize_preprocessor(pre: ColumnTransformer, ft: FeatureTypes) -> dict:
    """Return what the fitted linear preprocessor learned (imputation values, scaler means)."""
    num = pre.named_transformers_["num"]
    out: dict = {"numeric": list(ft.numeric), "categorical": list(ft.categorical)}
    if ft.numeric:
        out["impute_values"] = dict(zip(ft.numeric, num.named_steps["impute"].statistics_.tolist()))
        if "scale" in num.named_steps:
            out["scale_means"] = dict(zip(num.named_steps["impute"].get_feature_names_out(), num.named_steps["scale"].mean_.tolist()))
    out["n_output_features"] = int(len(pre.get_feature_names_out()))
    return out


def run(cfg: Config) -> dict:
    """Fit the preprocessors on the train split and save them with a summary report."""
    from tasks.model import save_preprocessor

    train = io.read_frame(cfg.paths.train)
    ft = infer_feature_types(train, cfg.data)
    fitted = fit_preprocessors(train, ft, cfg.preprocess)
    out_dir = cfg.paths.preprocess_dir
    with io.atomic_dir(out_dir) as tmp:
        for kind, pre in fitted.items():
            save_preprocessor(pre, tmp / f"{kind}.skops")
        io.write_json({"numeric": list(ft.numeric), "categorical": list(ft.categorical)}, tmp / "features.json")
    report = {
        "step_version": STEP_VERSION,
        "train_rows": int(len(train)),
        "linear": summarize_preprocessor(fitted["linear"], ft),
        "tree_output_features": list(fitted["tree"].get_feature_names_out()),
    }
    io.write_json(report, cfg.paths.reports_dir / "preprocess.json")
    log.info("preprocess: fitted on %d training rows, %d numeric and %d categorical features",
             len(train), len(ft.numeric), len(ft.categorical))
    return report


if __name__ == "__main__":
    step_main("preprocess", run, __doc__)
