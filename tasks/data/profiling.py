"""Profiling: look at a new table and propose its settings (task, label, time, ids, columns never to learn from).

Used by `tabgate init`. Everything here is a pure function of the frame (and of the first bytes of the file for
the reader's separator, encoding and decimal mark); the caller reads the file and writes params.yaml.
Nothing here knows the bundled sample: every proposal comes from the values and the column names.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import lzma
import re
import warnings
import zipfile
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field

from tasks.core.config_base import TaskType
from tasks.core.errors import ConfigError, SchemaError

POSITIVE_SPELLINGS = ("1", "1.0", "yes", "y", "true", "t", "positive", "pos")
ID_NAME = re.compile(r"(^|[_\s-])(id|key|uuid|guid)$|^(id|key|uuid)([_\s-]|$)|[a-z0-9](Id|ID|Key)$")
MAX_TEXT_CLASSES = 100          # a text label with more values than this is not taken as classes without --task
REGRESSION_MIN_VALUES = 20      # a numeric label with more distinct values than this is a quantity
TIME_PARSE_SHARE = 0.95         # a text column counts as a time column when this share of its values parse as dates
NUMERIC_PARSE_SHARE = 0.95      # a text column counts as numbers when this share of its non-blank values parse


class ReaderGuess(BaseModel):
    """How to read a text table: what the first bytes say about its separator, encoding and decimal mark."""

    model_config = ConfigDict(frozen=True)

    separator: str = ","
    encoding: str = "utf-8"
    decimal: str = "."


class TimeGuess(BaseModel):
    """The proposed time column: an existing column, or a new one built from year / month / day parts."""

    model_config = ConfigDict(frozen=True)

    column: str
    parts: dict[str, str] = Field(default_factory=dict)  # year/month/day -> column, when built from parts
    reason: str


class InitPlan(BaseModel):
    """Everything `tabgate init` decided about a table, each choice with the reason it is written down."""

    model_config = ConfigDict(frozen=True)

    source: str
    rows: int
    columns: int
    reader: ReaderGuess = ReaderGuess()
    target: str
    task: TaskType
    task_reason: str
    positive_label: str | int | float | bool | None = None
    class_counts: dict[str, int] = Field(default_factory=dict)
    label_map: dict[str, str] = Field(default_factory=dict)
    time: TimeGuess | None = None
    id_column: str | None = None
    id_reason: str = ""
    drop_columns: dict[str, str] = Field(default_factory=dict)
    file_column: str | None = None
    numeric_columns: dict[str, str] = Field(default_factory=dict)
    thresholds: dict[str, float] = Field(default_factory=dict)
    thresholds_reason: str = ""
    review: list[str] = Field(default_factory=list)


def sniff_reader(head: bytes) -> ReaderGuess:
    """Return the separator, encoding and decimal mark the first bytes of a text table suggest."""
    try:
        text, encoding = head.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as err:
        if err.start >= len(head) - 4:  # a multi-byte character cut at the end of the sample
            text, encoding = head[:err.start].decode("utf-8"), "utf-8"
        else:
            text, encoding = head.decode("cp1252", errors="replace"), "cp1252"
    lines = [line for line in text.splitlines()[:50] if line.strip()]
    if len(lines) > 1 and len(text.splitlines()) > 1:
        lines = lines[:-1]  # the last line of a sample may be cut
    try:
        separator = csv.Sniffer().sniff("\n".join(lines), delimiters=",;\t|").delimiter
    except csv.Error:
        separator = ","
    decimal = "."
    if separator != ",":
        body = "\n".join(lines[1:])
        if len(re.findall(r"(?<![\d.,])\d+,\d+(?![\d.,])", body)) > len(re.findall(r"(?<![\d.,])\d+\.\d+(?![\d.,])", body)):
            decimal = ","
    return ReaderGuess(separator=separator, encoding=encoding, decimal=decimal)


def read_head(path: Path, size: int = 65_536) -> bytes:
    """Return the first bytes of a text table, decompressed (.gz, .bz2, .xz, .zip); b"" for Parquet."""
    name = path.name.lower()
    if name.endswith((".parquet", ".pq")) or path.is_dir():
        return b""
    if name.endswith(".zip"):
        with zipfile.ZipFile(path) as z, z.open(z.namelist()[0]) as f:
            return f.read(size)
    opener = gzip.open if name.endswith(".gz") else bz2.open if name.endswith(".bz2") else \
        lzma.open if name.endswith(".xz") else open
    with opener(path, "rb") as f:
        return f.read(size)


def _plain(value: Any) -> Any:
    """Return a numpy scalar as the plain Python value YAML and pydantic expect."""
    return value.item() if hasattr(value, "item") else value


def infer_task(y: pd.Series, target: str, source: str, task: TaskType | None = None
               ) -> tuple[TaskType, Any, str]:
    """Return (task, positive class or None, reason) from the label's values; a label that cannot be one raises."""
    values = y.dropna()
    distinct = pd.unique(values)
    if len(distinct) < 2:
        raise SchemaError(f"{source}: label '{target}' (--target) has {len(distinct)} distinct value(s) "
                          f"{[str(v) for v in distinct[:3]]}: nothing to learn; pick another column")
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if task == "regression" and not numeric:
        parsed = pd.to_numeric(values, errors="coerce")
        if parsed.isna().mean() > 0.01:
            raise ConfigError(f"{source}: --task regression, but label '{target}' is text "
                              f"(e.g. {str(values[parsed.isna()].iloc[0])!r}); use --task binary or multiclass")
    if task is None:
        whole = numeric and bool((values.astype("float64") % 1 == 0).all())
        if len(distinct) == 2:
            task = "binary"
        elif numeric and (not whole or len(distinct) > REGRESSION_MIN_VALUES):
            task = "regression"
        elif len(distinct) <= MAX_TEXT_CLASSES:
            task = "multiclass"
        else:
            raise ConfigError(f"{source}: label '{target}' is text with {len(distinct)} distinct values, too many to "
                              "take as classes; pass --task multiclass if they are, or pick another --target")
    if task == "binary" and len(distinct) != 2:
        raise ConfigError(f"{source}: --task binary, but label '{target}' has {len(distinct)} distinct values; "
                          "use --task multiclass or regression")
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
        day = next((c for c in df.columns if str(c).lower() in
                    (f"{prefix}day_of_month".lower(), f"{prefix}day".lower(), f"{prefix}dayofmonth".lower())), None)
        years = df[col].dropna()
        if month is None or day is None or years.empty or not years.between(1800, 2200).all():
            continue
        column = prefix.rstrip("_- ") or "event_time"
        if column in df.columns:
            column = f"{column}_time"
        return TimeGuess(column=column, parts={"year": name, "month": str(month), "day": str(day)},
                         reason=f"built from the date parts {name} / {month} / {day}")
    return None


