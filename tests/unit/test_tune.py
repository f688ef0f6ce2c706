"""Tune: Optuna searches on training folds only, within its budget, and records every trial."""


from tasks.core import io
from tasks.core.config import TuneParams
from tasks.modelling import tuning as tune
from tests.conftest import make_config, synthetic_frame


def test_tuning_uses_only_training_rows_and_respects_the_trial_budget(tmp_path, monkeypatch):
    cfg = make_config(tmp_path, train={"tune": TuneParams(enabled=True, n_trials=4, timeout_seconds=60).model_dump()})
    train = synthetic_frame(n=500, seed=21)
    seen = []
    real = tune.fold_score

    def spy(fold_train, fold_valid, *args):
        seen.append(set(fold_train.index) | set(fold_valid.index))
        return real(fold_train, fold_valid, *args)

    monkeypatch.setattr(tune, "fold_score", spy)
    best, table = tune.tune_lightgbm(train, cfg.data, cfg.train, cfg.cv, cfg.preprocess, cfg.split)
    assert len(table["trials"]) == 4
    assert all(rows <= set(train.index) for rows in seen)
    assert table["trials"][0]["num_leaves"] == cfg.train.lightgbm.num_leaves  # trial 0 = params.yaml values
    assert 7 <= best.num_leaves <= 255 and 0.02 <= best.learning_rate <= 0.2
    finished = [t["value"] for t in table["trials"] if t["state"] == "COMPLETE"]
    assert table["best_value"] == max(finished)


def test_train_step_records_tuning_and_uses_the_best_params(tmp_path):
    from tasks import preprocess, split, train

    cfg = make_config(tmp_path, train={"tune": TuneParams(enabled=True, n_trials=3, timeout_seconds=60).model_dump()})
    io.write_frame(synthetic_frame(n=700, seed=22), cfg.paths.ingested)
    split.run(cfg)
    preprocess.run(cfg)
    report = train.run(cfg)
    tuning = io.read_json(cfg.paths.reports_dir / "tuning.json")
    assert report["tuned"] and len(tuning["trials"]) == 3
    assert report["lightgbm_params"]["num_leaves"] == tuning["best_params"]["num_leaves"]
