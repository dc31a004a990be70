"""The catalogue of bad routing artifacts and bad `train` / `route` command lines (docs/errors.md).

Each case copies one real artifact (kNN over TF-IDF on three topics, see
test_serving_model) and damages it the way a tester, a bad copy or a hand edit
would: with the manifest's checksum left stale (an edit is caught first), or
recomputed (``seal``) so the deeper checks are what must catch it. Then
`routereval route` must end with one error line and the row's exit code.
Below the catalogue: properties (random edits of a valid manifest), the zip
bomb, the backtracking token pattern, interrupting `train --force`, and routing
an unreadable prompt on the training prior.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from support.catalogue import Case, check_case, check_doc_lists_exactly
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.tiny_routing import MODELS, TOPICS, tiny_benchmark

from routereval.deploy.manifest import seal
from routereval.deploy.model import ArtifactError, DamagedArtifactError, RoutingModel
from routereval.deploy.train import train_model
from routereval.errors import RouterEvalError
from routereval.manifests import describe_file

AREAS = ("artifacts", "train", "route")
PROMPT = "solve the quadratic equation for x"
_BASE: dict[str, Path] = {}


@pytest.fixture(scope="module", autouse=True)
def base_artifact(tmp_path_factory) -> Path:
    """One real artifact, copied and damaged by every case."""
    folder = tmp_path_factory.mktemp("base") / "art"
    train_model(tiny_benchmark(), "knn", {"k": 3}, "tfidf-16", progress=False).save(folder)
    _BASE["art"] = folder
    return folder


# -- ways to damage a copy of the artifact ------------------------------------------------


def _copy(tmp: Path) -> Path:
    dest = tmp / "work" / "art"
    shutil.copytree(_BASE["art"], dest)
    return dest


def _manifest(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text())


def edit(change, *, sealed: bool = True):
    """A setup that copies the artifact and applies ``change(manifest)``; ``sealed`` recomputes its checksum."""
    def setup(tmp: Path) -> None:
        folder = _copy(tmp)
        doc = _manifest(folder)
        change(doc)
        (folder / "manifest.json").write_text(json.dumps(seal(doc) if sealed else doc, ensure_ascii=False))
    return setup


def write_raw(text: str | bytes):
    """A setup whose manifest is replaced by exactly these bytes."""
    def setup(tmp: Path) -> None:
        folder = _copy(tmp)
        data = text.encode() if isinstance(text, str) else text
        (folder / "manifest.json").write_bytes(data)
    return setup


def _arrays(folder: Path, file: str) -> dict[str, np.ndarray]:
    with np.load(folder / file) as z:
        return {k: z[k] for k in z.files}


def _rewrite(folder: Path, file: str, arrays: dict[str, np.ndarray] | None, raw: bytes | None = None,
             declare: bool = True) -> None:
    """Replace ``file`` and make the manifest agree with it (digest, declared arrays, checksum)."""
    path = folder / file
    if raw is not None:
        path.write_bytes(raw)
    else:
        np.savez(path, **arrays)
    doc = _manifest(folder)
    doc["files"][file] = describe_file(path)
    if declare and arrays is not None:
        doc["arrays"][file] = {k: {"dtype": a.dtype.str, "shape": list(a.shape)} for k, a in arrays.items()}
    (folder / "manifest.json").write_text(json.dumps(seal(doc)))


def npz_edit(change, file: str = "router.npz", declare: bool = True):
    """A setup that edits the arrays of ``file`` with ``change(arrays)`` and reseals everything."""
    def setup(tmp: Path) -> None:
        folder = _copy(tmp)
        arrays = _arrays(folder, file)
        change(arrays)
        _rewrite(folder, file, arrays, declare=declare)
    return setup


def npz_raw(make):
    """A setup that replaces router.npz by ``make(folder)`` bytes, with a matching digest."""
    def setup(tmp: Path) -> None:
        folder = _copy(tmp)
        _rewrite(folder, "router.npz", None, raw=make(folder))
    return setup


def other(change):
    """A setup that copies the artifact and changes its folder with ``change(folder)``."""
    def setup(tmp: Path) -> None:
        change(_copy(tmp))
    return setup


def _set(path: str, value):
    """A change setting the value at ``path`` (keys joined by /)."""
    def change(doc: dict) -> None:
        keys = [int(k) if k.isdigit() else k for k in path.split("/")]
        node = doc
        for k in keys[:-1]:
            node = node[k]
        node[keys[-1]] = value
    return change


def _compressed_npz(folder: Path) -> bytes:
    """router.npz with its first array deflated (what np.savez_compressed writes)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(folder / "router.npz") as src, zipfile.ZipFile(buf, "w") as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info), compress_type=zipfile.ZIP_DEFLATED)
    return buf.getvalue()


