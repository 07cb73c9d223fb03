import asyncio
import socket
import statistics
import time

import uvloop

from wirexa.media.clock import PERIOD, MediaClock


class Recorder:
    def __init__(self) -> None:
        self.times: list[float] = []

    def on_tick(self) -> None:
        self.times.append(time.monotonic())


def test_ticks_every_20ms_without_drift():
    async def main():
        clock = MediaClock()
        streams = [Recorder() for _ in range(3)]
        for s in streams:
            clock.add(s)
        clock.start()
        started = time.monotonic()
        await asyncio.sleep(1.0)
        clock.stop()
        return clock, streams, started

    clock, streams, started = uvloop.run(main())
    times = streams[0].times
    # 1 s of 20 ms ticks: 49-50 of them (counting any skipped on a loaded machine).
    assert 48 <= len(times) + clock.skipped_ticks <= 51
    assert all(len(s.times) == len(times) for s in streams)
    assert len(clock.last_send_lateness) == len(times)
    if clock.skipped_ticks == 0:
        # Tick n stays near start + n * 20 ms: timer errors do not add up over the second.
        errors = [t - (times[0] + i * PERIOD) for i, t in enumerate(times)]
        drift = statistics.median(errors[-10:]) - statistics.median(errors[:10])
        assert abs(drift) < 0.005


def test_late_loop_catches_up_a_few_ticks_then_skips():
    async def main():
        clock = MediaClock(max_burst=3)
        rec = Recorder()
        clock.add(rec)
        clock.start()
        await asyncio.sleep(0.1)
        before = len(rec.times)
        time.sleep(0.2)  # block the loop for 10 ticks
        stalled_at = time.monotonic()
        await asyncio.sleep(0.001)
        after_wake = [t for t in rec.times[before:] if t >= stalled_at]
        clock.stop()
        return clock, after_wake

    clock, burst = uvloop.run(main())
    # max_burst frames go out back to back, plus possibly the next tick if it was due within
    # the 2 ms the clock runs early (millisecond timers), instead of all 10 missed ones.
    assert 3 <= len(burst) <= 4
    assert clock.skipped_ticks >= 6


def test_failing_stream_is_removed_and_others_keep_ticking():
    class Broken:
        def on_tick(self) -> None:
            raise RuntimeError("boom")

    async def main():
        clock = MediaClock()
        good, bad = Recorder(), Broken()
        clock.add(bad)
        clock.add(good)
        clock.start()
        await asyncio.sleep(0.1)
        clock.stop()
        return clock, good

    clock, good = uvloop.run(main())
    assert len(clock) == 1 and clock.stream_errors == 1
    assert len(good.times) >= 3


def test_streams_can_leave_during_a_tick():
    async def main():
        clock = MediaClock()
        calls = []

        class OneShot:
            def on_tick(self) -> None:
                calls.append(self)
                clock.remove(self)

        for _ in range(5):
            clock.add(OneShot())
        clock.start()
        await asyncio.sleep(0.08)
        clock.stop()
        return clock, calls

    clock, calls = uvloop.run(main())
    assert len(calls) == 5 and len(clock) == 0



def test_sockets_are_read_after_every_stream_sent_its_frame():
    async def main():
        clock = MediaClock()
        events: list[str] = []

        class Stream:
            def __init__(self, name: str) -> None:
                self.name = name

            def on_tick(self) -> None:
                events.append(self.name)

        rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rx.bind(("127.0.0.1", 0))
        rx.setblocking(False)
        tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        tx.connect(rx.getsockname())
        clock.poller.add(rx, lambda data, addr: events.append("rx"))
        clock.add(Stream("a"))
        clock.add(Stream("b"))
        tx.send(b"x")  # arrives before the first tick: read on it, after both sends
        await asyncio.sleep(0.005)
        clock.start()
        await asyncio.sleep(0.05)
        clock.stop()
        clock.poller.remove(rx)
        rx.close()
        tx.close()
        return events

    events = uvloop.run(main())
    assert events[:3] == ["a", "b", "rx"] and events.count("rx") == 1
