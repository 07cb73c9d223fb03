"""The webhook delivery worker: sends what the outbox holds, signed, with Twilio's per-URL
options; retries on the configured schedule; never lets one slow host hold up the others
(no host gets more than `per_host` requests in flight)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import timedelta
from functools import partial
from typing import Any

import httpx
import orjson

from wirexa.clock import utcnow
from wirexa.laml.documents import USER_AGENT, with_query
from wirexa.store.batch import Batcher
from wirexa.webhooks.options import DeliveryOptions, parse_options
from wirexa.webhooks.outbox import Outcome, WebhookStore
from wirexa.webhooks.signing import signature_headers

log = logging.getLogger(__name__)
BODY_KEPT = 1000  # characters of each response kept for the Events API


class WebhookDelivery:
    def __init__(self, store: WebhookStore, batcher: Batcher, http: httpx.AsyncClient,
                 auth_token: Callable[[str], Awaitable[str]], *, node_id: str, retry_delays: list[float],
                 retry_on: frozenset[str], concurrency: int = 200, per_host: int = 16,
                 poll_interval: float = 1.0) -> None:
        self.store = store
        self.batcher = batcher
        self.http = http
        self.auth_token = auth_token
        self.node_id = node_id
        self.retry_delays = retry_delays or [60.0]
        self.retry_on = retry_on
        self.concurrency = concurrency
        self.per_host = per_host
        self.poll_interval = poll_interval
        self._wake = asyncio.Event()
        self._in_flight: Counter[str] = Counter()  # host → requests being sent
        self._tasks: set[asyncio.Task[None]] = set()
        self._claiming = False

    def notify(self) -> None:
        """Something was added to the outbox (or a callback finished): look again now."""
        self._wake.set()

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
            if not (self._tasks or self._claiming or self._wake.is_set()):
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
            self._wake.set()

        task.add_done_callback(done)

    async def _deliver(self, row: dict[str, Any]) -> None:
        options = parse_options(row["url"], self.retry_on)
        params: dict[str, str] = orjson.loads(row["params"])
        attempted_at = utcnow()
        started = time.monotonic()
        status, error, body, ctype, failure = await self._send(options, row["method"], params, row["account_sid"])
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
        outcome = Outcome(row["id"], attempted_at, latency_ms, status, error, body, ctype, next_at, delivered)
        await self.batcher.run(partial(self.store.record, [outcome]))

    async def _send(self, options: DeliveryOptions, method: str, params: dict[str, str], account_sid: str
                    ) -> tuple[int | None, str | None, str | None, str | None, str | None]:
        """(status code, error, response body, content type, failure kind or None on success)."""
        token = await self.auth_token(account_sid)
        if method == "GET":
            target, form = with_query(options.url, params), None
            headers = signature_headers(token, target)
        else:
            target, form = options.url, params
            headers = signature_headers(token, options.url, params)
        headers["User-Agent"] = USER_AGENT
        timeout = httpx.Timeout(options.read_timeout, connect=options.connect_timeout)
        try:
            async with asyncio.timeout(options.total_timeout):
                response = await self.http.request(method, target, data=form, headers=headers, timeout=timeout)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            return None, f"cannot connect: {exc}", None, None, "ct"
        except (TimeoutError, httpx.TimeoutException):
            return None, "timed out", None, None, "rt"
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}", None, None, "rt"
        code = response.status_code
        body, ctype = response.text[:BODY_KEPT], response.headers.get("content-type")
        if response.is_success:
            return code, None, body, ctype, None
        return code, f"HTTP {code}", body, ctype, "4xx" if code < 500 else "5xx"
