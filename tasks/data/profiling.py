"""Profiling: look at a new table and propose its settings (task, label, time, ids, columns never to learn from).

Used by `tabgate init`; the guesses themselves are tasks.data.column_roles (what each column is for) and
tasks.data.reader_guess (how to read the file). Everything here is a pure function of the frame (and of the first
bytes of the file for the reader's separator, encoding and decimal mark); the caller reads the file and writes
params.yaml.
Nothing here knows the bundled sample: every proposal comes from the values and the column names.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field

from tasks.core.config_base import TaskType
from tasks.core.errors import ConfigError
from tasks.data.column_roles import (
    TimeGuess,
    infer_ids,
    infer_task,
    infer_time,
    label_spellings,
    never_learn,
    numbers_in_text,
    task_thresholds,
)
from tasks.data.reader_guess import ReaderGuess


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


FILE_COLUMN = "source_file"  # the column init adds for a table read from several files
FILE_COLUMN_REASON = "which file the row came from (ingest.file_column): not known at prediction time"


def plan_init(
    df: pd.DataFrame,
    source: str,
    target: str,
    reader: ReaderGuess = ReaderGuess(),
    task: TaskType | None = None,
    time: str | None = None,
    id_column: str | None = None,
    file_column: str | None = None,
) -> InitPlan:
    """Return the settings `tabgate init` proposes for a table; a bad --target/--task/--time/--id raises.
    file_column: the column the reader added naming each row's file (several files), dropped from learning."""
    if target not in df.columns:
        raise ConfigError(
            f"{source}: --target '{target}' is not a column; the table has {df.shape[1]} columns: "
            f"{[str(c) for c in df.columns][:30]}"
        )
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
        review.append(
            f"label '{target}' is missing in {int(df[target].isna().sum())} row(s): drop or fill them "
            "before training (train stops on a missing label)"
        )
    review.append(
        "the expectation suite and reference profile were learnt from this very table: open them in "
        "gx/ and tighten what you know about your data"
    )
    return InitPlan(
        source=source,
        rows=len(df),
        columns=df.shape[1] - bool(file_column),
        reader=reader,
        target=target,
        task=task,
        task_reason=task_reason,
        positive_label=positive,
        class_counts=counts,
        label_map=label_map,
        time=guess,
        id_column=ident,
        id_reason=id_reason,
        drop_columns=drops,
        file_column=file_column,
        numeric_columns=numeric,
        thresholds=thresholds,
        thresholds_reason=why,
        review=review,
    )


def _yaml(value: Any) -> str:
    """Return one value in YAML flow style (quoted where YAML would read it as something else)."""
    return yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=10_000).strip().removesuffix("...").strip()


def _comment(text: str) -> str:
    return "  # " + " ".join(text.split())


def render_params(plan: InitPlan) -> str:
    """Return params.yaml text: the table's settings and the choices that differ from the defaults, each explained."""
    lines = [
        f"# Written by `tabgate init` for {plan.source} ({plan.rows} rows, {plan.columns} columns).",
        "# Only this table's settings and the choices that differ from the defaults are here; every other key",
        "# has its default in tasks/core/config.py. Review each choice (the comment says why), then `tabgate run`.",
        "",
    ]
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
        lines.append(
            f"  numeric_columns: {_yaml(list(plan.numeric_columns))}"
            + _comment("; ".join(f"{c}: {why}" for c, why in plan.numeric_columns.items()))
        )
    lines += ["", "validate:", "  suite_name: tabgate" + _comment("dvc.yaml names the suite file through it")]
    lines += [
        "",
        "train:" + _comment("listed by name in dvc.yaml's preprocess stage, so DVC needs them here"),
        "  baseline_max_rows: 100000",
        "  random_state: 42",
    ]
    lines += ["", "promote:", "  thresholds:" + _comment(plan.thresholds_reason)]
    lines += [f"    {m}: {v}" for m, v in plan.thresholds.items()]
    lines += ["", "# Sections at their defaults, present because dvc.yaml's stages list them:"]
    lines += [f"{s}: {{}}" for s in ("split", "preprocess", "cv", "evaluate", "explain", "monitor", "compute")]
    return "\n".join(lines) + "\n"


def summary_lines(plan: InitPlan) -> list[str]:
    """Return what init decided and what to review, one line each, for the terminal."""
    out = [
        f"table: {plan.source}: {plan.rows} rows x {plan.columns} columns "
        f"(separator {plan.reader.separator!r}, encoding {plan.reader.encoding}, decimal {plan.reader.decimal!r})",
        f"label: {plan.target}: {plan.task} ({plan.task_reason})",
    ]
    out += [f"label spelling: {k!r} read as {v!r} (data.label_map)" for k, v in plan.label_map.items()]
    out.append(f"time: {plan.time.column} ({plan.time.reason})" if plan.time else "time: none")
    out.append(f"id: {plan.id_column} ({plan.id_reason})" if plan.id_column else "id: none")
    out += [f"never learn from: {c} ({why})" for c, why in plan.drop_columns.items()]
    out += [f"read as numbers: {c} ({why})" for c, why in plan.numeric_columns.items()]
    out.append(f"promote.thresholds: {plan.thresholds} ({plan.thresholds_reason})")
    out += [f"review: {r}" for r in plan.review]
    return out
