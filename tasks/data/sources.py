"""Sources: snapshot a CSV, Parquet or SQL source into data/, and read a snapshot into a typed table.

A Parquet source may be a directory of parts (a partitioned dataset, e.g. `year=2016/part-0.parquet` as Spark,
Dask or pyarrow write it): the snapshot copies the tree byte for byte and reads it back in path order.
A folder of CSV files, or a glob (`raw/*.csv`), is several files read as one table (tasks/data/file_sets.py):
the snapshot copies those files, and reading concatenates them in sorted path order, with the same columns.

Used by the ingest step (snapshot, type) and by validate and monitoring (read a snapshot or a batch the same way).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from tasks.core import io
from tasks.core.config import DataParams, IngestParams
from tasks.core.credentials import connection_url, redact_text, redact_url
from tasks.core.errors import ConfigError, InputError
from tasks.core.table_params import TimeParts
from tasks.data.file_sets import (
    check_same_columns,
    concat_files,
    copy_files,
    files_format,
    folder_files,
    glob_files,
    glob_root,
    hidden,
    is_glob,
    relative_name,
    set_root,
    source_files,
    with_file_column,
)

log = logging.getLogger(__name__)


TABLE_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".parquet", ".pq", ".txt", ".csv.zip", ".csv.bz2", ".csv.xz")


def source_format(p: IngestParams) -> str:
    """Return csv, parquet or sql for the configured source."""
    if p.format != "auto":
        return p.format
    if p.is_sql:
        return "sql"
    if is_glob(p.source) or Path(p.source).is_dir():
        return set_format(p.source)
    if p.source.lower().endswith((".parquet", ".pq")):
        return "parquet"
    return "csv"


def set_format(source: str) -> str:
    """Return the format of a folder or glob source's files: parquet for a folder of Parquet parts (or of nothing)."""
    if not is_glob(source) and parquet_parts(Path(source)):
        return "parquet"
    files = glob_files(source) if is_glob(source) else folder_files(Path(source))
    return files_format(files, source) if files else "csv" if is_glob(source) else "parquet"


def source_label(p: IngestParams) -> str:
    """Return the source as it may be printed, logged or recorded (a URL with its password hidden)."""
    return redact_url(p.source)


def snapshot_name(p: IngestParams) -> str:
    """Return the file name of the snapshot inside data/."""
    fmt = source_format(p)
    if fmt == "sql":
        return f"{p.table or 'query'}.parquet"
    if is_glob(p.source):
        return glob_root(p.source).name or "source"
    return Path(p.source).name