def _undeclared_member(folder: Path) -> bytes:
    buf = io.BytesIO()
    arrays = _arrays(folder, "router.npz")
    np.savez(buf, **arrays, extra=np.zeros(3))
    return buf.getvalue()


def _symlink_outside(folder: Path) -> None:
    outside = folder.parent / "elsewhere.npz"
    shutil.move(folder / "router.npz", outside)
    (folder / "router.npz").symlink_to(outside)


def _fifo(folder: Path) -> None:
    (folder / "router.npz").unlink()
    os.mkfifo(folder / "router.npz")


def _manifest_folder(folder: Path) -> None:
    (folder / "manifest.json").unlink()
    (folder / "manifest.json").mkdir()


def _huge_manifest(folder: Path) -> None:
    with open(folder / "manifest.json", "r+b") as f:
        f.truncate(200 * 2**20)  # sparse: 200 MB without writing them


def _reorder(doc: dict) -> None:
    doc["candidates"] = list(reversed(doc["candidates"]))


def _extend(doc: dict) -> None:
    doc["candidates"].append("extra-model")
    doc["prior"].append(0.5)


def _add_key(doc: dict) -> None:
    doc["router"]["extra"] = 1


def _state_to_undeclared(doc: dict) -> None:
    doc["router"]["state"]["train_labels_"] = {"array": "a9"}


def _dunder_state(doc: dict) -> None:
    doc["router"]["state"]["__class__"] = {"value": "x"}


def _nan(arrays, name="a0"):
    arrays[name] = arrays[name].copy()
    arrays[name][0, 0] = np.nan


def _labels_two(arrays):
    arrays["a1"] = np.full((arrays["a1"].shape[0], 2), 1.0, np.float32)
    arrays["a2"] = np.array([0.5, 0.5])


def _v1(doc: dict) -> None:
    doc["format_version"] = 1


def _unicode_artifact(tmp: Path) -> None:
    bench = tiny_benchmark()
    names = ["模型-数学", "código-modelo", "poème/ü"]
    bench.models["name"] = names
    bench.model_names[:] = names
    train_model(bench, "knn", {"k": 3}, "tfidf-16", progress=False).save(tmp / "work" / "art")


def _route(*extra: str, prompt: str = PROMPT) -> tuple[str, ...]:
    return ("route", "art", prompt, *extra)


def _a(case_id, text, setup, code=3, expect=(), args=None):
    return Case(case_id, "artifacts", text, args or _route(), code, tuple(expect), setup=setup)


