"""One manifest format for every folder routereval writes with checksums, and how it is read without trusting it.

Four kinds of folder carry a manifest: a records store (``manifest.json``), a
saved router (``manifest.json``), the ONNX export of the bundled encoder
(``export.json``) and the minilm-static word-piece table (``table.json``).
Each manifest is one JSON object:

* ``format`` (which kind of folder) and ``format_version``;
* the kind's own fields (each kind checks them with its own schema);
* ``files``: for every other file of the folder, its ``size`` in bytes, the
  ``sha256`` of the whole file and the ``sample_sha256`` of 16 blocks of
  64 KiB spread evenly through it, the first and last included (the whole file
  when it is smaller than that);
* ``manifest_sha256``, last: the sha256 of the manifest's canonical JSON
  without that field, where canonical means ``json.dumps(body, sort_keys=True,
  allow_nan=False)`` with Python's defaults otherwise (ASCII only, ``", "`` and
  ``": "`` between items), encoded as UTF-8. It catches a hand edit or damage;
  it is not a signature, so each kind still checks its fields.

Writing (:func:`write`): the files first, then the manifest, atomically
(:mod:`routereval.atomic`) and last, so a folder without its manifest is an
unfinished one. Reading (:func:`read`, then :func:`check_files`): the manifest
must be a regular file (not a link) of bounded size holding strict JSON
(:mod:`routereval.strict_json`: bounded nesting, no duplicate keys, no NaN);
then its format, its version (a newer one: "upgrade routereval"), its own
checksum; then, once the kind has checked its fields, every file: in place, of
its recorded size and with its sampled hash (the cheap check: about 1 MiB read
per file whatever its size) or its full hash (on request). Modification times
are never used: copying a folder changes them without damaging anything.

Every refusal is a :class:`Problem` (which file, what is wrong), which the
kind turns into its own error and one line saying what to do
(:attr:`Kind.error`); so a store refuses with
:class:`~routereval.errors.DamagedStoreError` and "the store is damaged", an
artifact with its own errors and "run routereval train again".

Two stores of routereval are not folders with a manifest, on purpose:

* the embedding cache (:mod:`routereval.encoders.cache`) grows by appending
  shards that are never rewritten; a manifest rewritten after every batch
  would be the one file a crash could leave stale, so an SQLite index records
  each shard's size and sha256 (computed with :func:`full_sha256`) in the
  transaction that adds it;
* the results store (:mod:`routereval.results.store`) holds one Parquet file
  per result row, each written atomically on its own as soon as it is known,
  so any set of whole files is a consistent store and there is nothing a
  manifest would need to vouch for.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from routereval import strict_json
from routereval.atomic import write_text_atomic

SAMPLE_BLOCKS = 16
SAMPLE_BYTES = 64 * 2**10
_READ_BYTES = 2**20
#: The field holding the manifest's own checksum.
CHECKSUM = "manifest_sha256"
#: Fields every manifest has; a kind's own fields may not use these names.
ENVELOPE_FIELDS = ("format", "format_version", "files", CHECKSUM)
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_MAX_FILE_SIZE = 2**50


# -- file hashes ---------------------------------------------------------------------------------


def sample_offsets(size: int) -> list[int]:
    """Start offsets of the sampled blocks of a file of ``size`` bytes (first and last included)."""
    if size <= SAMPLE_BLOCKS * SAMPLE_BYTES:
        return [0]  # the sample is the whole file
    last = size - SAMPLE_BYTES
    return [round(i * last / (SAMPLE_BLOCKS - 1)) for i in range(SAMPLE_BLOCKS)]


def sampled_sha256(path: Path, size: int | None = None) -> str:
    """The sha256 of a file's sampled blocks (the whole file when it is small)."""
    size = Path(path).stat().st_size if size is None else size
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


def describe_file(path: Path) -> dict[str, Any]:
    """A file's entry in ``files``: its size, full sha256 and sampled sha256."""
    size = Path(path).stat().st_size
    return {"size": size, "sha256": full_sha256(path), "sample_sha256": sampled_sha256(path, size)}


def describe_files(root: Path, names: list[str]) -> dict[str, dict[str, Any]]:
    """The ``files`` field for ``names`` (POSIX paths relative to ``root``)."""
    return {name: describe_file(Path(root) / name) for name in names}


def files_under(root: Path, manifest: str = "manifest.json") -> list[str]:
    """Every file under ``root`` but its manifest, as sorted POSIX paths relative to it."""
    root = Path(root)
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                  if p.is_file() and p.relative_to(root).as_posix() != manifest)


# -- the manifest's own checksum -----------------------------------------------------------------


def canonical(doc: Mapping[str, Any]) -> bytes:
    """The bytes the checksum covers: ``doc`` without its checksum field, in canonical JSON (module docstring)."""
    body = {k: v for k, v in doc.items() if k != CHECKSUM}
    return json.dumps(body, sort_keys=True, allow_nan=False).encode("utf-8")


