"""Column roles: what `tabgate init` guesses each column of a new table is for (the task the label implies, the
time column, the id column, columns never to learn from, numbers stored as text) and the first model's floors.

Pure functions of the frame: every guess comes from the values and the column names, each with its reason
(tasks.data.profiling turns them into a plan and params.yaml).
"""

from __future__ import annotations

import re
import warnings
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from tasks.core.config_base import TaskType
from tasks.core.errors import ConfigError, SchemaError

POSITIVE_SPELLINGS = ("1", "1.0", "yes", "y", "true", "t", "positive", "pos")
ID_NAME = re.compile(r"(^|[_\s-])(id|key|uuid|guid)$|^(id|key|uuid)([_\s-]|$)|[a-z0-9](Id|ID|Key)$")
MAX_TEXT_CLASSES = 100  # a text label with more values than this is not taken as classes without --task
REGRESSION_MIN_VALUES = 20  # a numeric label with more distinct values than this is a quantity
TIME_PARSE_SHARE = 0.95  # a text column counts as a time column when this share of its values parse as dates
NUMERIC_PARSE_SHARE = 0.95  # a text column counts as numbers when this share of its non-blank values parse
YEARS = (1800, 2200)  # whole numbers all in this range can be calendar years (date parts, --time YEAR)


class TimeGuess(BaseModel):
    """The proposed time column: an existing column, or a new one built from year / month / day parts."""

    model_config = ConfigDict(frozen=True)

    column: str
    parts: dict[str, str] = Field(default_factory=dict)  # year/month/day -> column, when built from parts
    reason: str


def _plain(value: Any) -> Any:
    """Return a numpy scalar as the plain Python value YAML and pydantic expect."""
    return value.item() if hasattr(value, "item") else value


def infer_task(y: pd.Series, target: str, source: str, task: TaskType | None = None) -> tuple[TaskType, Any, str]:
    """Return (task, positive class or None, reason) from the label's values; a label that cannot be one raises."""
    values = y.dropna()
    distinct = pd.unique(values)
    if len(distinct) < 2:
        raise SchemaError(
            f"{source}: label '{target}' (--target) has {len(distinct)} distinct value(s) "
            f"{[str(v) for v in distinct[:3]]}: nothing to learn; pick another column"
        )
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if task == "regression" and not numeric:
        parsed = pd.to_numeric(values, errors="coerce")
        if parsed.isna().mean() > 0.01:
            raise ConfigError(
                f"{source}: --task regression, but label '{target}' is text "
                f"(e.g. {str(values[parsed.isna()].iloc[0])!r}); use --task binary or multiclass"
            )
    if task is None:
        whole = numeric and bool((values.astype("float64") % 1 == 0).all())
        if len(distinct) == 2:
            task = "binary"
        elif numeric and (not whole or len(distinct) > REGRESSION_MIN_VALUES):
            task = "regression"
        elif len(distinct) <= MAX_TEXT_CLASSES:
            task = "multiclass"
        else:
            raise ConfigError(
                f"{source}: label '{target}' is text with {len(distinct)} distinct values, too many to "
                "take as classes; pass --task multiclass if they are, or pick another --target"
            )
    if task == "binary" and len(distinct) != 2:
        raise ConfigError(
            f"{source}: --task binary, but label '{target}' has {len(distinct)} distinct values; "
            "use --task multiclass or regression"
        )
    if task == "regression":
        return task, None, f"numeric label with {len(distinct)} distinct values"
    if task == "multiclass":
        return task, None, f"{len(distinct)} classes"
    positive, why = positive_class(values)
    return task, positive, f"two classes; positive class {positive!r} ({why})"


def label_spellings(y: pd.Series) -> dict[str, str]:
    """Return text label values that are another value spelt differently (case, spaces, a trailing dot), each
    mapped to the group's most frequent spelling: {">50K.": ">50K"}."""
    if not is_text(y) or y.nunique() > MAX_TEXT_CLASSES:
        return {}
    counts = y.dropna().astype("string").value_counts()
    groups: dict[str, list[str]] = {}
    for value in counts.index:  # most frequent first
        groups.setdefault(str(value).strip().rstrip(".").strip().lower(), []).append(str(value))
    return {other: spellings[0] for spellings in groups.values() for other in spellings[1:]}


def positive_class(values: pd.Series) -> tuple[Any, str]:
    """Return the positive class of a two-valued label and why: the value spelt like 1/yes/true, else the minority."""
    counts = values.value_counts()
    for value in counts.index:
        if str(value).strip().lower() in POSITIVE_SPELLINGS:
            return _plain(value), "spelt like 1 / yes / true"
    minority = counts.index[-1]
    return _plain(minority), f"the minority class: {int(counts.iloc[-1])} of {int(counts.sum())} rows"