ART_CASES = [
    _a("artifact-edited-price", "a price edited by hand (checksum stale)",
       edit(_set("prices/math-model/input", 0.0), sealed=False), expect=("altered or damaged",)),
    _a("artifact-reordered-stale", "candidates reordered (checksum stale)", edit(_reorder, sealed=False),
       expect=("altered or damaged",)),
    _a("artifact-reordered", "candidates reordered, checksum recomputed", edit(_reorder),
       expect=("not those the router was trained on",)),
    _a("artifact-extra-candidate", "an extra candidate (and prior), checksum recomputed", edit(_extend)),
    _a("artifact-extra-candidate-only", "an extra candidate only, checksum recomputed",
       edit(lambda d: d["candidates"].append("extra-model")), expect=("prior",)),
    _a("artifact-duplicate-candidate", "a candidate listed twice",
       edit(lambda d: d["candidates"].__setitem__(1, d["candidates"][0])), expect=("twice",)),
    _a("artifact-int-candidates", "candidate names that are integers", edit(_set("candidates", [1, 2, 3]))),
    _a("artifact-empty-candidates", "no candidates", edit(_set("candidates", []))),
    _a("artifact-path-candidate", "a candidate renamed like a path",
       edit(lambda d: d["candidates"].__setitem__(0, "../../etc/passwd"))),
    _a("artifact-control-candidate", "a candidate name with a line break",
       edit(lambda d: d["candidates"].__setitem__(0, "math\nmodel"))),
    _a("artifact-negative-price", "a negative price", edit(_set("prices/math-model/input", -1.0))),
    _a("artifact-huge-price", "a price of 1e308", edit(_set("prices/math-model/output", 1e308))),
    _a("artifact-bool-price", "a price that is true", edit(_set("prices/math-model/input", True))),
    _a("artifact-price-unknown-model", "a price for a model that is not a candidate",
       edit(_set("prices/ghost", {"input": 1.0, "output": 1.0}))),
    _a("artifact-negative-tokens", "output_tokens of -5", edit(_set("cost_model/output_tokens", -5))),
    _a("artifact-float-tokens", "output_tokens of 2.5", edit(_set("cost_model/output_tokens", 2.5))),
    _a("artifact-prior-outside", "a prior value of 1.5", edit(_set("prior/0", 1.5))),
    _a("artifact-files-list", "files as a list", edit(_set("files", ["router.npz", "encoder.npz"]))),
    _a("artifact-files-string", "files as a string", edit(_set("files", "router.npz"))),
    _a("artifact-files-path", "a file entry that is a path", edit(lambda d: d["files"].update(
        {"../router.npz": d["files"]["router.npz"]}))),
    _a("artifact-bad-digest", "a file digest that is not 64 hex digits", edit(_set("files/router.npz/sha256", "abc"))),
    _a("artifact-router-renamed", "router name changed to another registered router",
       edit(_set("router/name", "mlp"))),
    _a("artifact-router-unknown", "router name not registered", edit(_set("router/name", "os:system")),
       expect=("not registered",)),
    _a("artifact-k-zero", "router parameter k = 0", edit(_set("router/params/k", 0)), expect=("k",)),
    _a("artifact-k-text", "router parameter k = \"abc\"", edit(_set("router/params/k", "abc")), expect=("k",)),
    _a("artifact-unknown-param", "an unknown router parameter", edit(_set("router/params/depth", 3))),
    _a("artifact-analyzer", "TF-IDF analyzer changed to char", edit(_set("encoder/vectorizer/analyzer", "char"))),
    _a("artifact-token-pattern", "TF-IDF token_pattern (a+)+b (backtracks for ever)",
       edit(_set("encoder/vectorizer/token_pattern", "(a+)+b")), args=_route(prompt="a" * 40)),
    _a("artifact-ngram-range", "n-gram sizes 1 to 50", edit(lambda d: (
        d["encoder"]["vectorizer"].update(ngram_range=[1, 50]), d["encoder"]["settings"].update(ngram_range=[1, 50])))),
    _a("artifact-encoder-dim", "encoder dim that disagrees with its arrays", edit(lambda d: d["encoder"].update(
        dim=8, name=f"tfidf-8-{d['encoder']['fingerprint'][:16]}"))),
    _a("artifact-unknown-key", "an unknown key in the router entry", edit(_add_key)),
    _a("artifact-missing-prior", "the prior deleted", edit(lambda d: d.pop("prior"))),
    _a("artifact-state-undeclared", "state pointing to an array not in router.npz", edit(_state_to_undeclared)),
    _a("artifact-state-dunder", "a state attribute named __class__", edit(_dunder_state)),
    _a("artifact-version-1", "an artifact of format version 1", edit(_v1), code=1, expect=("train",)),
    _a("artifact-not-json", "manifest.json that is not JSON", write_raw("{not json")),
    _a("artifact-not-utf8", "manifest.json that is not UTF-8", write_raw(b"\xff\xfe{}")),
    _a("artifact-duplicate-keys", "a key twice in one JSON object",
       lambda tmp: write_raw(_duplicate_key_text(_manifest(_BASE["art"])))(tmp), expect=("twice",)),
    _a("artifact-json-nan", "NaN in the manifest's JSON",
       lambda tmp: write_raw(_nan_text())(tmp)),
    _a("artifact-deep-json", "JSON nested 100,000 deep", write_raw("[" * 100_000 + "]" * 100_000)),
    _a("artifact-huge-manifest", "a 200 MB manifest", other(_huge_manifest)),
    _a("artifact-manifest-folder", "manifest.json that is a folder", other(_manifest_folder)),
    _a("artifact-no-manifest", "a folder with no manifest",
       other(lambda f: (f / "manifest.json").unlink()), code=1),
    _a("artifact-missing-npz", "router.npz deleted", other(lambda f: (f / "router.npz").unlink())),
    _a("artifact-symlink-npz", "router.npz a link to a file outside the folder", other(_symlink_outside)),
    _a("artifact-fifo-npz", "router.npz a named pipe (reading would wait for ever)", other(_fifo)),
    _a("artifact-empty-npz", "an empty router.npz (digest recomputed)", npz_raw(lambda f: b"")),
    _a("artifact-broken-npz", "router.npz of random bytes (digest recomputed)",
       npz_raw(lambda f: bytes(random.Random(1).randrange(256) for _ in range(2000)))),
    _a("artifact-compressed-npz", "router.npz with compressed members (a zip bomb's form)",
       npz_raw(_compressed_npz), expect=("compressed",)),
    _a("artifact-undeclared-member", "router.npz with a member the manifest does not declare",
       npz_raw(_undeclared_member)),
    _a("artifact-npz-shape-lie", "router.npz whose array differs from its declaration",
       npz_edit(lambda a: a.__setitem__("a2", np.zeros(5)), declare=False)),
    _a("artifact-nan-state", "NaN in the router's training vectors", npz_edit(_nan)),
    _a("artifact-inf-state", "infinity in the router's training vectors",
       npz_edit(lambda a: a.__setitem__("a0", np.full_like(a["a0"], np.inf)))),
    _a("artifact-labels-outside", "training labels of 2.0",
       npz_edit(lambda a: a.__setitem__("a1", a["a1"] * 2))),
    _a("artifact-labels-shape", "training labels for 2 candidates, not 3", npz_edit(_labels_two)),
    _a("artifact-object-state", "an object array in router.npz",
       npz_edit(lambda a: a.__setitem__("a2", np.array([1, "x", None], dtype=object)))),
    _a("artifact-candidates-npz", "candidate names in router.npz changed",
       npz_edit(lambda a: a.__setitem__("candidates", np.frombuffer(b"a\nb\nc", np.uint8).copy()))),
    _a("artifact-idf-nan", "NaN in the TF-IDF weights", npz_edit(lambda a: a.__setitem__(
        "idf", np.full_like(a["idf"], np.nan)), file="encoder.npz")),
    _a("artifact-terms-short", "a vocabulary shorter than its IDF weights", npz_edit(lambda a: a.__setitem__(
        "terms", np.frombuffer(b"one\ntwo", np.uint8).copy()), file="encoder.npz")),
    _a("artifact-unicode-names", "candidates with non-ASCII names (valid)", _unicode_artifact, code=0,
       expect=("模型-数学",)),
    _a("artifact-oov-prompt", "a prompt with no word of the vocabulary (valid)", other(lambda f: None), code=0,
       args=_route(prompt="zzzz qqqq"), expect=("no word of this prompt",)),
    _a("artifact-empty-prompt", "an empty prompt (valid)", other(lambda f: None), code=0,
       args=_route(prompt=""), expect=("no word of this prompt",)),
]


