"""Ctrl-C, SIGTERM and a closed pipe, sent to real processes as a terminal or a shell sends them.

Each command is started as ``python -m routereval ...`` in its own process
group; once it is doing work, the signal goes to the whole group (what Ctrl-C
in a terminal does, reaching a sweep's worker processes too). It must stop
within seconds with the documented exit code and exactly one line, never a
traceback, and leave what it stored whole: a rerun of an interrupted sweep
completes it with exactly the rows of an uninterrupted run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.catalogue import check_doc_lists_exactly, check_doc_row
from support.toy_sweep import comparable, write_toy_csv

from routereval.results import ResultsStore, grid_key

CASE_IDS = ("interrupt-sweep-workers", "terminate-sweep-workers", "interrupt-bench", "terminate-bench",
            "interrupt-swallowed-by-the-command-line")
SIGNALS = {"SIGINT": (signal.SIGINT, 130, "error: interrupted"), "SIGTERM": (signal.SIGTERM, 143, "error: terminated")}
SMALL = ('name = "small"\ndatasets = ["toy.csv"]\nsizes = [3]\nencoder = "tfidf-16"\nseeds = [0, 1, 2]\n'
         'scaling = false\nn_boot = 50\nrouters = ["knn", "oracle"]\n')


def _env(tmp_path: Path, **extra: str) -> dict:
    return {**os.environ, "ROUTEREVAL_HOME": str(tmp_path / "home"), "ROUTEREVAL_PROGRESS": "off", **extra}


def _start(args: list[str], env: dict, cwd: Path) -> subprocess.Popen:
    # start_new_session: its own process group, so killpg reaches it and its workers only.
    return subprocess.Popen([sys.executable, "-m", "routereval", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=cwd, start_new_session=True)


def _rows(out: Path) -> list[Path]:
    rows = out / "rows"
    return [p for p in rows.glob("*.parquet") if not p.name.startswith(".tmp-")] if rows.is_dir() else []


def _alive_in_group(group: int) -> list[str]:
    ps = subprocess.run(["ps", "-o", "stat=,args=", "-g", str(group)], capture_output=True, text=True).stdout
    return [line for line in ps.splitlines() if line.strip() and not line.strip().startswith("Z")]


def _stopped_cleanly(proc: subprocess.Popen, sig: int) -> tuple[int, str, str, float]:
    sent = time.monotonic()
    os.killpg(proc.pid, sig)
    out, err = proc.communicate(timeout=60)
    return proc.returncode, out, err, time.monotonic() - sent


def _check_one_line(code: int, out: str, err: str, expected_code: int, line: str) -> None:
    assert "Traceback" not in out + err, err
    assert code == expected_code, (code, err)
    errors = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert errors == [line], err
    assert [ln for ln in err.splitlines() if ln.strip()] == [line], err


@pytest.fixture(scope="module")
def small_sweep(tmp_path_factory):
    """The small grid, and its rows from one uninterrupted run (in this process: the same rows)."""
    from routereval.sweeps.config import load_sweep
    from routereval.sweeps.executors import InProcessExecutor
    from routereval.sweeps.runner import run_sweep

    folder = tmp_path_factory.mktemp("small-sweep")
    write_toy_csv(folder / "toy.csv", per_topic=30)
    (folder / "small.toml").write_text(SMALL)
    store = ResultsStore(folder / "reference")
    run_sweep(load_sweep(folder / "small.toml"), store, InProcessExecutor(), progress=False)
    return folder, comparable(store.read_rows())


@pytest.mark.slow  # a sweep with workers, stopped and run again
@pytest.mark.parametrize("name", ["SIGINT", "SIGTERM"])
def test_a_signal_to_a_sweep_and_its_workers_stops_it_cleanly_and_a_rerun_completes_it(small_sweep, tmp_path, name):
    sig, expected_code, line = SIGNALS[name]
    folder, reference = small_sweep
    out = tmp_path / "out"
    args = ["sweep", str(folder / "small.toml"), "--out", str(out), "--workers", "2", "--quiet"]
    env = _env(tmp_path)
    proc = _start(args, env, tmp_path)
    deadline = time.monotonic() + 120
    while not _rows(out):  # the grid is running on the workers: one row is stored
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no row stored in two minutes"
        time.sleep(0.005)
    code, stdout, stderr, took = _stopped_cleanly(proc, sig)
    _check_one_line(code, stdout, stderr, expected_code, line)
    check_doc_row(f"{'interrupt' if name == 'SIGINT' else 'terminate'}-sweep-workers", code, line)
    assert took < 10, f"took {took:.1f} s to stop"
    stored = _rows(out)
    assert 1 <= len(stored) < len(reference), "the signal came after the grid finished: make it larger"
    # What was stored is whole: every row reads back, nothing is quarantined or half-written.
    assert len(ResultsStore(out).read_rows()) == len(stored)
    assert not (out / "rows" / "broken").exists() and not list((out / "rows").glob(".tmp-*"))
    # No worker outlives its parent (a zombie waiting to be reaped by init is not alive).
    deadline = time.monotonic() + 5
    while _alive_in_group(proc.pid):
        assert time.monotonic() < deadline, f"still running: {_alive_in_group(proc.pid)}"
        time.sleep(0.05)
    if name != "SIGINT":
        return  # resuming after either signal is the same; once is enough for the time it takes

    again = subprocess.run([sys.executable, "-m", "routereval", *args], capture_output=True, text=True, env=env,
                           cwd=tmp_path, timeout=300)
    assert again.returncode == 0, again.stderr
    assert f"resuming: {len(stored)} of {len(reference)} grid points already done" in again.stderr
    rows = ResultsStore(out).read_rows()
    assert len({grid_key(r) for r in rows}) == len(rows) == len(reference)
    assert comparable(rows) == reference


# One signal in a default run; the other is the same path through a second handler.
@pytest.mark.parametrize("name", ["SIGINT", pytest.param("SIGTERM", marks=pytest.mark.slow)])
def test_a_signal_to_bench_stops_it_with_one_line(tmp_path, name):
    sig, expected_code, line = SIGNALS[name]
    write_toy_csv(tmp_path / "toy.csv", per_topic=30)
    # Plain progress lines, often: the first one says the command is at work.
    env = _env(tmp_path, ROUTEREVAL_PROGRESS="plain", ROUTEREVAL_PROGRESS_SECONDS="0.05")
    proc = _start(["bench", "-d", "toy.csv", "--routers", "knn,oracle", "--sizes", "3,5", "--encoder", "tfidf-16",
                   "--n-boot", "50", "--workers", "1"], env, tmp_path)
    first = proc.stderr.readline()
    assert first and not first.startswith("error:"), first
    code, stdout, stderr, took = _stopped_cleanly(proc, sig)
    # Progress lines came before the signal; after it, only the one line.
    assert "Traceback" not in stdout + stderr and code == expected_code, stderr
    assert [ln for ln in stderr.splitlines() if ln.startswith("error:")] == [line], stderr
    assert stderr.rstrip("\n").endswith(line)
    assert took < 10
    check_doc_row(f"{'interrupt' if name == 'SIGINT' else 'terminate'}-bench", code, line)


def test_an_interrupt_inside_a_command_prints_its_line(monkeypatch, capsys):
    # The command line's own library turned Ctrl-C inside a command into a bare exit code 130:
    # the shell saw 130 and the user saw nothing.
    from routereval.cli import run

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("routereval.sources.catalog.imported_names", interrupted)
    code = run(["data", "list"])
    captured = capsys.readouterr()
    assert (code, captured.err, captured.out) == (130, "error: interrupted\n", "")
    check_doc_row("interrupt-swallowed-by-the-command-line", code, captured.err.strip())
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # this process's handlers are back


def test_a_closed_pipe_ends_quietly(tmp_path):
    # `routereval ... | head -1`: the reader is gone before the output is written.
    env = _env(tmp_path)
    read, write = os.pipe()
    os.close(read)
    proc = subprocess.run([sys.executable, "-m", "routereval", "data", "list", "--json"], stdout=write,
                          stderr=subprocess.PIPE, text=True, env=env, timeout=60)
    os.close(write)
    assert (proc.returncode, proc.stderr) == (1, "")


def test_signals_inside_a_held_section_wait_for_its_end():
    from routereval.interrupts import held

    reached = []
    with pytest.raises(KeyboardInterrupt):
        with held():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)  # a real signal, delivered here, must not cut the section short
            reached.append("end of section")
    assert reached == ["end of section"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_doc_lists_exactly_these_cases():
    check_doc_lists_exactly(("interrupts",), CASE_IDS)
