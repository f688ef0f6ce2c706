"""Config check: every column params.yaml names is a column of the table, checked before any run.

`tabgate config --check` reads only the header of ingest.source (each file's, for a folder or glob) and lists
every key that names a column the table does not have, with the column, the file and a close spelling.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from tasks.core.config import Config
from tasks.core.errors import ConfigError, InputError
from tasks.data.file_sets import is_glob
from tasks.data.sources import snapshot_file, source_columns


def named_columns(cfg: Config) -> dict[str, list[str]]:
    """Return {params key: the columns it names} for every key that names columns of the table."""
    d, i, v, s, m = cfg.data, cfg.ingest, cfg.validate, cfg.split, cfg.monitor
    built = i.time_from_parts is not None  # data.time_column is then built from the parts, which must exist
    named: dict[str, list[str]] = {
        "data.target": [d.target],
        "data.time_column": [d.time_column] if d.time_column and not built else [],
        "data.id_column": [d.id_column] if d.id_column else [],
        "data.drop_columns": list(d.drop_columns),
        "data.categorical_columns": d.categorical_columns,
        "data.segment_columns": d.segment_columns,
    }
    if i.time_from_parts is not None:
        named.update({f"ingest.time_from_parts.{k}": [c] for k, c in i.time_from_parts.model_dump().items() if c})
    named.update(
        {
            "ingest.numeric_columns": i.numeric_columns,
            "validate.keep_suspects": list(v.keep_suspects),
            "validate.bounds": list(v.bounds),
            "split.expected_shift": list(s.expected_shift),
            "monitor.passthrough_columns": m.passthrough_columns,
            "monitor.ignore_drift": list(m.ignore_drift),
        }
    )
    return {k: cols for k, cols in named.items() if cols}


def column_problems(cfg: Config, columns: list[str], where: str) -> list[str]:
    """Return one line per column a key names that the table lacks: the key, the column, the file, a close name."""
    known = set(columns) | ({cfg.data.time_column} if cfg.data.time_column and cfg.ingest.time_from_parts else set())
    problems = []
    for key, cols in named_columns(cfg).items():
        for col in cols:
            if col in known:
                continue
            close = [c for c in columns if c.lower() == col.lower()] or difflib.get_close_matches(col, columns, n=1, cutoff=0.75)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            entry = f"{key}.{col}" if key in MAPPING_KEYS else key
            problems.append(f"{entry}: no column '{col}' in {where}{hint}")
    return problems


MAPPING_KEYS = {"data.drop_columns", "validate.keep_suspects", "validate.bounds", "split.expected_shift", "monitor.ignore_drift"}


def table_header(cfg: Config) -> tuple[list[str], str]:
    """Return the table's columns and where they were read: ingest.source, else the snapshot in paths.data_dir."""
    source = cfg.ingest.source
    if not cfg.ingest.is_sql and (is_glob(source) or Path(source).exists()):
        return source_columns(cfg.ingest), source
    data_dir = Path(cfg.paths.data_dir)
    if data_dir.is_dir() and any(f for f in data_dir.iterdir() if not f.name.startswith(".")):
        path = snapshot_file(data_dir)
        return source_columns(cfg.ingest.model_copy(update={"source": str(path), "format": "auto"})), str(path)
    what = "a SQL URL" if cfg.ingest.is_sql else "not there"
    raise InputError(
        f"ingest.source {source} is {what} and {data_dir}/ holds no snapshot: nothing to check the "
        "columns against; run `tabgate ingest` (or `dvc pull data.dvc`) first"
    )


def check_columns(cfg: Config, params: str) -> str:
    """Return a one-line summary when every column params names is in the table; else raise ConfigError (exit 2)
    listing each key, column and the file."""
    columns, where = table_header(cfg)
    problems = column_problems(cfg, columns, where)
    if problems:
        raise ConfigError(
            f"{params}: {len(problems)} key(s) name a column the table does not have ({where} has "
            f"{len(columns)} columns: {columns[:15]}{' ...' if len(columns) > 15 else ''}):\n  - " + "\n  - ".join(problems)
        )
    keys = named_columns(cfg)
    return (
        f"{params}: OK: the {sum(len(c) for c in keys.values())} column(s) named by {len(keys)} key(s) "
        f"({', '.join(keys)}) are all in {where} ({len(columns)} columns)"
    )