def read_sql_source(p: IngestParams, environ: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Return the SQL table or query as a frame (any SQLAlchemy URL; the password from environ[p.password_env]).

    Every failure is raised with the URL and the driver's message redacted: ConfigError (exit 2) for a dialect
    or driver that cannot be loaded, InputError (exit 3) for a connection or query that fails.
    """
    import sqlalchemy as sa

    url, secrets = connection_url(p.source, p.password_env, os.environ if environ is None else environ)
    label = redact_url(url)
    try:
        engine = sa.create_engine(url)
    except (sa.exc.NoSuchModuleError, ImportError) as err:
        raise ConfigError(
            f"ingest.source {label}: cannot load the database driver ({type(err).__name__}: "
            f"{redact_text(str(err), secrets)[:300]}); install it (PostgreSQL: pip install "
            "'psycopg[binary]')"
        ) from None
    try:
        with engine.connect() as conn:
            if p.query:
                return pd.read_sql_query(sa.text(p.query), conn)
            return pd.read_sql_table(p.table, conn)
    except (sa.exc.SQLAlchemyError, ValueError) as err:
        detail = str(getattr(err, "orig", None) or err).strip().splitlines() or [""]
        raise InputError(
            f"ingest.source {label}: cannot read table/query ({type(err).__name__}: "
            f"{redact_text(' '.join(detail), secrets)[:500]})"
        ) from None
    finally:
        engine.dispose()


def snapshot_source(p: IngestParams, data_dir: Path) -> dict:
    """Replace data_dir's content with a snapshot of the source; return what was written."""
    fmt = source_format(p)
    with io.atomic_dir(Path(data_dir)) as tmp:
        dest = tmp / snapshot_name(p)
        if fmt == "sql":
            frame = read_sql_source(p)
            frame.to_parquet(dest, index=False)
        elif is_glob(p.source):
            copy_file_set(p.source, dest, fmt)
        else:
            src = Path(p.source)
            if not src.exists():
                raise InputError(f"ingest.source {src}: no such file (set ingest.source in params.yaml)")
            if src.is_dir():
                copy_file_set(p.source, dest, fmt)
            else:
                shutil.copyfile(src, dest)
        info = {
            "source": source_label(p),
            "format": fmt,
            "file": dest.name,
            "bytes": snapshot_bytes(dest),
            "sha256": snapshot_sha256(dest),
        }
    log.info("ingest: snapshot of %s -> %s/%s (%d bytes)", source_label(p), data_dir, info["file"], info["bytes"])
    return info


def parquet_parts(root: Path) -> list[Path]:
    """Return the Parquet part files below root in path order (hidden and `_`-prefixed files, as readers skip them)."""
    return [
        f
        for f in sorted(Path(root).rglob("*"))
        if f.is_file()
        and f.suffix in (".parquet", ".pq")
        and not any(part.startswith((".", "_")) for part in f.relative_to(root).parts)
    ]


def copy_file_set(source: str, dest: Path, fmt: str) -> None:
    """Copy a folder or glob source into dest: a folder of Parquet parts as its whole tree, else the matched files
    (below the folder, or the glob's leading folder) byte for byte; a set with no files is an InputError."""
    src = Path(source)
    if not is_glob(source) and parquet_parts(src):
        found = "parquet"
    else:
        files = source_files(source)
        found = files_format(files, source)
    if fmt != found:
        raise ConfigError(
            f"ingest.source {source} is a {'glob' if is_glob(source) else 'folder'} of {found} files; "
            f"ingest.format is {fmt!r}: set it to {found} (or auto)"
        )
    if found == "parquet" and not is_glob(source):
        shutil.copytree(src, dest)  # the dataset's tree as it is (markers such as _SUCCESS too): readers skip them
    else:
        copy_files(files, set_root(source), dest)


def snapshot_bytes(path: Path) -> int:
    """Return the size of a snapshot file, or of every file below a snapshot directory."""
    path = Path(path)
    return path.stat().st_size if path.is_file() else sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def snapshot_sha256(path: Path) -> str:
    """Return the sha256 of a snapshot file, or of a snapshot directory's sorted (relative path, file sha256) list."""
    path = Path(path)
    if path.is_file():
        return io.sha256_file(path)
    listing = "".join(f"{name}\0{digest}\n" for name, digest in io.sha256_tree(path).items())
    return hashlib.sha256(listing.encode("utf-8")).hexdigest()


def read_parquet_dataset(path: Path, file_column: str | None = None) -> pd.DataFrame:
    """Return a directory of Parquet parts as one frame, parts in path order, hive keys (year=2016/) as plain columns;
    with file_column, a last column holding each row's part (its path below the folder).

    Parts whose columns differ are an InputError naming the part and the column (a reader would fill or drop them).
    """
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    parts = parquet_parts(path)
    if not parts:
        raise InputError(f"{path}/: no .parquet files below it; run `tabgate ingest` again")
    check_same_columns([pq.read_schema(f).names for f in parts], [relative_name(f, path) for f in parts], str(path))
    # plain values, not dictionaries: a partition key year=2016 reads back as the number it was
    frame = pd.read_parquet(path, partitioning=ds.HivePartitioning.discover(infer_dictionary=False))
    rows = [pq.read_metadata(f).num_rows for f in parts] if file_column else []  # read in this (path) order
    return with_file_column(frame, file_column, [relative_name(f, path) for f in parts], rows)


def snapshot_parts(path: Path) -> list[Path]:
    """Return the files a snapshot folder is read from, in order: its Parquet parts, else every file not hidden."""
    return parquet_parts(path) or sorted(
        (f for f in Path(path).rglob("*") if f.is_file() and not hidden(f, path)), key=lambda f: relative_name(f, path)
    )


def read_snapshot(path: Path, p: IngestParams) -> pd.DataFrame:
    """Return the raw snapshot (a file, or a folder of the source's files) as a frame; a file that is not a table
    is an InputError naming it."""
    if not path.exists():
        raise InputError(f"{path}: snapshot missing; run `tabgate ingest` (or `dvc pull`) first")
    if path.is_dir() and not parquet_parts(path):
        files = snapshot_parts(path)
        if not files:
            raise InputError(f"{path}/: an empty snapshot folder; run `tabgate ingest` again")
        return concat_files(files, path, lambda f: read_table_file(f, p), str(path), p.file_column)
    return one_file(path, p)


def read_source(p: IngestParams) -> pd.DataFrame:
    """Return ingest.source (a file, a folder, or a glob of files) read as one table, without a snapshot."""
    path = Path(p.source)
    if not is_glob(p.source) and not path.is_dir():
        return one_file(path, p)
    if not is_glob(p.source) and parquet_parts(path):
        return read_parquet_dataset(path, p.file_column)
    files = source_files(p.source)
    files_format(files, p.source)
    return concat_files(files, set_root(p.source), lambda f: read_table_file(f, p), p.source, p.file_column)


def one_file(path: Path, p: IngestParams) -> pd.DataFrame:
    """Return a single-file source (or its snapshot) read; with ingest.file_column, every row names the file."""
    frame = read_table_file(path, p)
    return frame if path.is_dir() else with_file_column(frame, p.file_column, [path.name], [len(frame)])


def read_table_file(path: Path, p: IngestParams) -> pd.DataFrame:
    """Return one table file (CSV-like with the reader options, or Parquet, or a folder of Parquet parts)."""
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        return read_parquet_dataset(path, p.file_column)
    try:
        if path.suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
        frame = pd.read_csv(path, **csv_options(path, p))
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError, ValueError) as err:
        raise unreadable(path, err) from None
    check_not_glued(frame, path)
    return frame


