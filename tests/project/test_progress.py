"""The progress helper: plain lines when stderr is a pipe, checked in a real subprocess."""

from __future__ import annotations

import io
import re
import time

import pytest
from support.processes import run_python

from routereval.progress import format_duration, progress, progress_line


def test_line_format_worked_by_hand():
    # 4,096 of 11,642 after 52 s: 35%; 95.8 s left reads as 1 min 36 s.
    assert progress_line("embedding mmlu-pro", 4096, 11642, 52.0, left=95.8) == (
        "embedding mmlu-pro: 4,096/11,642 (35%), 52 s, ~1 min 36 s left"
    )
    assert progress_line("embedding", 500, 1000, 30.0, left=30.0) == "embedding: 500/1,000 (50%), 30 s, ~30 s left"
    # Not known yet (no pace): no time left, rather than a guess.
    assert progress_line("embedding", 62, 11642, 5.0) == "embedding: 62/11,642 (1%), 5 s"
    assert progress_line("training", 3, None, 125.0) == "training: 3, 2 min 05 s"
    # A finished step says no time left, whatever it is told.
    assert progress_line("done", 10, 10, 7.2, left=3.0) == "done: 10/10 (100%), 7 s"
    assert progress_line("download", 2_000_000, 4_000_000, 2.0, unit="bytes", left=2.0) == (
        "download: 2.0 MB/4.0 MB (50%), 2 s, ~2 s left, 1.0 MB/s"
    )
    assert format_duration(3725) == "1 h 02 min"


@pytest.mark.slow  # paced in real seconds
def test_time_left_is_the_pace_since_the_first_advance_in_work_not_items():
    # 3 s of set-up, then 1 of 10 units of work (the first advance: where the pace starts), then 2
    # more units 1 s later (a cheap item): between t = 4.0 and 4.8 s the pace is 2 units per
    # (t - 3) s with 7 to go, so 3.5-6.3 s are left. Counting the set-up as pace would say
    # t x 0.7 / 0.3 = 9.3-11.2 s; counting items, (t - 3) x 1 = 1.0-1.8 s.
    child = run_python(
        """
        import time
        from routereval.progress import progress
        with progress("embedding", total=3, work=10, seconds=0.2) as bar:
            time.sleep(3.0)
            bar.advance(1, work=1)
            assert bar.time_left() is None  # one advance shows no pace yet
            time.sleep(1.0)
            bar.advance(1, work=2)
            time.sleep(0.8)
            bar.advance(1, work=7)
        """
    )
    assert child.returncode == 0, child.stderr
    lines = child.stderr.splitlines()
    first = [line for line in lines if line.startswith("embedding: 1/3")]
    second = [line for line in lines if line.startswith("embedding: 2/3")]
    assert first and all("left" not in line for line in first), lines
    left = [int(re.search(r"~(\d+) s left$", line).group(1)) for line in second]
    assert left and all(3 <= v <= 8 for v in left), lines


def test_negative_work_is_refused():
    with pytest.raises(ValueError, match="work"):
        progress("x", total=3, work=-1)
    with progress("x", total=2, work=0, enabled=False) as bar:  # nothing to weigh: items set the pace
        bar.advance(1)
    assert bar.share_done == 0.5


def test_plain_lines_every_few_seconds_when_stderr_is_a_pipe():
    # 10 steps of 0.1 s with a line every 0.25 s: about 4 periodic lines, then a final one.
    child = run_python(
        """
        import time
        from routereval.progress import progress
        with progress("embedding mmlu-pro", total=10, seconds=0.25) as bar:
            for _ in range(10):
                time.sleep(0.1)
                bar.advance()
        print("finished")
        """
    )
    assert child.returncode == 0, child.stderr
    assert child.stdout == "finished\n"
    lines = child.stderr.splitlines()
    assert len(lines) >= 3, child.stderr
    pattern = re.compile(r"^embedding mmlu-pro: (\d+)/10 \((\d+)%\), \d+ s(, ~\d+ s left)?$")
    counts = []
    for line in lines:
        match = pattern.match(line)
        assert match, f"unexpected line {line!r}"
        counts.append(int(match.group(1)))
        assert int(match.group(2)) == round(100 * counts[-1] / 10) or abs(int(match.group(2)) - 10 * counts[-1]) <= 1
    assert counts == sorted(counts)
    assert counts[-1] == 10 and lines[-1].startswith("embedding mmlu-pro: 10/10 (100%)")
    # No terminal control codes in a log.
    assert "\x1b" not in child.stderr and "\r" not in child.stderr


