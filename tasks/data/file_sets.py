"""File sets: several CSV or Parquet files read as one table (a folder of them, or a glob such as `raw/*.csv`).

`ingest.source` may name a folder or a glob. The files are taken in sorted path order (their path below the
folder, or below the glob's leading folder), must hold the same columns (the order may differ: columns come in
the first file's order), and are concatenated. The snapshot copies the same files, keeping those relative paths,
so reading the snapshot gives the same table in the same order. A folder of Parquet parts (`year=2016/...`)
keeps its partition keys as columns (tasks/data/sources.py reads it).
"""

from __future__ import annotations

import glob
import hashlib
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from tasks.core.errors import ConfigError, InputError

PARQUET_SUFFIXES = (".parquet", ".pq")
# what a folder scan takes as a table (a glob takes whatever it matches: the user named the files)
CSV_SUFFIXES = (".csv", ".tsv", ".csv.gz", ".tsv.gz", ".csv.bz2", ".csv.xz", ".csv.zip")
GLOB_CHARS = ("*", "?", "[")


def is_glob(source: str) -> bool:
    """True when ingest.source is a glob pattern (it holds *, ? or [)."""
    return any(ch in source for ch in GLOB_CHARS)


def glob_root(pattern: str) -> Path:
    """Return the leading folder of a glob, the part before the first component with a wildcard ('.' if none)."""
    parts = Path(pattern).parts
    fixed = parts[: next((i for i, part in enumerate(parts) if is_glob(part)), len(parts))]
    return Path(*fixed) if fixed else Path(".")


def is_parquet(path: Path) -> bool:
    """True for a Parquet file name (.parquet, .pq)."""
    return path.name.lower().endswith(PARQUET_SUFFIXES)


def is_table_name(path: Path) -> bool:
    """True for a file name a folder scan reads as a table: CSV-like (compressed too) or Parquet."""
    return path.name.lower().endswith(CSV_SUFFIXES + PARQUET_SUFFIXES)


def hidden(path: Path, root: Path) -> bool:
    """True for a file below root that readers skip: any part of its relative path starting with '.' or '_'."""
    return any(part.startswith((".", "_")) for part in path.relative_to(root).parts)


def relative_name(path: Path, root: Path) -> str:
    """Return the path of a file below root as posix text (the key files are sorted and reported by)."""
    return path.relative_to(root).as_posix()


def folder_files(root: Path) -> list[Path]:
    """Return the table files below a folder (CSV-like or Parquet, not hidden), in sorted path order."""
    root = Path(root)
    found = [f for f in root.rglob("*") if f.is_file() and is_table_name(f) and not hidden(f, root)]
    return sorted(found, key=lambda f: relative_name(f, root))


def glob_files(pattern: str) -> list[Path]:
    """Return the files a glob matches (not hidden below its leading folder), in sorted path order."""
    root = glob_root(pattern)
    found = [Path(f) for f in glob.glob(pattern, recursive=True)]
    found = [f for f in found if f.is_file() and not hidden(f, root)]
    return sorted(found, key=lambda f: relative_name(f, root))


def set_root(source: str) -> Path:
    """Return the folder the files of a folder or glob source are named relative to."""
    return glob_root(source) if is_glob(source) else Path(source)


def source_files(source: str) -> list[Path]:
    """Return the files of a folder or glob source in sorted path order; none is an InputError naming the source."""
    files = glob_files(source) if is_glob(source) else folder_files(Path(source))
    if not files:
        what = (
            "matches no file"
            if is_glob(source)
            else f"is a folder with no CSV ({', '.join(CSV_SUFFIXES)}) or .parquet files below it"
        )
        raise InputError(
            f"ingest.source {source} {what}: name a table file, a folder of CSV or Parquet files "
            "with the same columns, or a glob such as 'raw/*.csv'"
        )
    return files


def files_format(files: Sequence[Path], source: str) -> str:
    """Return 'parquet' or 'csv' for a set of files; a mix of both is a ConfigError naming one of each."""
    parquet = [f for f in files if is_parquet(f)]
    text = [f for f in files if not is_parquet(f)]
    if parquet and text:
        raise ConfigError(
            f"ingest.source {source}: mixes Parquet ({parquet[0]}) and text files ({text[0]}); "
            "files read as one table must share one format: narrow ingest.source (e.g. 'raw/*.csv')"
        )
    return "parquet" if parquet else "csv"


def copy_files(files: Sequence[Path], root: Path, dest: Path) -> None:
    """Copy each file to dest/<its path below root>, byte for byte."""
    for f in files:
        target = dest / f.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f, target)


def md5_file(path: Path, chunk: int = 1 << 20) -> str:
    """Return the hex md5 of a file's bytes (the hash DVC records for it)."""
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def file_listing(files: Sequence[Path], root: Path) -> list[dict[str, str | int]]:
    """Return each file of a set, in the order it is read: its path below root, its md5 and size."""
    return [{"file": relative_name(f, root), "md5": md5_file(f), "bytes": f.stat().st_size} for f in files]


def check_same_columns(columns: Sequence[Sequence[str]], names: Sequence[str], source: str) -> None:
    """Raise InputError naming the file and the column when a file's columns differ from the first file's."""
    first = [str(c) for c in columns[0]]
    for cols, name in zip(columns[1:], names[1:], strict=True):
        cols = [str(c) for c in cols]
        extra = [c for c in cols if c not in first]
        missing = [c for c in first if c not in cols]
        if extra or missing:
            what = (
                f"has column '{extra[0]}' that {names[0]} (the first file) lacks"
                if extra
                else f"lacks column '{missing[0]}' that {names[0]} (the first file) has"
            )
            more = [*extra[1:], *missing] if extra else missing[1:]
            raise InputError(
                f"ingest.source {source}: {name} {what}"
                + (f" (also differ: {more})" if more else "")
                + "; files read as one table must have the same columns: fix the file, or narrow "
                "ingest.source to the files that belong together"
            )


def concat_files(
    files: Sequence[Path], root: Path, read_one: Callable[[Path], pd.DataFrame], source: str, file_column: str | None = None
) -> pd.DataFrame:
    """Return the files read one by one and concatenated in order (columns in the first file's order); with
    file_column, a last column holding each row's file (its path below root, the same for the source and its snapshot)."""
    frames = [read_one(f) for f in files]
    names = [relative_name(f, root) for f in files]
    check_same_columns([list(f.columns) for f in frames], names, source)
    order = list(frames[0].columns)
    return with_file_column(
        pd.concat([f[order] for f in frames], ignore_index=True), file_column, names, [len(f) for f in frames]
    )


def with_file_column(frame: pd.DataFrame, file_column: str | None, names: Sequence[str], rows: Sequence[int]) -> pd.DataFrame:
    """Return frame with file_column (ingest.file_column) holding names[i] on the rows[i] rows of file i, in order
    (a category column, its categories in file order); file_column None: frame unchanged."""
    if file_column is None:
        return frame
    if file_column in frame.columns:
        raise ConfigError(
            f"ingest.file_column '{file_column}': {names[0]} already has a column of that name; "
            "choose another name in params.yaml"
        )
    if sum(rows) != len(frame):
        raise InputError(f"{names[0]}...: the files hold {sum(rows)} rows but read as {len(frame)}; run `tabgate ingest` again")
    out = frame.copy()
    out[file_column] = pd.Categorical(np.repeat(list(names), list(rows)), categories=list(dict.fromkeys(names)))
    return out