def csv_options(path: Path, p: IngestParams) -> dict[str, Any]:
    """Return the pandas.read_csv options the reader settings (ingest.separator, encoding, decimal, na) give."""
    sniff = p.separator is None and path.name.endswith((".tsv", ".txt"))
    engine: dict[str, Any] = (
        {"sep": None, "engine": "python"} if sniff else {"sep": p.separator or ",", "engine": "c", "low_memory": False}
    )
    return {
        "na_values": [*p.na_values, *p.extra_na_values],
        "keep_default_na": False,
        "encoding": p.encoding,
        "decimal": p.decimal,
        **engine,
    }


def unreadable(path: Path, err: Exception) -> InputError:
    """Return the InputError for a file that is not a table with these reader options."""
    hint = (
        "check that the file is a complete Parquet file (re-export it) or that ingest.source names the right file"
        if path.suffix in (".parquet", ".pq")
        else "check ingest.separator, ingest.encoding and ingest.decimal in params.yaml"
    )
    return InputError(f"{path}: cannot be read as a table ({err.__class__.__name__}: {str(err)[:200]}); {hint}")


def header_columns(path: Path, p: IngestParams) -> list[str]:
    """Return the columns of one table file (a CSV's header, a Parquet schema, a dataset's parts and partition keys)
    without reading its rows."""
    import pyarrow.parquet as pq

    if not path.exists():
        raise InputError(f"{path}: no such file")
    try:
        if path.is_dir():
            parts = parquet_parts(path)
            if not parts:
                raise InputError(f"{path}/: no .parquet files below it")
            names = [[c for c in pq.read_schema(f).names if not c.startswith("__index_level_")] for f in parts]
            check_same_columns(names, [relative_name(f, path) for f in parts], str(path))
            keys = [seg.split("=", 1)[0] for seg in parts[0].relative_to(path).parent.parts if "=" in seg]
            return [*names[0], *keys]
        if path.suffix in (".parquet", ".pq"):
            return [c for c in pq.read_schema(path).names if not c.startswith("__index_level_")]
        frame = pd.read_csv(path, nrows=0, **csv_options(path, p))
    except InputError:
        raise
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError, ValueError) as err:
        raise unreadable(path, err) from None
    check_not_glued(frame, path)
    return [str(c) for c in frame.columns]


