"""Ingest: snapshot the source (CSV, Parquet file or directory of parts, SQL table) into data/, then type it.

Two halves (the functions live in tasks/data/sources.py):
- `snapshot_source` copies the source into `paths.data_dir` (versioned by DVC through data.dvc).
  A file (or each file of a folder or glob source) is copied byte for byte, so the same source always gives the same DVC hash; a SQL table
  or query is dumped to Parquet. The callers run it, then `dvc add` the folder.
- `run` (the `ingest` stage in dvc.yaml) reads the snapshot, applies the typing rules in params.yaml
  and writes one Parquet table every later step reads.
"""

from __future__ import annotations

import logging

from tasks.core import io
from tasks.core.config import Config
from tasks.core.entry import step_main
from tasks.core.reports import IngestReport, build_report, write_report
from tasks.data.file_sets import file_listing
from tasks.data.sources import read_snapshot, snapshot_file, snapshot_parts, snapshot_sha256, type_table

STEP_VERSION = "1"
log = logging.getLogger(__name__)


def run(cfg: Config) -> IngestReport:
    """Read the snapshot in data/, type it, and write the ingested Parquet table and its report."""
    path = snapshot_file(cfg.paths.data_dir)
    raw = read_snapshot(path, cfg.ingest)
    df, notes = type_table(raw, cfg.ingest, cfg.data)
    io.write_frame(df, cfg.paths.ingested)
    data = {
        "step_version": STEP_VERSION,
        "snapshot": path.name,
        "snapshot_sha256": snapshot_sha256(path),
        "rows": int(len(df)),
        "columns": int(df.shape[1]),
        "dtypes": {c: str(t) for c, t in df.dtypes.items()},
        **notes,
    }
    if path.is_dir():  # several files read as one table: each, in the order read, with its md5
        data["files"] = file_listing(snapshot_parts(path), path)
    if cfg.data.time_column:
        t = df[cfg.data.time_column]
        data["time_range"] = [t.min(), t.max()]
    report = build_report(IngestReport, data)
    write_report(report, cfg.paths.reports_dir / "ingest.json")
    log.info("ingest: %s -> %s (%d rows x %d columns)", path, cfg.paths.ingested, len(df), df.shape[1])
    return report


if __name__ == "__main__":
    from tasks import (
        ingest,  # this module under its real name (loggers say tasks.ingest)
    )

    step_main("ingest", ingest.run, __doc__)
