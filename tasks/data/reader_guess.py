"""Reader guess: what the first bytes of a text table say about how to read it (separator, encoding, decimal mark).

Used by `tabgate init` (tasks.data.profiling.plan_init); pure functions of the bytes, and the reading of them.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import lzma
import re
import zipfile
from pathlib import Path

from pydantic import BaseModel, ConfigDict


class ReaderGuess(BaseModel):
    """How to read a text table: what the first bytes say about its separator, encoding and decimal mark."""

    model_config = ConfigDict(frozen=True)

    separator: str = ","
    encoding: str = "utf-8"
    decimal: str = "."


def sniff_reader(head: bytes) -> ReaderGuess:
    """Return the separator, encoding and decimal mark the first bytes of a text table suggest."""
    try:
        text, encoding = head.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as err:
        if err.start >= len(head) - 4:  # a multi-byte character cut at the end of the sample
            text, encoding = head[: err.start].decode("utf-8"), "utf-8"
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
    opener = (
        gzip.open if name.endswith(".gz") else bz2.open if name.endswith(".bz2") else lzma.open if name.endswith(".xz") else open
    )
    with opener(path, "rb") as f:
        return f.read(size)