def checksum(doc: Mapping[str, Any]) -> str:
    """The sha256 the manifest ``doc`` should record as its own."""
    return hashlib.sha256(canonical(doc)).hexdigest()


def seal(doc: Mapping[str, Any]) -> dict[str, Any]:
    """``doc`` with its checksum set, as the last key (so the file reads top-down)."""
    body = {k: v for k, v in doc.items() if k != CHECKSUM}
    return {**body, CHECKSUM: checksum(body)}


def checksum_matches(doc: Mapping[str, Any]) -> bool:
    """True when ``doc`` records its own checksum and it matches its content."""
    return isinstance(doc.get(CHECKSUM), str) and doc[CHECKSUM] == checksum(doc)


# -- kinds and problems --------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """Why a folder is refused: ``code`` (below), the file at fault, and what is wrong in one clause.

    Codes: ``unfinished`` (no manifest), ``link``, ``not_regular``, ``unreadable``, ``too_large``,
    ``not_json``, ``not_object``, ``foreign`` (another format), ``newer``, ``old_version``,
    ``bad_version``, ``altered`` (manifest checksum), ``malformed`` (envelope fields), and for the
    listed files ``missing``, ``size``, ``changed`` (hash).
    """

    code: str
    path: Path
    what: str

    def line(self, remedy: str) -> str:
        """The one line a user reads: the file, what is wrong, what to do."""
        return f"{self.path}: {self.what}; {remedy}"


@dataclass(frozen=True)
class Kind:
    """One kind of folder with a manifest: its format name, versions, limits, and how it words a refusal.

    ``older`` maps each older version still read to its own checksum test (``None`` for versions
    written before manifests had a checksum); ``unnamed`` is the version of a manifest with no
    ``format`` field (written before it had one); ``error`` turns a :class:`Problem` into the
    exception the kind raises.
    """

    format: str
    version: int
    error: Callable[[Problem], Exception]
    noun: str = "folder"
    manifest: str = "manifest.json"
    older: Mapping[int, Callable[[dict[str, Any]], bool] | None] = field(default_factory=dict)
    unnamed: int | None = None
    max_bytes: int = 16 * 2**20
    max_depth: int = 32

    @property
    def readable(self) -> list[int]:
        """Every version this routereval reads, oldest first."""
        return sorted({*self.older, self.version})

    def fail(self, code: str, path: Path, what: str) -> Exception:
        """The exception this kind raises for the problem ``code`` with ``path``."""
        return self.error(Problem(code, Path(path), what))


# -- writing -------------------------------------------------------------------------------------


def build(kind: Kind, fields: Mapping[str, Any], files: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The sealed manifest of ``kind`` with the kind's ``fields`` and the ``files`` entries, as a reader parses it."""
    clash = sorted(set(fields) & set(ENVELOPE_FIELDS))
    if clash:
        raise ValueError(f"a manifest's own fields may not be named {', '.join(clash)}")
    doc = {"format": kind.format, "format_version": kind.version, **fields, "files": dict(files)}
    # Through JSON and back, so the checksum covers exactly what a reader will parse.
    return seal(json.loads(json.dumps(doc, default=str, allow_nan=False)))


def write(folder: Path, kind: Kind, fields: Mapping[str, Any], names: list[str]) -> dict[str, Any]:
    """Describe ``names`` (files already written in ``folder``) and write the manifest, atomically; returns it.

    Call it last: until it returns, the folder has no manifest and reads as unfinished.
    """
    doc = build(kind, fields, describe_files(folder, names))
    text = json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    write_text_atomic(Path(folder) / kind.manifest, text)
    return doc


# -- reading -------------------------------------------------------------------------------------


def stat_in_place(path: Path, kind: Kind, *, missing: str = "unfinished") -> os.stat_result:
    """``path``'s status if it is a regular file in place (not a link, folder, pipe or device)."""
    path = Path(path)
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        raise kind.fail(missing, path, "is missing") from None
    except OSError as exc:
        raise kind.fail("unreadable", path, f"cannot be read ({exc.strerror or exc})") from None
    if stat.S_ISLNK(info.st_mode):
        raise kind.fail("link", path, "is a symbolic link, not a file of the folder")
    if not stat.S_ISREG(info.st_mode):
        raise kind.fail("not_regular", path, "is not a regular file")
    return info


