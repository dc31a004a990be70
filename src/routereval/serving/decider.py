"""Routing decisions for the proxy: batched, off the event loop, with repeated prompts embedded once.

Prompts that arrive while a batch is being decided wait and go together in
the next one: one encoder call for many requests. When other requests are in
flight, the decider also waits up to :data:`BATCH_WINDOW` seconds for more
before it starts, so a burst is decided in one call rather than two; alone,
a request never waits. The batch runs in a worker thread, so the event loop
keeps forwarding while the encoder works.

The vectors of the last :data:`MEMO_SIZE` distinct prompts are kept (keyed by
a digest of the text), so a prompt that repeats (a retried request, a system
of templated prompts) skips the encoder: the vector is the one the encoder
gives that text, since every encoder path embeds each text on its own
(routereval.encoders.registry).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from typing import Any

import numpy as np

from routereval.deploy.model import RoutingModel, RoutingOptions
from routereval.serving.metrics import ProxyMetrics

#: Most prompts decided in one batch.
MAX_BATCH = 64
#: Seconds a decision waits for company when other requests are in flight.
BATCH_WINDOW = 0.002
#: Distinct prompts whose vectors are remembered (MiniLM: 1.5 KB each, 15 MB in all).
MEMO_SIZE = 10_000


class Decider:
    """Decides the proxy's prompts in batches (one per proxy; :meth:`start` in its event loop)."""

    def __init__(self, model: RoutingModel, metrics: ProxyMetrics, *, memo_size: int = MEMO_SIZE) -> None:
        self.model, self.metrics = model, metrics
        self.memo_size = memo_size
        self._memo: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._queue: asyncio.Queue | None = None
        self._task: asyncio.Task | None = None
        self.busy = 0  # requests between arrival and answer: when above 1, a batch waits for company

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._task = asyncio.create_task(self._run())
        if self.model.inputs == "embeddings":
            # Load the encoder now (MiniLM takes seconds), not on the first request.
            await asyncio.to_thread(self.model.embed, ["warm-up"])

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def decide(self, text: str, options: RoutingOptions) -> tuple[list[str], dict[str, Any]]:
        """Candidates best first for one prompt, and the routing object's decision fields."""
        self.model.check_options(options)
        started = time.perf_counter()
        future = asyncio.get_running_loop().create_future()
        await self._queue.put((text, options, future))
        result = await future
        if isinstance(result, Exception):
            raise result
        seconds = time.perf_counter() - started
        self.metrics.decision.observe(seconds)
        self.metrics.chosen.inc(result.chosen)
        return result.ranked, {**result.to_dict(), "decision_ms": round(seconds * 1000, 3)}

    async def _run(self) -> None:
        """Take every waiting prompt (up to MAX_BATCH), decide them in one call off the event loop, repeat."""
        while True:
            batch = [await self._queue.get()]
            if self.busy > 1 and self._queue.empty():
                await asyncio.sleep(BATCH_WINDOW)
            while len(batch) < MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            self.metrics.batch.observe(len(batch))
            try:
                results = await asyncio.to_thread(self._decide, [b[0] for b in batch], [b[1] for b in batch])
            except Exception as exc:  # noqa: BLE001 - an encoder failure fails these requests, not the proxy
                results = [exc] * len(batch)
            for (_, _, future), result in zip(batch, results):
                if not future.done():
                    future.set_result(result)

    def _decide(self, texts: list[str], options: list[RoutingOptions]) -> list[Any]:
        if self.model.inputs != "embeddings" or not self.memo_size:
            return self.model.decide_each(texts, options)
        keys = [hashlib.blake2b(t.encode("utf-8", "surrogatepass"), digest_size=16).digest() for t in texts]
        vectors: list[np.ndarray | None] = []
        for k in keys:
            vectors.append(self._memo.get(k))
            if vectors[-1] is not None:
                self._memo.move_to_end(k)  # recently used: the last to be dropped
        missing = [i for i, v in enumerate(vectors) if v is None]
        if missing:
            fresh = self.model.embed([texts[i] for i in missing])
            for i, vector in zip(missing, fresh):
                vectors[i] = vector
                self._memo[keys[i]] = vector
                if len(self._memo) > self.memo_size:
                    self._memo.popitem(last=False)
        return self.model.decide_each(texts, options, embeddings=np.stack(vectors))
