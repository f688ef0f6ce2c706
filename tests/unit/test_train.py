"""Train: baselines and LightGBM fit for every task type; bundles reload identically and refuse tampering."""

import numpy as np
import pytest

from tasks import preprocess, split, train
from tasks.core import io
from tasks.core.config import TrainParams
from tasks.core.errors import ModelIntegrityError
from tasks.modelling import bundle, estimators
from tasks.modelling.bundle import load_bundle
from tests.conftest import make_config, synthetic_frame


def prepare(tmp_path, task="binary", n=900):
    cfg = make_config(tmp_path, task=task)
    io.write_frame(synthetic_frame(n=n, seed=11, task=task), cfg.paths.ingested)
    split.run(cfg)
    preprocess.run(cfg)
    return cfg


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_train_fits_all_models_and_lightgbm_beats_dummy(tmp_path, task):
    cfg = prepare(tmp_path, task)
    report = train.run(cfg)
    vm = report.validation_metrics
    if task == "regression":
        assert vm["lightgbm"].rmse < vm["dummy"].rmse
    elif task == "binary":
        assert vm["lightgbm"].roc_auc > 0.75 > vm["dummy"].roc_auc
        assert 0 < report.thresholds["lightgbm"] < 1
    else:
        assert vm["lightgbm"].log_loss < vm["dummy"].log_loss
    for name in bundle.MODEL_NAMES:
        assert (cfg.paths.models_dir / name / "meta.json").exists()


def test_bundle_round_trip_gives_identical_scores(tmp_path):
    cfg = prepare(tmp_path)
    train.run(cfg)
    valid = io.read_frame(cfg.paths.valid)
    a = load_bundle(cfg.paths.models_dir / "lightgbm").predict_scores(valid)
    b = load_bundle(cfg.paths.models_dir / "lightgbm").predict_scores(valid)
    assert np.array_equal(a, b) and a.min() >= 0 and a.max() <= 1


def test_training_is_reproducible(tmp_path):
    cfg = prepare(tmp_path)
    train.run(cfg)
    first = (cfg.paths.models_dir / "lightgbm" / "model.txt").read_bytes()
    train.run(cfg)
    assert (cfg.paths.models_dir / "lightgbm" / "model.txt").read_bytes() == first


def test_tampered_model_file_is_refused(tmp_path):
    cfg = prepare(tmp_path)
    train.run(cfg)
    model_txt = cfg.paths.models_dir / "lightgbm" / "model.txt"
    model_txt.write_text(model_txt.read_text().replace("learning_rate", "learning_rate ", 1))
    with pytest.raises(ModelIntegrityError, match="checksum mismatch"):
        load_bundle(cfg.paths.models_dir / "lightgbm")


def test_class_weight_auto_balances_only_imbalanced_labels():
    p = TrainParams(class_weight="auto")  # the default is none: weights only when asked
    assert estimators.resolve_class_weight(np.array([0] * 90 + [1] * 10), "binary", p) == "balanced"
    assert estimators.resolve_class_weight(np.array([0] * 60 + [1] * 40), "binary", p) is None
    assert (
        estimators.resolve_class_weight(np.array([0] * 60 + [1] * 40), "binary", TrainParams(class_weight="balanced"))
        == "balanced"
    )
