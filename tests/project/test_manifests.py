"""The one manifest format (routereval.manifests): what it writes, worked out by hand, and every refusal.

Each kind of folder (records store, artifact, ONNX export, static table) has
its own tests of old versions and messages beside its code's tests; here the
envelope itself runs on a toy kind whose error keeps the Problem.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
from pathlib import Path

import pytest
from support.processes import REPO

from routereval import manifests
from routereval.manifests import CHECKSUM, Kind, Problem


class Refused(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.line("do the thing"))
        self.problem = problem


TOY = Kind(format="toy", version=3, error=Refused, noun="toy", older={1: None, 2: lambda doc: doc.get("ok") is True},
           max_bytes=4096, max_depth=6)
BLOCK = manifests.SAMPLE_BYTES


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "toy"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.bin").write_bytes(b"alpha")
    (folder / "sub" / "b.txt").write_text("bravo")
    manifests.write(folder, TOY, {"name": "t", "n": 2}, manifests.files_under(folder))
    return folder


def _refused(folder: Path, *, full: bool = False) -> Problem:
    with pytest.raises(Refused) as caught:
        doc, _ = manifests.read(folder, TOY)
        manifests.check_files(folder, TOY, doc, full=full)
    return caught.value.problem


def _rewrite(folder: Path, doc: dict) -> None:
    (folder / "manifest.json").write_text(json.dumps(doc))


def test_what_is_written_worked_out_by_hand(tmp_path):
    folder = _folder(tmp_path)
    text = (folder / "manifest.json").read_text(encoding="utf-8")
    doc = json.loads(text)
    alpha, bravo = hashlib.sha256(b"alpha").hexdigest(), hashlib.sha256(b"bravo").hexdigest()
    body = {"format": "toy", "format_version": 3, "name": "t", "n": 2,
            "files": {"a.bin": {"size": 5, "sha256": alpha, "sample_sha256": alpha},
                      "sub/b.txt": {"size": 5, "sha256": bravo, "sample_sha256": bravo}}}
    # The canonical form, typed out: keys sorted at every level, ", " and ": " between items.
    canonical = ('{"files": {"a.bin": {"sample_sha256": "%s", "sha256": "%s", "size": 5}, "sub/b.txt": '
                 '{"sample_sha256": "%s", "sha256": "%s", "size": 5}}, "format": "toy", "format_version": 3, '
                 '"n": 2, "name": "t"}') % (alpha, alpha, bravo, bravo)
    assert doc == {**body, CHECKSUM: hashlib.sha256(canonical.encode()).hexdigest()}
    assert list(doc) == [*body, CHECKSUM]  # the checksum last, the kind's fields between format and files
    assert text.endswith("}\n") and text.startswith('{\n  "format": "toy"')
    assert sorted(p.name for p in folder.iterdir()) == ["a.bin", "manifest.json", "sub"]  # no temporary file left
    assert manifests.read(folder, TOY) == (doc, 3)
    assert manifests.check_files(folder, TOY, doc, full=True) == 10


def test_non_ascii_is_escaped_in_the_canonical_form():
    doc = {"format": "toy", "name": "modèle", CHECKSUM: "ignored"}
    assert manifests.canonical(doc) == b'{"format": "toy", "name": "mod\\u00e8le"}'
    assert manifests.seal(doc)[CHECKSUM] == hashlib.sha256(b'{"format": "toy", "name": "mod\\u00e8le"}').hexdigest()


def test_the_sample_is_sixteen_blocks_first_and_last_included(tmp_path):
    gap = 70_000  # chosen so the sixteen offsets fall on whole multiples: i * gap
    size = BLOCK + 15 * gap
    data = bytes((i * 7 + i // 251) % 256 for i in range(size))
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    by_hand = hashlib.sha256(b"".join(data[i * gap:i * gap + BLOCK] for i in range(16))).hexdigest()
    assert manifests.describe_file(path) == {"size": size, "sha256": hashlib.sha256(data).hexdigest(),
                                             "sample_sha256": by_hand}


def test_a_change_between_samples_is_found_by_the_full_check_only(tmp_path):
    folder = tmp_path / "toy"
    folder.mkdir()
    data = bytearray(os.urandom(2 * 2**20))
    (folder / "big.bin").write_bytes(bytes(data))
    doc = manifests.write(folder, TOY, {}, ["big.bin"])
    data[BLOCK + 10] ^= 1  # just after the first sampled block
    (folder / "big.bin").write_bytes(bytes(data))
    assert manifests.check_files(folder, TOY, doc) == 16 * BLOCK
    problem = _refused(folder, full=True)
    assert (problem.code, problem.path.name) == ("changed", "big.bin")
    data[-1] ^= 1  # the last byte is sampled
    (folder / "big.bin").write_bytes(bytes(data))
    assert _refused(folder).code == "changed"


def test_refusals_of_the_manifest(tmp_path):
    folder = _folder(tmp_path)
    good = json.loads((folder / "manifest.json").read_text())

    _rewrite(folder, {**good, "n": 3})
    problem = _refused(folder)
    assert problem.code == "altered" and problem.path == folder / "manifest.json"
    assert str(Refused(problem)) == (f"{folder}/manifest.json: was changed after it was written "
                                     "(its checksum does not match); do the thing")
    _rewrite(folder, {k: v for k, v in good.items() if k != CHECKSUM})
    assert _refused(folder).code == "altered"
    _rewrite(folder, manifests.seal({**good, "format_version": 4}))
    assert _refused(folder).what == "toy format v4 is newer than this routereval reads (v3); upgrade routereval"
    _rewrite(folder, manifests.seal({**good, "format_version": 0}))
    assert _refused(folder).what == "toy format v0 is no longer read (this routereval reads v1, v2 and v3)"
    for version in (True, "3", 3.0, None):
        _rewrite(folder, manifests.seal({**good, "format_version": version}))
        assert _refused(folder).code == "bad_version"
    _rewrite(folder, manifests.seal({**good, "format": "other"}))
    assert _refused(folder).what == "is not a toy manifest (format 'other')"
    _rewrite(folder, manifests.seal({k: v for k, v in good.items() if k != "format"}))
    assert _refused(folder).code == "foreign"  # this kind has no version without a format field
    _rewrite(folder, [good])
    assert _refused(folder).code == "not_object"

    for raw, fragment in ((b"{not json", "is not valid JSON"), (b'{"a": 1, "a": 2}', "appears twice"),
                          (b'{"a": NaN}', "holds NaN"), (b"[" * 7 + b"]" * 7, "nests 7 levels deep; the limit is 6"),
                          (b"\xff{}", "is not UTF-8")):
        (folder / "manifest.json").write_bytes(raw)
        problem = _refused(folder)
        assert problem.code == "not_json" and fragment in problem.what
    (folder / "manifest.json").write_bytes(b" " * 4097)
    assert _refused(folder).what == "is larger than the limit of 4096 bytes"

    (folder / "manifest.json").unlink()
    assert _refused(folder).code == "unfinished"
    (folder / "elsewhere.json").write_text(json.dumps(good))
    (folder / "manifest.json").symlink_to(folder / "elsewhere.json")
    assert _refused(folder).code == "link"
    (folder / "manifest.json").unlink()
    (folder / "manifest.json").mkdir()
    assert _refused(folder).code == "not_regular"


def test_older_versions_are_read_with_their_own_checksum_rule(tmp_path):
    folder = _folder(tmp_path)
    good = json.loads((folder / "manifest.json").read_text())
    _rewrite(folder, {"format": "toy", "format_version": 1, "whatever": 1})  # before checksums: not checked
    assert manifests.read(folder, TOY)[1] == 1
    _rewrite(folder, {**good, "format_version": 2, "ok": True})  # version 2's own rule
    assert manifests.read(folder, TOY)[1] == 2
    _rewrite(folder, {**good, "format_version": 2, "ok": False})
    assert _refused(folder).code == "altered"

    unnamed = Kind(format="toy", version=3, error=Refused, older={1: None}, unnamed=1)
    _rewrite(folder, {"key": "anything"})  # written before manifests had a format field
    assert manifests.read(folder, unnamed) == ({"key": "anything"}, 1)


def test_a_manifest_relabelled_as_a_version_without_checksums_is_refused(tmp_path):
    """Versions from before checksums are read unchecked, so claiming one must not switch the checks off."""
    folder = _folder(tmp_path)
    good = json.loads((folder / "manifest.json").read_text())
    (folder / "a.bin").write_bytes(b"alphA")
    _rewrite(folder, {**good, "format_version": 1})
    assert _refused(folder).code == "altered"
    _rewrite(folder, {k: v for k, v in good.items() if k not in ("files", CHECKSUM)} | {"format_version": 1})
    assert manifests.read(folder, TOY)[1] == 1  # what a version 1 manifest looks like
    unnamed = Kind(format="toy", version=3, error=Refused, older={1: None}, unnamed=1)
    _rewrite(folder, {k: v for k, v in good.items() if k not in ("format", "format_version")})
    with pytest.raises(Refused, match="was changed after it was written"):
        manifests.read(folder, unnamed)


def test_refusals_of_the_files(tmp_path):
    folder = _folder(tmp_path)
    doc, _ = manifests.read(folder, TOY)

    (folder / "a.bin").write_bytes(b"alphA")
    problem = _refused(folder)
    assert (problem.code, problem.path) == ("changed", folder / "a.bin")
    assert problem.what == "has changed since it was written (its checksum does not match)"
    (folder / "a.bin").write_bytes(b"alph")
    assert _refused(folder).what == "is 4 bytes, but 5 were written"
    (folder / "a.bin").unlink()
    assert _refused(folder).code == "missing"
    (folder / "outside.bin").write_bytes(b"alpha")
    (folder / "a.bin").symlink_to(folder / "outside.bin")
    assert _refused(folder).code == "link"
    (folder / "a.bin").unlink()
    os.mkfifo(folder / "a.bin")  # reading it would wait for ever: refused before it is opened
    assert _refused(folder).code == "not_regular"
    (folder / "a.bin").unlink()
    (folder / "a.bin").write_bytes(b"alpha")
    assert manifests.check_files(folder, TOY, doc, required=["a.bin"]) == 10
    with pytest.raises(Refused, match="files: does not list c.bin"):
        manifests.check_files(folder, TOY, doc, required=["a.bin", "c.bin"])

    entry = doc["files"]["a.bin"]
    for files, fragment in (({"../a.bin": entry}, "is not a path inside the folder"),
                            ({"/etc/passwd": entry}, "is not a path inside the folder"),
                            ({"a.bin": {**entry, "size": -1}}, "must be a size and two sha256"),
                            ({"a.bin": {**entry, "size": True}}, "must be a size and two sha256"),
                            ({"a.bin": {**entry, "sha256": "abc"}}, "must be a size and two sha256"),
                            ({"a.bin": {**entry, "extra": 1}}, "must be a size and two sha256"),
                            (["a.bin"], "files: must map each file")):
        _rewrite(folder, manifests.seal({**doc, "files": files}))
        problem = _refused(folder)
        assert problem.code == "malformed" and fragment in problem.what


def test_a_kind_may_not_shadow_the_envelope_fields(tmp_path):
    for name in ("format", "format_version", "files", CHECKSUM):
        with pytest.raises(ValueError, match=name):
            manifests.build(TOY, {name: 1}, {})


def test_the_module_sits_low_in_the_layering():
    tree = ast.parse((REPO / "src" / "routereval" / "manifests.py").read_text(encoding="utf-8"))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)} | {
        alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    ours = {m for m in imported if m.startswith("routereval")}
    assert ours <= {"routereval", "routereval.atomic", "routereval.strict_json", "routereval.errors"}
    assert "pydantic" not in imported and "numpy" not in imported


def test_one_file_hash_for_every_store():
    from routereval.encoders import cache
    from routereval.sources import download

    assert cache.full_sha256 is manifests.full_sha256 is download.full_sha256
