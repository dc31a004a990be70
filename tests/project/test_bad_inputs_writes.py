"""The catalogue's "writes" rows: outputs a command writes, and names an import reserves.

An output path (``report --html``, ``--markdown``, ``--plots``, ``bench --json``)
is written through :func:`routereval.atomic.write_atomic`: a missing path or a
regular file is replaced atomically, a symbolic link is followed, a device or a
read pipe is written into, and anything else is refused with one line, never
replaced. Each case also checks that what stood at the path is still there.

Two imports of one new name at once are raced with real processes.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from support.catalogue import RO_HOME, Case, check_case, check_doc_lists_exactly

AREAS = ("writes",)


# -- a tiny results store, built once ------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_store(tmp_path_factory) -> Path:
    """A results store of the oracle and random routers on 3 pools x 1 seed (no training: fast)."""
    from routereval.datasets.router_dataset import router_datasets
    from routereval.evaluation.evaluate import evaluate_pool
    from routereval.evaluation.features import Features
    from routereval.evaluation.reference import Reference
    from routereval.evaluation.specs import RouterSpec, contender
    from routereval.records import Benchmark
    from routereval.results.store import ResultsStore

    rng = np.random.default_rng(0)
    n, n_models = 60, 5
    values = (rng.random((n, n_models)) < 0.6).astype(np.float32)
    prompts = pd.DataFrame({"prompt_id": [f"p{i}" for i in range(n)], "task": ["a"] * n})
    bench = Benchmark.from_values("tiny", values, prompts, [f"m{k}" for k in range(n_models)])
    data = router_datasets(bench, [3], n_draws=5)
    folder = tmp_path_factory.mktemp("tiny") / "store"
    store = ResultsStore(folder)
    with store.writing({"protocol": "faithful", "encoder": "none"}):
        for pool in data.pools:
            for name in ("oracle", "random"):
                row = evaluate_pool(contender(RouterSpec(name)), pool, Features(None, None),
                                    Reference(0.8, "given (0.8)"), n_boot=20, seed=0)
                store.write_row({**row, "source": "tiny", "seed": 0})
        store.write_notes({})
    return folder


_STORE: dict[str, Path] = {}


def _with_store(make=None):
    """Setup: the tiny store copied to <case>/work/store, then ``make(work)`` for what stands at the output."""

    def setup(tmp: Path) -> None:
        shutil.copytree(_STORE["path"], tmp / "work" / "store")
        if make is not None:
            make(tmp / "work")

    return setup


def _fifo(work: Path) -> None:
    os.mkfifo(work / "out.html")


def _folder(work: Path) -> None:
    (work / "out.html").mkdir()


def _link_to_folder(work: Path) -> None:
    (work / "pages").mkdir()
    (work / "out.html").symlink_to("pages")


def _dangling(work: Path) -> None:
    (work / "out.md").symlink_to("gone/away.md")


def _file(work: Path) -> None:
    (work / "reports").write_text("a file, not a folder\n")


def _link_to_file(work: Path) -> None:
    (work / "report-v1.html").write_text("old page\n")
    (work / "out.html").symlink_to("report-v1.html")


def _read_only(work: Path) -> None:
    if os.geteuid() != 0:
        (work.parent / "ro").mkdir()
        (work.parent / "ro").chmod(0o500)


_REPORT = ("report", "store", "--n-boot", "20")

CASES = [
    Case("output-fifo", "writes", "`report --html` onto a named pipe nobody reads",
         (*_REPORT, "--html", "out.html"), 1, ("named pipe that no process is reading",), setup=_with_store(_fifo)),
    Case("output-folder", "writes", "`report --html` onto a folder", (*_REPORT, "--html", "out.html"), 1,
         ("it is a folder, not a file",), setup=_with_store(_folder)),
    Case("output-link-to-folder", "writes", "`report --html` onto a symbolic link to a folder",
         (*_REPORT, "--html", "out.html"), 1, ("symbolic link to",), setup=_with_store(_link_to_folder)),
    Case("output-dangling-link", "writes", "`report --markdown` onto a symbolic link to nothing",
         (*_REPORT, "--markdown", "out.md"), 1, ("which does not exist",), setup=_with_store(_dangling)),
    Case("output-under-a-file", "writes", "`report --html` into a path whose parent is a file",
         (*_REPORT, "--html", "reports/out.html"), 1, ("reports is a file, not a folder",),
         setup=_with_store(_file)),
    Case("output-plots-is-a-file", "writes", "`report --plots` naming a file", (*_REPORT, "--plots", "reports"), 1,
         ("reports is a file, not a folder",), setup=_with_store(_file)),
    Case("output-read-only", "writes", "`report --html` into a folder that cannot be written",
         (*_REPORT, "--html", f"{RO_HOME}/out.html"), 4, ("cannot write",), setup=_with_store(_read_only)),
    Case("output-device", "writes", "`report --markdown /dev/null`: written into, not replaced",
         (*_REPORT, "--markdown", "/dev/null"), 0, ("wrote /dev/null",), setup=_with_store()),
    Case("output-link-to-file", "writes", "`report --html` onto a symbolic link to a file: its target is replaced",
         (*_REPORT, "--html", "out.html"), 0, ("wrote out.html",), setup=_with_store(_link_to_file)),
    Case("bench-json-fifo", "writes", "`bench --json` onto a named pipe nobody reads", (
        "bench", "-d", "t.csv", "--routers", "oracle", "--sizes", "3", "--n-boot", "20", "--json", "out.json"), 1,
         ("named pipe that no process is reading",), setup=lambda tmp: os.mkfifo(tmp / "work" / "out.json")),
    Case("bench-markdown-dangling-link", "writes", "`bench --markdown` onto a symbolic link to nothing", (
        "bench", "-d", "t.csv", "--routers", "oracle", "--sizes", "3", "--markdown", "out.md"), 1,
         ("which does not exist",), setup=lambda tmp: (tmp / "work" / "out.md").symlink_to("nowhere.md")),
    Case("import-name-being-imported", "writes", "`data import` of a name another import is storing right now",
         ("data", "import", "t.csv", "--name", "t"), 1, ("is being imported by another process",),
         setup=lambda tmp: _hold_reservation("t")),
]


def _toy_csv() -> str:
    rng = np.random.default_rng(1)
    lines = ["prompt_id,model,score,task"]
    for i in range(30):
        for k in range(5):
            lines.append(f"q{i},m{k},{int(rng.random() < 0.3 + 0.1 * k)},t{i % 2}")
    return "\n".join(lines) + "\n"


TOY = _toy_csv()
_HELD: list = []


def _hold_reservation(name: str) -> None:
    # Another import's reservation, held the way that import holds it (released after the case).
    from routereval import paths
    from routereval.locks import exclusive

    lock = exclusive(paths.writable_dir(paths.datasets_dir()) / f".import-{name}.lock", remove=True)
    lock.__enter__()
    _HELD.append(lock)


def _kind(path: Path) -> str:
    if path.is_symlink():
        return f"link to {os.readlink(path)}"
    mode = path.lstat().st_mode
    return "fifo" if stat.S_ISFIFO(mode) else "folder" if stat.S_ISDIR(mode) else "file"


#: What must still stand where the refused (or followed) output was, by case.
UNCHANGED = {
    "output-fifo": ("out.html", "fifo"),
    "output-folder": ("out.html", "folder"),
    "output-link-to-folder": ("out.html", "link to pages"),
    "output-dangling-link": ("out.md", "link to gone/away.md"),
    "output-under-a-file": ("reports", "file"),
    "output-plots-is-a-file": ("reports", "file"),
    "output-link-to-file": ("out.html", "link to report-v1.html"),
    "bench-json-fifo": ("out.json", "fifo"),
    "bench-markdown-dangling-link": ("out.md", "link to nowhere.md"),
}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case, tiny_store, tmp_path, monkeypatch, capsys):
    _STORE["path"] = tiny_store
    if case.args[0] in ("bench", "data"):
        case = Case(**{**case.__dict__, "files": {"t.csv": TOY}})
    try:
        check_case(case, tmp_path, monkeypatch, capsys)
    finally:
        while _HELD:
            _HELD.pop().__exit__(None, None, None)
    work = tmp_path / "work"
    if case.id in UNCHANGED:
        name, kind = UNCHANGED[case.id]
        assert _kind(work / name) == kind, f"{name} was replaced: now {_kind(work / name)}"
    # Nothing half-written is left behind, whatever happened.
    assert not list(work.rglob(".tmp-*"))
    if case.id == "output-link-to-file":
        assert (work / "report-v1.html").read_text().startswith("<!DOCTYPE html>")
    if case.id == "import-name-being-imported":
        from routereval.sources.catalog import imported_names

        assert imported_names() == []


def test_doc_lists_exactly_these_cases():
    check_doc_lists_exactly(AREAS, [c.id for c in CASES])


# -- outputs: the cases a table row cannot show ----------------------------------------------


def test_a_pipe_with_a_reader_receives_the_output(tmp_path):
    from routereval.atomic import write_text_atomic

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 10
    while True:
        try:
            write_text_atomic(fifo, "line one\nline two\n")
            break
        except Exception as exc:  # noqa: BLE001 - cat not yet reading: refused, try again
            assert "no process is reading" in str(exc) and time.monotonic() < deadline
            time.sleep(0.01)
    out, _ = reader.communicate(timeout=10)
    assert out == "line one\nline two\n"
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


def test_a_replaced_file_keeps_its_permissions_and_an_interrupted_write_leaves_the_old_one(tmp_path):
    from routereval.atomic import write_atomic, write_text_atomic

    out = tmp_path / "private.json"
    out.write_text("old\n")
    out.chmod(0o600)
    write_text_atomic(out, "new\n")
    assert out.read_text() == "new\n" and stat.S_IMODE(out.stat().st_mode) == 0o600

    def interrupted(tmp: Path) -> None:
        tmp.write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomic(out, interrupted)
    assert out.read_text() == "new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["private.json"]


def test_a_full_disk_names_the_output_not_the_temporary_file(tmp_path):
    from routereval.atomic import write_atomic

    def full(tmp: Path) -> None:
        raise OSError(28, "No space left on device", str(tmp))

    with pytest.raises(OSError) as err:
        write_atomic(tmp_path / "out.csv", full)
    assert err.value.filename == str(tmp_path / "out.csv")
    assert not list(tmp_path.iterdir())


# -- two imports of one name at once -------------------------------------------------------

RACER = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    from routereval.cli import run

    barrier, me, rounds, source = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
    for i in range(rounds):
        (barrier / f"{i}-{me}").touch()
        while len(list(barrier.glob(f"{i}-*"))) < 2:  # both racers are here: go
            time.sleep(0.0005)
        code = run(["data", "import", source, "--name", f"n{i}"])
        print("exit", i, code, flush=True)
""")


