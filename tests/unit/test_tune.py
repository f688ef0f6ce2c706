"""Tune: Optuna searches on training folds only, within its budget, and records every trial."""

import pytest

from tasks.core import io
from tasks.core.config import TuneParams
from tasks.core.errors import TuneBudgetExceeded
from tasks.core.reports import read_report
from tasks.core.step_inputs import CvInput
from tasks.modelling import tuning as tune
from tasks.modelling.reports import TuningReport
from tests.conftest import make_config, synthetic_frame


def test_tuning_uses_only_training_rows_and_respects_the_trial_budget(tmp_path, monkeypatch):
    cfg = make_config(tmp_path, train={"tune": TuneParams(enabled=True, n_trials=4).model_dump()})
    train = synthetic_frame(n=500, seed=21)
    seen = []
    real = tune.fold_score

    def spy(fold_train, fold_valid, *args):
        seen.append(set(fold_train.index) | set(fold_valid.index))
        return real(fold_train, fold_valid, *args)

    monkeypatch.setattr(tune, "fold_score", spy)
    best, table = tune.tune_lightgbm(train, CvInput.from_config(cfg))
    assert len(table["trials"]) == 4
    assert all(rows <= set(train.index) for rows in seen)
    assert table["trials"][0]["num_leaves"] == cfg.train.lightgbm.num_leaves  # trial 0 = params.yaml values
    assert 7 <= best.num_leaves <= 255 and 0.02 <= best.learning_rate <= 0.2
    finished = [t["value"] for t in table["trials"] if t["state"] == "COMPLETE"]
    assert table["best_value"] == max(finished)


def test_train_step_records_tuning_and_uses_the_best_params(tmp_path):
    from tasks import preprocess, split, train

    cfg = make_config(tmp_path, train={"tune": TuneParams(enabled=True, n_trials=3).model_dump()})
    io.write_frame(synthetic_frame(n=700, seed=22), cfg.paths.ingested)
    split.run(cfg)
    preprocess.run(cfg)
    report = train.run(cfg)
    tuning = io.read_json(cfg.paths.reports_dir / "tuning.json")
    assert report.tuned and len(tuning["trials"]) == 3 == tuning["n_trials"]
    assert "seconds" not in tuning  # a DVC output: wall time would change dvc.lock between identical runs
    chosen = tuning["trials"][tuning["chosen_trial"]]
    assert tuning["chosen_trial"] == (0 if tuning["kept_defaults"] else tuning["best_trial"])
    assert report.lightgbm_params["num_leaves"] == chosen["num_leaves"]
    typed = read_report(TuningReport, cfg.paths.reports_dir / "tuning.json")
    assert report.tuning is not None and report.tuning.chosen_trial == typed.chosen_trial == tuning["chosen_trial"]
    assert typed.trials is not None and typed.trials[typed.chosen_trial].params()["num_leaves"] == chosen["num_leaves"]


def test_trial_zero_is_the_configured_lightgbm_exactly(tmp_path):
    cfg = make_config(
        tmp_path,
        train={"lightgbm": {"n_estimators": 40, "reg_lambda": 0.0, "num_leaves": 31}, "tune": {"enabled": True, "n_trials": 2}},
    )
    _, table = tune.tune_lightgbm(synthetic_frame(n=400, seed=23), CvInput.from_config(cfg))
    first = table["trials"][0]
    assert first["reg_lambda"] == 0.0 and first["num_leaves"] == 31 and first["learning_rate"] == 0.1
    assert len(first["folds"]) == table["folds"] and first["value"] == pytest.approx(sum(first["folds"]) / table["folds"])


def test_defaults_are_kept_unless_the_gain_is_beyond_noise():
    assert tune.keep_defaults([0.80, 0.82, 0.81], [0.81, 0.81, 0.82], True, 1.0)  # +0.003 +- 0.006: noise
    assert not tune.keep_defaults([0.80, 0.82, 0.81], [0.81, 0.83, 0.82], True, 1.0)  # +0.01 on every fold
    assert not tune.keep_defaults([1.0, 2.0, 3.0], [0.9, 1.8, 2.9], False, 1.0)  # lower is better (rmse)
    assert tune.keep_defaults([1.0, 2.0, 3.0], [1.1, 2.1, 3.1], False, 0.0)  # worse is never taken