def _duplicate_key_text(doc: dict) -> str:
    text = json.dumps(seal(doc))
    return text.replace('"candidates": ', '"candidates": ["x"], "candidates": ', 1)


def _nan_text() -> str:
    doc = seal(_manifest(_BASE["art"]))
    doc["held_out"] = {"n_test": 1, "mean_score": float("nan"), "best_single_on_train": 0.0, "oracle": 1.0,
                       "gain_vs_best_single": 0.0}
    return json.dumps(doc)


# -- route's own options, and train ------------------------------------------------------------


def _r(case_id, text, extra, expect=()):
    return Case(case_id, "route", text, _route(*extra), 1, tuple(expect), setup=other(lambda f: None))


ROUTE_CASES = [
    _r("route-candidates-empty", "--candidates ''", ("--candidates", ""), ("--candidates is empty",)),
    _r("route-candidates-commas", "--candidates ',,'", ("--candidates", ",,"), ("--candidates is empty",)),
    _r("route-exclude-empty", "--exclude ''", ("--exclude", ""), ("--exclude is empty",)),
    _r("route-candidates-gap", "--candidates 'math-model,,code-model'", ("--candidates", "math-model,,code-model"),
       ("empty name at position 2",)),
]


def _csv(ghost: bool = False) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["prompt_id", "prompt", "task", *MODELS, *(["ghost-model"] if ghost else [])])
    i = 0
    for r in range(4):
        for j, (topic, phrases) in enumerate(TOPICS.items()):
            for p in phrases:
                w.writerow([f"p{i}", f"{p} please, case {r}", topic, *[int(k == j) for k in range(3)],
                            *([""] if ghost else [])])
                i += 1
    return out.getvalue()


