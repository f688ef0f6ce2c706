"""The linear baseline's sample: the preprocess step, cv and train pick the same rows from the same labels, and
the linear preprocessor is fitted on exactly those rows (the tree preprocessor on every row)."""

from __future__ import annotations

import numpy as np
import pytest

from tasks import preprocess
from tasks.core import sampling
from tasks.core.config import PreprocessParams, TrainParams
from tasks.core.schema import encode_target, infer_feature_types, label_classes
from tasks.core.step_inputs import CvInput
from tasks.modelling import folds as cv_folds
from tasks.modelling import preprocessing, training
from tests.conftest import make_config, synthetic_frame


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_linear_fit_rows_are_the_rows_fit_linear_takes(task):
    cfg = make_config(__import__("pathlib").Path("/nonexistent"), task=task)
    df = synthetic_frame(n=900, seed=3, task=task)
    p = TrainParams(baseline_max_rows=250, random_state=11)
    y = encode_target(df[cfg.data.target], label_classes(df[cfg.data.target], cfg.data), cfg.data)
    rows = sampling.linear_fit_rows(df[cfg.data.target], cfg.data, p)
    assert len(rows) == 250
    np.testing.assert_array_equal(rows, sampling.baseline_rows(y, task, 250, 11))
    assert sampling.linear_fit_rows(df[cfg.data.target], cfg.data, TrainParams(baseline_max_rows=900)) is None


def test_linear_preprocessor_is_fitted_on_the_sample_and_tree_on_every_row():
    cfg = make_config(__import__("pathlib").Path("/nonexistent"))
    df = synthetic_frame(n=800, seed=5)
    ft = infer_feature_types(df, cfg.data)
    rows = np.arange(0, 800, 4)
    fitted = preprocessing.fit_preprocessors(df, ft, PreprocessParams(), rows)
    on_sample = preprocessing.fit_preprocessors(df.iloc[rows], ft, PreprocessParams())
    on_all = preprocessing.fit_preprocessors(df, ft, PreprocessParams())
    scale = lambda pre: pre.named_transformers_["num"].named_steps["scale"].mean_  # noqa: E731
    np.testing.assert_array_equal(scale(fitted["linear"]), scale(on_sample["linear"]))
    assert not np.array_equal(scale(fitted["linear"]), scale(on_all["linear"]))
    np.testing.assert_array_equal(
        fitted["tree"].transform(df[ft.all]).to_numpy(), on_all["tree"].transform(df[ft.all]).to_numpy()
    )


def test_cv_fits_each_folds_linear_preprocessor_on_the_baseline_sample(tmp_path, monkeypatch):
    cfg = make_config(tmp_path)
    df = synthetic_frame(n=900, seed=8)
    seen = []
    real = preprocessing.fit_preprocessors

    def spy(fit_df, ft, p, linear_rows=None):
        seen.append((len(fit_df), None if linear_rows is None else len(linear_rows)))
        return real(fit_df, ft, p, linear_rows)

    monkeypatch.setattr(cv_folds, "fit_preprocessors", spy)
    tp = cfg.train.model_copy(update={"baseline_max_rows": 200})
    cv_folds.cross_validate(
        df, CvInput.from_config(cfg).model_copy(update={"cv": cfg.cv.model_copy(update={"schemes": ["stratified"]}), "train": tp})
    )
    assert len(seen) == 3 and all(fold_rows > 200 and linear == 200 for fold_rows, linear in seen)


def test_preprocess_step_reports_and_uses_the_baseline_sample(tmp_path):
    from tasks.core import io

    cfg = make_config(tmp_path, train={"baseline_max_rows": 300})
    df = synthetic_frame(n=1000, seed=9)
    cfg.paths.train.parent.mkdir(parents=True)
    io.write_frame(df, cfg.paths.train)
    report = preprocess.run(cfg)
    assert report.train_rows == 1000 and report.linear_fit_rows == 300
    rows = sampling.linear_fit_rows(df[cfg.data.target], cfg.data, cfg.train)
    ft = infer_feature_types(df, cfg.data)
    expected = preprocessing.fit_preprocessors(df.iloc[rows], ft, cfg.preprocess)["linear"]
    saved, _ = training.load_preprocessors(cfg.paths.preprocess_dir)
    x = df[ft.all].iloc[:50]
    dense = lambda m: m.toarray() if hasattr(m, "toarray") else np.asarray(m)  # noqa: E731
    np.testing.assert_allclose(dense(saved["linear"].transform(x)), dense(expected.transform(x)))
