"""Threads beside the caller's: how every step of the pipeline that works side by side does it.

`SideBySide` shares items out to a few threads (posting batches, claiming slices, settling
chunks); `read_ahead` lets one thread fetch the next pages of results while the caller settles
the current one. Both run their threads in a copy of the caller's context, so their log lines
keep the task's, and both hand a thread's failure to the caller instead of losing it.
"""

from __future__ import annotations

import contextvars
import queue
import threading
from collections.abc import Callable, Generator, Iterator
from types import TracebackType
from typing import Generic, TypeVar, cast

from django.db import connection

T = TypeVar("T")

_END = object()


class SideBySide(Generic[T]):
    """`threads` threads, each taking the items handed over with `put` and running `work` on
    them; every item is taken by one thread only.

    A failure stops the others before their next item: items still waiting are left undone and
    `put` refuses more. `close` waits for the threads and returns the first failure; used as a
    context manager it raises it. `backlog` bounds the items waiting (0: unbounded), so a
    caller that produces faster than the threads work waits instead of holding everything.
    `own_connection`: each thread works the database on a connection of its own, closed when
    it ends (PostgreSQL; SQLite has one writer at a time).
    """

    def __init__(
        self,
        work: Callable[[T], None],
        *,
        threads: int,
        name: str,
        backlog: int = 0,
        own_connection: bool = False,
    ) -> None:
        if threads < 1:
            raise ValueError("SideBySide needs at least one thread")
        self._work = work
        self._own_connection = own_connection
        self._todo: queue.Queue[object] = queue.Queue(maxsize=backlog)
        self._stop = threading.Event()
        self._failures: list[BaseException] = []
        self._closed = False
        self._threads = [
            threading.Thread(
                target=contextvars.copy_context().run,
                args=(self._run,),
                name=f"{name}-{n}",
                daemon=True,
            )
            for n in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    @property
    def stopped(self) -> bool:
        """Whether a thread failed: what is still waiting will not be done."""
        return self._stop.is_set()

    def put(self, item: T) -> bool:
        """Hand an item over; False (and nothing handed over) once a thread has failed."""
        if self._stop.is_set():
            return False
        self._todo.put(item)
        return True

    def close(self) -> BaseException | None:
        """Wait for the threads to finish what was handed over; the first failure, if any."""
        if not self._closed:
            self._closed = True
            for _ in self._threads:
                # The threads take every item to the end, so this never waits on a full queue
                # for long.
                self._todo.put(_END)
            for thread in self._threads:
                thread.join()
        return self._failures[0] if self._failures else None

    def __enter__(self) -> SideBySide[T]:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if error is not None:
            self._stop.set()
        failure = self.close()
        if failure is not None and error is None:
            raise failure

    def _run(self) -> None:
        try:
            while (item := self._todo.get()) is not _END:
                if self._stop.is_set():
                    continue  # taken to the end, so that handing over never blocks for good
                try:
                    self._work(cast("T", item))
                except BaseException as failure:  # handed to the caller by `close`
                    self._failures.append(failure)
                    self._stop.set()
        finally:
            if self._own_connection:
                connection.close()


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def read_ahead(items: Iterator[T], *, ahead: int, step: int) -> Generator[T, None, None]:
    """Yield `items` as a thread produces them, about `ahead` at most in advance, handed over
    `step` at a time (one hand-over per item would cost more than the item). Closing the
    generator (or leaving it on an error) stops the thread at its next hand-over; what was read
    before an error is yielded before it is raised."""
    step = max(1, min(step, ahead))
    buffer: queue.Queue[object] = queue.Queue(maxsize=max(1, ahead // step))
    stop = threading.Event()

    def put(value: object) -> bool:
        while not stop.is_set():
            try:
                buffer.put(value, timeout=0.5)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        batch: list[T] = []
        try:
            for item in items:
                batch.append(item)
                if len(batch) >= step:
                    if not put(batch):
                        return
                    batch = []
        except BaseException as error:  # handed to the reader, who raises it
            if not batch or put(batch):
                put(_Failed(error))
            return
        if not batch or put(batch):
            put(_END)

    reader = threading.Thread(
        target=contextvars.copy_context().run, args=(produce,), daemon=True, name="read-ahead"
    )
    reader.start()
    try:
        while True:
            value = buffer.get()
            if value is _END:
                return
            if isinstance(value, _Failed):
                raise value.error
            yield from cast("list[T]", value)
    finally:
        stop.set()
        reader.join(timeout=5)
