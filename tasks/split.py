"""Split: hold out the test set before anything else looks at the data, then carve a validation slice.

By time when data.time_column is set (the most recent period is the test set, after an optional
gap), by entity when data.id_column repeats (no id on both sides), else stratified at random.
reports/split.json also says whether the test set is like the training part (tasks/quality/shift.py):
label shift, feature drift, adversarial validation, new categories, rows and entities on both sides;
above the split.* thresholds each is a warning listed under `suspects`.
"""

from __future__ import annotations

import logging
import time

import pandas as pd

from tasks.core import io
from tasks.core.config import Config
from tasks.core.entry import step_main
from tasks.core.reports import SplitReport, build_report, write_report
from tasks.data.splitting import (
    describe_part,
    fingerprint_rows,
    labelled_rows,
    part_positions,
    shared_hashes,
)
from tasks.quality.findings import check_named_columns, finding_line
from tasks.quality.shift import compare_train_test

STEP_VERSION = "2"
log = logging.getLogger(__name__)


def run(cfg: Config) -> SplitReport:
    """Hold out the test set, carve the validation slice, write the three parts and the split report.

    One part is in memory at a time beside the table (peak about twice the table, not four times).
    """
    df = labelled_rows(io.read_frame(cfg.paths.ingested), cfg.data)
    check_named_columns([str(c) for c in df.columns], dict(cfg.split.expected_shift), "split.expected_shift")
    holdout, positions = part_positions(df, cfg.data, cfg.split)
    paths = {"train": cfg.paths.train, "valid": cfg.paths.valid, "test": cfg.paths.test}
    described, fingerprint = {}, ""
    for name, rows in positions.items():
        part = df.iloc[rows].reset_index(drop=True)
        io.write_frame(part, paths[name])
        described[name] = describe_part(part, cfg.data)
        if name == "test":
            fingerprint = fingerprint_rows(part)
        del part
    features = [c for c in df.columns if c != cfg.data.target]
    hashes = pd.util.hash_pandas_object(df[features], index=False).to_numpy()
    data: dict = {
        "step_version": STEP_VERSION,
        "strategy": holdout.strategy,
        "detail": holdout.detail,
        **described,
        "test_fingerprint": fingerprint,
        "duplicate_rows_shared_train_test": shared_hashes(hashes[holdout.train_idx], hashes[holdout.test_idx]),
    }
    if cfg.data.id_column:
        ids = df[cfg.data.id_column]
        data["ids_shared_train_test"] = int(len(set(ids.iloc[holdout.train_idx]) & set(ids.iloc[holdout.test_idx])))
    started = time.perf_counter()
    comparison = compare_train_test(df, holdout.train_idx, holdout.test_idx, cfg.data, cfg.split)
    data["suspects"] = comparison.pop("suspects")
    data["train_vs_test"] = comparison
    report = build_report(SplitReport, data)
    write_report(report, cfg.paths.reports_dir / "split.json")
    log.info(
        "split (%s): train %d, valid %d, test %d rows; train vs test compared in %.1f s",
        holdout.strategy,
        *(len(positions[k]) for k in paths),
        time.perf_counter() - started,
    )
    for finding in report.suspects:
        log.warning("  %s", finding_line(finding))
    return report


if __name__ == "__main__":
    from tasks import split  # this module under its real name (loggers say tasks.split)

    step_main("split", split.run, __doc__)
