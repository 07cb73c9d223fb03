"""Group commit: inserts that arrive together share one transaction (one fsync), written by a
thread so the event loop never waits on the disk."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

Row = dict[str, Any]


class GroupWriter:
    """`await write(row)` returns once the row is committed. Rows queued while a commit is in
    progress go into the next one (at most `max_batch` per transaction)."""

    def __init__(self, write_many: Callable[[list[Row]], None], max_batch: int = 200) -> None:
        self._write_many = write_many
        self._max_batch = max_batch
        self._pending: list[tuple[Row, asyncio.Future[None]]] = []
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="wirexa-group-writer")
        self._writing = False

    async def write(self, row: Row) -> None:
        done = asyncio.get_running_loop().create_future()
        self._pending.append((row, done))
        if not self._writing:
            self._writing = True
            asyncio.ensure_future(self._drain())
        await done

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._pending:
                batch, self._pending = self._pending[: self._max_batch], self._pending[self._max_batch:]
                try:
                    await loop.run_in_executor(self._thread, self._write_many, [row for row, _ in batch])
                except Exception as exc:  # each caller learns its row was not written
                    for _, done in batch:
                        if not done.done():
                            done.set_exception(exc)
                    continue
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)
        finally:
            self._writing = False

    def close(self) -> None:
        self._thread.shutdown(wait=True)
