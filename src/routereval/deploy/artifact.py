"""The artifact folder: a RoutingModel written as data (format version 3), and read back with every check.

The folder (described in docs/serving.md, "The artifact"):

* ``manifest.json``, in the format of every routereval folder with checksums
  (:mod:`routereval.manifests`): format version, routereval version, router
  name and parameters, the router's state layout, encoder name and settings,
  candidates, prices, each candidate's mean training score (``prior``),
  training data (name, sha256, protocol), held-out metrics, creation time,
  the dtype and shape of every array, the size and sha256 of every other
  file, and a checksum of its own content (schema:
  :mod:`routereval.deploy.manifest`). Version 2 artifacts are still read.
* ``router.npz``: the router's learned state (its attributes ending in ``_``)
  and the candidate names, which bind their order to the state.
* ``encoder.npz``: a fitted TF-IDF encoder's vocabulary, IDF weights and axes
  (absent for a pretrained encoder and for routers that read no prompt).

Loading reads JSON and plain arrays only (:mod:`routereval.deploy.npz`), so
nothing in the folder can run code, and checks every field against the schema
and the arrays before anything is used; the router class comes from
routereval's registry by name. :class:`routereval.deploy.model.RoutingModel`
calls :func:`save` and :func:`load`; this module never imports it.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from routereval import manifests
from routereval.deploy import encoder_state
from routereval.deploy import manifest as mf
from routereval.deploy.manifest import ENCODER_WEIGHTS, FORMAT, FORMAT_VERSION, MANIFEST, ROUTER_WEIGHTS
from routereval.deploy.npz import NpzError, read_npz, spec_of, write_npz
from routereval.deploy.state import check_values, decode_state, encode_state, learned_attributes
from routereval.errors import EXIT_DAMAGED, ConfigError, DataError, RouterEvalError


class ArtifactError(RouterEvalError):
    """A routing artifact that cannot be loaded as it is (named file, what is wrong, what to do)."""


class DamagedArtifactError(ArtifactError):
    """An artifact whose content was altered or damaged since it was written (exit 3, like a damaged store)."""

    exit_code = EXIT_DAMAGED


#: What to do about an artifact that was altered, damaged or written by another version.
_RETRAIN = "run routereval train again (with --force), or copy the folder again"


def _refusal(problem: manifests.Problem) -> ArtifactError:
    """A manifest or file problem as the artifact's own error and wording (docs/errors.md)."""
    path, code = problem.path, problem.code
    if code == "unfinished":
        return ArtifactError(f"{path}: no such file; is {path.parent} a folder written by routereval train?")
    if code in ("foreign", "not_object"):
        return ArtifactError(f"{path}: not a routereval router manifest (no format {FORMAT!r})")
    if code == "newer":
        return ArtifactError(f"{path}: {problem.what}")
    if code in ("old_version", "bad_version"):
        return ArtifactError(f"{path}: {problem.what}; train the router again with this routereval")
    wording = {
        "altered": f"checksum does not match its content: the manifest was altered or damaged; {_RETRAIN}",
        "link": "is a symbolic link; an artifact holds its own files, so copy the folder with its files (cp -rL)",
        "missing": "missing (listed in the manifest); copy the whole folder",
        "changed": f"sha256 does not match the manifest; the file was altered or damaged; {_RETRAIN}",
    }
    return DamagedArtifactError(f"{path}: {wording[code]}" if code in wording else problem.line(_RETRAIN))


#: Version 2 (before the common manifest format) is still read, with its own checksum rule.
KIND = manifests.Kind(format=FORMAT, version=FORMAT_VERSION, error=_refusal, noun="artifact", manifest=MANIFEST,
                      older={2: mf.v2_checksum_matches}, max_bytes=mf.MAX_MANIFEST_BYTES, max_depth=mf.MAX_DEPTH)


