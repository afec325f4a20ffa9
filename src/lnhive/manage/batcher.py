"""Group commit for requests that arrive concurrently (``hive-comms-rpc`` over REST).

Every accepted request commits its receipt durably before it is answered (ARCHITECTURE
decision 10); on a disk where that commit costs more than the rest of a request, one
commit per request caps the node at one request per fsync. A :class:`Batcher` runs
one worker thread that takes whatever requests are waiting (at most ``max_batch``),
hands them to ``handle_many`` together (one transaction, one commit: see
:meth:`lnhive.manage.pipeline.Pipeline.handle_batch`) and answers each. A lone request
is handled at once, alone: batching adds no wait, it only shares the commit among
requests that were already queued behind one another.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_MAX_BATCH = 64
"""Requests per commit at most: bounds the latency one batch adds to its last request."""


class Batcher(Generic[T, R]):
    """A worker thread answering queued items in batches.

    ``handle_many(items)`` returns one result per item, in order. ``fail(item, exc)``
    turns an exception out of ``handle_many`` (a bug) into each item's result, so every
    submitted item is answered exactly once."""

    def __init__(
        self,
        handle_many: Callable[[Sequence[T]], Sequence[R]],
        fail: Callable[[T, Exception], R],
        *,
        max_batch: int = DEFAULT_MAX_BATCH,
        name: str = "batcher",
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._handle_many = handle_many
        self._fail = fail
        self._max = max_batch
        self._queue: queue.SimpleQueue[tuple[T, Callable[[R], None]] | None] = queue.SimpleQueue()
        self._closed = False
        self._lock = threading.Lock()
        self.batches = 0
        """Batches handled so far (a batch of one counts)."""
        self.largest = 0
        """The most items handled in one batch."""
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, item: T, done: Callable[[R], None]) -> None:
        """Queue ``item``; ``done(result)`` is called from the worker thread."""
        with self._lock:  # nothing is queued behind the stop mark
            if self._closed:
                raise RuntimeError("the batcher is closed")
            self._queue.put((item, done))

    def close(self, timeout: float = 10.0) -> None:
        """Answer what is queued, then stop the worker."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._queue.put(None)
        self._thread.join(timeout)

    def _take(self) -> tuple[list[tuple[T, Callable[[R], None]]], bool]:
        """The next batch (blocking for its first item) and whether to stop after it."""
        first = self._queue.get()
        if first is None:
            return [], True
        batch = [first]
        while len(batch) < self._max:
            try:
                nxt = self._queue.get_nowait()
            except queue.Empty:
                break
            if nxt is None:
                return batch, True
            batch.append(nxt)
        return batch, False

    def _run(self) -> None:
        stop = False
        while not stop:
            batch, stop = self._take()
            if not batch:
                continue
            items = [item for item, _ in batch]
            try:
                results = list(self._handle_many(items))
                if len(results) != len(items):
                    raise RuntimeError(f"{len(results)} results for {len(items)} items")
            except Exception as exc:
                log.exception("a batch of %d failed", len(items))
                results = [self._fail(item, exc) for item in items]
            self.batches += 1
            self.largest = max(self.largest, len(items))
            for (_, done), result in zip(batch, results, strict=True):
                try:
                    done(result)
                except Exception:
                    log.exception("answering a batched request failed")