def read(folder: Path, kind: Kind) -> tuple[dict[str, Any], int]:
    """The manifest of ``folder`` and its version, checked up to its own checksum (not yet its files).

    Raises ``kind.error(problem)`` for a manifest that is missing, not a regular file, too large,
    not strict JSON, of another format, of a version this routereval does not read, or altered.
    """
    path = Path(folder) / kind.manifest
    info = stat_in_place(path, kind)
    limit = f"is larger than the limit of {kind.max_bytes} bytes"
    if info.st_size > kind.max_bytes:
        raise kind.fail("too_large", path, limit)
    try:
        with open(path, "rb") as f:
            raw = f.read(kind.max_bytes + 1)
    except OSError as exc:
        raise kind.fail("unreadable", path, f"cannot be read ({exc.strerror or exc})") from None
    if len(raw) > kind.max_bytes:  # it grew since it was measured
        raise kind.fail("too_large", path, limit)
    try:
        doc = strict_json.loads(raw, max_depth=kind.max_depth)
    except strict_json.JSONRefused as exc:
        raise kind.fail("not_json", path, str(exc)) from None
    if not isinstance(doc, dict):
        raise kind.fail("not_object", path, "is not a JSON object")
    version = _version(doc, path, kind)
    test = checksum_matches if version == kind.version else kind.older[version]
    # A version from before checksums never recorded files or its own checksum: one that does was relabelled.
    relabelled = test is None and ("files" in doc or CHECKSUM in doc)
    if relabelled or (test is not None and not test(doc)):
        raise kind.fail("altered", path, "was changed after it was written (its checksum does not match)")
    return doc, version


def _version(doc: dict[str, Any], path: Path, kind: Kind) -> int:
    if "format" not in doc and kind.unnamed is not None:
        return kind.unnamed
    if doc.get("format") != kind.format:
        raise kind.fail("foreign", path, f"is not a {kind.format} manifest (format {_short(doc.get('format'))})")
    version = doc.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise kind.fail("bad_version", path, f"format_version {_short(version)} is not a version routereval writes")
    if version > kind.version:
        raise kind.fail("newer", path, f"{kind.noun} format v{version} is newer than this routereval reads "
                                       f"(v{kind.version}); upgrade routereval")
    if version != kind.version and version not in kind.older:
        raise kind.fail("old_version", path, f"{kind.noun} format v{version} is no longer read (this routereval "
                                             f"reads {_versions(kind.readable)})")
    return version


def _versions(versions: list[int]) -> str:
    shown = [f"v{v}" for v in versions]
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} and {shown[-1]}"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def file_entries(doc: Mapping[str, Any], path: Path, kind: Kind) -> dict[str, dict[str, Any]]:
    """The manifest's ``files`` field, checked to be what :func:`write` records (plain names, sizes, digests)."""
    files = doc.get("files")
    if not isinstance(files, dict):
        raise kind.fail("malformed", path, "files: must map each file of the folder to its size and digests")
    for name, entry in files.items():
        parts = name.split("/")
        if not name or name.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\\" in name:
            raise kind.fail("malformed", path, f"files: {_short(name)} is not a path inside the folder")
        ok = (isinstance(entry, dict) and set(entry) == {"size", "sha256", "sample_sha256"}
              and isinstance(entry["size"], int) and not isinstance(entry["size"], bool)
              and 0 <= entry["size"] <= _MAX_FILE_SIZE
              and all(isinstance(entry[k], str) and _HEX64.match(entry[k]) for k in ("sha256", "sample_sha256")))
        if not ok:
            raise kind.fail("malformed", path, f"files.{name}: must be a size and two sha256 digests (64 hex digits)")
    return files


def check_files(folder: Path, kind: Kind, doc: Mapping[str, Any], *, full: bool = False,
                required: Iterable[str] = ()) -> int:
    """Compare every file the manifest ``doc`` lists with what is on disk; returns the bytes hashed.

    Sizes and sampled hashes by default; ``full`` hashes whole files. Raises ``kind.error`` for a
    manifest that does not list every ``required`` file, and for the first file that is missing,
    not a regular file in place, or differs.
    """
    folder = Path(folder)
    files = file_entries(doc, folder / kind.manifest, kind)
    unlisted = [name for name in required if name not in files]
    if unlisted:
        raise kind.fail("malformed", folder / kind.manifest, f"files: does not list {unlisted[0]}")
    hashed = 0
    for name, want in files.items():
        path = folder / name
        size = stat_in_place(path, kind, missing="missing").st_size
        if size != want["size"]:
            raise kind.fail("size", path, f"is {size} bytes, but {want['size']} were written")
        if full:
            got, key = full_sha256(path), "sha256"
            hashed += size
        else:
            got, key = sampled_sha256(path, size), "sample_sha256"
            hashed += min(size, SAMPLE_BLOCKS * SAMPLE_BYTES)
        if got != want[key]:
            raise kind.fail("changed", path, "has changed since it was written (its checksum does not match)")
    return hashed


__all__ = [
    "CHECKSUM",
    "Kind",
    "Problem",
    "build",
    "canonical",
    "check_files",
    "checksum",
    "checksum_matches",
    "describe_file",
    "describe_files",
    "file_entries",
    "files_under",
    "full_sha256",
    "read",
    "sample_offsets",
    "sampled_sha256",
    "seal",
    "stat_in_place",
    "write",
]
