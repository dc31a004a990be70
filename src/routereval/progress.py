"""Progress of long steps on stderr: a bar in a terminal, plain lines in a log.

The one progress helper of routereval. In a terminal it draws a rich bar; when
stderr is not a terminal (a log file, CI, a pipe) it prints a plain line every
few seconds instead, so a log shows where a run is::

    embedding mmlu-pro: 4,096/11,642 (35%), 52 s, ~1 min 35 s left

and a last line when the step ends (a step shorter than the interval prints nothing). A bar redrawn with carriage returns would
fill a log with one unreadable line; printing nothing leaves a CI job silent
for minutes. Usage::

    from routereval.progress import progress

    with progress("embedding mmlu-pro", total=len(texts)) as bar:
        for batch in batches:
            ...
            bar.advance(len(batch))

``total`` and ``description`` may change while the step runs (``bar.total =
n``; ``bar.description = "..."``); ``unit="bytes"`` shows sizes and speeds for
downloads. ``unit="stages"`` is for a step made of a few unlike stages (reading,
converting, writing a dataset): ``bar.stage("converting")`` starts the next one,
and a log gets one line as each stage starts (stages are few, and unlike items
their pace says nothing about the time left, so none is estimated)::

    building llmrouter: converting (stage 1/2), 0 s ``enabled=False`` gives a silent stand-in, so callers need no
second code path. ``advance`` is thread-safe.

The time left is the rest of the step at the pace since the first advance:
what came before it (loading a model, building a graph, starting workers) is
set-up, not pace, and counted as pace it made a 90-s embedding step say
15 minutes. Where items differ in cost (long texts embed slower than short
ones), give the whole step's ``work`` and each advance's share
(``bar.advance(len(batch), work=...)``): the pace is then work per second, not
items per second, which would overstate the time left many times while the
longest texts go first.

One display at a time: a step that starts while another step's display is
showing (a router's training inside the grid of routers x pools) stays silent,
since two rich bars on one terminal draw over each other and the outer one
already says where the run is. Worker processes of a sweep show nothing; their
parent shows the grid.

``ROUTEREVAL_PROGRESS_SECONDS`` sets the seconds between plain lines (default
5); ``ROUTEREVAL_PROGRESS=plain`` forces plain lines even in a terminal,
``ROUTEREVAL_PROGRESS=off`` silences every progress display.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from types import TracebackType
from typing import IO, Any

DEFAULT_SECONDS = 5.0
# Whether a display is showing now in this process (see "One display at a time" above).
_showing = False
_showing_lock = threading.Lock()


def _seconds_between_lines() -> float:
    raw = os.environ.get("ROUTEREVAL_PROGRESS_SECONDS")
    if raw is None:
        return DEFAULT_SECONDS
    try:
        value = float(raw)
    except ValueError:
        return DEFAULT_SECONDS
    return value if value > 0 else DEFAULT_SECONDS


def format_duration(seconds: float) -> str:
    """``52 s``, ``3 min 05 s``, ``1 h 02 min``: short and unambiguous in a log."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def format_bytes(n: float) -> str:
    """A size in decimal units (``12.3 MB``), as download tools show it."""
    for unit in ("B", "kB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"  # pragma: no cover - loop always returns


def progress_line(description: str, completed: float, total: float | None, elapsed: float, unit: str = "items",
                  *, left: float | None = None) -> str:
    """One plain progress line, e.g. ``embedding mmlu-pro: 4,096/11,642 (35%), 52 s, ~1 min 35 s left``.

    ``left``: the time left in seconds (:meth:`Progress.time_left`), if known.
    """
    if unit == "stages":  # the description names the stage and its number; their pace means nothing
        return f"{description}, {format_duration(elapsed)}"
    show = format_bytes if unit == "bytes" else (lambda n: f"{int(n):,}")
    if total:
        fraction = min(1.0, completed / total)
        line = f"{description}: {show(completed)}/{show(total)} ({fraction:.0%}), {format_duration(elapsed)}"
        if left is not None and completed < total:
            line += f", ~{format_duration(left)} left"
    else:
        line = f"{description}: {show(completed)}, {format_duration(elapsed)}"
    if unit == "bytes" and elapsed > 0 and completed:
        line += f", {format_bytes(completed / elapsed)}/s"
    return line


def _mode(enabled: bool, stream: IO[str]) -> str:
    """``off``, ``bar`` or ``plain`` for a display on ``stream``."""
    choice = os.environ.get("ROUTEREVAL_PROGRESS", "").strip().lower()
    if not enabled or choice == "off":
        return "off"
    if choice == "plain":
        return "plain"
    isatty = getattr(stream, "isatty", None)
    try:
        return "bar" if isatty is not None and isatty() else "plain"
    except ValueError:  # a closed stream
        return "off"


class Progress:
    """One step's progress; build it with :func:`progress` and use it as a context manager."""

    def __init__(
        self,
        description: str,
        total: float | None = None,
        *,
        enabled: bool = True,
        unit: str = "items",
        stream: IO[str] | None = None,
        seconds: float | None = None,
        work: float | None = None,
    ) -> None:
        if unit not in ("items", "bytes", "stages"):
            raise ValueError(f"unit must be 'items', 'bytes' or 'stages', got {unit!r}")
        if work is not None and not work >= 0:
            raise ValueError(f"work must be zero or more, got {work!r}")
        self._description = description
        self._base = description  # a stages step: the description before ": <stage>"
        self._stage_name = ""
        self._stage_number = 0
        self._total = total
        self.completed: float = 0
        self.work = work
        self.work_done: float = 0
        self._first: tuple[float, float] | None = None  # (time, share done) at the first advance
        self.unit = unit
        self._stream = stream if stream is not None else sys.stderr
        self._mode = _mode(enabled, self._stream)
        self._seconds = seconds if seconds is not None else _seconds_between_lines()
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self._rich: Any = None
        self._task: Any = None
        self._last_line = ""
        self._active = False
        self._counted = False  # whether this display is the one showing

    # -- what callers change -------------------------------------------------

    @property
    def description(self) -> str:
        return self._description

    @description.setter
    def description(self, value: str) -> None:
        with self._lock:
            self._description = value
            if self._rich is not None:
                self._rich.update(self._task, description=value)

    @property
    def total(self) -> float | None:
        return self._total

    @total.setter
    def total(self, value: float | None) -> None:
        with self._lock:
            self._total = value
            if self._rich is not None:
                self._rich.update(self._task, total=value)

    def stage(self, name: str) -> None:
        """Start the next stage of a ``unit="stages"`` step (the first call starts the first stage)."""
        with self._lock:
            self._stage_name = name
            self._stage_number += 1
            label = f"{self._base}: {name} (stage {self._stage_number}/{self._total})" if self._total \
                else f"{self._base}: {name}"
            self._description = label
            if self._rich is not None:
                self._rich.update(self._task, description=label, completed=self._stage_number - 1)
        if self._mode == "plain" and self._active:
            self._print_line()

    def advance(self, n: float = 1, *, work: float = 0) -> None:
        """Count ``n`` more units done (and ``work`` more of the step's ``work``, if it was given)."""
        with self._lock:
            self.completed += n
            self.work_done += work
            if self._first is None:
                self._first = (time.monotonic(), self.share_done or 0.0)
            if self._rich is not None:
                self._rich.update(self._task, completed=self.completed)

    @property
    def share_done(self) -> float | None:
        """Fraction of the step done: of its work if given, else of its items; ``None`` without a total."""
        if self.work:
            return min(1.0, self.work_done / self.work)
        return min(1.0, self.completed / self._total) if self._total else None

    def time_left(self) -> float | None:
        """Seconds left at the pace since the first advance; ``None`` until two advances show a pace."""
        share = self.share_done
        if share is None or share >= 1 or self._first is None:
            return None
        since, share_then = self._first
        gained = share - share_then
        if gained <= 0:
            return None
        return (time.monotonic() - since) * (1 - share) / gained

    @property
    def elapsed(self) -> float:
        """Seconds since the step started."""
        return time.monotonic() - self._started

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> Progress:
        """Show the display (the context manager calls this)."""
        global _showing
        if self._active:
            return self
        self._active = True
        self._started = time.monotonic()
        if self._mode != "off":
            with _showing_lock:
                if _showing:
                    self._mode = "off"  # nested: the outer display speaks for the run
                else:
                    _showing = self._counted = True
        if self._mode == "bar":
            self._start_bar()
        elif self._mode == "plain":
            self._ticker = threading.Thread(target=self._tick, name="routereval-progress", daemon=True)
            self._ticker.start()
        return self

    def stop(self) -> None:
        """End the display: the bar stays drawn complete; a plain display prints its last line."""
        global _showing
        if not self._active:
            return
        self._active = False
        if self._rich is not None:
            self._rich.stop()
            self._rich = None
        if self._ticker is not None:
            self._stop.set()
            self._ticker.join()
            self._ticker = None
            # A step too short for a periodic line ends silently: a log of
            # one-line "100%" notes for every small call is noise.
            if self._last_line or self.elapsed >= self._seconds:
                self._print_line()
        if self._counted:
            with _showing_lock:
                _showing = self._counted = False

    def __enter__(self) -> Progress:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None and self.unit == "stages" and self._stage_number:
            # The last line says the step finished, not which stage it was last in.
            with self._lock:
                self._description = f"{self._base}: done"
                if self._rich is not None:
                    self._rich.update(self._task, description=self._description, completed=self._total)
        self.stop()

    # -- drawing ---------------------------------------------------------------

    def _start_bar(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            MofNCompleteColumn,
            ProgressColumn,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
            TransferSpeedColumn,
        )
        from rich.progress import Progress as RichProgress
        from rich.text import Text

        step = self

        class TimeLeft(ProgressColumn):
            # The plain lines' estimate (rich's own counts set-up as pace and goes by items only).
            def render(self, task: Any) -> Text:
                left = step.time_left()
                return Text("" if left is None else f"~{format_duration(left)} left", style="progress.remaining")

        if self.unit == "bytes":
            columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
        elif self.unit == "stages":
            columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
        else:
            columns = (
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TimeLeft(),
            )
        console = Console(file=self._stream)
        self._rich = RichProgress(*columns, console=console, transient=False)
        self._task = self._rich.add_task(self._description, total=self._total, completed=self.completed)
        self._rich.start()

    def _tick(self) -> None:
        while not self._stop.wait(self._seconds):
            self._print_line()

    def _print_line(self) -> None:
        with self._lock:
            line = progress_line(self._description, self.completed, self._total, self.elapsed, self.unit,
                                 left=self.time_left())
            if line == self._last_line:  # nothing new to say: keep the log short
                return
            self._last_line = line
        try:
            self._stream.write(line + "\n")
            self._stream.flush()
        except (OSError, ValueError):  # a closed or broken stream must not end the run
            pass


def progress(
    description: str,
    total: float | None = None,
    *,
    enabled: bool = True,
    unit: str = "items",
    stream: IO[str] | None = None,
    seconds: float | None = None,
    work: float | None = None,
) -> Progress:
    """A progress display for one long step (see the module docstring).

    Args:
        description: what the step does, e.g. ``"embedding mmlu-pro"``.
        total: units to do, if known (a line then shows the share and time left).
        enabled: ``False`` gives a silent stand-in with the same methods.
        unit: ``"items"`` (counts), ``"bytes"`` (sizes and speed) or ``"stages"`` (see :meth:`Progress.stage`).
        stream: where to write (default ``sys.stderr``).
        seconds: seconds between plain lines (default 5 or ``ROUTEREVAL_PROGRESS_SECONDS``).
        work: the step's whole work, in any unit, where items differ in cost; each
            ``advance`` then says how much of it was done, and the pace is work per second
            (0: nothing to weigh, the pace is items per second).
    """
    return Progress(description, total, enabled=enabled, unit=unit, stream=stream, seconds=seconds, work=work)


__all__ = ["Progress", "format_duration", "progress", "progress_line"]
