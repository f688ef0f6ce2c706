"""ModelBundle.transform: the direct tree path gives exactly the ColumnTransformer's matrix and scores."""

import numpy as np
import pandas as pd
import pytest

from tasks.core.config import DataParams
from tasks.modelling.bundle import load_bundle
from tests.conftest import synthetic_frame, tiny_lightgbm_bundle

DATA = DataParams(target="label", time_column="when", id_column="customer")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    train = synthetic_frame(n=400, seed=3).assign(code=lambda d: d["customer"] % 9 * 1.0)
    dest = tiny_lightgbm_bundle(
        train, tmp_path_factory.mktemp("m") / "lightgbm", ("x1", "x2"), ("colour", "city", "code"), DATA, rounds=15
    )
    return load_bundle(dest)


def test_bundle_transform_equals_the_column_transformer_on_selected_features(bundle):
    rows = synthetic_frame(n=150, seed=9).assign(code=lambda d: d["customer"] % 13 * 1.0)
    rows.loc[rows.index[:4], "city"] = None
    rows = rows.set_axis(np.arange(len(rows))[::-1])
    for frame in (rows, rows.iloc[:1], rows.iloc[7:8], rows.iloc[:0], rows.iloc[::3]):
        expected = bundle.preprocessor.transform(frame[bundle.features])
        pd.testing.assert_frame_equal(bundle.transform(frame), expected)
        x = bundle.preprocessor.transform(frame[bundle.features])
        direct = np.asarray(bundle.estimator.predict(x, num_threads=1)) if len(frame) else np.zeros(0)
        np.testing.assert_array_equal(bundle.predict_scores(frame) if len(frame) else np.zeros(0), direct)


def test_bundle_transform_still_names_a_missing_feature(bundle):
    rows = synthetic_frame(n=20, seed=1).assign(code=1.0).drop(columns=["x2"])
    with pytest.raises(KeyError, match="x2"):
        bundle.transform(rows)