def infer_time(df: pd.DataFrame, target: str, source: str, time: str | None = None) -> tuple[TimeGuess | None, list[str]]:
    """Return the proposed time column (or the one asked for, checked) and notes on other date columns."""
    if time is not None:
        if time not in df.columns:
            raise ConfigError(f"{source}: --time '{time}' is not a column (columns: {list(df.columns)[:20]})")
        share = parses_as_time(df[time])
        if share < TIME_PARSE_SHARE:
            raise ConfigError(f"{source}: --time '{time}': only {share:.0%} of its values parse as dates "
                              f"(e.g. {str(df[time].dropna().iloc[0]) if df[time].notna().any() else 'all missing'!r})")
        return TimeGuess(column=time, reason="given with --time"), []
    dated = [str(c) for c in df.columns if c != target and parses_as_time(df[c]) >= TIME_PARSE_SHARE]
    parts = time_parts(df)
    if parts is not None:
        notes = [f"other date column(s) {dated}: dates that may come after the outcome (validate screens them)"] \
            if dated else []
        return parts, notes
    if not dated:
        return None, ["no time column found: the test set is a random (stratified) 20% of the rows; if rows are "
                      "ordered in time, set data.time_column (or --time) so the test set is the latest rows"]
    best = min(dated, key=lambda c: (int(df[c].isna().sum()), dated.index(c)))
    notes = [f"other date column(s) {[c for c in dated if c != best]}: check that {best!r} is the time of the event "
             "you predict from"] if len(dated) > 1 else []
    return TimeGuess(column=best, reason=f"{parses_as_time(df[best]):.0%} of its values parse as dates"), notes


