"""Run the scan's steps side by side: discovery ahead, datasets concurrently.

``ReadAhead`` lists datasets in a background thread while they are scanned,
so the first dataset is scanned before the last one is found and the total
becomes known as soon as listing ends. ``ordered_map`` scans several datasets
at once in a bounded thread pool and returns the results in input order.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

# Finished results waiting for an earlier, slower one, per worker thread.
# Waiting results are small (labels, counts), unlike the samples they were
# computed from, which are freed when a worker finishes a dataset.
QUEUED_PER_WORKER = 2


@dataclass(frozen=True)
class _Raised:
    error: BaseException


_END = object()


class ReadAhead(Generic[T]):
    """Iterate over ``items`` produced by a background thread.

    At most ``limit`` items wait in memory; past that the producer pauses.
    ``total`` is the number of items once the producer has finished, and
    None before. An exception in the producer is raised by the iteration.
    """

    def __init__(self, items: Iterable[T], limit: int) -> None:
        self.total: int | None = None
        self._items = items
        self._queue: queue.Queue[object] = queue.Queue(maxsize=limit)
        self._stop = threading.Event()
        # A daemon thread, so that Ctrl-C does not wait for a slow listing.
        self._thread = threading.Thread(
            target=self._produce, name="cardex-discovery", daemon=True
        )
        self._thread.start()

    def _produce(self) -> None:
        count = 0
        try:
            for item in self._items:
                if self._stop.is_set():
                    return
                self._hand_over(item)
                count += 1
            self.total = count
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            self._hand_over(_Raised(exc))
        finally:
            self._hand_over(_END)

    def _hand_over(self, item: object) -> None:
        """Queue ``item`` unless the consumer has stopped, which reads no more."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def __iter__(self) -> Iterator[T]:
        try:
            while True:
                got = self._queue.get()
                if got is _END:
                    return
                if isinstance(got, _Raised):
                    raise got.error
                yield got  # type: ignore[misc]
        finally:
            self.close()

    def close(self) -> None:
        """Stop the producer; it ends once the connector yields its next item."""
        self._stop.set()


def ordered_map(
    work: Callable[[T], R], items: Iterable[T], concurrency: int
) -> Generator[R, None, None]:
    """Yield ``work(item)`` for each item, in input order.

    With ``concurrency`` 1 each item is done in the calling thread before
    the next is taken. Otherwise up to ``concurrency`` items are done at once
    in worker threads, and items are taken from ``items`` only as fast as
    results are consumed.
    """
    if concurrency <= 1:
        for item in items:
            yield work(item)
        return

    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="cardex")
    pending: deque[Future[R]] = deque()
    finished = False
    try:
        for item in items:
            pending.append(pool.submit(work, item))
            if len(pending) > concurrency * QUEUED_PER_WORKER:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
        finished = True
    finally:
        # On an error or Ctrl-C, queued items are dropped without waiting.
        # NOTE: the interpreter still waits at exit for the items already
        # running, each bounded by the scan's timeout.
        pool.shutdown(wait=finished, cancel_futures=True)