def _imported(ghost: bool = False, then=None):
    def setup(tmp: Path) -> None:
        from routereval.cli import run

        (tmp / "work" / "t.csv").write_text(_csv(ghost))
        assert run(["data", "import", "t.csv", "--name", "t"]) == 0
        if then is not None:
            then(tmp / "work")
    return setup


TRAIN = ("train", "--dataset", "t", "--router", "knn:k=3", "--encoder", "tfidf-16", "--out", "out")


def _t(case_id, text, setup, code=1, expect=(), extra=()):
    return Case(case_id, "train", text, (*TRAIN, *extra), code, tuple(expect), setup=setup)


def _artifact_in(work: Path, *extra_files: str) -> None:
    shutil.copytree(_BASE["art"], work / "out")
    for name in extra_files:
        (work / "out" / name).write_text("mine")


TRAIN_CASES = [
    _t("train-ok", "a small imported dataset (valid)", _imported(), code=0, expect=("saved knn",)),
    _t("train-no-records", "a model with no score on any training prompt", _imported(ghost=True),
       expect=("ghost-model",)),
    _t("train-out-file", "--out naming a regular file", _imported(then=lambda w: (w / "out").write_text("x")),
       expect=("is a file",)),
    _t("train-out-other-things", "--out a folder holding other things, no artifact",
       _imported(then=lambda w: ((w / "out").mkdir(), (w / "out" / "notes.txt").write_text("x"))), extra=("--force",)),
    _t("train-out-artifact", "--out holding an artifact, no --force", _imported(then=_artifact_in),
       expect=("--force",)),
    _t("train-out-artifact-and-more", "--force on an artifact folder that holds other files too",
       _imported(then=lambda w: _artifact_in(w, "notes.txt")), extra=("--force",), expect=("notes.txt",)),
    _t("train-force-ok", "--force on an artifact folder (valid)", _imported(then=_artifact_in), code=0,
       extra=("--force",), expect=("saved knn",)),
    _t("train-models-empty", "--models ''", _imported(), extra=("--models", ""), expect=("--models is empty",)),
    _t("train-output-tokens", "--output-tokens -1", _imported(), extra=("--output-tokens", "-1")),
    _t("train-models-unknown", "--models naming a model the dataset does not hold (and a typo)", _imported(),
       extra=("--models", "gpt-4,math-modl"), expect=("gpt-4", "did you mean math-model?")),
]

CASES = ART_CASES + ROUTE_CASES + TRAIN_CASES


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case, tmp_path, monkeypatch, capsys):
    check_case(case, tmp_path, monkeypatch, capsys)


def test_doc_lists_exactly_these_cases():
    check_doc_lists_exactly(AREAS, [c.id for c in CASES])


