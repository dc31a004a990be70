"""Exact-match response cache: the same request body gets the same answer, without a backend call.

Off by default (``[cache] enabled = true`` in the backends file turns it on).
The key is the SHA-256 of the request body's canonical JSON (keys sorted):
the model, the messages, every sampling parameter and the routing options all
count, so a request differing in anything at all is a miss. Only complete
JSON answers (status 200, not streamed) are stored; a stream is never served
from the cache, since replaying one would have to fake its timing. Bounded by
``max_entries`` and ``max_bytes`` (least recently used out first) and by
``ttl_seconds``. Answers are stored after keys were scrubbed from them.

A cached answer is the answer one sampled reply got: with ``temperature > 0``
a caller asking twice wanted two samples, which is why the cache is opt-in.
The cache lives in each worker process on its own.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict
from typing import Any

from routereval.serving.backends import CacheSettings


class ResponseCache:
    """A bounded LRU of answers by request key."""

    def __init__(self, settings: CacheSettings, clock=time.monotonic) -> None:
        self.settings = settings
        self._clock = clock
        self._entries: OrderedDict[bytes, tuple[float, bytes]] = OrderedDict()
        self.bytes = 0

    @staticmethod
    def key(body: dict[str, Any]) -> bytes:
        """The request's key: SHA-256 of its canonical JSON."""
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).digest()

    def get(self, key: bytes) -> bytes | None:
        """The answer (a JSON document's bytes) stored under ``key`` and still fresh, else None."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        stored, answer = entry
        if self._clock() - stored > self.settings.ttl_seconds:
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return answer

    def put(self, key: bytes, answer: bytes) -> None:
        """Store an answer; one larger than the whole cache is not stored."""
        if len(answer) > self.settings.max_bytes:
            return
        if key in self._entries:
            self._drop(key)
        self._entries[key] = (self._clock(), answer)
        self.bytes += len(answer)
        while len(self._entries) > self.settings.max_entries or self.bytes > self.settings.max_bytes:
            self._drop(next(iter(self._entries)))

    def _drop(self, key: bytes) -> None:
        _, answer = self._entries.pop(key)
        self.bytes -= len(answer)

    def __len__(self) -> int:
        return len(self._entries)
