"""Checksums of a records store's files: a cheap check on every open, a full one on request.

Each file of a store is recorded in its manifest with its size, the sha256 of
the whole file and the sha256 of a fixed sample of it (16 blocks of 64 KiB
spread evenly, the first and last included). Opening a store compares sizes
and sampled hashes: about 1 MiB read per file whatever its size, so opening
RouterEval's 191 MiB score matrix stays a fraction of a second, and any
truncation, any change of size, and any change in the sampled blocks is caught.
``routereval data verify`` compares the full hashes, which catches every change.

Modification times are not used: copying a store (``cp -r``, a backup restore)
changes them without damaging anything.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from routereval.errors import DamagedStoreError

SAMPLE_BLOCKS = 16
SAMPLE_BYTES = 64 * 2**10
_READ_BYTES = 2**20


def sample_offsets(size: int) -> list[int]:
    """Start offsets of the sampled blocks of a file of ``size`` bytes (first and last included)."""
    if size <= SAMPLE_BLOCKS * SAMPLE_BYTES:
        return [0]  # the sample is the whole file
    last = size - SAMPLE_BYTES
    return [round(i * last / (SAMPLE_BLOCKS - 1)) for i in range(SAMPLE_BLOCKS)]


def sampled_sha256(path: Path, size: int | None = None) -> str:
    """The sha256 of a file's sampled blocks (the whole file when it is small)."""
    size = path.stat().st_size if size is None else size
    h = hashlib.sha256()
    with open(path, "rb") as f:
        offsets = sample_offsets(size)
        length = size if offsets == [0] else SAMPLE_BYTES
        for offset in offsets:
            f.seek(offset)
            h.update(f.read(length))
    return h.hexdigest()


def full_sha256(path: Path) -> str:
    """The sha256 of a whole file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_READ_BYTES), b""):
            h.update(block)
    return h.hexdigest()


def describe_files(root: Path, names: list[str]) -> dict[str, dict[str, Any]]:
    """The manifest entry for each of ``names`` (paths relative to ``root``)."""
    out = {}
    for name in names:
        path = root / name
        size = path.stat().st_size
        out[name] = {"size": size, "sha256": full_sha256(path), "sample_sha256": sampled_sha256(path, size)}
    return out


def manifest_digest(manifest: dict[str, Any]) -> str:
    """The sha256 of a manifest's content, its own checksum field left out."""
    body = {k: v for k, v in manifest.items() if k != "manifest_sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def check_manifest(manifest: dict[str, Any], file: str) -> None:
    """Refuse a manifest whose content no longer matches its recorded checksum."""
    recorded = manifest.get("manifest_sha256")
    if recorded is not None and recorded != manifest_digest(manifest):
        raise DamagedStoreError(
            "was changed after it was written (its checksum does not match); the store is damaged", file=file
        )


def check_files(root: Path, files: dict[str, dict[str, Any]], *, full: bool = False) -> int:
    """Compare every recorded file with what is on disk; return the bytes hashed.

    ``full`` hashes whole files; otherwise only sizes and sampled blocks are compared.
    Raises DamagedStoreError naming the first file that differs.
    """
    hashed = 0
    for name, want in files.items():
        path = root / name
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise DamagedStoreError("is missing; the store is damaged", file=str(path)) from None
        if size != want["size"]:
            raise DamagedStoreError(
                f"is {size} bytes, but {want['size']} were written; the store is damaged", file=str(path)
            )
        if full:
            got, key = full_sha256(path), "sha256"
            hashed += size
        else:
            got, key = sampled_sha256(path, size), "sample_sha256"
            hashed += min(size, SAMPLE_BLOCKS * SAMPLE_BYTES)
        if got != want[key]:
            raise DamagedStoreError(
                "has changed since it was written (its checksum does not match); the store is damaged", file=str(path)
            )
    return hashed


def relative_files(root: Path) -> list[str]:
    """Every file under ``root`` but the manifest, as sorted POSIX paths relative to it."""
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and p.name != "manifest.json"
    )


__all__ = [
    "check_files",
    "check_manifest",
    "describe_files",
    "full_sha256",
    "manifest_digest",
    "relative_files",
    "sampled_sha256",
]

