"""The downloader against a real HTTP server on 127.0.0.1 and a real mirror folder."""

from __future__ import annotations

import hashlib
import http.server
import threading
from pathlib import Path

import pytest

from routereval import paths
from routereval.errors import DownloadError
from routereval.sources.download import fetch
from routereval.sources.registry import RemoteFile

PAYLOAD = b"prompt_id,model,score\n" + b"".join(b"p%d,m,1\n" % i for i in range(5000))
SHA = hashlib.sha256(PAYLOAD).hexdigest()


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):
        self.server.hits += 1
        if self.path == "/truncated.csv":
            # Announce the full length, send half, close: a dropped connection.
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD[: len(PAYLOAD) // 2])
            self.wfile.flush()
            self.connection.close()
            return
        if self.path in ("/good.csv", "/other.csv"):
            body = PAYLOAD if self.path == "/good.csv" else PAYLOAD + b"tampered\n"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_error(404)


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.hits = 0
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def url(server, name: str) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}/{name}"


def cache_files() -> list[Path]:
    root = paths.downloads_dir()
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_download_is_verified_cached_and_reused(server):
    file = RemoteFile(url(server, "good.csv"), SHA, len(PAYLOAD))
    path = fetch(file, progress=False)
    assert path.read_bytes() == PAYLOAD
    assert server.hits == 1
    again = fetch(file, progress=False)
    assert again == path and server.hits == 1  # served from the cache


def test_checksum_mismatch_is_refused_and_not_cached(server):
    file = RemoteFile(url(server, "other.csv"), SHA)
    with pytest.raises(DownloadError, match="sha256"):
        fetch(file, progress=False)
    assert cache_files() == []


def test_truncated_download_is_refused_and_not_cached(server):
    file = RemoteFile(url(server, "truncated.csv"), SHA)
    with pytest.raises(DownloadError):
        fetch(file, progress=False)
    assert cache_files() == []


def test_damaged_cache_entry_is_refused_and_removed(server):
    file = RemoteFile(url(server, "good.csv"), SHA)
    path = fetch(file, progress=False)
    path.write_bytes(PAYLOAD[:100])
    with pytest.raises(DownloadError, match="sha256"):
        fetch(file, progress=False)
    assert not path.exists()
    assert fetch(file, progress=False).read_bytes() == PAYLOAD  # fetched again, cleanly


def test_unreachable_host_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("ROUTEREVAL_MIRROR", str(tmp_path))
    file = RemoteFile("https://raw.githubusercontent.com/o/r/c/missing.csv", SHA)
    monkeypatch.setattr("routereval.sources.download._TIMEOUT_S", 2)
    with pytest.raises(DownloadError, match="not in the mirror"):
        fetch(file, progress=False)
    assert cache_files() == []


def test_mirror_is_read_in_place_and_checked(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    target = mirror / "owner/repo/0123abc/data/x.csv"
    target.parent.mkdir(parents=True)
    target.write_bytes(PAYLOAD)
    monkeypatch.setenv("ROUTEREVAL_MIRROR", str(mirror))
    file = RemoteFile("https://raw.githubusercontent.com/owner/repo/0123abc/data/x.csv", SHA)
    assert fetch(file, progress=False) == target
    assert cache_files() == []  # nothing copied
    target.write_bytes(PAYLOAD + b"x")
    with pytest.raises(DownloadError, match="mirror file"):
        fetch(file, progress=False)
