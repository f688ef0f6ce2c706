"""Registry test world: three tiny distinct LightGBM bundles and the records the registry tests register them with."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tasks.core.config import DataParams
from tasks.registry.records import MODEL_ARTIFACT, CandidateRecord
from tests.conftest import tiny_lightgbm_bundle

REPO = Path(__file__).resolve().parents[2]
DATA = DataParams(target="label", task="binary", positive_label="yes", segment_columns=["seg"])


def make_frame(n: int, seed: int) -> pd.DataFrame:
    """Return a small binary table: x1, x2 and seg drive the label, noise does not."""
    rng = np.random.default_rng(seed)
    x1, x2, noise = rng.normal(size=n), rng.normal(size=n), rng.normal(size=n)
    seg = rng.choice(["A", "B"], size=n, p=[0.7, 0.3])
    logit = 1.5 * x1 + np.where(seg == "B", 1.5 * x2, 0.5 * x2)
    y = rng.random(n) < 1 / (1 + np.exp(-logit))
    return pd.DataFrame({"x1": x1, "x2": x2, "noise": noise, "seg": seg, "label": np.where(y, "yes", "no")})


def make_bundle(
    train: pd.DataFrame, dest: Path, numeric: tuple[str, ...], categorical: tuple[str, ...] = (), rounds: int = 20, seed: int = 0
) -> Path:
    """Fit a tiny LightGBM bundle on the named columns and save it to dest."""
    return tiny_lightgbm_bundle(train, dest, numeric, categorical, DATA, rounds, seed=seed)


@pytest.fixture(scope="module")
def bundles(tmp_path_factory) -> dict[str, Path]:
    """Three distinct bundles: a, b, c."""
    root = tmp_path_factory.mktemp("bundles")
    train = make_frame(400, 1)
    return {
        "a": make_bundle(train, root / "a", ("x1",)),
        "b": make_bundle(train, root / "b", ("x1", "x2")),
        "c": make_bundle(train, root / "c", ("x1", "x2"), ("seg",)),
    }


def record_data(status: str = "approved") -> dict:
    """Return the JSON form of the record a gated challenger is registered with (the gate passed unless rejected)."""
    return {"status": status, "decision": {"outcome": "promote" if status != "rejected" else "reject", "failed_rules": []}}


def record(status: str = "approved") -> CandidateRecord:
    """Return the record a gated challenger is registered with (the gate passed unless status is rejected)."""
    return CandidateRecord.model_validate(record_data(status))


def approved_record() -> CandidateRecord:
    """Return the least record of a model that passed the gate: approved, outcome promote."""
    return CandidateRecord.model_validate({"status": "approved", "decision": {"outcome": "promote"}})


def dvc_record(status: str = "approved", md5: str | None = "feed.dir", **fields: object) -> CandidateRecord:
    """Return a record with metrics, a code commit and (unless md5 is None) a `dvc` block, and any other fields."""
    rec = {
        **record_data(status),
        "task": "binary",
        "primary_metric": "roc_auc",
        "git_commit": "c0ffee" * 6 + "c0ff",
        "metrics": {"roc_auc": 0.91, "pr_auc": 0.8, "f1": 0.7, "brier": 0.1, "threshold": 0.3},
        **fields,
    }
    if md5:
        rec["dvc"] = {
            "output": "artifacts/models",
            "path": "artifacts/models/lightgbm",
            "md5": md5,
            "artifact": MODEL_ARTIFACT,
            "revision": None,
        }
    return CandidateRecord.model_validate(rec)
