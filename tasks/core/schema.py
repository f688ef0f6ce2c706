"""Schema: which columns are features, of what kind, and how the label is encoded."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tasks.core.config import DataParams
from tasks.core.errors import SchemaError


@dataclass(frozen=True)
class FeatureTypes:
    """Feature columns split by how they are preprocessed."""

    numeric: tuple[str, ...]
    categorical: tuple[str, ...]

    @property
    def all(self) -> list[str]:
        """Every feature column, numeric first."""
        return [*self.numeric, *self.categorical]


def is_categorical_dtype(series: pd.Series) -> bool:
    """Return True for string, object, category and boolean columns."""
    return (
        isinstance(series.dtype, pd.CategoricalDtype)
        or pd.api.types.is_object_dtype(series)
        or pd.api.types.is_string_dtype(series)
        or pd.api.types.is_bool_dtype(series)
    )


def excluded_columns(data: DataParams) -> set[str]:
    """Return the columns that are never features: label, id, time and the configured drops."""
    out = {data.target, *data.drop_columns}
    if data.id_column:
        out.add(data.id_column)
    if data.time_column:
        out.add(data.time_column)
    return out


def require_columns(df: pd.DataFrame, columns: list[str], where: str) -> None:
    """Raise SchemaError naming any column params.yaml needs that the table lacks."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise SchemaError(
            f"{where}: column(s) {missing} named in params.yaml are not in the table "
            f"(it has {len(df.columns)} columns: {list(df.columns)[:20]}...)"
        )


def infer_feature_types(df: pd.DataFrame, data: DataParams) -> FeatureTypes:
    """Return numeric and categorical feature columns; datetimes are not features."""
    excluded = excluded_columns(data)
    forced_cat = set(data.categorical_columns)
    numeric: list[str] = []
    categorical: list[str] = []
    for col in df.columns:
        if col in excluded or pd.api.types.is_datetime64_any_dtype(df[col]):
            continue
        if col in forced_cat or is_categorical_dtype(df[col]):
            categorical.append(col)
        elif pd.api.types.is_numeric_dtype(df[col]):
            numeric.append(col)
    return FeatureTypes(numeric=tuple(numeric), categorical=tuple(categorical))


def label_classes(y: pd.Series, data: DataParams) -> list:
    """Return the label classes in encoding order; for binary the positive class is last."""
    values = sorted(pd.unique(y.dropna()).tolist(), key=lambda v: str(v))
    if data.task == "regression":
        return []
    if data.task == "binary":
        if len(values) != 2:
            raise SchemaError(
                f"label '{data.target}' must have exactly 2 classes for a binary task, found {len(values)}: {values[:10]}"
            )
        positive = data.positive_label if data.positive_label is not None else values[-1]
        if positive not in values:
            raise SchemaError(f"data.positive_label {positive!r} is not a value of '{data.target}': {values}")
        return [v for v in values if v != positive] + [positive]
    if len(values) < 2:
        raise SchemaError(f"label '{data.target}' has a single class {values}; nothing to learn")
    return values


def encode_target(y: pd.Series, classes: list, data: DataParams) -> np.ndarray:
    """Return the label as floats (regression) or class indices 0..K-1 (classification)."""
    if y.isna().any():
        raise SchemaError(f"label '{data.target}' has {int(y.isna().sum())} missing value(s); drop or fill them")
    if data.task == "regression":
        return pd.to_numeric(y, errors="raise").to_numpy(dtype=float)
    mapping = {v: i for i, v in enumerate(classes)}
    unknown = set(pd.unique(y)) - set(mapping)
    if unknown:
        raise SchemaError(f"label '{data.target}' has values {sorted(map(str, unknown))} not seen in training")
    return y.map(mapping).to_numpy(dtype=int)
