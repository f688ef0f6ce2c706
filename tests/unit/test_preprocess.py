"""Preprocess: fitted statistics equal those of the training rows alone; unseen categories are handled."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tasks.core.config import DataParams, PreprocessParams
from tasks.core.schema import infer_feature_types
from tasks.modelling.preprocessing import fit_preprocessors
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
    ft = infer_feature_types(
        df, DataParams(target="label", time_column="when", id_column="customer", drop_columns={"city": "leaks"})
    )
    assert set(ft.all) == {"x1", "x2", "colour"}
    assert ft.categorical == ("colour",)


def test_unseen_and_missing_categories_do_not_break_transform():
    df = synthetic_frame(n=200)
    ft = infer_feature_types(df, DATA)
    fitted = fit_preprocessors(df, ft, PreprocessParams(min_category_frequency=1))
    new = df.head(3).copy()
    new["colour"] = pd.Categorical(["purple", None, "red"])
    tree = fitted["tree"].transform(new[ft.all])
    n_known = len(fitted["tree"].named_transformers_["cat"].categories_[0])
    assert tree["colour"].iloc[0] == n_known  # unseen: the "other" code
    assert np.isnan(tree["colour"].iloc[1]) and tree["colour"].iloc[2] < n_known
    linear = fitted["linear"].transform(new[ft.all])
    assert linear.shape[0] == 3 and np.isfinite(linear).all()


def test_category_coder_codes_frequent_values_and_sends_the_rest_to_other():
    from tasks.modelling.preprocessing import CategoryCoder

    train = pd.DataFrame(
        {"c": pd.Categorical(["a"] * 5 + ["b"] * 3 + ["rare"] + [None]), "n": [9.0] * 4 + [7.0] * 4 + [np.nan, 3.0]}
    )
    coder = CategoryCoder(min_frequency=2).fit(train)
    assert [list(c) for c in coder.categories_] == [["a", "b"], ["7", "9"]]
    new = pd.DataFrame({"c": ["b", "rare", "never-seen", None], "n": ["9", 7, 3.0, None]})
    out = coder.transform(new)
    assert out["c"].tolist()[:3] == [1.0, 2.0, 2.0] and np.isnan(out["c"].iloc[3])
    assert out["n"].tolist()[:3] == [1.0, 0.0, 2.0] and np.isnan(out["n"].iloc[3])  # 9, "9" and 9.0 agree


def test_category_coder_survives_skops_round_trip(tmp_path):
    from tasks.modelling.bundle import load_skops, save_preprocessor

    df = synthetic_frame(n=200)
    ft = infer_feature_types(df, DATA)
    pre = fit_preprocessors(df, ft, PreprocessParams(min_category_frequency=1))["tree"]
    save_preprocessor(pre, tmp_path / "tree.skops")
    back = load_skops(tmp_path / "tree.skops")
    pd.testing.assert_frame_equal(back.transform(df[ft.all]), pre.transform(df[ft.all]))


def test_the_preprocess_step_fits_on_the_train_split_only(tmp_path):
    """The step, not only the library: train, valid and test have disjoint value ranges and categories, so
    statistics fitted on any rows beyond the train split differ from the train-only ones."""
    from tasks import preprocess
    from tasks.core import io
    from tasks.modelling.training import load_preprocessors
    from tests.conftest import make_config

    cfg = make_config(tmp_path)
    df = synthetic_frame(n=600, seed=3)
    parts = {"train": df.iloc[:400], "valid": df.iloc[400:500], "test": df.iloc[500:]}
    shifted = {"train": (0.0, ["red", "green"]), "valid": (1000.0, ["blue"]), "test": (-1000.0, ["violet"])}
    for name, (offset, colours) in shifted.items():
        part = parts[name].assign(
            x1=parts[name]["x1"] + offset,
            x2=parts[name]["x2"] + offset,
            colour=pd.Categorical(np.resize(colours, len(parts[name]))),
        )
        parts[name] = part
        io.write_frame(part, getattr(cfg.paths, name))
    train = parts["train"]
    report = preprocess.run(cfg)
    assert report.train_rows == len(train)
    pre, ft = load_preprocessors(cfg.paths.preprocess_dir)  # what the train step loads
    num = pre["linear"].named_transformers_["num"]
    stats = dict(zip(num.feature_names_in_, num.named_steps["impute"].statistics_))
    assert stats == pytest.approx({c: train[c].median() for c in stats})
    scale = num.named_steps["scale"]
    imputed = train[list(stats)].fillna(train[list(stats)].median())
    n = len(stats)  # the scaler sees the imputed columns first, then the missing-value indicators
    assert list(scale.mean_[:n]) == pytest.approx(list(imputed.mean()))
    assert list(scale.scale_[:n]) == pytest.approx(list(imputed.std(ddof=0)))
    for kind in ("linear", "tree"):
        coder = pre[kind].named_transformers_["cat"]
        coder = coder.named_steps["codes"] if hasattr(coder, "named_steps") else coder
        assert {str(c) for c in coder.categories_[0]} == {"red", "green"}, kind  # never blue or violet
