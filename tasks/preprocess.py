"""Preprocess: scikit-learn ColumnTransformers fitted on training rows only, applied unchanged elsewhere."""

from __future__ import annotations

import logging

from tasks.core import io
from tasks.core.config import Config
from tasks.core.entry import step_main
from tasks.core.reports import PreprocessReport, build_report, write_report
from tasks.core.sampling import linear_fit_rows
from tasks.core.schema import infer_feature_types
from tasks.modelling.bundle import save_preprocessor
from tasks.modelling.integrity import write_manifest
from tasks.modelling.preprocessing import (
    CategoryCoder,  # noqa: F401  (model files saved before the library move name tasks.preprocess.CategoryCoder)
    fit_preprocessors,
    summarize_preprocessor,
)

STEP_VERSION = "1"
log = logging.getLogger(__name__)


def run(cfg: Config) -> PreprocessReport:
    """Fit the preprocessors on the train split and save them with a summary report."""
    train = io.read_frame(cfg.paths.train)
    ft = infer_feature_types(train, cfg.data)
    linear_rows = linear_fit_rows(train[cfg.data.target], cfg.data, cfg.train)
    fitted = fit_preprocessors(train, ft, cfg.preprocess, linear_rows)
    out_dir = cfg.paths.preprocess_dir
    with io.atomic_dir(out_dir) as tmp:
        for kind, pre in fitted.items():
            save_preprocessor(pre, tmp / f"{kind}.skops")
        io.write_json({"numeric": list(ft.numeric), "categorical": list(ft.categorical)}, tmp / "features.json")
        write_manifest(tmp, step="preprocess")  # sha256 of every file; train loads nothing that differs
    report = build_report(
        PreprocessReport,
        {
            "step_version": STEP_VERSION,
            "train_rows": int(len(train)),
            "linear_fit_rows": int(len(train) if linear_rows is None else len(linear_rows)),
            "linear": summarize_preprocessor(fitted["linear"], ft),
            "tree_output_features": list(fitted["tree"].get_feature_names_out()),
        },
    )
    write_report(report, cfg.paths.reports_dir / "preprocess.json")
    log.info(
        "preprocess: fitted on %d training rows, %d numeric and %d categorical features",
        len(train),
        len(ft.numeric),
        len(ft.categorical),
    )
    return report


if __name__ == "__main__":
    from tasks import (
        preprocess,  # this module under its real name (loggers say tasks.preprocess)
    )

    step_main("preprocess", preprocess.run, __doc__)