def parses_as_time(s: pd.Series) -> float:
    """Return the share of a column's non-missing values that parse as dates (0 for numbers and booleans)."""
    if pd.api.types.is_datetime64_any_dtype(s):
        return 1.0
    if not (pd.api.types.is_string_dtype(s) or pd.api.types.is_object_dtype(s)):
        return 0.0
    values = s.dropna().astype("string")
    values = values[values.str.strip() != ""].head(5000)
    if values.empty or not values.str.contains(r"\d", regex=True).all():
        return 0.0
    if values.str.fullmatch(r"[+-]?\d+([.,]\d+)?").mean() > 0.5:  # plain numbers are not dates
        return 0.0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "could not infer format": the share below says how well it went
            parsed = pd.to_datetime(values, errors="coerce")  # as ingest does (tasks/data/sources.py)
    except (ValueError, TypeError, OverflowError):
        return 0.0
    return float(parsed.notna().mean())


def time_parts(df: pd.DataFrame) -> TimeGuess | None:
    """Return a time column built from <prefix>year / <prefix>month / <prefix>day(_of_month) columns, if the table has them."""
    for col in df.columns:
        name = str(col)
        match = re.fullmatch(r"(.*?)(year|yr)", name, flags=re.IGNORECASE)
        if not match or not pd.api.types.is_numeric_dtype(df[col]):
            continue
        prefix = match.group(1)
        month = next((c for c in df.columns if str(c).lower() == f"{prefix}month".lower()), None)
        day = next(
            (
                c
                for c in df.columns
                if str(c).lower() in (f"{prefix}day_of_month".lower(), f"{prefix}day".lower(), f"{prefix}dayofmonth".lower())
            ),
            None,
        )
        years = df[col].dropna()
        if month is None or day is None or years.empty or not years.between(*YEARS).all():
            continue
        column = prefix.rstrip("_- ") or "event_time"
        if column in df.columns:
            column = f"{column}_time"
        return TimeGuess(
            column=column,
            parts={"year": name, "month": str(month), "day": str(day)},
            reason=f"built from the date parts {name} / {month} / {day}",
        )
    return None


def year_column(df: pd.DataFrame, name: str) -> TimeGuess | None:
    """Return a time column built from a column of whole years (a yearly panel), when it is one; only for --time.

    Never proposed unasked: a lone year may be a model year or a birth year rather than when the row happened.
    """
    if pd.api.types.is_bool_dtype(df[name]):
        return None
    values = pd.to_numeric(df[name], errors="coerce")
    if values.isna().any() or not values.between(*YEARS).all() or (values % 1 != 0).any():
        return None
    column = f"{name}_date"
    while column in df.columns:
        column = f"{column}_"
    return TimeGuess(
        column=column,
        parts={"year": str(name)},
        reason=f"given with --time: the whole years of {name} ({int(values.min())} to {int(values.max())}) read as 1 January",
    )


def infer_time(df: pd.DataFrame, target: str, source: str, time: str | None = None) -> tuple[TimeGuess | None, list[str]]:
    """Return the proposed time column (or the one asked for, checked) and notes on other date columns."""
    if time is not None:
        if time not in df.columns:
            raise ConfigError(f"{source}: --time '{time}' is not a column (columns: {list(df.columns)[:20]})")
        share = parses_as_time(df[time])
        if share < TIME_PARSE_SHARE and (years := year_column(df, time)) is not None:
            return years, []
        if share < TIME_PARSE_SHARE:
            raise ConfigError(
                f"{source}: --time '{time}': only {share:.0%} of its values parse as dates "
                f"(e.g. {str(df[time].dropna().iloc[0]) if df[time].notna().any() else 'all missing'!r})"
            )
        return TimeGuess(column=time, reason="given with --time"), []
    dated = [str(c) for c in df.columns if c != target and parses_as_time(df[c]) >= TIME_PARSE_SHARE]
    parts = time_parts(df)
    if parts is not None:
        notes = [f"other date column(s) {dated}: dates that may come after the outcome (validate screens them)"] if dated else []
        return parts, notes
    if not dated:
        return None, [
            "no time column found: the test set is a random (stratified) 20% of the rows; if rows are "
            "ordered in time, set data.time_column (or --time; a column of whole years works too) so the test set "
            "is the latest rows"
        ]
    best = min(dated, key=lambda c: (int(df[c].isna().sum()), dated.index(c)))
    notes = (
        [f"other date column(s) {[c for c in dated if c != best]}: check that {best!r} is the time of the event you predict from"]
        if len(dated) > 1
        else []
    )
    return TimeGuess(column=best, reason=f"{parses_as_time(df[best]):.0%} of its values parse as dates"), notes


