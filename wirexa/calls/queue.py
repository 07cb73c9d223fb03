"""The durable outbound queue: calls wait as `queued` rows and are handed to the dialer in
creation order, at most N per second per project. Above the limit they wait; none is rejected."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable

from wirexa.store.calls import CallStore
from wirexa.store.projects import ProjectStore

log = logging.getLogger(__name__)


class SlidingWindow:
    """At most `count` events in any window of `seconds` (exact, unlike a token bucket's burst)."""

    def __init__(self, per_second: float) -> None:
        self.set_rate(per_second)
        self._times: deque[float] = deque()

    def set_rate(self, per_second: float) -> None:
        # Below 1 CPS the window grows: 0.5 CPS = 1 call per 2 s.
        self.seconds = max(1.0, 1.0 / per_second)
        self.count = max(1, round(per_second * self.seconds))

    def _expire(self, now: float) -> None:
        while self._times and self._times[0] <= now - self.seconds:
            self._times.popleft()

    def available(self, now: float) -> int:
        self._expire(now)
        return self.count - len(self._times)

    def next_free(self, now: float) -> float:
        """Monotonic time at which one more event will be allowed."""
        self._expire(now)
        if len(self._times) < self.count:
            return now
        return self._times[0] + self.seconds

    def record(self, now: float) -> None:
        self._times.append(now)


class OutboundQueue:
    def __init__(
        self,
        calls: CallStore,
        projects: ProjectStore,
        dial: Callable[[str], None],
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
        self._wake = asyncio.Event()
        self._windows: dict[str, SlidingWindow] = {}

    def notify(self) -> None:
        """A call was queued in this process: look now rather than at the next poll."""
        self._wake.set()

    def _window(self, account_sid: str) -> SlidingWindow:
        project = self.projects.get(account_sid)
        cps = float(project.cps) if project and project.cps is not None else self.default_cps
        window = self._windows.get(account_sid)
        if window is None:
            window = self._windows[account_sid] = SlidingWindow(cps)
        elif window.count / window.seconds != cps:
            window.set_rate(cps)
        return window

    def dispatch_once(self) -> float:
        """Hand out every call the limits allow now; returns seconds until it is worth looking again."""
        now = time.monotonic()
        wait = self.poll_interval
        for account_sid in self.calls.projects_with_queued():
            window = self._window(account_sid)
            allowed = window.available(now)
            if allowed > 0:
                for sid in self.calls.claim_queued(account_sid, self.node_id, allowed):
                    window.record(time.monotonic())  # the hand-off time is what the limit is about
                    try:
                        self.dial(sid)
                    except Exception:  # one bad hand-off must not stop the queue
                        log.exception("dialer failed to take call %s", sid)
            now = time.monotonic()
            wait = min(wait, max(0.001, window.next_free(now) - now))
        return wait

    async def run(self) -> None:
        while True:
            self._wake.clear()
            try:
                wait = self.dispatch_once()
            except Exception:
                log.exception("outbound queue pass failed; retrying")
                wait = self.poll_interval
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=wait)
            except TimeoutError:
                pass