def test_trials_are_counted_not_timed(tmp_path, monkeypatch):
    """A slow machine (the clock jumps an hour per reading) runs the same trials to the same result; a safety cap
    that is passed fails loudly instead of cutting the search short."""
    cfg = make_config(tmp_path, train={"lightgbm": {"n_estimators": 30}, "tune": {"enabled": True, "n_trials": 3}})
    df = synthetic_frame(n=400, seed=24)
    args = (df, CvInput.from_config(cfg))
    best_quiet, quiet = tune.tune_lightgbm(*args)
    clock = iter(range(0, 10**9, 3600))
    monkeypatch.setattr(tune.time, "perf_counter", lambda: float(next(clock)))
    best_busy, busy = tune.tune_lightgbm(*args)
    assert best_busy == best_quiet and busy["n_trials"] == quiet["n_trials"] == 3
    assert [t["value"] for t in busy["trials"]] == [t["value"] for t in quiet["trials"]]
    capped = cfg.train.model_copy(update={"tune": cfg.train.tune.model_copy(update={"timeout_seconds": 60})})
    with pytest.raises(TuneBudgetExceeded, match="train.tune.timeout_seconds"):
        tune.tune_lightgbm(df, CvInput.from_config(cfg).model_copy(update={"train": capped}))


def capture_optimize(monkeypatch) -> list[dict]:
    """Record the keyword arguments of every Study.optimize call (and run it as asked)."""
    import optuna

    calls: list[dict] = []
    real = optuna.Study.optimize

    def spy(self, func, *args, **kwargs):
        calls.append({"args": args, **kwargs})
        return real(self, func, *args, **kwargs)

    monkeypatch.setattr(optuna.Study, "optimize", spy)
    return calls


def assert_counted_not_timed(calls: list[dict], n_trials: int) -> None:
    assert len(calls) == 1
    call = calls[0]
    assert call.get("timeout") is None, f"optuna was handed a wall-clock limit: timeout={call.get('timeout')}"
    assert len(call["args"]) < 2, "timeout passed positionally"  # optimize(func, n_trials, timeout, ...)
    assert (call["args"][0] if call["args"] else call["n_trials"]) == n_trials


@pytest.mark.parametrize("cap", [None, 3600])
def test_optuna_never_receives_a_wall_clock_limit_at_the_tuning_call(tmp_path, monkeypatch, cap):
    """Even with the safety cap set, optuna's timeout= stays None: the cap fails loudly, it never cuts trials."""
    cfg = make_config(
        tmp_path, train={"lightgbm": {"n_estimators": 20}, "tune": {"enabled": True, "n_trials": 2, "timeout_seconds": cap}}
    )
    calls = capture_optimize(monkeypatch)
    _, table = tune.tune_lightgbm(synthetic_frame(n=300, seed=25), CvInput.from_config(cfg))
    assert_counted_not_timed(calls, 2)
    assert table["n_trials"] == 2


def test_the_train_step_tunes_by_trial_count_only(tmp_path, monkeypatch):
    from tasks import preprocess, split, train

    cfg = make_config(
        tmp_path, train={"lightgbm": {"n_estimators": 20}, "tune": {"enabled": True, "n_trials": 2, "timeout_seconds": 3600}}
    )
    io.write_frame(synthetic_frame(n=500, seed=26), cfg.paths.ingested)
    split.run(cfg)
    preprocess.run(cfg)
    calls = capture_optimize(monkeypatch)
    train.run(cfg)
    assert_counted_not_timed(calls, 2)
    assert len(io.read_json(cfg.paths.reports_dir / "tuning.json")["trials"]) == 2
