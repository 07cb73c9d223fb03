"""The sippy thread bridge."""

from __future__ import annotations

import threading
import time

import pytest

from siptest import run
from wirexa.sip.bridge import sippy_thread


def test_run_returns_results_and_exceptions_from_the_sippy_thread():
    async def scenario():
        sippy_thread.start()
        name = await sippy_thread.run(lambda: threading.current_thread().name)
        with pytest.raises(ZeroDivisionError):
            await sippy_thread.run(lambda: 1 / 0)
        return name

    assert run(scenario(), 5) == "sippy"


def test_cross_thread_calls_wake_the_loop_at_once():
    # sippy's loop ticks at 100 Hz; a call that waits for the tick (wake-up signal sent to the
    # wrong thread) takes ~5 ms on average.
    sippy_thread.start()
    delays = []
    for _ in range(20):
        done = threading.Event()
        t0 = time.monotonic()
        sippy_thread.call(done.set)
        assert done.wait(1)
        delays.append(time.monotonic() - t0)
        time.sleep(0.003)
    assert sorted(delays)[len(delays) // 2] < 0.002, delays


def test_stop_parks_and_start_resumes():
    sippy_thread.start()
    sippy_thread.stop()
    done = threading.Event()
    sippy_thread.call(done.set)
    assert not done.wait(0.1)  # queued while parked
    sippy_thread.start()
    assert done.wait(1)
