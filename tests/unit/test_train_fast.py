"""Train: the linear baseline is fitted on a deterministic, class-stratified sample of at most
train.baseline_max_rows rows (only those rows are transformed); below the cap nothing changes; the dummy and the
one-pass validation scoring give what the full transforms gave."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.linear_model import LogisticRegression, Ridge

from tasks import preprocess, split, train
from tasks.core import io, sampling
from tasks.core.config import TrainParams
from tasks.core.schema import encode_target, infer_feature_types, label_classes
from tasks.modelling import bundle, estimators, training
from tasks.modelling.bundle import load_bundle
from tasks.modelling.preprocessing import fit_preprocessors
from tests.conftest import make_config, synthetic_frame


def fitted(task: str, n: int = 900):
    """Return a synthetic frame, its encoded labels, feature types and fitted preprocessors."""
    from tasks.core.config import PreprocessParams

    cfg = make_config(__import__("pathlib").Path("/nonexistent"), task=task)
    df = synthetic_frame(n=n, seed=4, task=task)
    ft = infer_feature_types(df, cfg.data)
    classes = label_classes(df[cfg.data.target], cfg.data)
    return df, encode_target(df[cfg.data.target], classes, cfg.data), ft, fit_preprocessors(df, ft, PreprocessParams())


class CountingTransform:
    """Wrap a fitted preprocessor and record how many rows each transform call saw."""

    def __init__(self, pre):
        self.pre, self.rows = pre, []

    def transform(self, x):
        self.rows.append(len(x))
        return self.pre.transform(x)


@pytest.mark.parametrize("n,cap", [(10, 10), (10, 50), (1000, 1000)])
def test_baseline_rows_are_all_rows_up_to_the_cap(n, cap):
    assert sampling.baseline_rows(np.arange(n) % 2, "binary", cap, 0) is None


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_baseline_sample_is_deterministic_sorted_and_exactly_the_cap(task):
    rng = np.random.default_rng(1)
    y = rng.normal(size=5000) if task == "regression" else rng.choice(3 if task == "multiclass" else 2, size=5000, p=None)
    rows = sampling.baseline_rows(y, task, 1234, 42)
    assert len(rows) == 1234 == estimators.baseline_fit_rows(5000, TrainParams(baseline_max_rows=1234))
    assert np.all(np.diff(rows) > 0) and rows[0] >= 0 and rows[-1] < 5000
    np.testing.assert_array_equal(rows, sampling.baseline_rows(y, task, 1234, 42))
    assert not np.array_equal(rows, sampling.baseline_rows(y, task, 1234, 43))


def test_baseline_sample_keeps_each_class_share_and_rare_classes():
    y = np.repeat([0, 1, 2, 3], [9000, 900, 97, 3])
    rng = np.random.default_rng(2)
    y = y[rng.permutation(len(y))]
    rows = sampling.baseline_rows(y, "multiclass", 1000, 7)
    counts = np.bincount(y[rows], minlength=4)
    expected = np.bincount(y) * 1000 / len(y)  # 900, 90, 9.7, 0.3
    assert counts.sum() == 1000
    assert counts[3] == 1  # a class whose share rounds to nothing keeps one row
    assert np.all(np.abs(counts[:3] - expected[:3]) <= 1.5)


def test_stratum_quotas_sum_to_the_total_and_never_exceed_the_counts():
    rng = np.random.default_rng(3)
    for _ in range(500):
        counts = rng.integers(1, 2000, size=int(rng.integers(1, 30)))
        counts[rng.random(len(counts)) < 0.4] = 1
        if counts.sum() < 2:
            continue
        total = int(rng.integers(1, counts.sum()))
        quota = sampling.stratum_quotas(counts, total)
        assert quota.sum() == total and np.all(quota >= (1 if total >= len(counts) else 0)) and np.all(quota <= counts)
        share = counts * total / counts.sum()
        assert np.all(np.abs(quota - share)[share >= 1] < 1 + len(counts))


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_fit_linear_below_the_cap_is_the_plain_fit(task):
    df, y, ft, pre = fitted(task)
    p = TrainParams(baseline_max_rows=len(df))
    got = estimators.fit_linear(pre["linear"], df, y, ft, task, p, None)
    x = pre["linear"].transform(df[ft.all])
    ref = (
        Ridge(alpha=1.0 / p.baseline_c).fit(x, y)
        if task == "regression"
        else LogisticRegression(C=p.baseline_c, max_iter=p.baseline_max_iter).fit(x, y)
    )
    np.testing.assert_array_equal(got.coef_, ref.coef_)
    np.testing.assert_array_equal(got.intercept_, ref.intercept_)


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_fit_linear_above_the_cap_transforms_and_fits_only_the_sample(task):
    df, y, ft, pre = fitted(task)
    p = TrainParams(baseline_max_rows=300, random_state=5)
    counting = CountingTransform(pre["linear"])
    got = estimators.fit_linear(counting, df, y, ft, task, p, None)
    assert counting.rows == [300]
    rows = sampling.baseline_rows(y, task, 300, 5)
    x = pre["linear"].transform(df[ft.all].iloc[rows])
    ref = (
        Ridge(alpha=1.0 / p.baseline_c).fit(x, y[rows])
        if task == "regression"
        else LogisticRegression(C=p.baseline_c, max_iter=p.baseline_max_iter).fit(x, y[rows])
    )
    np.testing.assert_array_equal(got.coef_, ref.coef_)
    if task != "regression":
        np.testing.assert_array_equal(got.classes_, np.unique(y))


@pytest.mark.parametrize("task", ["binary", "regression"])
def test_fit_dummy_without_the_transform_is_the_same_model(task):
    df, y, ft, pre = fitted(task)
    counting = CountingTransform(pre["linear"])
    got = estimators.fit_dummy(counting, df, y, ft, task)
    assert counting.rows == [1]
    x = pre["linear"].transform(df[ft.all])
    ref = (DummyRegressor(strategy="mean") if task == "regression" else DummyClassifier(strategy="prior")).fit(x, y)
    assert got.n_features_in_ == ref.n_features_in_
    for name in ("class_prior_", "classes_", "constant_"):
        if hasattr(ref, name):
            np.testing.assert_array_equal(getattr(got, name), getattr(ref, name))
    np.testing.assert_array_equal(got.predict(x[:7]), ref.predict(x[:7]))


def test_train_records_the_baseline_sample_and_scores_once(tmp_path):
    # refit off: a refitted LightGBM has seen the valid rows, so its scores of them differ from the report's (taken
    # before the refit, see test_train_quality); here every saved bundle must score valid as the report did
    cfg = make_config(tmp_path, train={"baseline_max_rows": 200, "refit": False})
    io.write_frame(synthetic_frame(n=900, seed=11), cfg.paths.ingested)
    split.run(cfg)
    preprocess.run(cfg)
    report = train.run(cfg)
    n_train = report.train_rows
    assert n_train > 200 and report.baseline_fit_rows == 200
    bundles = {name: load_bundle(cfg.paths.models_dir / name) for name in bundle.MODEL_NAMES}
    assert bundles["baseline"].meta["fit_rows"] == 200 and bundles["baseline"].meta["train_rows"] == n_train
    valid = io.read_frame(cfg.paths.valid)
    scores = bundle.score_bundles(bundles, valid)
    for name, b in bundles.items():
        np.testing.assert_array_equal(scores[name], b.predict_scores(valid))
    assert training.validation_metrics(bundles, valid, cfg.data) == {
        n: m.computed() for n, m in report.validation_metrics.items()
    }


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_lightgbm_on_the_float32_matrix_predicts_as_on_the_float64_frame(task):
    """LightGBM bins the features: the float32 matrix gives the trees of the float64 frame (thresholds may print
    with float32 rounding in the model text) and the same predictions; two fits give the same model text."""
    import lightgbm as lgb

    df, y, ft, pre = fitted(task, n=3000)
    df = df.assign(x1=df["x1"] * 1.2345678901)  # values float32 cannot hold exactly
    fit, es = df.iloc[:2400], df.iloc[2400:]
    lp = TrainParams().lightgbm
    x_fit, names = estimators.lightgbm_matrix(pre["tree"], fit, ft)
    assert x_fit.dtype == np.float32 and names == [str(c) for c in pre["tree"].transform(fit[ft.all]).columns]
    reference = estimators.lightgbm_estimator(task, lp, None, 7).fit(
        pre["tree"].transform(fit[ft.all]),
        y[:2400],
        eval_X=(pre["tree"].transform(es[ft.all]),),
        eval_y=(y[2400:],),
        categorical_feature=list(ft.categorical),
        callbacks=[lgb.early_stopping(lp.early_stopping_rounds, first_metric_only=True, verbose=False)],
    )
    got = [estimators.fit_lightgbm(pre["tree"], fit, y[:2400], es, y[2400:], ft, task, lp, None, 7) for _ in range(2)]
    assert got[0].booster_.model_to_string() == got[1].booster_.model_to_string()
    assert got[0].best_iteration_ == reference.best_iteration_
    x = pre["tree"].transform(df[ft.all])
    np.testing.assert_allclose(got[0].booster_.predict(x), reference.booster_.predict(x), atol=1e-12)
