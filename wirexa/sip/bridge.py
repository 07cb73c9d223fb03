"""The one thread that runs sippy's event loop, and the ways across to and from asyncio.

sippy keeps all state in a process-wide dispatcher (`ED2`) that is not thread-safe: every sippy
object must be created and touched on the thread that runs `ED2.loop()`. Other threads get in
with `ED2.callFromThread`; results and events go back to asyncio with
`loop.call_soon_threadsafe`.

The thread is created once per process and never exits: ElPeriodic (sippy's timer/wake-up
library) keeps its cross-thread queue in the owning thread's thread-local storage and wakes that
thread with `pthread_kill(SIGURG)`, so a dead owner would leave a dangling queue. `stop()` only
parks the loop; `start()` resumes it.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import time
from _thread import get_ident
from typing import Any, Callable, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")

# ElPeriodic objects replaced by _own_dispatcher(); kept alive because their destructor would
# restore the default SIGURG disposition and silence our wake-ups.
_retired: list[Any] = []


def _fast_clock() -> None:
    """sippy reads its clocks through ctypes: about 3 µs a read, two reads for every timestamp
    it takes (each packet, transaction and timer), and each read releases the GIL, so under
    load the sippy threads queue for it again. `time.clock_gettime` takes the same clock ids."""
    import sippy.Time.MonoTime as mono_time

    mono_time.clock_getdtime = time.clock_gettime


def _own_dispatcher() -> Any:
    """Import sippy's dispatcher and make sure it wakes *this* thread for cross-thread calls."""
    _fast_clock()
    from sippy.Core.EventDispatcher import ED2  # first import here binds ED2 to this thread

    if ED2.my_ident != get_ident():
        # sippy was imported first on another thread: wake-ups would go there and every
        # callFromThread would wait for the next 10 ms tick. Re-arm ElPeriodic on this thread.
        from elperiodic.ElPeriodic import ElPeriodic

        freq = ED2.bands[0][0]
        elp = ElPeriodic(freq)
        elp.CFT_enable(signal.SIGURG)
        _retired.append(ED2.elp)
        ED2.elp, ED2.bands, ED2.my_ident = elp, [(freq, 0)], get_ident()
    return ED2


class SippyThread:
    """Owner of the sippy loop thread. Use the module-level `sippy_thread` singleton."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._ed: Any = None
        self._ready = threading.Event()
        self._run = threading.Event()  # set while the loop should be running
        self._parked = threading.Event()  # set while the loop is parked

    def start(self) -> None:
        """Start (or resume) the loop. Idempotent, callable from any thread."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._main, name="sippy", daemon=True)
                self._thread.start()
            self._ready.wait()
            self._parked.clear()
            self._run.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Park the loop (pending calls stay queued until start()). Not from the sippy thread."""
        with self._lock:
            if self._thread is None or not self._run.is_set():
                return
            self._run.clear()
            self._ed.callFromThread(self._ed.breakLoop)
            self._parked.wait(timeout)

    def call(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run fn(*args) on the sippy thread, fire-and-forget. Exceptions are logged."""
        if self._ed is None:
            raise RuntimeError("sippy thread not started")
        self._ed.callFromThread(_logged, fn, args)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run fn(*args) on the sippy thread and await its result (or exception)."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[T] = loop.create_future()

        def settle(ok: bool, value: Any) -> None:
            if not fut.done():
                fut.set_result(value) if ok else fut.set_exception(value)

        def job() -> None:
            try:
                result: Any = (True, fn(*args))
            except BaseException as exc:  # handed to the awaiting coroutine
                result = (False, exc)
            deliver(loop, settle, *result)

        self.call(job)
        return await fut

    def _main(self) -> None:
        self._ed = _own_dispatcher()
        self._ready.set()
        while True:
            self._run.wait()
            self._ed.loop()
            self._parked.set()


def _logged(fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    try:
        fn(*args)
    except Exception:
        log.exception("error in sippy-thread call %r", fn)


def deliver(loop: asyncio.AbstractEventLoop, fn: Callable[..., Any], *args: Any) -> None:
    """From the sippy thread: schedule fn(*args) on an asyncio loop; dropped if the loop is closed."""
    try:
        loop.call_soon_threadsafe(fn, *args)
    except RuntimeError:  # loop closed: nobody is listening any more
        log.debug("dropped %r: asyncio loop closed", fn)


sippy_thread = SippyThread()
