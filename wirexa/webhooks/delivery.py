"""The webhook delivery worker: sends what the outbox holds, signed, with Twilio's per-URL
options; retries on the configured schedule; never lets one slow host hold up the others
(no host gets more than `per_host` requests in flight). The requests themselves are made by a
`Sender` (sender.py; the engine's runs in a process of its own)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from datetime import timedelta
from functools import partial
from typing import Any, Protocol

import orjson

from wirexa.clock import utcnow
from wirexa.store.batch import Batcher
from wirexa.webhooks.options import parse_options
from wirexa.webhooks.outbox import Outcome, WebhookStore
from wirexa.webhooks.sender import Request, Result

log = logging.getLogger(__name__)


class Sender(Protocol):
    """Makes requests (the engine's: sender_process.SenderProcess)."""

    async def send(self, request: Request) -> Result: ...


class WebhookDelivery:
    def __init__(self, store: WebhookStore, batcher: Batcher, sender: Sender,
                 auth_token: Callable[[str], Awaitable[str]], *, node_id: str, retry_delays: list[float],
                 retry_on: frozenset[str], concurrency: int = 200, per_host: int = 16,
                 poll_interval: float = 1.0) -> None:
        self.store = store
        self.batcher = batcher
        self.sender = sender
        self.auth_token = auth_token
        self.node_id = node_id
        self.retry_delays = retry_delays or [60.0]
        self.retry_on = retry_on
        self.concurrency = concurrency
        self.per_host = per_host
        self.poll_interval = poll_interval
        self._wake = asyncio.Event()
        self._in_flight: Counter[str] = Counter()  # host → requests being sent
        # Callbacks handed over at commit that found their host (or every slot) busy.
        self._held: dict[str, deque[dict[str, Any]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._claiming = False
        # Whether the last claim may have left due callbacks behind for want of a free slot:
        # only then is a slot freeing up worth another claim.
        self._slots_short = True
        self._outcomes: list[Outcome] = []  # attempts not written yet (see _flush)

    def notify(self) -> None:
        """Something was added to the outbox (or a callback finished): look again now."""
        self._wake.set()

    def take(self, row: dict[str, Any]) -> None:
        """A callback the outbox leased to this node at commit: send it now, or as soon as its
        host has a free slot."""
        if self._has_room(row["host"]) and not self._held.get(row["host"]):
            self._start(row)
        else:
            self._held.setdefault(row["host"], deque()).append(row)

    def _has_room(self, host: str) -> bool:
        return self._in_flight[host] < self.per_host and sum(self._in_flight.values()) < self.concurrency

    def _start_held(self) -> None:
        for host in list(self._held):
            queue = self._held[host]
            while queue and self._has_room(host):
                self._start(queue.popleft())
            if not queue:
                del self._held[host]

    async def run(self) -> None:
        released = await self.batcher.run(partial(self.store.release, self.node_id))
        if released:
            log.warning("%d webhook(s) were being sent when this node stopped: sending them again", released)
        try:
            while True:
                self._wake.clear()
                free = self.concurrency - sum(self._in_flight.values())
                claimed = 0
                if free > 0:
                    self._claiming = True
                    try:
                        rows = await self.batcher.run(partial(
                            self.store.claim_due, self.node_id, free, self.per_host, dict(self._in_flight)))
                    finally:
                        self._claiming = False
                    claimed = len(rows)
                    for row in rows:
                        self._start(row)
                self._slots_short = claimed == free or any(n >= self.per_host for n in self._in_flight.values())
                if claimed and claimed == free:
                    continue  # maybe more are due: claim again once a slot frees up
                try:
                    await asyncio.wait_for(self._wake.wait(), self.poll_interval)
                except TimeoutError:
                    pass
        finally:
            for task in list(self._tasks):
                task.cancel()
            # Left as `sending`: released (and sent again) when this node starts next.

    async def drain(self, timeout: float) -> None:
        """A graceful stop: give what is due (the last calls' completed callbacks) up to
        `timeout` seconds to go out; whatever is left is sent after the next start."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            await asyncio.sleep(0.02)
            if not (self._tasks or self._held or self._claiming or self._wake.is_set()):
                return

    def _start(self, row: dict[str, Any]) -> None:
        host = row["host"]
        self._in_flight[host] += 1
        task = asyncio.ensure_future(self._deliver(row))
        self._tasks.add(task)

        def done(t: asyncio.Task[None]) -> None:
            self._tasks.discard(t)
            self._in_flight[host] -= 1
            if self._in_flight[host] <= 0:
                del self._in_flight[host]
            self._start_held()
            if self._slots_short:
                self._wake.set()

        task.add_done_callback(done)

    async def _deliver(self, row: dict[str, Any]) -> None:
        options = parse_options(row["url"], self.retry_on)
        params: dict[str, Any] = orjson.loads(row["params"])
        attempted_at = utcnow()
        started = time.monotonic()
        status, error, body, ctype, failure = await self.sender.send(Request(
            row["method"], options.url, params, row.get("content_type"), await self.auth_token(row["account_sid"]),
            options.connect_timeout, options.read_timeout, options.total_timeout))
        latency_ms = int((time.monotonic() - started) * 1000)
        delivered = failure is None
        next_at = None
        if not delivered:
            allowed = options.retries if options.retries is not None else len(self.retry_delays)
            if failure in options.retry_on and row["attempts"] < allowed:
                delay = self.retry_delays[min(row["attempts"], len(self.retry_delays) - 1)]
                next_at = attempted_at + timedelta(seconds=delay)
            log.warning("webhook %s to %s failed (%s)%s", row["sid"], options.url, error or status,
                        f"; next attempt at {next_at:%H:%M:%S}" if next_at else "; giving up")
        self._outcomes.append(Outcome(row["id"], attempted_at, latency_ms, status, error, body, ctype, next_at,
                                      delivered, row["call_sid"]))
        if len(self._outcomes) == 1:
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        """Write the outcomes of this loop iteration as one store job. Not awaited: a slot is
        free once its request is done; should the engine die before this commits, those
        callbacks are still `sending` and are sent again after the restart."""
        outcomes, self._outcomes = self._outcomes, []
        self.batcher.submit(partial(self.store.record, outcomes))