def _racer(tmp_path: Path, me: str, rounds: int) -> subprocess.Popen:
    source = tmp_path / f"{me}.csv"
    source.write_text(TOY if me == "a" else TOY.replace("q", "r"))
    return subprocess.Popen([sys.executable, "-c", RACER, str(tmp_path / "barrier"), me, str(rounds), str(source)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "ROUTEREVAL_PROGRESS": "off"})


@pytest.mark.slow  # two imports racing in child processes
def test_two_imports_of_one_new_name_at_once_store_one_and_refuse_the_other(tmp_path):
    from routereval.sources.catalog import open_stored

    rounds = 12
    (tmp_path / "barrier").mkdir()
    racers = {me: _racer(tmp_path, me, rounds) for me in ("a", "b")}
    results = {me: p.communicate(timeout=120) for me, p in racers.items()}
    codes = {me: dict(line.split()[1:] for line in out.splitlines() if line.startswith("exit "))
             for me, (out, _) in results.items()}
    for me, (_, err) in results.items():
        assert "Traceback" not in err, err
        assert all(line.startswith("error: ") for line in err.splitlines()), err
    for i in range(rounds):
        got = sorted((codes["a"][str(i)], codes["b"][str(i)]))
        assert got == ["0", "1"], f"round {i}: exit codes {got}"
        winner = "a" if codes["a"][str(i)] == "0" else "b"
        # The store holds the winner's records: the loser replaced nothing.
        stored = open_stored(f"n{i}")
        assert stored.provenance["imported_from"] == str(tmp_path / f"{winner}.csv")
        assert stored.prompts["prompt_id"].iloc[0].startswith("q" if winner == "a" else "r")
    refusals = [line for _, err in results.values() for line in err.splitlines()]
    assert len(refusals) == rounds
    assert all("is being imported by another process" in r or "already exists" in r for r in refusals), refusals


