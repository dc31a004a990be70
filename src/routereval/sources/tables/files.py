"""Files: the format from the name, decompression, and UTF-8 decoding with located errors."""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import lzma
import re
import zipfile
from pathlib import Path

from routereval.errors import DataError

FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}
COMPRESSIONS = (".gz", ".bz2", ".xz", ".zip")

def detect_format(path: Path, format: str | None) -> tuple[str, str | None]:
    suffixes = [s.lower() for s in path.suffixes]
    compression = suffixes.pop() if suffixes and suffixes[-1] in COMPRESSIONS else None
    if format is not None:
        fmt = FORMATS.get("." + format.lower().lstrip("."))
        if fmt is None:
            raise DataError(
                f"unknown format {format!r}; supported: csv, tsv, jsonl (or ndjson), parquet", file=str(path)
            )
    else:
        fmt = FORMATS.get(suffixes[-1]) if suffixes else None
        if fmt is None:
            raise DataError(
                f"cannot tell the format from the file name; supported: {', '.join(FORMATS)} "
                f"(all but Parquet also compressed as {', '.join(COMPRESSIONS)}), "
                "or pass format='csv' / 'tsv' / 'jsonl' / 'parquet'",
                file=str(path),
            )
    if fmt == "parquet" and compression:
        raise DataError("a Parquet file cannot be compressed on top (Parquet compresses itself)", file=str(path))
    return fmt, compression


def stem(path: Path) -> str:
    name = path.name
    for known in (COMPRESSIONS, tuple(FORMATS)):
        stem, dot, ext = name.rpartition(".")
        if dot and stem and "." + ext.lower() in known:
            name = stem
    return name if name != path.name else path.stem


def decompress(raw: bytes, compression: str | None, file: str) -> bytes:
    try:
        if compression == ".gz":
            return gzip.decompress(raw)
        if compression == ".bz2":
            return bz2.decompress(raw)
        if compression == ".xz":
            return lzma.decompress(raw)
        if compression == ".zip":
            with zipfile.ZipFile(io.BytesIO(raw)) as z:
                members = [m for m in z.namelist() if not m.endswith("/")]
                if len(members) != 1:
                    raise DataError(f"a .zip must hold exactly one file, this one holds {len(members)}", file=file)
                return z.read(members[0])
    except (OSError, EOFError, lzma.LZMAError, zipfile.BadZipFile) as exc:
        raise DataError(f"could not be decompressed as {compression}: {exc}", file=file) from exc
    return raw


def decode_utf8(data: bytes, file: str, sep: str | None, compressed: bool = False) -> str:
    """Decode the bytes ourselves, so that a bad byte can be located by line and offset."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        start = exc.start
        line = data.count(b"\n", 0, start) + 1
        line_start = data.rfind(b"\n", 0, start) + 1
        column = _column_at(data, line_start, start, sep)
        raise DataError(
            f"is not UTF-8 text: byte 0x{data[start]:02x} on line {line}, byte {start - line_start + 1} of "
            f"the line (offset {start} in the {'decompressed text' if compressed else 'file'}); "
            "save the file as UTF-8",
            file=file,
            row=line,
            column=column,
        ) from None
    return text[1:] if text.startswith("\ufeff") else text


def _column_at(data: bytes, line_start: int, offset: int, sep: str | None) -> str | None:
    """Best guess of the column holding a byte, for the encoding error message."""
    prefix = data[line_start:offset].decode("utf-8", "replace")
    if sep is None:  # JSONL: the last key before the byte
        keys = re.findall(r'"((?:[^"\\]|\\.)*)"\s*:', prefix)
        return keys[-1] if keys else None
    if line_start == 0:
        return None
    first_line = data[: data.find(b"\n")].decode("utf-8", "replace").lstrip("\ufeff")
    try:
        header = next(csv.reader([first_line], delimiter=sep))
        fields = next(csv.reader([prefix], delimiter=sep), [""]) if prefix else [""]
    except (csv.Error, StopIteration):
        return None
    i = len(fields) - 1
    return header[i].strip() if 0 <= i < len(header) else None