# -- properties ------------------------------------------------------------------------------------

# Values a JSON writer can write (it has no infinity; NaN and Infinity in the text are cases of their own).
_REPLACEMENTS = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**20), st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12), st.lists(st.integers(-3, 3), max_size=3), st.dictionaries(st.text(max_size=4),
                                                                                    st.integers(), max_size=2),
)


def _paths(node, prefix=()):
    """Every (path) into a JSON tree."""
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*prefix, i))


@pytest.fixture(scope="module")
def base_doc(base_artifact):
    doc = _manifest(base_artifact)
    reference = RoutingModel.load(base_artifact).decide([PROMPT, "a haiku about the sea", "zzzz"])
    return doc, sorted(_paths(doc), key=str)[1:], reference


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_edit_of_the_manifest_loads_correctly_or_is_refused(base_doc, base_artifact, tmp_path_factory, data):
    doc, paths, reference = base_doc
    doc = copy.deepcopy(doc)
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(paths))
        parent = doc
        try:
            for k in path[:-1]:
                parent = parent[k]
            action = data.draw(st.sampled_from(["replace", "delete", "add"]))
            if action == "replace":
                parent[path[-1]] = data.draw(_REPLACEMENTS)
            elif action == "delete" and isinstance(parent, dict):
                del parent[path[-1]]
            elif action == "add" and isinstance(parent, dict):
                parent[data.draw(st.text(min_size=1, max_size=6))] = data.draw(_REPLACEMENTS)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit removed this path
    folder = tmp_path_factory.mktemp("prop") / "art"
    shutil.copytree(base_artifact, folder)
    (folder / "manifest.json").write_text(json.dumps(seal(doc) if data.draw(st.booleans()) else doc))
    start = time.monotonic()
    try:
        model = RoutingModel.load(folder)
    except ArtifactError:
        return
    finally:
        assert time.monotonic() - start < 10
    batch = model.decide([PROMPT, "a haiku about the sea", "zzzz"])
    assert set(batch.chosen) <= set(model.candidates) and batch.quality.shape == (3, len(model.candidates))
    assert np.isfinite(batch.quality).all() and (batch.quality >= 0).all() and (batch.quality <= 1).all()
    base = _manifest(base_artifact)
    # Prices break ties (the cheaper first) and the prior ranks unreadable prompts: edits of either may reorder.
    if all(doc.get(k) == base[k] for k in ("router", "prices", "prior")) and doc["candidates"] == MODELS:
        np.testing.assert_array_equal(batch.order, reference.order)


# -- bounded work --------------------------------------------------------------------------------


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.slow  # child processes under load
def test_a_zip_bomb_is_refused_fast_with_bounded_memory(tmp_path):
    """1 GiB of zeros in a 1 MB member, declared at its true size in a resealed manifest: refused unread."""
    folder = tmp_path / "art"
    shutil.copytree(_BASE["art"], folder)
    arrays = _arrays(folder, "router.npz")
    rows = 2**30 // (16 * 4)
    header = io.BytesIO()
    np.lib.format.write_array_header_2_0(header, {"descr": "<f4", "fortran_order": False, "shape": (rows, 16)})
    # The member is streamed through deflate: 1 GiB of zeros takes about 1 MB on disk.
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1, allowZip64=True) as z:
        info = zipfile.ZipInfo("a0.npy")
        info.compress_type = zipfile.ZIP_DEFLATED
        with z.open(info, "w", force_zip64=True) as member:
            member.write(header.getvalue())
            zeros = bytes(2**24)
            left = rows * 16 * 4
            while left:
                member.write(zeros[:min(left, len(zeros))])
                left -= min(left, len(zeros))
        for name, array in arrays.items():
            if name != "a0":
                z.writestr(f"{name}.npy", _npy(array))
    raw = buf.getvalue()
    assert len(raw) < 10 * 2**20
    _rewrite(folder, "router.npz", None, raw=raw)
    doc = _manifest(folder)
    doc["arrays"]["router.npz"]["a0"] = {"dtype": "<f4", "shape": [rows, 16]}
    (folder / "manifest.json").write_text(json.dumps(seal(doc)))
    before, start = _peak_rss_mb(), time.monotonic()
    with pytest.raises(DamagedArtifactError, match="compressed"):
        RoutingModel.load(folder)
    assert time.monotonic() - start < 5
    assert _peak_rss_mb() - before < 100


