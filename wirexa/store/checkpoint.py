"""SQLite WAL checkpoints off the commit path.

By default SQLite checkpoints inside the commit that takes the WAL past 1,000 pages: that commit
then copies the WAL into the database file and fsyncs it, and every store job queued behind it
waits (bench/webhook_throughput.py saw 50-100 ms stalls every few seconds at 1,000
callbacks/s). The engine turns automatic checkpoints off (`make_engine(...,
background_checkpoints=True)`) and runs this thread instead: a PASSIVE checkpoint never blocks
writers or readers."""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Engine

log = logging.getLogger(__name__)


class WalCheckpointer:
    def __init__(self, engine: Engine, interval: float = 0.5) -> None:
        self.engine = engine
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="wirexa-wal-checkpoint", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
        self.checkpoint()  # what the last commits left in the WAL

    def checkpoint(self) -> None:
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
        except Exception:
            log.exception("WAL checkpoint failed")  # the next one catches up

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.checkpoint()
