"""Entry: the command line every step module shares (what dvc.yaml calls), and logging set-up."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any, Callable

from tasks.config import Config, ConfigError, load_config

EXIT_CONFIG = 2
EXIT_INPUT = 3


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
    """Parse --params, run one step, and exit non-zero with a one-paragraph message on bad input."""
    parser = argparse.ArgumentParser(prog=f"python -m tasks.{name}", description=(doc or "").strip())
    parser.add_argument("--params", default=None, help="params.yaml to read (default: ./params.yaml or $TABGATE_PARAMS)")
    args = parser.parse_args(argv)
    setup_logging()
    import importlib

    from tasks.errors import USER_ERRORS

    # Under `python -m tasks.<name>` the module is __main__; use it under its real name so that
    # loggers and anything saved from it (skops records function paths) say tasks.<name>.
    run = importlib.import_module(f"tasks.{name}").run
    try:
        run(load_config(args.params))
    except ConfigError as err:
        logging.getLogger(f"tasks.{name}").error("%s", err)
        sys.exit(EXIT_CONFIG)
    except USER_ERRORS as err:
        logging.getLogger(f"tasks.{name}").error("%s failed: %s", name, err)
        sys.exit(EXIT_INPUT)
