"""Shared test helpers: tiny synthetic tables, configs rooted in a temp folder, the shared-data skip."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")

from tasks.core.config import Config, parse_config  # noqa: E402

# Fixtures for external programs (tests/support): postgres_server, chromium, webdriver (chromedriver).
pytest_plugins = ("tests.support.postgres", "tests.support.browser")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
needs_shared = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=f"{SHARED_DATA} is absent (CI has it)")


def synthetic_frame(n: int = 600, seed: int = 0, task: str = "binary") -> pd.DataFrame:
    """Return a small table with numeric, categorical, time and id columns and a learnable label."""
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    x2 = rng.uniform(0, 10, size=n)
    colour = rng.choice(["red", "green", "blue"], size=n, p=[0.5, 0.3, 0.2])
    logit = 1.5 * x1 - 0.3 * (x2 - 5) + np.where(colour == "red", 1.0, -0.5)
    df = pd.DataFrame(
        {
            "customer": rng.integers(0, n // 3, size=n),
            "when": pd.Timestamp("2020-01-01") + pd.to_timedelta(np.sort(rng.integers(0, 730, size=n)), unit="D"),
            "x1": x1,
            "x2": x2,
            "colour": pd.Categorical(colour),
            "city": pd.Categorical(rng.choice(["a", "b", "c", "d"], size=n)),
        }
    )
    df.loc[rng.choice(n, size=n // 20, replace=False), "x2"] = np.nan
    if task == "regression":
        df["label"] = 3 * x1 + x2 + rng.normal(scale=0.5, size=n)
    elif task == "multiclass":
        df["label"] = np.digitize(logit + rng.logistic(size=n), [-1.0, 1.0])
    else:
        df["label"] = (logit + rng.logistic(size=n) > 0).astype(int)
    return df


def make_config(root: Path, task: str = "binary", **sections) -> Config:
    """Return a Config whose paths all live under root; sections override the defaults."""
    raw = {
        "paths": {
            "data_dir": str(root / "data"),
            "ingested": str(root / "artifacts/ingested.parquet"),
            "train": str(root / "artifacts/split/train.parquet"),
            "valid": str(root / "artifacts/split/valid.parquet"),
            "test": str(root / "artifacts/split/test.parquet"),
            "preprocess_dir": str(root / "artifacts/preprocess"),
            "models_dir": str(root / "artifacts/models"),
            "scored_test": str(root / "artifacts/evaluate/test_scored.parquet"),
            "reports_dir": str(root / "reports"),
            "gx_dir": str(root / "gx"),
            "registry_dir": str(root / "registry"),
        },
        "data": {"target": "label", "task": task, "time_column": "when", "id_column": None, "segment_columns": ["colour"]},
        "ingest": {"source": str(root / "source.csv")},
        "validate": {"min_rows": 10},
        "cv": {"n_splits": 3},
        "train": {"lightgbm": {"n_estimators": 60, "learning_rate": 0.1, "num_leaves": 7, "early_stopping_rounds": 10}},
        "evaluate": {"bootstrap_samples": 20, "segment_min_rows": 10},
        "explain": {"sample_size": 100, "max_errors": 50, "slice_min_support": 10},
        "promote": {"thresholds": {} if task == "regression" else {"roc_auc": 0.6}, "bootstrap_samples": 20},
    }
    for name, values in sections.items():
        raw[name] = {**raw.get(name, {}), **values}
    return parse_config(raw)


@pytest.fixture
def frame() -> pd.DataFrame:
    """A 600-row synthetic binary table."""
    return synthetic_frame()


def tiny_lightgbm_bundle(
    train: pd.DataFrame,
    dest: Path,
    numeric: tuple[str, ...],
    categorical: tuple[str, ...],
    data,
    rounds: int,
    seed: int = 0,
    min_data_in_leaf: int = 5,
    threshold: float = 0.5,
) -> Path:
    """Fit a tiny deterministic LightGBM bundle (binary) on the named columns of train and save it to dest."""
    import lightgbm as lgb

    from tasks.core.config import PreprocessParams
    from tasks.core.schema import FeatureTypes, encode_target, label_classes
    from tasks.modelling.bundle import ModelBundle, save_bundle
    from tasks.modelling.preprocessing import build_tree_preprocessor

    ft = FeatureTypes(numeric, categorical)
    pre = build_tree_preprocessor(ft, PreprocessParams(min_category_frequency=1)).fit(train[ft.all])
    classes = label_classes(train[data.target], data)
    y = encode_target(train[data.target], classes, data)
    params = {
        "objective": "binary",
        "num_leaves": 7,
        "learning_rate": 0.1,
        "verbose": -1,
        "seed": seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": 1,
        "min_data_in_leaf": min_data_in_leaf,
    }
    booster = lgb.train(params, lgb.Dataset(pre.transform(train[ft.all]), y), num_boost_round=rounds)
    meta = {
        "task": "binary",
        "target": data.target,
        "classes": classes,
        "positive_label": classes[-1],
        "features": ft.all,
        "numeric": list(numeric),
        "categorical": list(categorical),
        "input_schema": {c: "numeric" if c in numeric else "categorical" for c in ft.all},
        "threshold": threshold,
    }
    save_bundle(ModelBundle("lightgbm", pre, booster, meta), dest)
    return dest


def scoring_frame(n: int, seed: int) -> pd.DataFrame:
    """Return a small binary table with a text category and a numeric-coded category (agent)."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    hotel = rng.choice(["City", "Resort"], size=n)
    agent = rng.choice([9.0, 240.0, np.nan], size=n)
    y = rng.random(n) < 1 / (1 + np.exp(-(2 * x1 + x2 + (hotel == "City"))))
    return pd.DataFrame(
        {
            "booking_id": np.arange(1000, 1000 + n),
            "x1": x1,
            "x2": x2,
            "hotel": hotel,
            "agent": agent,
            "label": np.where(y, "yes", "no"),
        }
    )