def infer_ids(df: pd.DataFrame, target: str, skip: set[str], source: str, given: str | None = None
              ) -> tuple[str | None, str]:
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
            return str(col), (f"named like an id, {distinct} distinct values in {n} rows: an entity that repeats "
                              "(split reports entities shared by train and test)")
    for col in df.columns:
        s = df[col]
        if col != target and col not in skip and is_text(s) and s.notna().all() and s.nunique() == n \
                and numeric_share(s) < NUMERIC_PARSE_SHARE and parses_as_time(s) < TIME_PARSE_SHARE:
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
        elif is_text(s) and n >= 20 and int(s.nunique()) >= 0.95 * n and parses_as_time(s) < TIME_PARSE_SHARE \
                and numeric_share(s) < NUMERIC_PARSE_SHARE:
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


FILE_COLUMN = "source_file"  # the column init adds for a table read from several files
FILE_COLUMN_REASON = "which file the row came from (ingest.file_column): not known at prediction time"


def plan_init(df: pd.DataFrame, source: str, target: str, reader: ReaderGuess = ReaderGuess(),
              task: TaskType | None = None, time: str | None = None, id_column: str | None = None,
              file_column: str | None = None) -> InitPlan:
    """Return the settings `tabgate init` proposes for a table; a bad --target/--task/--time/--id raises.
    file_column: the column the reader added naming each row's file (several files), dropped from learning."""
    if target not in df.columns:
        raise ConfigError(f"{source}: --target '{target}' is not a column; the table has {df.shape[1]} columns: "
                          f"{[str(c) for c in df.columns][:30]}")
    label_map = label_spellings(df[target])
    y = df[target].replace(label_map) if label_map else df[target]
    task, positive, task_reason = infer_task(y, target, source, task)
    guess, review = infer_time(df, target, source, time)
    skip = {target} | ({guess.column, *guess.parts.values()} if guess else set()) | ({file_column} if file_column else set())
    ident, id_reason = infer_ids(df, target, skip, source, id_column)
    keep = skip | ({ident} if ident else set())
    drops = {**never_learn(df, keep), **({file_column: FILE_COLUMN_REASON} if file_column else {})}
    numeric = numbers_in_text(df, keep | set(drops))
    counts = {str(k): int(v) for k, v in y.value_counts().items()} if task != "regression" else {}
    thresholds, why = task_thresholds(task, len(counts))
    if df[target].isna().any():
        review.append(f"label '{target}' is missing in {int(df[target].isna().sum())} row(s): drop or fill them "
                      "before training (train stops on a missing label)")
    review.append("the expectation suite and reference profile were learnt from this very table: open them in "
                  "gx/ and tighten what you know about your data")
    return InitPlan(source=source, rows=len(df), columns=df.shape[1] - bool(file_column), reader=reader, target=target, task=task,
                    task_reason=task_reason, positive_label=positive, class_counts=counts, label_map=label_map, time=guess,
                    id_column=ident, id_reason=id_reason, drop_columns=drops, file_column=file_column,
                    numeric_columns=numeric,
                    thresholds=thresholds, thresholds_reason=why, review=review)


def _yaml(value: Any) -> str:
    """Return one value in YAML flow style (quoted where YAML would read it as something else)."""
    return yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=10_000).strip().removesuffix("...").strip()


def _comment(text: str) -> str:
    return "  # " + " ".join(text.split())


