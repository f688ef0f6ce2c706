"""Preprocess: scikit-learn ColumnTransformers fitted on training rows only, applied unchanged elsewhere."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, OrdinalEncoder, StandardScaler

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


def _as_object(x: pd.DataFrame) -> pd.DataFrame:
    """Return categorical columns as plain strings (NaN for missing), so encoders see one type."""
    out = pd.DataFrame({c: _category_text(x[c]) for c in x.columns}, index=x.index)
    return out.astype(object).where(out.notna(), np.nan)


def _categorical_cleaner() -> FunctionTransformer:
    return FunctionTransformer(_as_object, feature_names_out="one-to-one")


def build_linear_preprocessor(ft: FeatureTypes, p: PreprocessParams) -> ColumnTransformer:
    """Return impute + scale for numbers and impute + one-hot for categories (for linear models)."""
    numeric_steps: list = [("impute", SimpleImputer(strategy=p.numeric_impute, add_indicator=True))]
    if p.scale_numeric:
        numeric_steps.append(("scale", StandardScaler()))
    categorical = Pipeline(
        [
            ("clean", _categorical_cleaner()),
            ("impute", SimpleImputer(strategy="constant", fill_value="__missing__")),
            (
                "onehot",
                OneHotEncoder(
                    handle_unknown="infrequent_if_exist",
                    min_frequency=p.min_category_frequency,
                    max_categories=p.max_categories,
                    sparse_output=False,
                ),
            ),
        ]
    )
    return ColumnTransformer(
        [("num", Pipeline(numeric_steps), list(ft.numeric)), ("cat", categorical, list(ft.categorical))],
        remainder="drop",
        verbose_feature_names_out=False,
    )


def build_tree_preprocessor(ft: FeatureTypes, p: PreprocessParams) -> ColumnTransformer:
    """Return numbers as they are and categories as integer codes (unseen and rare to NaN), for trees."""
    categorical = Pipeline(
        [
            ("clean", _categorical_cleaner()),
            (
                "codes",
                OrdinalEncoder(
                    handle_unknown="use_encoded_value",
                    unknown_value=np.nan,
                    encoded_missing_value=np.nan,
                    min_frequency=p.min_category_frequency,
                    max_categories=p.max_categories,
                    dtype=np.float64,
                ),
            ),
        ]
    )
    transformer = ColumnTransformer(
        [("num", "passthrough", list(ft.numeric)), ("cat", categorical, list(ft.categorical))],
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
