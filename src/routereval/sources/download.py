"""Fetch pinned upstream files: from an offline mirror, the cache, or the network.

Order of lookup for a :class:`~routereval.sources.registry.RemoteFile`:

1. ``$ROUTEREVAL_MIRROR/<owner>/<repo>/<commit>/<path>`` when a mirror is set
   (read in place after its sha256 is checked; never copied);
2. the download cache ``$ROUTEREVAL_HOME/downloads/<sha256>/<filename>``;
3. the network, streamed to a temporary file beside the cache entry while its
   sha256 is computed. Only a complete file with the pinned checksum is moved
   into place; anything else is deleted and refused, so the cache never holds a
   bad file.

Files without a pinned checksum (Hugging Face hub entries) are cached under
their URL; the checksum seen at first download is recorded and every later use
is checked against it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import urllib.error
import urllib.request
from pathlib import Path

from routereval import paths
from routereval.atomic import write_atomic, write_text_atomic
from routereval.errors import DownloadError
from routereval.manifests import full_sha256
from routereval.sources.registry import DatasetSpec, RemoteFile

_CHUNK = 1 << 20
_TIMEOUT_S = 60





def _cache_path(file: RemoteFile) -> Path:
    key = file.sha256 or "url-" + hashlib.sha256(file.url.encode()).hexdigest()[:32]
    return paths.downloads_dir() / key / file.filename


def _recorded_sha(cached: Path) -> str | None:
    meta = cached.parent / "source.json"
    if meta.is_file():
        return json.loads(meta.read_text()).get("sha256")
    return None


def _check(path: Path, file: RemoteFile, where: str) -> str:
    """Verify size and checksum of ``path``; returns its sha256."""
    size = path.stat().st_size
    if file.size is not None and size != file.size:
        raise DownloadError(
            f"{where} {path} is {size} bytes but {file.url} is pinned at {file.size} bytes "
            "(truncated or different file); refusing it"
        )
    digest = full_sha256(path)
    expected = file.sha256 or _recorded_sha(path)
    if expected is not None and digest != expected:
        raise DownloadError(
            f"{where} {path} has sha256 {digest}, expected {expected} for {file.url}; refusing it"
        )
    return digest


def _from_mirror(file: RemoteFile) -> Path | None:
    root = paths.mirror_root()
    if root is None or file.mirror_path is None:
        return None
    candidate = root / file.mirror_path
    if not candidate.is_file():
        return None
    _check(candidate, file, "mirror file")
    return candidate


def _open_url(url: str):
    if url.startswith("https://huggingface.co/"):
        # The hub serves through redirects and may need a token: use its client.
        return None
    request = urllib.request.Request(url, headers={"User-Agent": "routereval"})
    return urllib.request.urlopen(request, timeout=_TIMEOUT_S)


def _download_hub(file: RemoteFile, dest: Path) -> None:
    try:
        from huggingface_hub import hf_hub_download
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise DownloadError(
            "this file is on the Hugging Face hub: pip install 'routereval[hub]' to fetch it"
        ) from exc
    repo_and_path = file.url.split("/datasets/", 1)[1]
    owner, name, _, revision, rel = repo_and_path.split("/", 4)
    got = hf_hub_download(
        repo_id=f"{owner}/{name}", filename=rel, repo_type="dataset", revision=revision,
        local_dir=dest.parent / "hub",
    )
    shutil.move(got, dest)


def _download(file: RemoteFile, dest: Path, progress: bool) -> None:
    """Stream ``file.url`` into ``dest`` (a temporary path), with a progress bar."""
    response = _open_url(file.url)
    if response is None:
        _download_hub(file, dest)
        return
    from routereval.progress import progress as progress_bar

    total = file.size or int(response.headers.get("Content-Length") or 0) or None
    written = 0
    with progress_bar(f"downloading {file.filename}", total=total, unit="bytes", enabled=progress) as bar, \
            response, open(dest, "wb") as out:
        for chunk in iter(lambda: response.read(_CHUNK), b""):
            out.write(chunk)
            written += len(chunk)
            bar.advance(len(chunk))
    announced = response.headers.get("Content-Length")
    if announced is not None and written != int(announced):
        raise DownloadError(
            f"download of {file.url} stopped after {written} of {announced} bytes; nothing was cached"
        )


def fetch(file: RemoteFile, *, progress: bool = True) -> Path:
    """A verified local copy of ``file`` (see the module docstring for the lookup order)."""
    mirrored = _from_mirror(file)
    if mirrored is not None:
        return mirrored
    cached = _cache_path(file)
    if cached.is_file():
        try:
            _check(cached, file, "cached file")
        except DownloadError:
            shutil.rmtree(cached.parent, ignore_errors=True)
            raise
        return cached
    def download_and_check(tmp: Path) -> None:
        try:
            _download(file, tmp, progress)
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            where = ""
            root = paths.mirror_root()
            if root is not None and file.mirror_path is not None:
                where = f" (and it is not in the mirror at {root / file.mirror_path})"
            raise DownloadError(f"could not download {file.url}{where}: {exc}") from exc
        digest = _check(tmp, file, "downloaded file")
        if file.sha256 is None:  # recorded before the file is in place, as a reader of the cache expects
            write_text_atomic(cached.parent / "source.json", json.dumps({"url": file.url, "sha256": digest}))

    # Only a complete file whose digest matched is ever put in the cache.
    write_atomic(cached, download_and_check)
    return cached


def fetch_spec(spec: DatasetSpec, *, progress: bool = True) -> dict[str, Path]:
    """Fetch every file of a dataset: ``{repository path: local path}``.

    Optional files (published upstream but too large to mirror) are fetched when
    reachable and skipped otherwise.
    """
    local = {f.path: fetch(f, progress=progress) for f in spec.files}
    for f in spec.optional_files:
        try:
            local[f.path] = fetch(f, progress=progress)
        except DownloadError:
            continue
    return local
