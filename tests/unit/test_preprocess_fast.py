"""Preprocess fast paths: CategoryCoder's cached lookups and transform_frame give exactly what the plain code gives.

The reference below is CategoryCoder's transform as it was before the lookups were cached (text of every
value, then Index.get_indexer); every fast path is compared with it on random frames.
"""

import copy

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tasks.core.config import DataParams, PreprocessParams
from tasks.core.schema import infer_feature_types
from tasks.modelling.preprocessing import (
    CategoryCoder,
    build_tree_preprocessor,
    fit_preprocessors,
    transform_frame,
)
from tests.conftest import synthetic_frame


def reference_text(col: pd.Series) -> pd.Series:
    """The straightforward rule: numbers lose a trailing .0 when the whole column is whole numbers."""
    if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
        num = col.astype("Float64")
        integral = bool(((num.round() == num) | num.isna()).all())
        return (num.astype("Int64") if integral else num).astype("string")
    return col.astype("string")


def reference_codes(col: pd.Series, categories: np.ndarray) -> np.ndarray:
    """The codes without any cache: k for other values, NaN for missing."""
    known = pd.Index(categories)
    if isinstance(col.dtype, pd.CategoricalDtype):
        lookup = known.get_indexer(reference_text(pd.Series(col.cat.categories)).to_numpy(dtype=object))
        raw = col.cat.codes.to_numpy()
        codes = np.where(raw >= 0, lookup[np.maximum(raw, 0)], -2)
    else:
        text = reference_text(col)
        codes = known.get_indexer(text.to_numpy(dtype=object, na_value=None))
        codes = np.where(text.isna().to_numpy(), -2, codes)
    out = codes.astype(np.float64)
    out[codes == -1] = len(categories)
    out[codes == -2] = np.nan
    return out


def reference_transform(coder: CategoryCoder, X: pd.DataFrame) -> pd.DataFrame:
    """CategoryCoder.transform through the reference codes."""
    return pd.DataFrame({str(c): reference_codes(X[c], cats) for c, cats in zip(X.columns, coder.categories_)}, index=X.index)