def infer_ids(df: pd.DataFrame, target: str, skip: set[str], source: str, given: str | None = None) -> tuple[str | None, str]:
    """Return the id column (unique per row, or an entity id that repeats) and why; a named id must be a column."""
    if given is not None:
        if given not in df.columns:
            raise ConfigError(f"{source}: --id '{given}' is not a column (columns: {list(df.columns)[:20]})")
        return given, "given with --id"
    n = len(df)
    for col in df.columns:
        if col == target or col in skip or pd.api.types.is_float_dtype(df[col]) or df[col].isna().any():
            continue
        distinct = int(df[col].nunique())
        named = bool(ID_NAME.search(str(col)))
        if named and distinct == n:
            return str(col), "named like an id, one value per row"
        if named and 2 <= distinct < n:
            return str(col), (
                f"named like an id, {distinct} distinct values in {n} rows: an entity that repeats "
                "(split reports entities shared by train and test)"
            )
    for col in df.columns:
        s = df[col]
        if (
            col != target
            and col not in skip
            and is_text(s)
            and s.notna().all()
            and s.nunique() == n
            and numeric_share(s) < NUMERIC_PARSE_SHARE
            and parses_as_time(s) < TIME_PARSE_SHARE
        ):
            return str(col), "text with one value per row"
    return None, ""


def is_text(s: pd.Series) -> bool:
    """True for a column of strings (object or string dtype)."""
    return pd.api.types.is_string_dtype(s) or pd.api.types.is_object_dtype(s)


def never_learn(df: pd.DataFrame, keep: set[str]) -> dict[str, str]:
    """Return the columns not to learn from, with the reason: constant, or text with a different value in every row."""
    out: dict[str, str] = {}
    n = len(df)
    for col in df.columns:
        if col in keep:
            continue
        s = df[col]
        distinct = int(s.nunique(dropna=False))
        if distinct <= 1:
            shown = "missing" if s.isna().all() else repr(_plain(s.dropna().iloc[0]))
            out[str(col)] = f"constant: {shown} in every row, nothing to learn"
        elif (
            is_text(s)
            and n >= 20
            and int(s.nunique()) >= 0.95 * n
            and parses_as_time(s) < TIME_PARSE_SHARE
            and numeric_share(s) < NUMERIC_PARSE_SHARE
        ):
            out[str(col)] = f"text with {int(s.nunique())} distinct values in {n} rows: an identifier or free text"
    return out


def numeric_share(s: pd.Series) -> float:
    """Return the share of a text column's non-blank values that parse as numbers."""
    values = s.dropna().astype("string").str.strip()
    values = values[values != ""]
    if values.empty:
        return 0.0
    return float(pd.to_numeric(values, errors="coerce").notna().mean())


def numbers_in_text(df: pd.DataFrame, keep: set[str]) -> dict[str, str]:
    """Return text columns that are numbers with a few blanks or odd values, and how many values do not parse."""
    out: dict[str, str] = {}
    for col in df.columns:
        s = df[col]
        if col in keep or not is_text(s):
            continue
        values = s.dropna().astype("string").str.strip()
        parsed = pd.to_numeric(values, errors="coerce")
        if len(values) and parsed.notna().mean() >= NUMERIC_PARSE_SHARE:
            bad = values[parsed.isna()]
            shown = f"; {len(bad)} value(s) such as {str(bad.iloc[0])!r} become missing" if len(bad) else ""
            out[str(col)] = f"text that is numbers ({parsed.notna().mean():.1%} parse){shown}"
    return out


def task_thresholds(task: TaskType, n_classes: int) -> tuple[dict[str, float], str]:
    """Return promote.thresholds a first model should clear for this task (floors above chance), and why."""
    if task == "binary":
        return {"roc_auc": 0.6}, "a floor clearly above chance (ROC-AUC 0.5); raise it to what your use needs"
    if task == "multiclass":
        floor = round(min(0.95, 1 / n_classes + 0.1), 2)
        return {"balanced_accuracy": floor}, f"chance is 1/{n_classes} = {1 / n_classes:.2f}; floor 0.1 above it"
    return {"r2": 0.1}, "the model must explain at least 10% of the label's variance (R^2 0 = predicting the mean)"
