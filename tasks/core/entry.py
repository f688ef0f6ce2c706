"""Entry: the command line every step module shares (what dvc.yaml calls), and logging set-up."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable
from typing import Any

from tasks.core.config import Config, load_config
from tasks.core.errors import ConfigError, TabgateError


def setup_logging(level: str | None = None) -> None:
    """Log to stderr with time, level and step, once per process."""
    root = logging.getLogger()
    if any(getattr(h, "_tabgate", False) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S"))
    handler._tabgate = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level or os.environ.get("TABGATE_LOG_LEVEL", "INFO"))
    for noisy in ("matplotlib", "great_expectations", "PIL", "numba", "shap", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def step_main(name: str, run: Callable[[Config], Any], doc: str | None, argv: list[str] | None = None) -> None:
    """Parse --params, run one step, and exit with the error's exit code and a one-paragraph message on bad input.

    Call it from a step's `if __name__ == "__main__":` block with the step imported under its real name
    (`from tasks import split; step_main("split", split.run, __doc__)`), so its loggers say tasks.<name>.
    """
    parser = argparse.ArgumentParser(prog=f"python -m tasks.{name}", description=(doc or "").strip())
    parser.add_argument("--params", default=None, help="params.yaml to read (default: ./params.yaml or $TABGATE_PARAMS)")
    args = parser.parse_args(argv)
    setup_logging()
    exit_on_error(f"tasks.{name}", name, lambda: run(load_config(args.params)))


def exit_on_error(logger: str, what: str, action: Callable[[], Any]) -> Any:
    """Return action(); on a TabgateError that is not a bug, log its message and exit with its exit code."""
    try:
        return action()
    except TabgateError as err:
        if err.exit_code == 1:
            raise
        if isinstance(err, ConfigError):
            logging.getLogger(logger).error("%s", err)
        else:
            logging.getLogger(logger).error("%s failed: %s", what, err)
        sys.exit(err.exit_code)