def random_frame(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Return columns of every kind a categorical feature arrives as, with missing, unseen and numeric codes."""
    words = np.array(["a", "b", "c", "9", "10", "-3", "x y", "0", "9.0"], dtype=object)
    floats = rng.choice([9.0, 10.0, 3.0, -3.0, 0.0, -0.0, 7.0, np.nan, 12.0, 1e15], size=n)
    mixed = rng.choice(np.array([9, "9", 9.0, None, "a", 10, 2.5, "2.5", -0.0], dtype=object), size=n)
    nonwhole = rng.choice([0.5, 2.5, 9.0, -0.0, 0.0, np.nan, 0.1 + 0.2, 3.0, np.inf], size=n)
    cat_values = rng.choice(words, size=n)
    cat_values[rng.random(n) < 0.1] = None
    order = list(rng.permutation(words))  # categories in a random order, some never used
    ints = rng.choice([9, 10, -3, 0, 4, 2**53 + 1], size=n)
    return pd.DataFrame(
        {
            "cat": pd.Categorical(cat_values, categories=order),
            "cat_num": pd.Categorical(rng.choice([9.0, 10.0, 2.5, -0.0], size=n)),
            "cat_int": pd.Categorical(rng.choice([9, 10, 3], size=n)),
            "floats": floats,
            "floats32": floats.astype(np.float32),
            "nonwhole": nonwhole,
            "ints": ints if rng.random() < 0.5 else rng.choice([9, 10, -3, 0, 4], size=n),
            "bools": rng.random(n) < 0.3,
            "strs": pd.Series(rng.choice(words, size=n), dtype="str").mask(rng.random(n) < 0.1),
            "strings": pd.Series(rng.choice(words, size=n), dtype="string").mask(rng.random(n) < 0.1),
            "mixed": mixed,
            "nullable": pd.array(rng.choice([9, 10, 3], size=n), dtype="Int64"),
        }
    )


@pytest.mark.parametrize("seed", range(12))
def test_category_coder_codes_equal_the_reference_on_random_frames(seed):
    rng = np.random.default_rng(seed)
    train = random_frame(400, rng)
    coder = CategoryCoder(min_frequency=int(rng.integers(1, 30)), max_categories=int(rng.integers(2, 8))).fit(train)
    new = random_frame(int(rng.integers(1, 300)), np.random.default_rng(seed + 1000))
    for frame in (new, new.iloc[:1], new.iloc[-1:], new.iloc[:0], train, new):  # repeated: cached lookups reused
        pd.testing.assert_frame_equal(coder.transform(frame), reference_transform(coder, frame))
    for i in range(min(len(new), 20)):  # single rows, as served
        row = new.iloc[i : i + 1]
        pd.testing.assert_frame_equal(coder.transform(row), reference_transform(coder, row))


def test_category_coder_rebuilds_the_lookup_when_a_categorical_dtype_changes():
    train = pd.DataFrame({"c": pd.Categorical(["a", "b", "c"] * 5), "n": pd.Categorical([2.5, 9.0, -0.0] * 5)})
    coder = CategoryCoder().fit(train)
    frames = [
        pd.DataFrame({"c": pd.Categorical(["a", "c"], categories=["c", "a"]), "n": pd.Categorical([2.5, -0.0])}),
        pd.DataFrame({"c": pd.Categorical(["a", "c"], categories=["a", "c"]), "n": pd.Categorical([2.5, 0.0])}),
        pd.DataFrame({"c": pd.Categorical(["a", "z"], categories=["z", "a", "b"]), "n": pd.Categorical([9.0, 2.5])}),
        pd.DataFrame({"c": pd.Categorical(["a", "c"], categories=["c", "a"]), "n": pd.Categorical([9, 2])}),
    ]
    for frame in frames + frames[::-1]:
        pd.testing.assert_frame_equal(coder.transform(frame), reference_transform(coder, frame))
    assert coder.transform(frames[0])["n"].tolist() == [1.0, 0.0]  # learned ["-0.0", "2.5", "9.0"]
    assert coder.transform(frames[1])["n"].tolist() == [1.0, 3.0]  # "0.0" is not "-0.0": other
    assert coder.transform(frames[0])["c"].tolist() == [0.0, 2.0]


def test_category_coder_forgets_its_lookups_when_refitted():
    coder = CategoryCoder().fit(pd.DataFrame({"c": pd.Categorical(["a", "b"])}))
    probe = pd.DataFrame({"c": pd.Categorical(["b", "a"])})
    assert coder.transform(probe)["c"].tolist() == [1.0, 0.0]
    coder.fit(pd.DataFrame({"c": pd.Categorical(["b", "z"])}))
    assert coder.transform(probe)["c"].tolist() == [0.0, 2.0]


@settings(max_examples=60, deadline=None)
@given(
    train=st.lists(
        st.one_of(st.floats(allow_nan=True, allow_infinity=False, width=64), st.integers(-20, 20).map(float)),
        min_size=1,
        max_size=30,
    ),
    new=st.lists(
        st.one_of(
            st.floats(allow_nan=True, allow_infinity=True),
            st.integers(-20, 20).map(float),
            st.sampled_from([0.5, -0.0, 2.0**53, 2.0**53 + 2, 1e300]),
        ),
        min_size=0,
        max_size=30,
    ),
)
def test_number_columns_code_like_the_reference(train, new):
    coder = CategoryCoder().fit(pd.DataFrame({"v": np.asarray(train, dtype=float)}))
    frame = pd.DataFrame({"v": np.asarray(new, dtype=float)})
    try:
        expected = reference_transform(coder, frame)
    except (TypeError, ValueError) as err:  # e.g. a whole number too large for Int64: the same error either way
        with pytest.raises(type(err)):
            coder.transform(frame)
        return
    pd.testing.assert_frame_equal(coder.transform(frame), expected)


def test_numeric_codes_9_and_text_9_are_one_category_on_the_fast_paths():
    coder = CategoryCoder().fit(pd.DataFrame({"n": [9.0, 9.0, 7.0, 2.5]}))
    assert list(coder.categories_[0]) == ["2.5", "7.0", "9.0"]  # a column with 2.5 keeps the ".0"
    coder = CategoryCoder().fit(pd.DataFrame({"n": [9.0, 9.0, 7.0, np.nan]}))
    assert list(coder.categories_[0]) == ["7", "9"]
    for values in ([9, 7, 3], [9.0, 7.0, np.nan], np.array([9, 7, 3], dtype=np.int8), ["9", "7", "3"]):
        out = coder.transform(pd.DataFrame({"n": values}))["n"].to_numpy()
        assert out[0] == 1.0 and out[1] == 0.0 and (out[2] == 2.0 or np.isnan(out[2]))
    assert coder.transform(pd.DataFrame({"n": [9.0, 7.5]}))["n"].tolist() == [2.0, 2.0]  # "9.0" is not "9"


def tree_and_frame(seed: int = 0) -> tuple:
    df = synthetic_frame(n=300, seed=seed).assign(
        code=lambda d: d["customer"] % 7 * 1.0, count=lambda d: pd.array(d["customer"] % 5, dtype="Int64")
    )
    df.loc[df.index[::9], "count"] = pd.NA
    data = DataParams(target="label", time_column="when", id_column="customer", categorical_columns=["code"])
    ft = infer_feature_types(df, data)
    return fit_preprocessors(df, ft, PreprocessParams(min_category_frequency=3)), df, ft


@pytest.mark.parametrize("seed", range(3))
def test_transform_frame_equals_the_column_transformer(seed):
    fitted, df, ft = tree_and_frame(seed)
    tree = fitted["tree"]
    other = synthetic_frame(n=120, seed=seed + 50).assign(
        code=lambda d: d["customer"] % 11 * 1.0, count=lambda d: pd.array(d["customer"] % 3, dtype="Int64")
    )
    other.loc[other.index[:5], "colour"] = None
    other = other.set_axis(np.arange(1000, 1000 + len(other)))  # a non-default index survives
    for frame in (df[ft.all], other[ft.all], other[ft.all].iloc[:1], other[ft.all].iloc[:0], other):
        pd.testing.assert_frame_equal(transform_frame(tree, frame), tree.transform(frame))
    fast = transform_frame(tree, other[ft.all].iloc[3:4])
    assert list(fast.columns) == list(tree.get_feature_names_out()) and fast.index.tolist() == [1003]


def test_transform_frame_leaves_other_preprocessors_and_errors_to_scikit_learn():
    fitted, df, ft = tree_and_frame()
    linear = fitted["linear"]
    dense = lambda m: m.toarray() if hasattr(m, "toarray") else np.asarray(m)  # noqa: E731 (sparse or not by density)
    np.testing.assert_array_equal(dense(transform_frame(linear, df[ft.all])), dense(linear.transform(df[ft.all])))
    with pytest.raises(ValueError, match="columns are missing"):
        transform_frame(fitted["tree"], df[ft.all].drop(columns=["x1"]))
    plain = df[ft.all].astype({"count": "float64"})  # numpy output refuses pandas.NA
    numpy_tree = build_tree_preprocessor(ft, PreprocessParams()).set_output(transform="default").fit(plain)
    np.testing.assert_array_equal(transform_frame(numpy_tree, plain), numpy_tree.transform(plain))


def test_lookups_are_not_saved_and_are_rebuilt_after_a_skops_round_trip(tmp_path):
    import skops.io as sio

    from tasks.modelling.bundle import load_skops, save_preprocessor
    from tasks.modelling.integrity import TRUSTED_SKOPS_TYPES
    from tasks.modelling.preprocessing import _LOOKUPS

    fitted, df, ft = tree_and_frame()
    tree = fitted["tree"]
    coder = tree.named_transformers_["cat"]
    state = dict(coder.__dict__)
    before = transform_frame(tree, df[ft.all])  # builds the lookups
    assert coder in _LOOKUPS and _LOOKUPS[coder]
    assert coder.__dict__.keys() == state.keys()  # transform leaves the fitted coder as it was (scikit-learn's rule)
    save_preprocessor(tree, tmp_path / "tree.skops")
    untrusted = sio.get_untrusted_types(file=tmp_path / "tree.skops")
    assert set(untrusted) <= TRUSTED_SKOPS_TYPES, untrusted
    back = load_skops(tmp_path / "tree.skops")
    back_coder = back.named_transformers_["cat"]
    assert back_coder not in _LOOKUPS
    pd.testing.assert_frame_equal(transform_frame(back, df[ft.all]), before)
    pd.testing.assert_frame_equal(back.transform(df[ft.all].iloc[:1]), before.iloc[:1])
    assert back_coder in _LOOKUPS and _LOOKUPS[back_coder] is not _LOOKUPS[coder]
    clone = copy.deepcopy(coder)
    assert clone not in _LOOKUPS
    pd.testing.assert_frame_equal(clone.transform(df[list(ft.categorical)]), before[list(ft.categorical)])


@pytest.mark.parametrize(("numeric", "categorical"), [(("x1", "x2"), ()), ((), ("colour", "code")), (("x1",), ("code",))])
def test_transform_frame_with_a_side_of_no_columns(numeric, categorical):
    from tasks.core.schema import FeatureTypes

    _, df, _ = tree_and_frame()
    ft = FeatureTypes(numeric, categorical)
    tree = build_tree_preprocessor(ft, PreprocessParams(min_category_frequency=2)).fit(df[ft.all])
    for frame in (df, df.iloc[5:6], df[list(ft.all)]):
        pd.testing.assert_frame_equal(transform_frame(tree, frame, ft.all), tree.transform(frame[list(ft.all)]))
