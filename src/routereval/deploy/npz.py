""".npz files of a routing artifact, read within what the manifest declares.

``np.load`` would inflate a compressed member of any size before anyone could
look at it (a 1.5 MB file can hold gigabytes of zeros) and accepts any member.
Here every member must be declared in the manifest (dtype and shape), be
stored uncompressed (``np.savez`` never compresses, so a compressed member
was not written by routereval), and carry exactly the declared header; only
then is memory of the declared size allocated and filled. Reading therefore
costs at most what the manifest declares, which is capped.
"""

from __future__ import annotations

import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from routereval.deploy.manifest import ArraySpec

#: Bytes an .npy header may take (numpy pads headers to 64 bytes; real ones are under 200).
MAX_HEADER = 4096


class NpzError(ValueError):
    """An .npz member that is not what the manifest declares; the message names it."""


def write_npz(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Write ``arrays`` uncompressed (the only form :func:`read_npz` accepts)."""
    np.savez(path, **arrays)


def spec_of(array: np.ndarray) -> dict[str, object]:
    """The manifest's description of ``array``: dtype string and shape."""
    return {"dtype": array.dtype.str, "shape": [int(s) for s in array.shape]}


def read_npz(path: Path, declared: Mapping[str, ArraySpec]) -> dict[str, np.ndarray]:
    """Exactly the declared members of ``path``, each checked against its declaration before it is read."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            names = [info.filename for info in infos]
            expected = {f"{name}.npy" for name in declared}
            extra = sorted(set(names) - expected)
            if extra:
                raise NpzError(f"holds {extra[0]!r}, which the manifest does not declare")
            missing = sorted(expected - set(names))
            if missing:
                raise NpzError(f"lacks {missing[0]!r}, which the manifest declares")
            if len(names) != len(set(names)):
                raise NpzError("holds one member name twice")
            return {info.filename[:-4]: _member(archive, info, declared[info.filename[:-4]]) for info in infos}
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError) as exc:
        raise NpzError(f"is not a readable .npz archive ({exc})") from None


def _member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, spec: ArraySpec) -> np.ndarray:
    name = info.filename
    if info.compress_type != zipfile.ZIP_STORED:
        raise NpzError(f"member {name!r} is compressed; routereval writes arrays uncompressed")
    nbytes = spec.nbytes
    if info.file_size > nbytes + MAX_HEADER:
        raise NpzError(f"member {name!r} is {info.file_size} bytes; the manifest declares {spec.shape} {spec.dtype}")
    with archive.open(info) as f:
        try:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(f, max_header_size=MAX_HEADER)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(f, max_header_size=MAX_HEADER)
            else:
                raise NpzError(f"member {name!r} has .npy format {version}, not 1.0 or 2.0")
        except (ValueError, SyntaxError) as exc:
            raise NpzError(f"member {name!r} has no valid .npy header ({exc})") from None
        if dtype.hasobject or dtype.str != spec.dtype or list(shape) != spec.shape:
            raise NpzError(f"member {name!r} holds {list(shape)} {dtype.str}; the manifest declares "
                           f"{spec.shape} {spec.dtype}")
        buffer = np.empty(nbytes, dtype=np.uint8)
        view = memoryview(buffer)
        filled = 0
        while filled < nbytes:
            got = f.readinto(view[filled:])
            if not got:
                raise NpzError(f"member {name!r} ends after {filled} of {nbytes} data bytes")
            filled += got
        if f.read(1):
            raise NpzError(f"member {name!r} holds more data than its header declares")
    array = buffer.view(np.dtype(spec.dtype))
    return array.reshape(shape, order="F" if fortran else "C")
