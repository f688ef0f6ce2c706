"""Errors: one base exception for tabgate; each subclass carries the exit code the CLI and `python -m` use.

Exit codes: 1 unexpected (a bug or an unreachable service: the traceback is kept), 2 bad configuration or tuning past its safety cap
(the message names the params.yaml key), 3 bad input data or a failed data gate (the column, the rule,
the file to open), 4 the model registry or a model file refused the request, 5 another run holds the
project lock (or a server that is needed is not there).
"""

from __future__ import annotations


class TabgateError(Exception):
    """Base of every tabgate exception; `exit_code` is what the command line exits with."""

    exit_code = 1
    user_error = False  # True: fix the input and run again; a retry would fail the same way


class ConfigError(TabgateError, ValueError):
    """params.yaml is missing, malformed, or a value is out of range; the message names the key."""

    exit_code = 2
    user_error = True


class UnsafeParameter(TabgateError, ValueError):
    """A run parameter (typed in the Prefect UI or a CLI flag) names a path the run must not touch; the message says
    which parameter and why. A configuration error (exit code 2): nothing was written."""

    exit_code = 2
    user_error = True


class TuneBudgetExceeded(TabgateError, RuntimeError):
    """Tuning ran past train.tune.timeout_seconds, the safety cap: raise the cap or lower train.tune.n_trials.

    A configuration problem (exit code 2, not retried): the budget is train.tune.n_trials; the cap only guards it.
    """

    exit_code = 2
    user_error = True


class InputError(TabgateError, ValueError):
    """An input file is missing, unreadable, or not a table of the expected shape."""

    exit_code = 3
    user_error = True


class SchemaError(TabgateError, ValueError):
    """The data does not have the columns or label values the configuration names."""

    exit_code = 3
    user_error = True


class ValidationFailed(TabgateError, ValueError):
    """The data broke an error-severity expectation or the leakage screen; see the named report."""

    exit_code = 3
    user_error = True


class ModelIntegrityError(TabgateError, ValueError):
    """A model file is missing, was changed after it was recorded, or holds untrusted types; the message names the file."""

    exit_code = 4
    user_error = True


class PromotionError(TabgateError, ValueError):
    """A registry or promotion request cannot be carried out as asked."""

    exit_code = 4
    user_error = True


class RunLocked(TabgateError, RuntimeError):
    """Another run holds the project lock and did not release it within the timeout."""

    exit_code = 5


class ServerRequired(TabgateError, RuntimeError):
    """Serving needs a long-running Prefect server; PREFECT_API_URL is not set."""

    exit_code = 5


class ComputeError(TabgateError, RuntimeError):
    """compute.engine is dask but Dask is not installed, or the scheduler cannot be reached."""


class DvcError(TabgateError, RuntimeError):
    """A dvc command failed; its output is in the message."""


def is_user_error(err: BaseException) -> bool:
    """Return True for bad input or configuration (fix and re-run), False for bugs and outages (retry may help)."""
    return isinstance(err, TabgateError) and err.user_error
