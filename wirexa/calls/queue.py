"""The durable outbound queue: calls wait as `queued` rows and are handed to the dialer in
creation order, at most N per second per project. Above the limit they wait; none is rejected."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from functools import partial

from sqlalchemy import Connection

from wirexa.store.batch import Batcher
from wirexa.store.calls import CallRow, CallStore
from wirexa.store.projects import ProjectStore

log = logging.getLogger(__name__)


class CallsPerSecond:
    """A project's dialing limit: calls on an even schedule, 1/CPS apart, as Twilio paces them.

    A pass that comes late (the store was busy) takes the calls it missed, at most a tenth of a
    second's worth at once, so the rate holds on average; after a second with nothing to send
    the schedule starts again from now, so idling earns no burst. (A sliding one-second window
    on top, tried before, lost every late call for good: 100 CPS came out as 98.)"""

    IDLE = 1.0

    def __init__(self, per_second: float) -> None:
        self.per_second = per_second
        self.interval = 1.0 / per_second
        self.burst = max(1, int(per_second / 10))
        self._due = float("-inf")  # when the next call is due

    def _schedule(self, now: float) -> float:
        return now if now - self._due > self.IDLE else self._due

    def available(self, now: float) -> int:
        due = self._schedule(now)
        return min(self.burst, int((now - due) // self.interval) + 1) if now >= due else 0

    def next_free(self, now: float) -> float:
        return max(now, self._schedule(now))

    def record(self, now: float) -> None:
        self._due = self._schedule(now) + self.interval


class OutboundQueue:
    """Store work (finding and claiming calls) runs on the engine's store thread (one writer:
    SQLite writers in one process must not wait on each other's locks); hand-offs to the
    dialer happen on the event loop. A project learns of new calls at once when they were
    created on this node (`notify`), and from the store every `poll_interval` otherwise."""

    def __init__(
        self,
        calls: CallStore,
        projects: ProjectStore,
        dial: Callable[[CallRow], None],
        store: Batcher,
        *,
        node_id: str,
        default_cps: float,
        poll_interval: float,
    ) -> None:
        self.calls = calls
        self.projects = projects
        self.dial = dial
        self.node_id = node_id
        self.default_cps = default_cps
        self.poll_interval = poll_interval
        self.store = store
        self._wake = asyncio.Event()
        # Used on the store thread only: one limit per project.
        self._limits: dict[str, CallsPerSecond] = {}
        # Owned by the event loop: projects to look at in the next pass.
        self._notified: set[str] = set()
        self._waiting: set[str] = set()  # projects with calls held back by their limit

    def notify(self, account_sid: str) -> None:
        """A call was queued for `account_sid` on this node: look now, not at the next poll."""
        self._notified.add(account_sid)
        self._wake.set()

    def _limit(self, account_sid: str, refresh: bool) -> CallsPerSecond:
        limit = self._limits.get(account_sid)
        if limit is None or refresh:  # a project's cps is re-read on every full poll
            project = self.projects.get(account_sid)
            cps = float(project.cps) if project and project.cps is not None else self.default_cps
            if limit is None or limit.per_second != cps:
                limit = self._limits[account_sid] = CallsPerSecond(cps)
        return limit

    def claim(self, candidates: set[str] | None, conn: Connection) -> tuple[list[CallRow], float, set[str]]:
        """Store thread: claim what the limits allow now among `candidates` (None: every project
        with waiting calls). Returns (calls in order, seconds until worth looking again,
        projects still holding back calls)."""
        full_poll = candidates is None
        projects = set(self.calls.projects_with_queued(conn)) if candidates is None else candidates
        claimed: list[CallRow] = []
        wait = self.poll_interval
        waiting: set[str] = set()
        for account_sid in sorted(projects):
            limit = self._limit(account_sid, refresh=full_poll)
            now = time.monotonic()
            allowed = limit.available(now)
            if allowed > 0:
                got = self.calls.claim_queued(account_sid, self.node_id, allowed, conn)
                now = time.monotonic()  # the hand-off time is what the limit is about
                for _ in got:
                    limit.record(now)
                claimed += got
                if len(got) < allowed:
                    continue  # none left for now
            waiting.add(account_sid)
            wait = min(wait, max(0.001, limit.next_free(now) - now))
        return claimed, wait, waiting

    async def run(self) -> None:
        next_poll = 0.0
        while True:
            self._wake.clear()
            now = time.monotonic()
            candidates: set[str] | None = None
            if now < next_poll:
                candidates = self._notified | self._waiting
            else:
                next_poll = now + self.poll_interval
            self._notified = set()
            try:
                calls, wait, self._waiting = await self.store.run(partial(self.claim, candidates))
            except Exception:
                log.exception("outbound queue pass failed; retrying")
                calls, wait = [], self.poll_interval
            for call in calls:
                try:
                    self.dial(call)
                except Exception:  # one bad hand-off must not stop the queue
                    log.exception("dialer failed to take call %s", call["sid"])
            wait = min(wait, max(0.0, next_poll - time.monotonic()))
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=wait)
            except TimeoutError:
                pass
