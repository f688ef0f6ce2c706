"""Preprocessing: scikit-learn ColumnTransformers for the linear and tree models, fitted on training rows only
and applied unchanged elsewhere; CategoryCoder maps categories to codes LightGBM reads natively.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from tasks.core.config import PreprocessParams
from tasks.core.schema import FeatureTypes

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
    Lookups (learned categories as an Index, a categorical dtype's categories to codes) are built per column
    on first use and kept beside the coder (_LOOKUPS), never in it: nothing extra is saved, transform leaves
    the coder unchanged, and single rows are coded without recomputing the text of every category.
    """

    def __init__(self, min_frequency: int = 1, max_categories: int | None = None):
        self.min_frequency = min_frequency
        self.max_categories = max_categories

    def fit(self, X: pd.DataFrame, y=None) -> CategoryCoder:
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
        out = {str(c): self._column_codes(j, X[c]) for j, c in enumerate(X.columns[: len(self.categories_)])}
        return pd.DataFrame(out, index=X.index)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Return the input column names (one code column per input column)."""
        return self.feature_names_in_.copy()

    def _column_codes(self, j: int, col: pd.Series) -> np.ndarray:
        """Return float codes of column j (as _codes would), through the cached lookups of that column."""
        cache = _LOOKUPS.get(self)
        if cache is None:
            cache = _LOOKUPS.setdefault(self, {})
        entry = cache.get(j)
        if entry is None or entry.categories is not self.categories_[j]:
            entry = cache[j] = _ColumnLookup(self.categories_[j])
        if isinstance(col.dtype, pd.CategoricalDtype):
            raw_to_known = np.append(entry.categorical_lookup(col.dtype.categories), -2)  # raw code -1: missing
            return _finish_codes(raw_to_known[col.array.codes], len(entry.categories))
        if isinstance(col.dtype, np.dtype) and col.dtype.kind in "iuf":
            codes = entry.number_codes(col.to_numpy())
            if codes is not None:
                return _finish_codes(codes, len(entry.categories))
        factorized = _factorize_values(col)
        if factorized is None:
            return _codes(col, entry.categories, entry.known)
        raw, uniques = factorized
        unique_codes = np.append(_text_codes(_category_text(pd.Series(uniques)), entry.known), -2)
        return _finish_codes(unique_codes[raw], len(entry.categories))


# {fitted coder: {column position: _ColumnLookup}}; an entry goes with its coder, and is rebuilt after a refit
_LOOKUPS: weakref.WeakKeyDictionary[CategoryCoder, dict[int, _ColumnLookup]] = weakref.WeakKeyDictionary()


class _ColumnLookup:
    """One column's learned categories as an Index, the ones that are numbers by value, and the codes of the
    last categorical dtype seen (one tuple, replaced whole, so threads sharing a coder never see a torn pair)."""

    def __init__(self, categories: np.ndarray):
        self.categories = categories
        self.known = pd.Index(categories, dtype=object)
        text = pd.Series(categories, dtype=object)
        integer = text.str.fullmatch(r"-?[1-9][0-9]{0,15}|0").fillna(False).to_numpy(dtype=bool)
        self.integer_positions = np.append(np.flatnonzero(integer), -1)  # get_indexer's -1 (absent) stays -1
        self.integers = pd.Index(text[integer].astype(np.int64).to_numpy(), dtype=np.int64)
        numbers = np.array([_as_float(c) for c in categories], dtype=np.float64)  # per learned category, once
        self.numbers = numbers[~np.isnan(numbers)]
        self._last: tuple[pd.Index, np.ndarray] | None = None

    def categorical_lookup(self, dtype_categories: pd.Index) -> np.ndarray:
        """Return, per category of a categorical dtype, its position in known (-1: other); cached for that dtype."""
        last = self._last
        if last is not None and _same_categories(last[0], dtype_categories):
            return last[1]
        text = _category_text(pd.Series(dtype_categories))
        codes = self.known.get_indexer(text.to_numpy(dtype=object))
        self._last = (dtype_categories, codes)
        return codes

    def number_codes(self, values: np.ndarray) -> np.ndarray | None:
        """Return positions in known (-1: other, -2: missing) of numbers, with _category_text's rules: all whole
        -> the integer's text, else each float's repr; None for whole numbers of 2**53 or more, or infinite."""
        num = values.astype(np.float64, copy=False)
        missing = np.isnan(num)
        filled = np.where(missing, 0.0, num)
        if np.array_equal(np.round(filled), filled):
            if not np.all(np.abs(filled) < 2.0**53):
                return None
            codes = self.integer_positions[self.integers.get_indexer(filled.astype(np.int64))]
        else:  # a repr equal to a category parses back to the same number: only those values need their text
            codes = np.full(len(num), -1, dtype=np.intp)
            maybe = np.isin(num, self.numbers) & ~missing
            if maybe.any():
                text = pd.Series(values[maybe]).astype("Float64").astype("string")
                codes[maybe] = self.known.get_indexer(text.to_numpy(dtype=object, na_value=None))
        return np.where(missing, -2, codes)


def _as_float(text: str) -> float:
    """Return the number a category's text spells (NaN when it is not one)."""
    try:
        return float(text)
    except (TypeError, ValueError):
        return float("nan")


