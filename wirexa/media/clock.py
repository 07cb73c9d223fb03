"""The process-wide 20 ms media clock.

One timer drives every stream: each tick calls ``on_tick()`` on every registered stream, which
sends that stream's next frame. A task or timer per stream doubled CPU and pushed p99 lateness
to 12-25 ms in the measurements behind docs/architecture.md; bench/media_clock.py measures this.

Once every frame of the tick is out, the tick reads the RTP sockets (``poller``), stopping
shortly before the next tick is due. Reading them on the tick rather than in the loop's I/O
callbacks means a burst of arriving packets (a far end catching up after a stall) can never
hold the next tick back: in bench/call_concurrency.py (500 calls) such bursts of 1,000-2,000
packets made ticks start 10-22 ms late. It also spares every packet an epoll wake-up.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from time import monotonic
from typing import Protocol

from .codecs import FRAME_MS
from .poller import SocketPoller

log = logging.getLogger(__name__)

PERIOD = FRAME_MS / 1000
# A tick stops reading the sockets this long before the next tick is due, leaving the loop time
# for its other work: the next frames go out on time, and what arrived waits a tick more.
READ_HEADROOM = 0.001


class ClockedStream(Protocol):
    def on_tick(self) -> None:
        """Send this stream's next frame. Must not block: it runs on the shared tick."""


class MediaClock:
    """Calls ``on_tick()`` of every registered stream every 20 ms, then reads the sockets of
    ``poller``.

    Ticks are scheduled against absolute deadlines (start + n * 20 ms), so timer error never
    accumulates. If the loop was late, the missed ticks run back to back, but at most
    ``max_burst`` per wake-up: after a longer stall the clock skips ahead (media is delayed,
    not blasted out as a burst the peer's jitter buffer would have to swallow).
    """

    def __init__(self, *, max_burst: int = 3, history: int = 15_000) -> None:
        self.max_burst = max_burst
        self._streams: dict[ClockedStream, object] = {}  # insertion-ordered set
        # (stream, on_tick) pairs, rebuilt on the next tick after streams come or go: at most
        # one rebuild per tick however many calls start or end in it.
        self._callbacks: tuple | None = ()
        self._handle: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._deadline = 0.0
        self.ticks = 0
        self.skipped_ticks = 0
        self.stream_errors = 0
        self.poller = SocketPoller()
        # Seconds after the scheduled tick at which the first and the last frame of a tick
        # went out; every send of that tick lies in between. Bounded, for benchmarks/metrics.
        self.first_send_lateness: deque[float] = deque(maxlen=history)
        self.last_send_lateness: deque[float] = deque(maxlen=history)

    def __len__(self) -> int:
        return len(self._streams)

    def add(self, stream: ClockedStream) -> None:
        self._streams[stream] = None
        self._callbacks = None

    def remove(self, stream: ClockedStream) -> None:
        if stream in self._streams:
            del self._streams[stream]
            self._callbacks = None

    def start(self) -> None:
        """Start ticking on the running event loop (idempotent)."""
        if self._handle is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._deadline = monotonic() + PERIOD
        self._schedule()

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def reset_stats(self) -> None:
        self.first_send_lateness.clear()
        self.last_send_lateness.clear()
        self.ticks = self.skipped_ticks = self.stream_errors = 0

    def _schedule(self) -> None:
        # The loop's own time may be a cached, millisecond-rounded value (uvloop): compute the
        # delay from the real monotonic clock instead.
        assert self._loop is not None
        self._handle = self._loop.call_later(max(0.0, self._deadline - monotonic()), self._wake)

    def _wake(self) -> None:
        now = monotonic()
        if now < self._deadline - 0.002:  # millisecond timers can fire a little early
            self._schedule()
            return
        missed = int((now - self._deadline) / PERIOD)
        if missed >= self.max_burst:
            skip = missed - self.max_burst + 1
            self._deadline += skip * PERIOD
            self.skipped_ticks += skip
        for _ in range(self.max_burst):
            self._tick(self._deadline)
            self._deadline += PERIOD
            if self._deadline > monotonic():
                break
        if self._handle is not None:  # a stream may have stopped the clock
            self._schedule()

    def _tick(self, deadline: float) -> None:
        self.ticks += 1
        first = monotonic()
        failed = None
        callbacks = self._callbacks
        if callbacks is None:
            callbacks = self._callbacks = tuple((s, s.on_tick) for s in self._streams)
        for stream, on_tick in callbacks:
            try:
                on_tick()
            except Exception:
                log.exception("media stream %r failed on tick; removing it", stream)
                failed = (failed or []) + [stream]
        last = monotonic()
        self.first_send_lateness.append(first - deadline)
        self.last_send_lateness.append(last - deadline)
        if failed:
            self.stream_errors += len(failed)
            for stream in failed:
                self.remove(stream)
        self.poller.read(deadline + PERIOD - READ_HEADROOM)
