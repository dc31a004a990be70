"""How a command stops on a signal.

Ctrl-C (SIGINT) and SIGTERM unwind the command like an exception, so every
cleanup that runs for one runs for the other: temporary files are removed,
worker processes stopped, locks released. The command line then prints one
line, ``error: interrupted`` (exit 130) or ``error: terminated`` (exit 143,
128 + SIGTERM, as shells report a process killed by it), never a traceback.

Two kinds of short critical section must not be cut in half:

* :func:`held`: a few operations that must happen together (moving a stored
  dataset aside and its replacement into place); a signal arriving inside takes
  effect when the block ends.
* :func:`children_ignore`: starting worker processes. They inherit Ctrl-C and
  SIGTERM ignored (a terminal sends Ctrl-C to every process of the group, and a
  worker must not print a traceback for it); their parent stops them.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from routereval.errors import EXIT_INTERRUPTED, EXIT_TERMINATED

_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_state = {"terminated": False, "active": False}


def _on_sigterm(signum: int, frame: object) -> None:
    _state["terminated"] = True
    raise KeyboardInterrupt


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """For one command: SIGTERM stops it like Ctrl-C (see :func:`interrupted_line`).

    A SIGTERM handler somebody else installed (an application embedding
    routereval, or SIGTERM ignored on purpose) is left alone. Every handler is
    restored when the block ends.
    """
    _state["terminated"] = False
    if not _main_thread():
        yield
        return
    old = {sig: signal.getsignal(sig) for sig in _SIGNALS}
    if old[signal.SIGTERM] is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _on_sigterm)
    _state["active"] = True
    try:
        yield
    finally:
        _state["active"] = False
        for sig, handler in old.items():
            if handler is not None:
                signal.signal(sig, handler)


def interrupted_line() -> tuple[str, int]:
    """What an interrupted command says and its exit code: interrupted (130) or terminated (143)."""
    return ("terminated", EXIT_TERMINATED) if _state["terminated"] else ("interrupted", EXIT_INTERRUPTED)


def ignore_further() -> None:
    """Once a command is stopping, a second Ctrl-C must not cut its last line short (until
    :func:`stop_on_signals` restores the handlers)."""
    if _main_thread() and _state["active"]:
        for sig in _SIGNALS:
            signal.signal(sig, signal.SIG_IGN)


@contextmanager
def held() -> Iterator[None]:
    """Signals arriving inside the block are acted on when it ends (keep the block to a few operations)."""
    if not _main_thread():
        yield
        return
    got: list[int] = []
    old = {sig: signal.getsignal(sig) for sig in _SIGNALS}
    for sig, handler in old.items():
        if callable(handler) or handler is signal.SIG_DFL:
            signal.signal(sig, lambda signum, frame: got.append(signum))
    try:
        yield
    finally:
        for sig, handler in old.items():
            if handler is not None:
                signal.signal(sig, handler)
        if got:
            signal.raise_signal(got[0])  # now, to the handler it was meant for


@contextmanager
def children_ignore() -> Iterator[None]:
    """Processes started inside the block begin with Ctrl-C and SIGTERM ignored (and blocked).

    In this process the signals are blocked meanwhile, not lost: Linux keeps a
    blocked signal pending even while it is ignored, and it is delivered when
    the block ends. A child unblocks them once it has installed its own
    handling (:func:`routereval.sweeps.tasks.start_worker`).
    """
    if not _main_thread():
        yield
        return
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    old = {sig: signal.signal(sig, signal.SIG_IGN) for sig in _SIGNALS}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


def worker_ignores_signals() -> None:
    """In a worker process: Ctrl-C and SIGTERM sent to the whole process group are its parent's to act on."""
    for sig in _SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)