def _npy(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.save(out, array, allow_pickle=False)
    return out.getvalue()


def test_a_backtracking_token_pattern_is_refused_promptly(tmp_path):
    folder = tmp_path / "art"
    shutil.copytree(_BASE["art"], folder)
    doc = _manifest(folder)
    doc["encoder"]["vectorizer"]["token_pattern"] = "(a+)+b"
    (folder / "manifest.json").write_text(json.dumps(seal(doc)))
    start = time.monotonic()
    with pytest.raises(DamagedArtifactError, match="token_pattern"):
        RoutingModel.load(folder).route("a" * 40)
    assert time.monotonic() - start < 2


# -- the uninformative prompt --------------------------------------------------------------------


def test_an_unreadable_prompt_is_ranked_by_the_training_prior(tmp_path):
    """On a tiny matrix whose column means differ, an out-of-vocabulary prompt goes to the best mean."""
    from routereval.records import Benchmark

    bench = tiny_benchmark()
    values = bench.values().copy()
    rng = np.random.default_rng(3)
    values[:, 1] = np.where(rng.random(len(values)) < 0.5, 1.0, values[:, 1])  # code-model also right half the time
    noisy = Benchmark.from_values("noisy", values, bench.prompts, bench.models)
    by_hand = [float(np.mean(values[:, j])) for j in range(3)]  # every prompt is a training prompt (split all)
    expected = MODELS[int(np.argmax(by_hand))]
    assert expected == "code-model"
    model = train_model(noisy, "knn", {"k": 3}, "tfidf-16", progress=False)
    folder = model.save(tmp_path / "art")
    loaded = RoutingModel.load(folder)
    for prompt in ("zzzz qqqq", "", "   "):
        decision = loaded.route(prompt)[0]
        assert decision.chosen == expected and decision.basis == "prior"
        np.testing.assert_allclose(sorted(decision.quality, reverse=True), sorted(by_hand, reverse=True))
    assert loaded.route(PROMPT)[0].basis == "router"
    assert loaded.route(PROMPT)[0].to_dict()["basis"] == "router"


# -- interrupting `train --force` ------------------------------------------------------------------


@pytest.mark.slow  # child processes under load
def test_interrupting_train_force_leaves_a_whole_artifact(tmp_path):
    """Real `routereval train --force` processes killed (SIGINT or SIGKILL) at random moments."""
    from routereval.cli import run

    env = {**os.environ}
    (tmp_path / "t.csv").write_text(_csv())
    os.chdir(tmp_path)
    assert run(["data", "import", "t.csv", "--name", "t"]) == 0
    out = tmp_path / "out"
    shutil.copytree(_BASE["art"], out)
    old_created = _manifest(out)["created"]
    rng = random.Random(7)
    command = [sys.executable, "-c", "from routereval.cli import main; main()", *TRAIN, "--force"]
    outcomes = set()
    for attempt in range(4):
        proc = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(rng.uniform(0.3, 3.0))
        proc.send_signal(signal.SIGINT if attempt % 2 else signal.SIGKILL)
        proc.wait(timeout=60)
        model = RoutingModel.load(out)  # whole: the old artifact or the new one
        assert [d.chosen for d in model.route(["solve the quadratic equation", "a haiku about the sea"])] == [
            "math-model", "poem-model"]
        outcomes.add("old" if _manifest(out)["created"] == old_created else "new")
        assert sorted(p.name for p in out.iterdir()) == ["encoder.npz", "manifest.json", "router.npz"]
    finished = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, timeout=120)
    assert finished.returncode == 0, finished.stderr
    assert _manifest(out)["created"] >= old_created and RoutingModel.load(out).candidates == MODELS
    assert DamagedArtifactError.exit_code == 3 and issubclass(DamagedArtifactError, RouterEvalError)