def test_a_reservation_left_by_a_killed_import_does_not_block(tmp_path, capsys):
    from routereval import paths
    from routereval.cli import run

    (tmp_path / "t.csv").write_text(TOY)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom routereval.locks import exclusive\n"
         "with exclusive(sys.argv[1], remove=True):\n    print('held', flush=True)\n    time.sleep(60)\n",
         str(paths.writable_dir(paths.datasets_dir()) / ".import-t.lock")],
        stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    assert run(["data", "import", str(tmp_path / "t.csv"), "--name", "t"]) == 1
    assert "is being imported by another process" in capsys.readouterr().err
    holder.kill()  # as a crash or kill -9 would: no chance to clean up
    holder.wait(timeout=10)
    assert run(["data", "import", str(tmp_path / "t.csv"), "--name", "t"]) == 0
    assert not list(paths.datasets_dir().glob(".import-*"))


def test_publish_folder_keeps_whichever_writer_finished_first(tmp_path):
    from routereval.atomic import publish_folder

    first, second, dest = tmp_path / "a", tmp_path / "b", tmp_path / "export"
    for folder, text in ((first, "first"), (second, "second")):
        folder.mkdir()
        (folder / "model.onnx").write_text(text)
    assert publish_folder(first, dest) and not first.exists()
    assert not publish_folder(second, dest)  # another writer's folder stands: it is as good, and kept
    assert (dest / "model.onnx").read_text() == "first" and (second / "model.onnx").read_text() == "second"
    with pytest.raises(OSError):
        publish_folder(second, tmp_path / "missing-parent" / "export")
