"""Table params: the params.yaml sections that say where the files are (paths), what the table is (data) and how to
read it (ingest). Part of the one typed config (tasks/core/config.py builds Config from these and the step sections).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from tasks.core.config_base import Section, TaskType
from tasks.core.credentials import check_env_name, check_source_url, is_sql_url


class PathsParams(Section):
    """Where every step reads and writes; dvc.yaml holds the same values in its `vars` (a test keeps them equal)."""

    data_dir: Path = Path("data")  # raw snapshot, versioned by data.dvc
    ingested: Path = Path("artifacts/ingested.parquet")  # the typed snapshot the ingest step writes (Parquet)
    train: Path = Path("artifacts/split/train.parquet")  # the training rows the split step writes
    valid: Path = Path("artifacts/split/valid.parquet")  # the validation slice (early stopping, the decision threshold)
    test: Path = Path("artifacts/split/test.parquet")  # the held-out test rows, read once, by evaluate
    preprocess_dir: Path = Path("artifacts/preprocess")  # the fitted preprocessors (.skops) with their manifest
    models_dir: Path = Path("artifacts/models")  # the trained models, one folder each, with their manifests
    scored_test: Path = Path("artifacts/evaluate/test_scored.parquet")  # every model's scores of the test rows
    reports_dir: Path = Path("reports")  # every step's JSON report, the evaluation, explain and promotion reports
    gx_dir: Path = Path("gx")  # the Great Expectations project (suite, checkpoints, Data Docs)
    registry_dir: Path = Path("registry")  # the model registry (records, production pointer, history)


class DataParams(Section):
    """What the table is: the label, the problem type, the time and entity columns."""

    target: str  # the column to predict
    task: TaskType = "binary"  # binary, multiclass or regression (tabgate init infers it)
    positive_label: str | int | float | bool | None = None  # binary: the label counted as positive (None: the larger of
    # the two sorted labels)
    time_column: str | None = None  # a datetime column: the split holds out the latest period, CV walks forward
    id_column: str | None = None  # an entity id: when it repeats, the split keeps each id on one side and CV groups by
    # it
    drop_columns: dict[str, str] = Field(default_factory=dict)  # column: why it must not be learned from (a leak, an
    # id)
    categorical_columns: list[str] = Field(default_factory=list)  # numeric codes to treat as categories, not quantities
    segment_columns: list[str] = Field(default_factory=list)  # columns evaluate reports metrics per value of (and the
    # gate checks)
    label_map: dict[str | int, str | int | float | bool] = Field(
        default_factory=dict,
        description=(
            'label value as spelt in the file -> the value it means, e.g. {">50K.": ">50K"}; applied where a table is '
            "typed (ingest, and monitoring's labelled batches), with the rows changed per spelling in reports/ingest.json"
        ),
    )

    @model_validator(mode="after")
    def _target_not_dropped(self) -> DataParams:
        if self.target in self.drop_columns:
            raise ValueError(f"data.target '{self.target}' is also listed in data.drop_columns")
        return self


class TimeParts(Section):
    """Build the time column from separate year / month / day (and optional hour / minute) columns."""

    year: str  # the column holding the year
    month: str | None = None  # the column holding the month (number or English name); None: January (a yearly panel)
    day: str | None = None  # the column holding the day of the month; None: the 1st
    hour: str | None = None  # the column holding the hour, if any
    minute: str | None = None  # the column holding the minute, if any


class IngestParams(Section):
    """Where the source table is and how to read it into a typed frame.

    A SQL source's URL carries no password: the password comes from the environment variable named by
    password_env (tasks/core/credentials.py); a URL with a password is refused here, before it can reach dvc.lock.
    """

    source: str  # a CSV/Parquet file, a folder or a glob ('raw/*.csv') of files with the same columns (read as one
    # table in sorted path order), or a SQLAlchemy URL (with table or query)
    format: Literal["auto", "csv", "parquet", "sql"] = "auto"  # auto: from the file extension, sql for a URL
    table: str | None = None  # sql: the table to read (or query)
    query: str | None = None  # sql: a SELECT to read instead of a table
    password_env: str | None = None  # e.g. TABGATE_DB_PASSWORD: the environment variable holding the SQL password
    separator: str | None = None  # CSV-like files: None: "," for .csv, sniffed for .tsv/.txt; e.g. ";" for European
    # exports
    encoding: str = "utf-8"  # text encoding of CSV-like files
    decimal: str = "."  # decimal mark of CSV-like files ("," for many European exports)
    na_values: list[str] = Field(default_factory=lambda: ["", "NA", "NULL", "null", "NaN", "nan"])  # strings read as missing
    extra_na_values: list[str] = Field(default_factory=list)  # added to na_values, e.g. ["?", "unknown"]
    time_from_parts: TimeParts | None = None  # build data.time_column from year / month / day columns (tabgate
    # init proposes it when the table has them)
    time_format: str | None = None  # strftime format of data.time_column (None: parsed by pandas)
    numeric_columns: list[str] = Field(default_factory=list)  # columns to read as numbers even when the file stores
    # them as text
    file_column: str | None = None  # a folder or glob source: the name of a column added to every row, holding the file
    # it came from (its path below the folder); it must also be in data.drop_columns (never learned from). None: not
    # added

    @property
    def is_sql(self) -> bool:
        """True when the source is read through SQLAlchemy (format sql, or auto with a URL)."""
        return self.format == "sql" or (self.format == "auto" and is_sql_url(self.source))

    @model_validator(mode="after")
    def _sql_needs_table_or_query(self) -> IngestParams:
        if self.is_sql and not (self.table or self.query):
            raise ValueError("ingest.source is a SQL URL (ingest.format sql): it needs ingest.table or ingest.query")
        return self

    @model_validator(mode="after")
    def _no_password_in_params(self) -> IngestParams:
        check_env_name(self.password_env)
        if self.is_sql:
            check_source_url(self.source, self.password_env)
        elif self.password_env:
            raise ValueError("ingest.password_env is set but ingest.source is a file path, not a SQL URL")
        return self
