"""Preprocess: fitted statistics equal those of the training rows alone; unseen categories are handled."""

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from tasks.config import DataParams, PreprocessParams
from tasks.preprocess import fit_preprocessors
from tasks.schema import infer_feature_types
from tests.conftest import synthetic_frame

DATA = DataParams(target="label", time_column="when", id_column="customer")


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), cut=st.floats(0.3, 0.8))
def test_fitted_statistics_equal_train_only_statistics(seed, cut):
    df = synthetic_frame(n=300, seed=seed)
    n_train = int(len(df) * cut)
    train, rest = df.iloc[:n_train], df.iloc[n_train:].assign(x2=lambda d: d["x2"] * 100)  # rest is very different
    ft = infer_feature_types(train, DATA)
    pre = fit_preprocessors(train, ft, PreprocessParams(min_category_frequency=1))["linear"]
    everything = pd.concat([train, rest])
    assert not np.isclose(train["x2"].median(), everything["x2"].median())  # fitting on all rows would show
    num = pre.named_transformers_["num"]
    medians = dict(zip(ft.numeric, num.named_steps["impute"].statistics_))
    assert np.isclose(medians["x2"], train["x2"].median())
    assert np.isclose(medians["x1"], train["x1"].median())
    scaler_mean = num.named_steps["scale"].mean_[list(ft.numeric).index("x1")]
    assert np.isclose(scaler_mean, train["x1"].mean())


def test_feature_types_exclude_label_id_time_and_drops():
    df = synthetic_frame(n=50)
    ft = infer_feature_types(df, DataParams(target="label", time_column="when", id_column="customer",
                                            drop_columns={"city": "leaks"}))
    assert set(ft.all) == {"x1", "x2", "colour"}
    assert ft.categorical == ("colour",)


def test_unseen_and_missing_categories_do_not_break_transform():
    df = synthetic_frame(n=200)
    ft = infer_feature_types(df, DATA)
    fitted = fit_preprocessors(df, ft, PreprocessParams(min_category_frequency=1))
    new = df.head(3).copy()
    new["colour"] = pd.Categorical(["purple", None, "red"])
    tree = fitted["tree"].transform(new[ft.all])
    assert np.isnan(tree["colour"].iloc[0]) and np.isnan(tree["colour"].iloc[1]) and not np.isnan(tree["colour"].iloc[2])
    linear = fitted["linear"].transform(new[ft.all])
    assert linear.shape[0] == 3 and np.isfinite(linear).all()