def _same_categories(cached: pd.Index, new: pd.Index) -> bool:
    """Return True when two categorical dtypes' categories are the very same values (same dtype, order, bits)."""
    if cached is new:
        return True
    if cached.dtype != new.dtype or len(cached) != len(new):
        return False
    if isinstance(new.dtype, np.dtype) and new.dtype.kind in "biufcmM":
        return cached.to_numpy().tobytes() == new.to_numpy().tobytes()  # bitwise: -0.0 and 0.0 differ in text
    if isinstance(new.dtype, pd.StringDtype):
        return bool(cached.equals(new))
    return False  # object or other categories: recompute (9 and 9.0 are equal but have different text)


def _factorize_values(col: pd.Series) -> tuple[np.ndarray, np.ndarray | pd.Index] | None:
    """Return (position of each value in uniques, -1 if missing; uniques) for numpy number/bool and string
    columns, or None for other dtypes. Floats are told apart by their bits (-0.0 and 0.0 have different text)."""
    dtype = col.dtype
    if isinstance(dtype, pd.StringDtype):
        return pd.factorize(col, use_na_sentinel=True)
    if not isinstance(dtype, np.dtype) or dtype.kind not in "biuf":
        return None
    values = col.to_numpy()
    if dtype.kind != "f":
        return pd.factorize(values, use_na_sentinel=True)
    raw, bits = pd.factorize(values.view(np.dtype(f"i{dtype.itemsize}")))  # NaNs too: their text is missing
    return raw, bits.view(dtype)


def _value_counts_as_text(col: pd.Series) -> pd.Series:
    """Return value counts keyed by category text, counting through category codes when possible."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        counts = col.value_counts(dropna=True)
        counts.index = _category_text(pd.Series(counts.index.astype(col.cat.categories.dtype))).to_numpy()
    else:
        counts = _category_text(col).value_counts(dropna=True)
        counts.index = counts.index.astype(str)
    return counts.groupby(level=0).sum()


def _text_codes(text: pd.Series, known: pd.Index) -> np.ndarray:
    """Return the position of each text in known: -1 when absent, -2 when missing."""
    codes = known.get_indexer(text.to_numpy(dtype=object, na_value=None))
    return np.where(text.isna().to_numpy(), -2, codes)


def _finish_codes(codes: np.ndarray, n_known: int) -> np.ndarray:
    """Return float codes: -1 (rare in training or unseen) becomes n_known ("other"), -2 (missing) NaN."""
    out = codes.astype(np.float64)
    out[codes == -1] = n_known
    out[codes == -2] = np.nan
    return out


def _codes(col: pd.Series, categories: np.ndarray, known: pd.Index | None = None) -> np.ndarray:
    """Return float codes of col against the learned categories: k for any other value, NaN for missing."""
    known = pd.Index(categories) if known is None else known
    if isinstance(col.dtype, pd.CategoricalDtype):
        lookup = known.get_indexer(_category_text(pd.Series(col.cat.categories)).to_numpy(dtype=object))
        raw = col.cat.codes.to_numpy()
        codes = np.where(raw >= 0, lookup[np.maximum(raw, 0)], -2)
    else:
        codes = _text_codes(_category_text(col), known)
    return _finish_codes(codes, len(categories))


def transform_frame(pre: Any, X: pd.DataFrame, columns: Sequence[str] | None = None) -> Any:
    """Return pre.transform(X[columns]) (of all of X without columns). The fitted tree preprocessor (numbers
    passed through, CategoryCoder, pandas output) is applied directly: the same frame without the column
    selection and ColumnTransformer's per-call overhead (~6 ms of 7 for a single row)."""
    plan = _tree_plan(pre)
    if plan is not None and isinstance(X, pd.DataFrame) and X.columns.is_unique:
        needed = {c for _, cols in plan for c in cols}
        available = set(X.columns)
        if needed <= (available if columns is None else set(columns)) and (columns is None or set(columns) <= available):
            out: dict[str, Any] = {}
            for coder, cols in plan:
                for j, c in enumerate(cols):
                    out[c] = X[c].array if coder is None else coder._column_codes(j, X[c])
            return pd.DataFrame(out, index=X.index, copy=False)
    return pre.transform(X if columns is None else X[list(columns)])  # says what is missing, if anything


