"""Named datasets: each is declared once with its pinned files and how to read them.

A :class:`DatasetSpec` says where a dataset's files live upstream (pinned to a
commit, with sha256 checksums) and how to turn the local copies into a
:class:`~routereval.records.Benchmark`. Source modules register their specs at
import; :func:`all_specs` imports them on first use so that start-up stays light.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from routereval.errors import UnknownDatasetError

if TYPE_CHECKING:
    from routereval.records import Benchmark

GITHUB_RAW = "https://raw.githubusercontent.com/"

# Modules that register datasets. Adding a source = adding a module here.
SOURCE_MODULES = (
    "routereval.sources.llmrouter",
    "routereval.sources.mmlu_pro",
    "routereval.sources.routellm",
    "routereval.sources.routereval_hub",
    "routereval.sources.crux",
)


@dataclass(frozen=True)
class RemoteFile:
    """One upstream file, pinned by URL and sha256.

    ``sha256`` may be ``None`` only for files whose host publishes no stable
    checksum we could pin (the Hugging Face hub entries); those are checked
    against the checksum recorded at their first download instead.
    """

    url: str
    sha256: str | None
    size: int | None = None

    @property
    def mirror_path(self) -> str | None:
        """``<owner>/<repo>/<commit>/<path>`` for GitHub raw URLs, else None."""
        if self.url.startswith(GITHUB_RAW):
            return self.url[len(GITHUB_RAW) :]
        return None

    @property
    def filename(self) -> str:
        return self.url.rstrip("/").rsplit("/", 1)[-1]

    @property
    def path(self) -> str:
        """The file's path inside its repository (after owner/repo/commit for GitHub)."""
        mp = self.mirror_path
        if mp is not None:
            return mp.split("/", 3)[3]
        return self.url.split("/resolve/", 1)[-1].split("/", 1)[-1]


def github_file(repo: str, commit: str, path: str, sha256: str, size: int | None = None) -> RemoteFile:
    """A file of a GitHub repository pinned to a commit (``repo`` is ``owner/name``)."""
    return RemoteFile(f"{GITHUB_RAW}{repo}/{commit}/{path}", sha256, size)


@dataclass(frozen=True)
class DatasetSpec:
    """A registered dataset: its files and the function that reads them.

    ``build`` receives a mapping from each file's repository path
    (:attr:`RemoteFile.path`) to a verified local copy.
    """

    name: str
    description: str
    license: str
    homepage: str
    version: str
    files: tuple[RemoteFile, ...]
    build: Callable[[dict[str, Path]], Benchmark]
    # Files that may be absent upstream-mirror-side (too large to mirror): the
    # dataset is built from the files that are present.
    optional_files: tuple[RemoteFile, ...] = field(default_factory=tuple)
    n_prompts: int | None = None
    n_models: int | None = None


_REGISTRY: dict[str, DatasetSpec] = {}
_loaded = False


def register(spec: DatasetSpec) -> DatasetSpec:
    """Add a dataset to the registry (names are unique)."""
    if spec.name in _REGISTRY and _REGISTRY[spec.name] is not spec:
        raise ValueError(f"dataset {spec.name!r} is registered twice")
    _REGISTRY[spec.name] = spec
    return spec


def all_specs() -> dict[str, DatasetSpec]:
    """Every registered dataset, by name."""
    global _loaded
    if not _loaded:
        for mod in SOURCE_MODULES:
            importlib.import_module(mod)
        _loaded = True
    return dict(_REGISTRY)


def get_spec(name: str) -> DatasetSpec:
    """The registered dataset called ``name``."""
    specs = all_specs()
    if name not in specs:
        known = ", ".join(sorted(specs))
        raise UnknownDatasetError(f"no registered dataset {name!r}; known: {known}")
    return specs[name]


def provenance(spec: DatasetSpec, local: dict[str, Path]) -> dict:
    """The provenance record a source attaches to the benchmark it builds."""
    files = spec.files + spec.optional_files
    return {
        "source": spec.name,
        "license": spec.license,
        "homepage": spec.homepage,
        "version": spec.version,
        "files": [
            {"url": f.url, "sha256": f.sha256} for f in files if f.path in local
        ],
    }
