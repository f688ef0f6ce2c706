"""CV: cross-validation on the training part; preprocessing and models are refitted inside every fold.

Schemes: stratified k-fold (k-fold for regression), walk-forward by time (expanding or sliding
window, optional gap), and group k-fold by entity. The test set is never read here.
"""

from __future__ import annotations

import logging

import pandas as pd

from tasks.core import io
from tasks.core.config import Config
from tasks.core.entry import step_main
from tasks.core.metrics import primary_metric
from tasks.core.reports import CvReport, build_report, write_report
from tasks.core.step_inputs import CvInput
from tasks.modelling.folds import compare_schemes, cross_validate

STEP_VERSION = "1"
log = logging.getLogger(__name__)


def run(cfg: Config) -> CvReport:
    """Cross-validate on train + valid (the training part) and write reports/cv.json."""
    df = pd.concat([io.read_frame(cfg.paths.train), io.read_frame(cfg.paths.valid)], ignore_index=True)
    schemes = cross_validate(df, CvInput.from_config(cfg))
    notes = compare_schemes(schemes, primary_metric(cfg.data.task))
    for note in notes:
        log.warning("cv: %s", note)
    report = build_report(
        CvReport,
        {
            "step_version": STEP_VERSION,
            "rows": int(len(df)),
            "n_splits": cfg.cv.n_splits,
            "baseline_max_rows": cfg.train.baseline_max_rows,
            "schemes": schemes,
            "notes": notes,
            "compute": {"engine": cfg.compute.engine},
        },
    )  # where the folds ran (local or dask: the same numbers)
    write_report(report, cfg.paths.reports_dir / "cv.json")
    return report


if __name__ == "__main__":
    from tasks import cv  # this module under its real name (loggers say tasks.cv)

    step_main("cv", cv.run, __doc__)