def _tree_plan(pre: Any) -> list[tuple[CategoryCoder | None, list[str]]] | None:
    """Return [(CategoryCoder, or None to pass through, its columns)] of a fitted tree preprocessor, else None."""
    from sklearn.preprocessing import FunctionTransformer

    if type(pre) is not ColumnTransformer or not hasattr(pre, "transformers_") or pre.verbose_feature_names_out:
        return None
    if getattr(pre, "_sklearn_output_config", {}).get("transform") != "pandas" or pre.sparse_output_:
        return None
    plan: list[tuple[CategoryCoder | None, list[str]]] = []
    for _, trans, cols in pre.transformers_:
        if isinstance(trans, str) and trans == "drop":
            continue
        if not isinstance(cols, list) or not all(isinstance(c, str) for c in cols):
            return None
        if not cols:  # scikit-learn neither fits nor calls a transformer of no columns
            continue
        passthrough = (
            type(trans) is FunctionTransformer
            and trans.func is None
            and not trans.validate
            and trans.feature_names_out == "one-to-one"
        )
        coder = type(trans) is CategoryCoder and list(trans.feature_names_in_) == cols
        if not (passthrough or coder):
            return None
        plan.append((None if passthrough else trans, cols))
    names = [c for _, cols in plan for c in cols]
    return plan if plan and len(set(names)) == len(names) else None


def build_linear_preprocessor(ft: FeatureTypes, p: PreprocessParams) -> ColumnTransformer:
    """Return impute + scale for numbers and category codes + one-hot for categories (for linear models)."""
    numeric_steps: list = [("impute", SimpleImputer(strategy=p.numeric_impute, add_indicator=True))]
    if p.scale_numeric:
        numeric_steps.append(("scale", StandardScaler()))
    categorical = Pipeline(
        [
            ("codes", CategoryCoder(p.min_category_frequency, p.max_categories)),
            # sparse: ColumnTransformer goes sparse when density < 0.3: ~5x less memory, faster fits
            ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=True)),
        ]
    )
    return ColumnTransformer(
        [("num", Pipeline(numeric_steps), list(ft.numeric)), ("cat", categorical, list(ft.categorical))],
        remainder="drop",
        verbose_feature_names_out=False,
    )


def build_tree_preprocessor(ft: FeatureTypes, p: PreprocessParams) -> ColumnTransformer:
    """Return numbers as they are and categories as integer codes (rare and unseen: "other"; missing: NaN), for trees."""
    transformer = ColumnTransformer(
        [
            ("num", "passthrough", list(ft.numeric)),
            ("cat", CategoryCoder(p.min_category_frequency, p.max_categories), list(ft.categorical)),
        ],
        remainder="drop",
        verbose_feature_names_out=False,
    )
    return transformer.set_output(transform="pandas")


def fit_preprocessors(
    train: pd.DataFrame, ft: FeatureTypes, p: PreprocessParams, linear_rows: np.ndarray | None = None
) -> dict[str, ColumnTransformer]:
    """Return the linear and tree preprocessors, both fitted on the training rows only.

    linear_rows: the positions in train the linear preprocessor is fitted on (the rows the linear baseline is
    fitted on, tasks.core.sampling.linear_fit_rows); None: all rows. The tree preprocessor always sees every row.
    """
    linear_train = train if linear_rows is None else train.iloc[linear_rows]
    return {
        "linear": build_linear_preprocessor(ft, p).fit(linear_train[ft.all]),
        "tree": build_tree_preprocessor(ft, p).fit(train[ft.all]),
    }


def summarize_preprocessor(pre: ColumnTransformer, ft: FeatureTypes) -> dict:
    """Return what the fitted linear preprocessor learned (imputation values, scaler means)."""
    num = pre.named_transformers_["num"]
    out: dict = {"numeric": list(ft.numeric), "categorical": list(ft.categorical)}
    if ft.numeric:
        out["impute_values"] = dict(zip(ft.numeric, num.named_steps["impute"].statistics_.tolist()))
        if "scale" in num.named_steps:
            out["scale_means"] = dict(
                zip(num.named_steps["impute"].get_feature_names_out(), num.named_steps["scale"].mean_.tolist())
            )
    out["n_output_features"] = int(len(pre.get_feature_names_out()))
    return out