def render_params(plan: InitPlan) -> str:
    """Return params.yaml text: the table's settings and the choices that differ from the defaults, each explained."""
    lines = [f"# Written by `tabgate init` for {plan.source} ({plan.rows} rows, {plan.columns} columns).",
             "# Only this table's settings and the choices that differ from the defaults are here; every other key",
             "# has its default in tasks/core/config.py. Review each choice (the comment says why), then `tabgate run`.", ""]
    lines += ["data:", f"  target: {_yaml(plan.target)}", f"  task: {plan.task}" + _comment(plan.task_reason)]
    if plan.label_map:
        lines.append("  label_map:" + _comment("the same label spelt two ways in the file: read as one value"))
        lines += [f"    {_yaml(k)}: {_yaml(v)}" for k, v in plan.label_map.items()]
    if plan.positive_label is not None:
        lines.append(f"  positive_label: {_yaml(plan.positive_label)}" + _comment(f"counts: {plan.class_counts}"))
    if plan.time:
        lines.append(f"  time_column: {_yaml(plan.time.column)}" + _comment(plan.time.reason))
    if plan.id_column:
        lines.append(f"  id_column: {_yaml(plan.id_column)}" + _comment(plan.id_reason))
    if plan.drop_columns:
        lines.append("  drop_columns:" + _comment("column: why it must not be learned from"))
        lines += [f"    {_yaml(c)}: {_yaml(why)}" for c, why in plan.drop_columns.items()]
    lines += ["", "ingest:", f"  source: {_yaml(plan.source)}"]
    if plan.file_column:
        lines.append(f"  file_column: {_yaml(plan.file_column)}" + _comment("several files: each row names its file"))
    default = ReaderGuess()
    for key in ("separator", "encoding", "decimal"):
        value = getattr(plan.reader, key)
        if value != getattr(default, key):
            lines.append(f"  {key}: {_yaml(value)}" + _comment("sniffed from the first lines of the file"))
    if plan.time and plan.time.parts:
        lines.append("  time_from_parts:" + _comment(f"builds data.time_column {plan.time.column}"))
        lines += [f"    {k}: {_yaml(v)}" for k, v in plan.time.parts.items()]
    if plan.numeric_columns:
        lines.append(f"  numeric_columns: {_yaml(list(plan.numeric_columns))}" +
                     _comment("; ".join(f"{c}: {why}" for c, why in plan.numeric_columns.items())))
    lines += ["", "validate:", "  suite_name: tabgate" + _comment("dvc.yaml names the suite file through it")]
    lines += ["", "train:" + _comment("listed by name in dvc.yaml's preprocess stage, so DVC needs them here"),
              "  baseline_max_rows: 100000", "  random_state: 42"]
    lines += ["", "promote:", "  thresholds:" + _comment(plan.thresholds_reason)]
    lines += [f"    {m}: {v}" for m, v in plan.thresholds.items()]
    lines += ["", "# Sections at their defaults, present because dvc.yaml's stages list them:"]
    lines += [f"{s}: {{}}" for s in ("split", "preprocess", "cv", "evaluate", "explain", "monitor", "compute")]
    return "\n".join(lines) + "\n"


def summary_lines(plan: InitPlan) -> list[str]:
    """Return what init decided and what to review, one line each, for the terminal."""
    out = [f"table: {plan.source}: {plan.rows} rows x {plan.columns} columns "
           f"(separator {plan.reader.separator!r}, encoding {plan.reader.encoding}, decimal {plan.reader.decimal!r})",
           f"label: {plan.target}: {plan.task} ({plan.task_reason})"]
    out += [f"label spelling: {k!r} read as {v!r} (data.label_map)" for k, v in plan.label_map.items()]
    out.append(f"time: {plan.time.column} ({plan.time.reason})" if plan.time else "time: none")
    out.append(f"id: {plan.id_column} ({plan.id_reason})" if plan.id_column else "id: none")
    out += [f"never learn from: {c} ({why})" for c, why in plan.drop_columns.items()]
    out += [f"read as numbers: {c} ({why})" for c, why in plan.numeric_columns.items()]
    out.append(f"promote.thresholds: {plan.thresholds} ({plan.thresholds_reason})")
    out += [f"review: {r}" for r in plan.review]
    return out
