"""Store work from the event loop, on one thread, with group commit: jobs that wait together
share one transaction (one commit, one fsync), and the loop never waits on the database."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
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
    retried job by job, so one bad job only fails itself."""

    def __init__(self, engine: Engine, max_batch: int = 200) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self._pending: list[tuple[Job, asyncio.Future[Any] | None]] = []
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="wirexa-store")
        self._draining: asyncio.Task[None] | None = None

    async def run(self, job: Callable[[Connection], T]) -> T:
        done: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._enqueue(job, done)
        return await done

    def submit(self, job: Job) -> None:
        self._enqueue(job, None)

    def _enqueue(self, job: Job, done: asyncio.Future[Any] | None) -> None:
        self._pending.append((job, done))
        if self._draining is None:
            self._draining = asyncio.ensure_future(self._drain())

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._pending:
                batch = self._pending[: self.max_batch]
                del self._pending[: self.max_batch]
                outcomes, committed = await loop.run_in_executor(
                    self._thread, self._execute, [job for job, _ in batch])
                for callback in committed:
                    callback()
                for (_, done), (ok, value) in zip(batch, outcomes, strict=True):
                    if done is None:
                        if not ok:
                            log.error("store job failed", exc_info=value)
                    elif not done.done():
                        done.set_result(value) if ok else done.set_exception(value)
        finally:
            self._draining = None

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
        """Finish what is queued, then stop the thread."""
        if self._draining is not None:
            await self._draining
        self._thread.shutdown(wait=True)
