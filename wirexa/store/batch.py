"""Store work from the event loop, on one thread, with group commit: jobs that wait together
share one transaction (one commit, one fsync), and the loop never waits on the database."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from queue import Empty, SimpleQueue
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine

log = logging.getLogger(__name__)
T = TypeVar("T")
Job = Callable[[Connection], Any]
_AFTER_COMMIT = "wirexa.after_commit"


def after_commit(conn: Connection, callback: Callable[[], None]) -> None:
    """Run `callback` on the event loop once the Batcher transaction `conn` belongs to has
    committed (e.g. wake the webhook worker for a callback just added to the outbox)."""
    conn.info.setdefault(_AFTER_COMMIT, []).append(callback)


class Batcher:
    """`await run(job)` returns `job(conn)`'s result once committed; `submit(job)` is the same
    without waiting (failures are logged). Jobs run in submission order. A batch that fails is
    retried job by job, so one bad job only fails itself.

    The store thread takes its next batch straight from the queue as soon as a commit is done,
    without a round trip through the event loop (which made jobs wait for the loop's next turn
    on top of the batch ahead of them). Results go back to the loop of the latest job: one
    event loop at a time."""

    def __init__(self, engine: Engine, max_batch: int = 200) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self._queue: SimpleQueue[tuple[Job, asyncio.Future[Any] | None] | None] = SimpleQueue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    async def run(self, job: Callable[[Connection], T]) -> T:
        done: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._enqueue(job, done)
        return await done

    def submit(self, job: Job) -> None:
        self._enqueue(job, None)

    def _enqueue(self, job: Job, done: asyncio.Future[Any] | None) -> None:
        self._loop = asyncio.get_running_loop()
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="wirexa-store", daemon=True)
            self._thread.start()
        self._queue.put((job, done))

    def _work(self) -> None:
        """Store thread: batches until close() queues the end mark."""
        while True:
            first = self._queue.get()
            batch = [first] if first is not None else []
            while first is not None and len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except Empty:
                    break
                if item is None:
                    first = None
                    break
                batch.append(item)
            if batch:
                outcomes, committed = self._execute([job for job, _ in batch])
                loop = self._loop
                try:
                    assert loop is not None
                    loop.call_soon_threadsafe(self._complete, batch, outcomes, committed)
                except RuntimeError:  # the loop is closed: nobody is waiting any more
                    log.warning("store results for %d job(s) dropped: the event loop is closed", len(batch))
            if first is None:
                return

    @staticmethod
    def _complete(batch: list[tuple[Job, asyncio.Future[Any] | None]], outcomes: list[tuple[bool, Any]],
                  committed: list[Callable[[], None]]) -> None:
        """Event loop: after-commit callbacks, then each job's result."""
        for callback in committed:
            callback()
        for (_, done), (ok, value) in zip(batch, outcomes, strict=True):
            if done is None:
                if not ok:
                    log.error("store job failed", exc_info=value)
            elif not done.done():
                done.set_result(value) if ok else done.set_exception(value)

    def _execute(self, jobs: list[Job]) -> tuple[list[tuple[bool, Any]], list[Callable[[], None]]]:
        """Store thread: all jobs in one transaction, or each in its own if that fails.
        Also returns the after_commit callbacks of what committed."""
        committed: list[Callable[[], None]] = []
        try:
            with self.engine.begin() as conn:
                conn.info.pop(_AFTER_COMMIT, None)
                results = [(True, job(conn)) for job in jobs]
                pending = conn.info.pop(_AFTER_COMMIT, [])
            return results, pending
        except Exception as exc:
            if len(jobs) == 1:
                return [(False, exc)], committed
        return [self._alone(job, committed) for job in jobs], committed

    def _alone(self, job: Job, committed: list[Callable[[], None]]) -> tuple[bool, Any]:
        try:
            with self.engine.begin() as conn:
                conn.info.pop(_AFTER_COMMIT, None)
                result = job(conn)
                pending = conn.info.pop(_AFTER_COMMIT, [])
            committed.extend(pending)
            return True, result
        except Exception as exc:
            return False, exc

    async def close(self) -> None:
        """Finish what is queued (results included), then stop the thread."""
        if self._thread is None:
            return
        self._queue.put(None)
        # The thread posts its last results before it ends, so they are delivered before this
        # join's own completion reaches the loop.
        await asyncio.to_thread(self._thread.join)
        self._thread = None
