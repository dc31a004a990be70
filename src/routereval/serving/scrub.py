"""Keeping secrets out of what the proxy sends back and logs.

A backend may echo the key it was sent: in an error, in a 200 answer, inside
a stream, as ``Bearer KEY``, JSON-escaped, base64'd (an echoed Authorization
header), or percent-encoded (an echoed URL). :class:`Scrubber` replaces every
such form of every secret by ``***``.

Streams are scrubbed one whole server-sent event at a time (the proxy
already cuts them at event boundaries), so a secret split across two
network chunks is caught without holding back any byte of a finished
event: a key never contains the blank line that ends an event, because keys
with whitespace are refused when the backends file is loaded.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from urllib.parse import quote

MASK = b"***"
#: Below this length an encoded form (base64, percent) is too likely to occur by chance in ordinary text.
_MIN_ENCODED = 8


def _base64_cores(data: bytes) -> list[bytes]:
    """The base64 text of ``data`` as it appears at any of the three alignments inside a longer base64 string.

    Only the characters that depend on ``data`` alone are kept, so the
    secret is found wherever it sits in an encoded header or JSON blob.
    """
    cores = []
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + data + b"\0\0")
        start = -(-shift * 4 // 3)  # characters that also carry the padding before
        end = (shift + len(data)) * 4 // 3  # characters fully made of data
        core = encoded[start:end]
        if len(core) >= _MIN_ENCODED:
            cores.append(core)
            cores.append(core.replace(b"+", b"-").replace(b"/", b"_"))  # the URL-safe alphabet
    return cores


def secret_forms(secret: str) -> list[bytes]:
    """Every byte string under which ``secret`` may come back from a backend (longest first)."""
    raw = secret.encode("utf-8")
    forms = {raw, json.dumps(secret)[1:-1].encode(), json.dumps(secret, ensure_ascii=False)[1:-1].encode(),
             json.dumps(secret)[1:-1].replace("/", "\\/").encode()}
    if len(raw) >= _MIN_ENCODED:
        forms.add(quote(secret, safe="").encode())
        forms.update(_base64_cores(raw))
        forms.update(_base64_cores(b"Bearer " + raw))
    return sorted((f for f in forms if f), key=len, reverse=True)


class Scrubber:
    """Replaces every form of every secret in bytes or text by ``***``."""

    def __init__(self, secrets: list[str]) -> None:
        forms = sorted({f for s in secrets if s for f in secret_forms(s)}, key=len, reverse=True)
        # One alternation of literals: a single linear pass, whatever the number of secrets.
        self._pattern = re.compile(b"|".join(re.escape(f) for f in forms)) if forms else None
        self._text = re.compile("|".join(re.escape(f.decode("utf-8", "replace")) for f in forms)) if forms else None

    def __bool__(self) -> bool:
        return self._pattern is not None

    def bytes(self, data: bytes) -> bytes:
        """``data`` with every secret replaced."""
        return data if self._pattern is None else self._pattern.sub(MASK, data)

    def text(self, text: str) -> str:
        """``text`` with every secret replaced."""
        return text if self._text is None else self._text.sub("***", text)


class LogScrubber:
    """Scrubs secrets out of every log record the process makes while installed, whichever logger made it.

    A filter on one logger would miss records of its children and of libraries
    (an HTTP library's error may quote the header it could not send); the
    record factory sees them all, message and exception text alike.
    """

    def __init__(self, scrubber: Scrubber) -> None:
        self.scrubber = scrubber
        self._previous = None
        self._active = False

    def _make(self, *args, **kwargs) -> logging.LogRecord:
        record = self._previous(*args, **kwargs)
        if not self._active:
            return record
        message = record.getMessage()
        clean = self.scrubber.text(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[0] is not None:
            import traceback

            text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            record.exc_text, record.exc_info = self.scrubber.text(text), None
        return record

    def install(self) -> None:
        """Scrub every record from now on (nothing to do without secrets)."""
        if self.scrubber and self._previous is None:
            self._previous = logging.getLogRecordFactory()
            self._active = True
            logging.setLogRecordFactory(self._make)

    def uninstall(self) -> None:
        """Stop scrubbing; the factory is restored if no one replaced it since (else ours stays in the chain,
        passing records through)."""
        self._active = False
        if self._previous is not None and logging.getLogRecordFactory() == self._make:
            logging.setLogRecordFactory(self._previous)