def source_columns(p: IngestParams) -> list[str]:
    """Return the columns of ingest.source as read (a file, a folder or a glob: every file's header must agree),
    ingest.file_column last when set."""
    path = Path(p.source)
    added = [p.file_column] if p.file_column else []
    if not is_glob(p.source) and (not path.is_dir() or parquet_parts(path)):
        return header_columns(path, p) + added
    files = source_files(p.source)
    files_format(files, p.source)
    names = [header_columns(f, p) for f in files]
    check_same_columns(names, [relative_name(f, set_root(p.source)) for f in files], p.source)
    return names[0] + added


def check_not_glued(frame: pd.DataFrame, path: Path) -> None:
    """Raise ConfigError when a many-column file was read as one column (the separator is not the file's)."""
    if frame.shape[1] != 1:
        return
    header = str(frame.columns[0])
    found = [sep for sep in (";", "\t", "|", ",") if header.count(sep) >= 1]
    if found:
        shown = {"\t": "\\t"}.get(found[0], found[0])
        raise ConfigError(
            f"{path}: read as one column named {header[:80]!r}, which contains '{shown}': the file is "
            f"probably separated by '{shown}'. Set ingest.separator: \"{shown}\" in params.yaml "
            "and run `tabgate ingest` again"
        )


MONTHS = {
    m.lower(): i
    for i, m in enumerate(
        [
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ],
        start=1,
    )
}


def month_numbers(month: pd.Series) -> pd.Series:
    """Return month numbers from numbers, full names or three-letter names."""
    if pd.api.types.is_numeric_dtype(month):
        return month.astype("float64")
    if isinstance(month.dtype, pd.CategoricalDtype):  # parse the few categories once, not every row
        per_category = month_numbers(pd.Series(month.cat.categories.astype("string")))
        return pd.Series(per_category.to_numpy()[month.cat.codes.to_numpy()], index=month.index, dtype="float64").where(
            month.cat.codes.to_numpy() >= 0
        )
    text = month.astype("string").str.strip().str.lower()
    full = text.map(MONTHS)
    short = text.str[:3].map({k[:3]: v for k, v in MONTHS.items()})
    return pd.to_numeric(full.fillna(short), errors="coerce").astype("float64")


def time_from_parts(df: pd.DataFrame, parts: TimeParts) -> pd.Series:
    """Return timestamps built from year / month / day (/ hour / minute) columns; a part that does not parse is an error.

    Without a month or day column, 1 January or the 1st (a yearly or monthly panel)."""
    names = {k: v for k, v in parts.model_dump().items() if v is not None}
    missing = [c for c in names.values() if c not in df.columns]
    if missing:
        raise InputError(f"ingest.time_from_parts: column(s) {missing} are not in the snapshot")
    frame = pd.DataFrame(
        {k: month_numbers(df[c]) if k == "month" else pd.to_numeric(df[c], errors="coerce") for k, c in names.items()}
    )
    for key, col in names.items():
        bad = frame[key].isna() & df[col].notna()
        if bad.any():
            raise ConfigError(
                f"ingest.time_from_parts.{key}: column '{col}' has {int(bad.sum())} value(s) that are not "
                f"numbers{' or month names' if key == 'month' else ''}, e.g. {df.loc[bad, col].iloc[0]!r}"
            )
    for key in ("month", "day"):
        if key not in frame:
            frame[key] = 1.0
    return pd.to_datetime(frame[[k for k in ("year", "month", "day", "hour", "minute") if k in frame]], errors="coerce")


def build_time_column(df: pd.DataFrame, p: IngestParams, name: str) -> pd.Series:
    """Return the time column: from year/month/day parts, or parsed from the named column."""
    if p.time_from_parts is not None:
        return time_from_parts(df, p.time_from_parts)
    if name not in df.columns:
        raise InputError(f"data.time_column '{name}' is not in the snapshot (columns: {list(df.columns)[:20]}...)")
    if pd.api.types.is_datetime64_any_dtype(df[name]):
        return df[name]
    return pd.to_datetime(df[name], format=p.time_format, errors="coerce")


