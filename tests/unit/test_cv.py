"""CV: walk-forward folds respect time, schemes resolve by table, preprocessing is refitted per fold."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tasks.core.config import CVParams, DataParams
from tasks.core.errors import ConfigError
from tasks.core.step_inputs import CvInput
from tasks.modelling import folds as cv_folds
from tasks.modelling import preprocessing
from tests.conftest import make_config, synthetic_frame


@pytest.mark.parametrize("window", ["expanding", "sliding"])
@pytest.mark.parametrize("gap", [0, 10])
def test_walk_forward_trains_only_on_the_past(window, gap):
    df = synthetic_frame(n=500, seed=3).sample(frac=1, random_state=0).reset_index(drop=True)  # unsorted
    folds = list(cv_folds.WalkForwardSplit(4, window, gap).split(df, groups=df["when"]))
    assert len(folds) == 4
    for tr, va in folds:
        assert df["when"].iloc[tr].max() < df["when"].iloc[va].min() - pd.Timedelta(days=gap)
    sizes = [len(tr) for tr, _ in folds]
    assert (sizes == sorted(sizes)) if window == "expanding" else max(sizes) < len(df) / 2


def test_schemes_resolve_from_the_table():
    df = synthetic_frame(n=100)
    assert cv_folds.resolve_schemes(df, DataParams(target="label", time_column="when", id_column="customer"), CVParams()) == [
        "stratified",
        "walk_forward",
        "group",
    ]
    assert cv_folds.resolve_schemes(df, DataParams(target="label", task="regression"), CVParams()) == ["kfold"]


def test_group_folds_share_no_entity():
    df = synthetic_frame(n=300)
    data = DataParams(target="label", id_column="customer")
    y = df["label"].to_numpy()
    for tr, va in cv_folds.fold_indices(df, y, "group", data, CVParams(n_splits=3)):
        assert set(df["customer"].iloc[tr]).isdisjoint(df["customer"].iloc[va])


def test_cross_validate_reports_mean_and_std_and_learns_something(tmp_path):
    cfg = make_config(tmp_path)
    df = synthetic_frame(n=900, seed=7)
    report = cv_folds.cross_validate(df, CvInput.from_config(cfg))
    assert set(report) == {"stratified", "walk_forward"}
    for scheme in report.values():
        assert len(scheme["folds"]) == 3
        auc = scheme["summary"]["lightgbm"]["roc_auc"]
        assert 0.7 < auc["mean"] <= 1.0 and auc["std"] >= 0
        assert np.isclose(auc["mean"], np.mean([f["lightgbm"]["roc_auc"] for f in scheme["folds"]]))


def test_preprocessing_is_refitted_inside_each_fold(tmp_path, monkeypatch):
    cfg = make_config(tmp_path)
    df = synthetic_frame(n=600, seed=8)
    seen_sizes = []
    real = preprocessing.fit_preprocessors

    def spy(train, ft, p, linear_rows=None):
        seen_sizes.append(len(train))
        return real(train, ft, p, linear_rows)

    monkeypatch.setattr(cv_folds, "fit_preprocessors", spy)
    cv_folds.cross_validate(
        df, CvInput.from_config(cfg).model_copy(update={"cv": cfg.cv.model_copy(update={"schemes": ["stratified"]})})
    )
    assert len(seen_sizes) == 3
    assert all(s < len(df) * 2 / 3 for s in seen_sizes)  # never the whole training part


def test_optimistic_random_folds_are_called_out():
    wf = {"summary": {"lightgbm": {"roc_auc": {"mean": 0.88, "std": 0.02}}}}
    strat = {"summary": {"lightgbm": {"roc_auc": {"mean": 0.95, "std": 0.002}}}}
    notes = cv_folds.compare_schemes({"walk_forward": wf, "stratified": strat}, "roc_auc")
    assert len(notes) == 1 and "optimistic" in notes[0]
    close = {"summary": {"lightgbm": {"roc_auc": {"mean": 0.89, "std": 0.002}}}}
    assert cv_folds.compare_schemes({"walk_forward": wf, "stratified": close}, "roc_auc") == []


def test_optimistic_random_folds_are_called_out_for_a_lower_is_better_metric():
    folds = [{}] * 4
    wf = {"folds": folds, "summary": {"lightgbm": {"rmse": {"mean": 92.4, "std": 30.0}}}}
    kfold = {"folds": folds, "summary": {"lightgbm": {"rmse": {"mean": 40.6, "std": 2.0}}}}
    notes = cv_folds.compare_schemes({"walk_forward": wf, "kfold": kfold}, "rmse")
    assert len(notes) == 1 and "kfold folds score rmse 40.6000 against walk-forward 92.4000" in notes[0]
    worse = {"folds": folds, "summary": {"lightgbm": {"rmse": {"mean": 140.0, "std": 2.0}}}}  # random folds worse: no note
    assert cv_folds.compare_schemes({"walk_forward": wf, "kfold": worse}, "rmse") == []


def test_fold_spread_notes_say_relative_for_unbounded_metrics():
    assert cv_folds.spread_text("rmse", 0.12, 0.03) == "std of rmse is 12.0% of its mean, above 3.0%"
    assert cv_folds.spread_text("roc_auc", 0.05, 0.03) == "std of roc_auc is 0.050, above 0.030"


def test_walk_forward_says_when_it_ran_fewer_folds_than_asked(tmp_path):
    df = synthetic_frame(n=400, seed=5)
    cfg = make_config(tmp_path)
    p = cfg.cv.model_copy(update={"schemes": ["walk_forward"], "n_splits": 4, "gap_days": 200})
    report = cv_folds.cross_validate(df, CvInput.from_config(cfg).model_copy(update={"cv": p}))
    assert len(report["walk_forward"]["folds"]) < 4
    assert "of the 4 folds asked for (cv.n_splits): cv.gap_days=200" in report["walk_forward"]["short"]
    never = p.model_copy(update={"gap_days": 10_000})
    with pytest.raises(ConfigError, match="walk_forward ran 0 of the 4 folds"):
        cv_folds.cross_validate(df, CvInput.from_config(cfg).model_copy(update={"cv": never}))


def test_every_fold_fits_its_baseline_on_the_capped_stratified_sample(tmp_path, monkeypatch):
    cfg = make_config(tmp_path)
    df = synthetic_frame(n=900, seed=9)
    tp = cfg.train.model_copy(update={"baseline_max_rows": 150})
    linear_rows = []
    real = preprocessing.fit_preprocessors

    def spy(train, ft, p, linear_rows_arg=None):
        linear_rows.append((len(train), None if linear_rows_arg is None else len(linear_rows_arg)))
        return real(train, ft, p, linear_rows_arg)

    monkeypatch.setattr(cv_folds, "fit_preprocessors", spy)
    report = cv_folds.cross_validate(df, CvInput.from_config(cfg).model_copy(update={"train": tp}))
    folds = [f for scheme in report.values() for f in scheme["folds"]]
    assert len(folds) == len(linear_rows) == 6
    assert all(f["baseline"]["fit_rows"] == 150 for f in folds)  # every fold states its baseline samples
    assert all(f["baseline"]["score_rows"] == 150 for f in folds)  # fold validation parts hold 225 rows here
    assert all(fit > 150 and rows == 150 for fit, rows in linear_rows)  # and its preprocessor saw only that sample


@settings(max_examples=60, deadline=None)
@given(
    days=st.lists(st.integers(0, 60), min_size=30, max_size=200),
    n_splits=st.integers(2, 5),
    window=st.sampled_from(["expanding", "sliding"]),
    gap=st.integers(0, 5),
)
def test_walk_forward_never_trains_on_the_future_through_the_cv_call(days, n_splits, window, gap):
    """Random (unsorted, tied) time columns through fold_indices, what cross_validate calls for every fold."""
    df = pd.DataFrame({"when": pd.Timestamp("2021-01-01") + pd.to_timedelta(days, unit="D"), "label": 0})
    data = DataParams(target="label", time_column="when")
    try:
        folds = cv_folds.fold_indices(
            df, df["label"].to_numpy(), "walk_forward", data, CVParams(n_splits=n_splits, window=window, gap_days=gap)
        )
    except (ConfigError, ValueError):
        return  # too few distinct dates for any fold: refused, never a leaky fold
    for tr, va in folds:
        assert len(tr) and len(va)
        assert df["when"].iloc[tr].max() < df["when"].iloc[va].min() - pd.Timedelta(days=gap)


@pytest.mark.parametrize("scheme,task", [("stratified", "binary"), ("kfold", "regression")])
def test_shuffled_folds_come_from_cv_random_state_alone(scheme, task):
    """Same cv.random_state, same folds (whatever else drew random numbers in between); another seed, other folds."""
    df = synthetic_frame(n=300, seed=1, task=task)
    y = df["label"].to_numpy()
    data = DataParams(target="label", task=task)

    def folds(seed: int, global_seed: int) -> list[list[int]]:
        np.random.seed(global_seed)  # numpy's global state, left as some library left it, must not matter
        return [valid.tolist() for _, valid in cv_folds.fold_indices(df, y, scheme, data, CVParams(random_state=seed))]

    assert folds(3, 0) == folds(3, 1)
    assert folds(3, 0) != folds(4, 0)
