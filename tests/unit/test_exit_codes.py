"""Exit codes: every tabgate error maps to its documented exit code, on the command line and in `python -m tasks.X`,
with a one-paragraph message (no traceback) that names what to fix; a bug (exit 1) keeps its traceback.

Codes (tasks/core/errors.py): 1 unexpected, 2 configuration, 3 input data, 4 registry / model files, 5 lock or server.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import pytest

from flows.cli import build_parser, dispatch
from tasks.core import errors
from tasks.core.entry import exit_on_error

DOCUMENTED = {
    errors.ConfigError: 2,
    errors.UnsafeParameter: 2,
    errors.TuneBudgetExceeded: 2,
    errors.InputError: 3,
    errors.SchemaError: 3,
    errors.ValidationFailed: 3,
    errors.ModelIntegrityError: 4,
    errors.PromotionError: 4,
    errors.RunLocked: 5,
    errors.ServerRequired: 5,
    errors.ComputeError: 1,
    errors.DvcError: 1,
}


def every_error_class(base: type = errors.TabgateError) -> set[type]:
    found = set()
    for sub in base.__subclasses__():
        if sub.__module__ == errors.__name__:
            found |= {sub} | every_error_class(sub)
    return found


def test_every_error_class_has_its_documented_exit_code():
    assert every_error_class() == set(DOCUMENTED), "a new error class: give it a code here and in errors.py's docstring"
    assert {cls: cls.exit_code for cls in DOCUMENTED} == DOCUMENTED


@pytest.mark.parametrize("cls", sorted(DOCUMENTED, key=lambda c: c.__name__), ids=lambda c: c.__name__)
def test_the_cli_exits_with_the_code_and_logs_the_message_without_a_traceback(cls, caplog):
    def fail(_args):
        raise cls("params.yaml: data.target: the column 'y' is not in the table")

    args = argparse.Namespace(func=fail)
    if DOCUMENTED[cls] == 1:  # a bug or an unreachable service: the traceback is kept
        with pytest.raises(cls):
            dispatch(args)
        return
    with caplog.at_level(logging.ERROR):
        assert dispatch(args) == DOCUMENTED[cls]
    [record] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert record.getMessage() == "params.yaml: data.target: the column 'y' is not in the table"
    assert record.exc_info is None


@pytest.mark.parametrize("cls", sorted(DOCUMENTED, key=lambda c: c.__name__), ids=lambda c: c.__name__)
def test_a_step_run_as_a_module_exits_with_the_same_code(cls):
    def fail():
        raise cls("the message")

    if DOCUMENTED[cls] == 1:
        with pytest.raises(cls):
            exit_on_error("tasks.x", "x", fail)
        return
    with pytest.raises(SystemExit) as exited:
        exit_on_error("tasks.x", "x", fail)
    assert exited.value.code == DOCUMENTED[cls]


def test_interrupted_exits_130():
    def interrupted(_args):
        raise KeyboardInterrupt

    assert dispatch(argparse.Namespace(func=interrupted)) == 130


# ---------------------------------------------------------------- the real commands, one per code


@pytest.fixture
def project(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.delenv("TABGATE_PARAMS", raising=False)
    (tmp_path / "params.yaml").write_text("data:\n  target: y\ningest:\n  source: t.csv\n")
    return tmp_path


def tabgate(*argv: str) -> int:
    return dispatch(build_parser().parse_args(list(argv)))


def errors_logged(caplog) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)


def test_a_misspelt_params_key_exits_2_naming_the_key_the_file_and_the_reference(project, caplog):
    (project / "bad.yaml").write_text("data:\n  target: y\n  targte: z\ningest:\n  source: t.csv\n")
    assert tabgate("--params", "bad.yaml", "models", "list") == 2
    assert "bad.yaml" in errors_logged(caplog) and "data.targte: unknown key" in errors_logged(caplog)
    assert "docs/configuration.md" in errors_logged(caplog)


def test_a_missing_input_file_exits_3_naming_it(project, caplog):
    assert tabgate("validate", "nothere.csv") == 3
    assert "nothere.csv" in errors_logged(caplog)


def test_an_unknown_model_version_exits_4_naming_it_and_the_registry(project, caplog):
    assert tabgate("models", "promote", "v9999-deadbeef", "--reason", "test") == 4
    assert "'v9999-deadbeef'" in errors_logged(caplog) and "registry" in errors_logged(caplog)


def test_scoring_without_a_production_model_exits_4_saying_what_to_run(project, caplog):
    (project / "batch.csv").write_text("x\n1\n")
    assert tabgate("score", "batch.csv", "out.csv") == 4
    assert "no production model" in errors_logged(caplog) and not (project / "out.csv").exists()


def test_serve_without_a_prefect_server_exits_5_saying_how_to_start_one(project, caplog):
    assert tabgate("serve") == 5
    assert "prefect server start" in errors_logged(caplog) and "PREFECT_API_URL" in errors_logged(caplog)


class _Finished:
    """A Prefect task state stand-in whose result() raises what the step raised."""

    def __init__(self, err: BaseException | None):
        self.err = err

    def result(self):
        if self.err is not None:
            raise self.err


BAD_INPUT = {
    errors.ConfigError,
    errors.UnsafeParameter,
    errors.TuneBudgetExceeded,
    errors.InputError,
    errors.SchemaError,
    errors.ValidationFailed,
    errors.ModelIntegrityError,
    errors.PromotionError,
}


@pytest.mark.parametrize("step", ["ingest", "promote"])
def test_flow_steps_retry_outages_and_bugs_but_never_bad_input(step):
    """A retry of bad input (exit 2-4) fails the same way; a lock held, a server away or a bug may pass next time."""
    from flows.training import step_task

    should_retry = step_task(step).retry_condition_fn
    assert step_task(step).retries > 0  # the world is what the test claims: this step does retry
    for cls in sorted(every_error_class(), key=lambda c: c.__name__):
        assert should_retry(None, None, _Finished(cls("from the step"))) is (cls not in BAD_INPUT), cls.__name__
    assert should_retry(None, None, _Finished(OSError("network blip"))) is True
    assert should_retry(None, None, _Finished(None)) is False