def coerce_numeric(df: pd.DataFrame, columns: list[str]) -> tuple[pd.DataFrame, dict[str, int]]:
    """Return df with the named columns as numbers, and how many non-blank values failed to parse."""
    out = df.copy(deep=False)  # copy-on-write: assigning columns below never touches df
    failures: dict[str, int] = {}
    for col in columns:
        if col not in out.columns:
            raise InputError(f"ingest.numeric_columns: column '{col}' is not in the snapshot")
        raw = out[col]
        parsed = pd.to_numeric(raw.astype("string").str.strip().replace("", pd.NA), errors="coerce")
        failures[col] = int((parsed.isna() & raw.notna() & (raw.astype("string").str.strip() != "")).sum())
        out[col] = parsed.astype("float64")
    return out, failures


def apply_label_map(y: pd.Series, mapping: Mapping[Any, Any]) -> tuple[pd.Series, dict[str, int]]:
    """Return the label with each spelling in mapping (data.label_map, keys compared as text) replaced by its value,
    and how many rows each spelling changed."""
    if not mapping:
        return y, {}
    lookup = {str(k): v for k, v in mapping.items()}
    text = y.astype("string")
    hit = text.isin(list(lookup)).fillna(False).to_numpy(dtype=bool)
    counts = {k: int((text == k).fillna(False).sum()) for k in lookup}
    out = y.copy()
    if hit.any():
        mapped = text[hit].map(lookup)
        if pd.api.types.is_numeric_dtype(y) and not pd.api.types.is_numeric_dtype(pd.Series(list(lookup.values()))):
            out = out.astype(object)
        out[hit] = mapped.to_numpy()
    for spelling, rows in counts.items():
        if rows:
            log.info(
                "ingest: data.label_map: %d row(s) of label %r spelt %r read as %r", rows, y.name, spelling, lookup[spelling]
            )
    return out, counts


def type_table(raw: pd.DataFrame, p: IngestParams, data: DataParams) -> tuple[pd.DataFrame, dict]:
    """Return the typed table (time column built, numeric coercions, strings as category) and notes."""
    if raw.shape[1] == 0 or raw.empty:
        raise InputError(f"ingest.source {source_label(p)}: the table is empty ({raw.shape[0]} rows, {raw.shape[1]} columns)")
    df, failures = coerce_numeric(raw, p.numeric_columns)
    notes: dict = {"numeric_parse_failures": failures}
    if data.target in df.columns:
        df[data.target], notes["label_map_rows"] = apply_label_map(df[data.target], data.label_map)
        if data.task != "regression":
            notes["label_counts"] = {str(k): int(v) for k, v in df[data.target].value_counts(dropna=False).items()}
    if data.time_column:
        df[data.time_column] = build_time_column(df, p, data.time_column)
        bad = int(df[data.time_column].isna().sum())
        notes["time_unparsed_rows"] = bad
        if bad == len(df):
            raise InputError(
                f"data.time_column '{data.time_column}': no value could be parsed as a date "
                f"(set ingest.time_format, e.g. '%Y-%m-%d')"
            )
    for col in df.columns:
        s = df[col]
        if col != data.target and (pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s)):
            df[col] = s.astype("category")
    return df, notes


def snapshot_file(data_dir: Path) -> Path:
    """Return the one table inside data_dir: a file, or a directory of Parquet parts."""
    files = sorted(f for f in Path(data_dir).iterdir() if not f.name.startswith(".")) if Path(data_dir).is_dir() else []
    if not files:
        raise InputError(
            f"{data_dir}/: no snapshot; run `tabgate ingest` (or `make run`) first: {data_dir}/ is the "
            "snapshot of ingest.source (or `dvc pull` it when the DVC remote is reachable)"
        )
    if len(files) > 1:
        raise InputError(f"{data_dir}/: expected one snapshot file, found {[f.name for f in files]}")
    return files[0]
