"""IO at the edges: atomic writes, Parquet and JSON, checksums. No step logic here."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel

from tasks.core.errors import InputError

log = logging.getLogger(__name__)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def fsync_dir(path: Path) -> None:
    """Flush a directory's entries to disk (after a rename into it)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    """Flush a file's bytes to disk."""
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


@contextmanager
def atomic_path(dest: Path, durable: bool = False) -> Iterator[Path]:
    """Yield a temp path beside dest; on success it is renamed onto dest, on error removed.

    durable: fsync the file before the rename and the directory after it, so a power cut leaves
    either the old file or the whole new one (the registry's pointer and records need this).
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())
        if durable:
            fsync_file(tmp_path)
        os.replace(tmp_path, dest)
        if durable:
            fsync_dir(dest.parent)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextmanager
def atomic_dir(dest: Path) -> Iterator[Path]:
    """Yield a temp directory beside dest; on success it replaces dest whole, on error is removed."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())
        old = dest.with_name(f".{dest.name}.old")
        if old.exists():
            shutil.rmtree(old)
        if dest.exists():
            os.replace(dest, old)
        os.replace(tmp, dest)
        if old.exists():
            shutil.rmtree(old)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def write_bytes(data: bytes, dest: Path, durable: bool = False) -> None:
    """Write bytes to dest atomically (durable: fsynced, see atomic_path)."""
    with atomic_path(dest, durable) as tmp:
        tmp.write_bytes(data)


def write_text(text: str, dest: Path, durable: bool = False) -> None:
    """Write text to dest atomically (durable: fsynced, see atomic_path)."""
    write_bytes(text.encode("utf-8"), dest, durable)


ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry: no entry says when it was written


def stable_zip_bytes(entries: dict[str, bytes]) -> bytes:
    """Return a zip of entries that depends on their names and bytes only: sorted, stored, fixed time and modes."""
    buf = BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_STORED
            info.create_system = 3  # unix, whichever machine wrote it
            info.external_attr = 0o644 << 16
            zf.writestr(info, entries[name])
    return buf.getvalue()


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return None if np.isnan(obj) else float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (pd.Timestamp,)):
        return obj.isoformat()
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _clean_nans(obj: Any) -> Any:
    if isinstance(obj, BaseModel):  # a typed report or record inside plain data: its fields, as its file holds them
        return _clean_nans(obj.model_dump(mode="json", by_alias=True, exclude_unset=True))
    if isinstance(obj, float) and (np.isnan(obj) or np.isinf(obj)):
        return None
    if isinstance(obj, dict):
        return {str(k): _clean_nans(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean_nans(v) for v in obj]
    return obj


def to_json(obj: Any) -> str:
    """Return stable, pretty JSON (sorted keys, NaN as null) for reports DVC can diff."""
    return json.dumps(_clean_nans(obj), indent=2, sort_keys=True, default=_json_default) + "\n"


def write_json(obj: Any, dest: Path, durable: bool = False) -> None:
    """Write obj as stable JSON to dest atomically (durable: fsynced, see atomic_path)."""
    write_text(to_json(obj), dest, durable)


def append_json_line(obj: Any, dest: Path) -> None:
    """Append obj as one compact JSON line (sorted keys, NaN as null) to dest and fsync it (an audit log)."""
    line = json.dumps(_clean_nans(obj), sort_keys=True, default=str)
    with open(dest, "a", encoding="utf-8") as fh:
        fh.write(line + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def read_json(path: Path) -> Any:
    """Read a JSON file, naming it in the error when it is missing or broken."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: missing; run the step that writes it first")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise InputError(f"{path}: not valid JSON ({err})") from None


def write_frame(df: pd.DataFrame, dest: Path) -> None:
    """Write a frame as Parquet atomically (categoricals and dtypes kept)."""
    with atomic_path(dest) as tmp:
        df.to_parquet(tmp, index=False)


def read_frame(path: Path, columns: list[str] | None = None) -> pd.DataFrame:
    """Read a Parquet frame written by write_frame."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: missing; run the step that writes it first")
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=columns)
    # self_destruct frees each Arrow column as it is converted: the peak is ~1.7x the frame, not ~2.5x
    return table.to_pandas(self_destruct=True, split_blocks=True)


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Return the hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def sha256_tree(root: Path) -> dict[str, str]:
    """Return {relative path: sha256} for every file below root, sorted."""
    root = Path(root)
    return {str(p.relative_to(root)): sha256_file(p) for p in sorted(root.rglob("*")) if p.is_file()}


def data_version(dvc_file: Path) -> str | None:
    """Return the DVC md5 of the data snapshot from a .dvc file (e.g. data.dvc), or None when absent."""
    dvc_file = Path(dvc_file)
    if not dvc_file.exists():
        return None
    try:
        doc = yaml.safe_load(dvc_file.read_text(encoding="utf-8")) or {}
        outs = doc.get("outs") or []
        return str(outs[0]["md5"]) if outs and outs[0].get("md5") else None
    except (yaml.YAMLError, AttributeError, KeyError, IndexError, TypeError):
        log.warning("%s is not a readable .dvc file; data version unknown", dvc_file)
        return None