def test_plain_lines_report_a_step_that_makes_no_progress():
    # A long step with nothing advanced still prints, so a log shows the run is alive.
    child = run_python(
        """
        import time
        from routereval.progress import progress
        with progress("building store", seconds=0.2) as bar:
            time.sleep(2.6)
        """
    )
    assert child.returncode == 0, child.stderr
    lines = child.stderr.splitlines()
    # A new line each time the elapsed seconds change (0 s, 1 s, 2 s), none repeated.
    assert len(lines) >= 3 and len(set(lines)) == len(lines), lines
    assert all(re.fullmatch(r"building store: 0, \d+ s", line) for line in lines), lines


def test_off_and_disabled_print_nothing():
    child = run_python(
        """
        from routereval.progress import progress
        with progress("a", total=3, seconds=0.01) as bar:
            bar.advance(3)
        with progress("b", total=3, enabled=False, seconds=0.01) as bar:
            bar.advance(3)
        """,
        ROUTEREVAL_PROGRESS="off",
    )
    assert child.returncode == 0 and child.stderr == ""


def test_disabled_stand_in_still_counts():
    with progress("x", total=5, enabled=False) as bar:
        bar.advance(2)
        bar.total = 7
        bar.description = "y"
    assert (bar.completed, bar.total, bar.description) == (2, 7, "y")


def test_a_terminal_gets_a_rich_bar():
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Tty()
    with progress("encoding", total=4, stream=out, work=10) as bar:
        bar.advance(1, work=1)
        bar.advance(1, work=4)
        time.sleep(0.3)  # rich redraws ten times a second: the half-way bar shows its time left
        bar.advance(2, work=5)
    text = out.getvalue()
    assert "encoding" in text and "4/4" in text and "~0 s left" in text
    # The bar is drawn with terminal control codes, not plain lines.
    assert "\x1b[" in text


def test_bad_unit_is_refused():
    with pytest.raises(ValueError, match="unit"):
        progress("x", unit="furlongs")


def test_a_step_shorter_than_the_interval_prints_nothing():
    child = run_python(
        """
        from routereval.progress import progress
        for _ in range(50):
            with progress("one prompt", total=1, seconds=5) as bar:
                bar.advance()
        """
    )
    assert child.returncode == 0 and child.stderr == ""


def test_one_display_at_a_time():
    # A step inside another step's display stays silent (two rich bars draw over each other);
    # once the outer one ends, the next step shows again.
    child = run_python(
        """
        import time
        from routereval.progress import progress
        with progress("outer", total=2, seconds=0.05) as outer:
            with progress("inner", total=3, seconds=0.05) as inner:
                time.sleep(0.3)
                inner.advance(3)
            outer.advance(2)
        with progress("after", total=1, seconds=0.05) as bar:
            time.sleep(0.2)
            bar.advance()
        """
    )
    assert child.returncode == 0, child.stderr
    lines = child.stderr.splitlines()
    assert any(line.startswith("outer: ") for line in lines), lines
    assert any(line.startswith("after: 1/1") for line in lines), lines
    assert not any(line.startswith("inner") for line in lines), lines


def test_a_sweep_worker_shows_no_progress():
    # Its parent shows the grid; a worker's own display (a router's training) would draw over it.
    child = run_python(
        """
        import os, time
        from routereval.sweeps.tasks import start_worker
        from routereval.progress import progress
        start_worker(os.getppid())
        with progress("training", total=1, seconds=0.05) as bar:
            time.sleep(0.3)
            bar.advance()
        """
    )
    assert child.returncode == 0 and child.stderr == "", child.stderr