def save(model: Any, folder: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write ``model`` as an artifact folder (see the module docstring); returns its path.

    The folder is written complete beside ``folder`` and then swapped into
    place (:func:`routereval.atomic.replace_folder`), so an interruption
    leaves the old artifact or the new one, never a mix or nothing.
    """
    from routereval.atomic import TMP_PREFIX, replace_folder

    folder = Path(folder)
    check_destination(folder, overwrite=overwrite)
    fields, arrays = _contents(model)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staged = folder.with_name(f"{TMP_PREFIX}{os.getpid()}-{folder.name}")
    shutil.rmtree(staged, ignore_errors=True)
    try:
        staged.mkdir()
        for file, members in arrays.items():
            write_npz(staged / file, members)
        manifests.write(staged, KIND, fields, list(arrays))  # last: the folder is finished
        replace_folder(staged, folder)  # flushes every file before the swap
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    return folder


def _contents(self: Any) -> tuple[dict[str, Any], dict[str, dict[str, np.ndarray]]]:
    """``(the manifest's own fields, arrays by file)``, checked against the schema before anything is written."""
    import routereval
    from routereval.routers.base import all_routers

    name = getattr(self.router, "name", "")
    if all_routers().get(name) is not type(self.router):
        raise ConfigError(
            f"router {type(self.router).__name__} is not a registered router, so it could not be rebuilt "
            "on load; register it (routereval.routers entry point) first"
        )
    if self.prior is None:
        raise ConfigError("this routing model has no prior (each candidate's mean score in training), which an "
                          "artifact needs for prompts the encoder cannot read; build it with train_model")
    state = learned_attributes(self.router)
    tree, router_arrays = encode_state(state, f"router {name!r}")
    if not tree:
        raise ConfigError(f"router {name!r} has no learned state (attributes ending in '_'): fit it first")
    try:
        check_values(state, f"router {name!r}")
    except DataError as exc:
        raise ConfigError(f"{exc}; such a state cannot be saved") from None
    router_arrays[mf.CANDIDATES_MEMBER] = _utf8_lines(self.candidates, "candidate names")
    arrays = {ROUTER_WEIGHTS: router_arrays}
    encoder_entry = None
    if self.inputs == "embeddings":
        encoder_entry, enc_arrays = encoder_state.describe(self.encoder)
        if enc_arrays:
            arrays[ENCODER_WEIGHTS] = enc_arrays
    elif self.inputs == "texts":
        raise ConfigError(f"router {name!r} reads raw texts with its own model; it cannot be saved as data yet")
    fields = {
        "routereval_version": routereval.__version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "router": {"name": name, "params": _jsonable(self.router.get_params(deep=False)),
                   "inputs": self.inputs, "state": tree},
        "encoder": encoder_entry,
        "candidates": list(self.candidates),
        "prices": {c: {"input": _num(p[0]), "output": _num(p[1])} for c, p in self.prices.items()},
        "cost_model": {"unit": "USD per request", "chars_per_token": self.chars_per_token,
                       "output_tokens": int(self.output_tokens)},
        "prior": [float(v) for v in self.prior],
        **{k: v for k, v in self.info.items() if k in ("training", "held_out")},
        "arrays": {file: {k: spec_of(a) for k, a in members.items()} for file, members in arrays.items()},
    }
    unwritten = {"size": 0, "sha256": "0" * 64, "sample_sha256": "0" * 64}  # the files come later
    try:
        mf.validate(manifests.build(KIND, fields, {file: unwritten for file in arrays}))
    except (mf.ManifestError, ValueError) as exc:
        raise ConfigError(f"this routing model cannot be saved as an artifact: {exc}") from None
    return fields, arrays


def load(cls: type, folder: str | os.PathLike) -> Any:
    """Read an artifact folder into a ``cls`` (a RoutingModel), checking everything first; runs no code from it.

    Refuses (:class:`ArtifactError`, or :class:`DamagedArtifactError` when
    the content was altered) a manifest that fails its checksum or schema,
    files that are missing, links, or differ from their sha256, arrays not
    as declared, and state that cannot have come from a fit.
    """
    folder = Path(folder)
    path = folder / MANIFEST
    if os.path.lexists(folder) and not folder.is_dir():
        raise ArtifactError(f"{folder}: not a folder; give the folder that routereval train --out wrote")
    doc, version = manifests.read(folder, KIND)
    try:
        manifest = mf.validate(doc)
    except mf.ManifestError as exc:
        raise DamagedArtifactError(f"{path}: {exc}; {_RETRAIN}") from None
    if version == FORMAT_VERSION:
        for file, entry in manifest.files.items():
            _within_declared(folder / file, entry.size, manifest.arrays[file])
        manifests.check_files(folder, KIND, doc, full=True)
    else:
        for file, digest in manifest.files.items():
            _check_v2_file(folder / file, digest, manifest.arrays[file])
    arrays = {file: _read_arrays(folder / file, manifest.arrays[file]) for file in manifest.files}
    return _from_manifest(cls, folder, manifest, arrays)


def _from_manifest(cls: type, folder: Path, manifest: mf.Manifest | mf.ManifestV2,
                   arrays: dict[str, dict[str, np.ndarray]]) -> Any:
    weights = folder / ROUTER_WEIGHTS
    router_arrays = arrays[ROUTER_WEIGHTS]
    names = _from_utf8_lines(router_arrays.pop(mf.CANDIDATES_MEMBER), weights)
    if names != manifest.candidates:
        raise DamagedArtifactError(
            f"{folder / MANIFEST}: candidates {_short_list(manifest.candidates)} are not those the router was "
            f"trained on, in that order ({_short_list(names)}, in {ROUTER_WEIGHTS}); {_RETRAIN}")
    entry = manifest.router
    router = mf.build_router(entry.name, entry.params)
    try:
        state = decode_state(entry.state, router_arrays, f"router {entry.name!r}")
        check_values(state, f"router {entry.name!r}")
    except DataError as exc:
        raise DamagedArtifactError(f"{weights}: {exc}; {_RETRAIN}") from None
    for key, value in state.items():
        if hasattr(type(router), key):  # learned state never shadows what the class defines
            raise DamagedArtifactError(f"{folder / MANIFEST}: router.state.{key} would replace a part of the "
                                       f"router class; {_RETRAIN}")
        setattr(router, key, value)
    encoder = None
    if manifest.encoder is not None:
        try:
            encoder = encoder_state.rebuild(manifest.encoder.model_dump(), arrays.get(ENCODER_WEIGHTS, {}))
        except DataError as exc:
            raise DamagedArtifactError(f"{folder / ENCODER_WEIGHTS}: {exc}; {_RETRAIN}") from None
    prices = {c: (_from_num(p.input), _from_num(p.output)) for c, p in manifest.prices.items()}
    info = {"training": None if manifest.training is None else manifest.training.model_dump(),
            "held_out": None if manifest.held_out is None else manifest.held_out.model_dump(),
            "created": manifest.created, "routereval_version": manifest.routereval_version}
    model = cls(router, encoder, list(manifest.candidates), prices, manifest.cost_model.output_tokens,
                {k: v for k, v in info.items() if v is not None}, prior=list(manifest.prior))
    _probe(model, folder, manifest.encoder.dim if manifest.encoder is not None else 0)
    return model

def _probe(self: Any, folder: Path, dim: int) -> None:
    """Route a few fixed vectors: the state must give one finite estimate per candidate, or it is refused."""
    from routereval.routers.base import Prompts

    n = 4
    if self.inputs == "embeddings":
        probe = np.random.default_rng(0).standard_normal((n, dim)).astype(np.float32)
        prompts = Prompts(embeddings=probe / np.linalg.norm(probe, axis=1, keepdims=True), n=n)
    else:
        prompts = Prompts(n=n)
    try:
        with np.errstate(all="ignore"):
            out = np.asarray(self.router.predict_quality(prompts), dtype=float)
    except Exception as exc:  # noqa: BLE001 - any failure here means a state no fit produced
        raise DamagedArtifactError(
            f"{folder / ROUTER_WEIGHTS}: the router's state does not fit its settings ({type(exc).__name__}: "
            f"{str(exc)[:200]}); {_RETRAIN}") from None
    m = len(self.candidates)
    if out.shape != (n, m) or not np.isfinite(out).all():
        what = f"shape {out.shape}, expected ({n}, {m})" if out.shape != (n, m) else "non-finite values"
        raise DamagedArtifactError(f"{folder / ROUTER_WEIGHTS}: the router's estimates for {m} candidates have "
                                   f"{what}; {_RETRAIN}")


def _jsonable(value: Any) -> Any:
    """Hyper-parameters as JSON (tuples become lists); anything else is refused by name."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    raise ConfigError(f"hyper-parameter value {value!r} cannot be written to JSON")


#: The files an artifact folder holds; a folder holding anything else is not replaced by `--force`.
ARTIFACT_FILES = frozenset({MANIFEST, ROUTER_WEIGHTS, ENCODER_WEIGHTS})


def check_destination(folder: Path, *, overwrite: bool) -> None:
    """Refuse to write an artifact where it would replace anything but an artifact (or one without ``overwrite``)."""
    folder = Path(folder)
    if not os.path.lexists(folder):
        return
    if folder.is_symlink() or not folder.is_dir():
        kind = "a symbolic link" if folder.is_symlink() else "a file"
        raise ConfigError(f"{folder} is {kind}, not an artifact folder; choose a new or empty folder for --out")
    try:
        entries = sorted(p.name for p in folder.iterdir())
    except OSError as exc:
        raise ConfigError(f"{folder}: cannot be listed ({exc.strerror})") from None
    if not entries:
        return
    if MANIFEST not in entries:
        raise ConfigError(f"{folder} holds other things ({_short_list(entries)}) and no routing artifact; "
                          "choose a new or empty folder for --out")
    others = [e for e in entries if e not in ARTIFACT_FILES]
    if others:
        raise ConfigError(f"{folder} holds a routing artifact and other things ({_short_list(others)}), which "
                          "--force would delete; move them out or choose another folder")
    if not overwrite:
        raise ConfigError(f"{folder} already holds a routing artifact; pass --force to replace it")


def _within_declared(path: Path, size: int, declared: dict[str, mf.ArraySpec]) -> None:
    """Refuse a file far larger than its declared arrays before it is hashed or read."""
    # np.savez adds a few hundred bytes per member around the data: anything far larger was not written so.
    limit = sum(spec.nbytes for spec in declared.values()) + (len(declared) + 1) * 8192
    if size > limit:
        raise DamagedArtifactError(f"{path}: is {size} bytes, more than the {limit} its declared arrays take; "
                                   f"{_RETRAIN}")


def _check_v2_file(path: Path, digest: str, declared: dict[str, mf.ArraySpec]) -> None:
    """A file of a version 2 artifact: in place, of a plausible size, with the sha256 its manifest records."""
    info = manifests.stat_in_place(path, KIND, missing="missing")
    _within_declared(path, info.st_size, declared)
    if manifests.full_sha256(path) != digest:
        raise KIND.fail("changed", path, "has changed since it was written")


def _read_arrays(path: Path, declared: dict[str, mf.ArraySpec]) -> dict[str, np.ndarray]:
    """A checked .npz, read within its declared arrays."""
    try:
        return read_npz(path, declared)
    except NpzError as exc:
        raise DamagedArtifactError(f"{path}: {exc}; {_RETRAIN}") from None


def _utf8_lines(names: Sequence[str], what: str) -> np.ndarray:
    if any("\n" in n for n in names):
        raise ConfigError(f"{what} must not contain line breaks")
    return np.frombuffer("\n".join(names).encode("utf-8"), dtype=np.uint8).copy()


def _from_utf8_lines(array: np.ndarray, path: Path) -> list[str]:
    try:
        return array.tobytes().decode("utf-8").split("\n")
    except UnicodeDecodeError:
        raise DamagedArtifactError(f"{path}: candidate names are not UTF-8; {_RETRAIN}") from None


def _short_list(items: Sequence[str], most: int = 4) -> str:
    shown = ", ".join(repr(i)[:60] for i in items[:most])
    return shown + (f", ... ({len(items)} in all)" if len(items) > most else "")


def _num(x: float) -> float | None:
    return None if x is None or not math.isfinite(float(x)) else float(x)


def _from_num(x: Any) -> float:
    return math.nan if x is None else float(x)
