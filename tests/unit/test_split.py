"""Split: no row or entity on both sides, time order respected, deterministic (property tests)."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tasks.core import errors
from tasks.core.config import DataParams, SplitParams
from tasks.data import splitting
from tests.conftest import synthetic_frame


def frames(seed: int, n: int) -> pd.DataFrame:
    return synthetic_frame(n=n, seed=seed)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(60, 400), test_size=st.floats(0.1, 0.5), gap=st.integers(0, 30))
def test_time_split_every_train_time_before_every_test_time_minus_gap(seed, n, test_size, gap):
    df = frames(seed, n)
    data = DataParams(target="label", time_column="when")
    try:
        h = splitting.holdout_split(df, data, SplitParams(test_size=test_size, gap_days=gap))
    except errors.SchemaError:
        return  # a cutoff that leaves one side empty is refused with a message, not split badly
    assert len(np.intersect1d(h.train_idx, h.test_idx)) == 0
    train_t, test_t = df["when"].iloc[h.train_idx], df["when"].iloc[h.test_idx]
    assert train_t.max() < test_t.min() - pd.Timedelta(days=gap)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(60, 400))
def test_group_split_shares_no_entity(seed, n):
    df = frames(seed, n)
    data = DataParams(target="label", id_column="customer")
    h = splitting.holdout_split(df, data, SplitParams(test_size=0.25, random_state=seed))
    assert h.strategy == "group"
    ids_train = set(df["customer"].iloc[h.train_idx])
    ids_test = set(df["customer"].iloc[h.test_idx])
    assert ids_train.isdisjoint(ids_test)
    assert len(h.train_idx) + len(h.test_idx) == n


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(60, 400))
def test_random_split_is_stratified_disjoint_and_complete(seed, n):
    df = frames(seed, n)
    data = DataParams(target="label")
    h = splitting.holdout_split(df, data, SplitParams(test_size=0.3, random_state=seed))
    assert h.strategy == "random"
    assert sorted(np.concatenate([h.train_idx, h.test_idx]).tolist()) == list(range(n))
    rate_all = df["label"].mean()
    rate_test = df["label"].iloc[h.test_idx].mean()
    assert abs(rate_test - rate_all) < 0.1


def test_test_start_date_is_respected():
    df = frames(1, 500)
    data = DataParams(target="label", time_column="when")
    h = splitting.holdout_split(df, data, SplitParams(test_start="2021-06-01"))
    assert (df["when"].iloc[h.test_idx] >= pd.Timestamp("2021-06-01")).all()
    assert (df["when"].iloc[h.train_idx] < pd.Timestamp("2021-06-01")).all()


def test_validation_slice_is_the_latest_training_period():
    df = frames(2, 400)
    fit, valid = splitting.carve_validation(df, DataParams(target="label", time_column="when"), SplitParams(valid_size=0.2))
    assert df["when"].iloc[fit].max() <= df["when"].iloc[valid].min()
    assert len(valid) == 80


def test_training_rows_matches_the_split_and_is_deterministic():
    df = frames(3, 300)
    data, p = DataParams(target="label"), SplitParams(test_size=0.25)
    a, b = splitting.training_rows(df, data, p), splitting.training_rows(df, data, p)
    assert a.index.equals(b.index)
    assert len(a) == len(splitting.holdout_split(df, data, p).train_idx)


def test_fingerprint_ignores_row_order_but_not_content():
    df = frames(4, 100)
    assert splitting.fingerprint_rows(df) == splitting.fingerprint_rows(df.sample(frac=1, random_state=0))
    changed = df.copy()
    changed.loc[0, "x1"] += 1
    assert splitting.fingerprint_rows(df) != splitting.fingerprint_rows(changed)


def test_shared_duplicates_counts_exact_copies():
    df = frames(5, 100)
    test = pd.concat([df.iloc[:3], frames(6, 5)], ignore_index=True)
    assert splitting.shared_duplicates(df, test, list(df.columns)) == 3


def test_row_order_split_holds_out_the_last_rows_and_validates_on_the_latest_training_rows():
    df = frames(7, 200)
    data, p = DataParams(target="label"), SplitParams(strategy="row_order", test_size=0.25, valid_size=0.2)
    h = splitting.holdout_split(df, data, p)
    assert h.strategy == "row_order" and h.test_idx.tolist() == list(range(150, 200))
    assert h.train_idx.tolist() == list(range(150))
    fit, valid = splitting.carve_validation(df.iloc[h.train_idx].reset_index(drop=True), data, p)
    assert valid.tolist() == list(range(120, 150)) and fit.tolist() == list(range(120))


@pytest.mark.parametrize(
    "strategy,data",
    [
        ("random", {"time_column": None}),
        ("group", {"time_column": None, "id_column": "customer"}),
        ("time", {}),
        ("row_order", {"time_column": None}),
    ],
)
def test_the_split_step_writes_three_disjoint_parts_that_cover_the_table(tmp_path, strategy, data):
    """The step, not only the helpers: train, valid and test share no row (nor entity) and together are the table."""
    from tasks import split
    from tasks.core import io
    from tests.conftest import make_config

    cfg = make_config(tmp_path, data=data, split={"strategy": strategy})
    df = synthetic_frame(n=400, seed=5).assign(row=np.arange(400))
    io.write_frame(df, cfg.paths.ingested)
    split.run(cfg)
    parts = {name: io.read_frame(getattr(cfg.paths, name)) for name in ("train", "valid", "test")}
    rows = {name: set(part["row"]) for name, part in parts.items()}
    assert all(rows.values()) and sum(map(len, rows.values())) == len(set().union(*rows.values())) == len(df)
    for name, part in parts.items():  # each part holds the rows it names, unchanged
        pd.testing.assert_frame_equal(
            part.reset_index(drop=True),
            df.set_index("row").loc[part["row"]].reset_index()[list(df.columns)].reset_index(drop=True),
            check_categorical=False,
            obj=name,
        )
    if strategy == "group":
        ids = {name: set(part["customer"]) for name, part in parts.items()}
        assert not (ids["train"] | ids["valid"]) & ids["test"]
