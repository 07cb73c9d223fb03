"""Media streams of live calls (Twilio Media Streams over WebSockets), by name per call: one
implementation for LaML's <Start>/<Stop>/<Connect> <Stream> and the Calling API's
`calling.stream` / `.stop`. A stream ends when it is stopped, its server closes it, or its
call ends."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from wirexa.calls.runner import LiveCall
from wirexa.media.streams import MediaStream, StreamSpec
from wirexa.sids import new_sid

log = logging.getLogger(__name__)

# call sid → stream name (or control id) → the stream
_running: dict[str, dict[str, RunningStream]] = {}


@dataclass
class RunningStream:
    name: str
    stream: MediaStream
    task: asyncio.Task[str | None]  # the stream's end: None, or what went wrong

    def stop(self) -> None:
        self.stream.stop()


def new_stream_sid() -> str:
    return new_sid("MZ")


def running(call_sid: str, name: str) -> RunningStream | None:
    return _running.get(call_sid, {}).get(name)


def start_stream(live: LiveCall, spec: StreamSpec,
                 on_end: Callable[[RunningStream, str | None], None] | None = None) -> RunningStream:
    """Start streaming `live`'s audio now (connecting in the background). `spec.name` (else
    its stream sid) names it for stop_stream(); a running stream of the same name is replaced."""
    assert live.media is not None, "streaming needs the call's media"
    name = spec.name or spec.stream_sid
    previous = running(live.sid, name)
    if previous is not None:
        previous.stop()
    stream = MediaStream(live.media, spec)
    task = asyncio.ensure_future(_run(live, stream))
    entry = RunningStream(name, stream, task)
    _running.setdefault(live.sid, {})[name] = entry

    def ended(t: asyncio.Task[str | None]) -> None:
        streams = _running.get(live.sid)
        if streams is not None and streams.get(name) is entry:
            del streams[name]
            if not streams:
                del _running[live.sid]
        if t.cancelled():
            error = None
        elif t.exception() is not None:
            error = f"{type(t.exception()).__name__}: {t.exception()}"
        else:
            error = t.result()
        if on_end is not None:
            try:
                on_end(entry, error)
            except Exception:
                log.exception("stream end handler failed")

    task.add_done_callback(ended)
    return entry


async def _run(live: LiveCall, stream: MediaStream) -> str | None:
    runner = asyncio.ensure_future(stream.run())
    try:
        await asyncio.wait({runner, live.done}, return_when=asyncio.FIRST_COMPLETED)
        if not runner.done():  # the call ended
            stream.stop()
        return await runner
    finally:
        if not runner.done():
            runner.cancel()


def stop_stream(call_sid: str, name: str | None = None) -> int:
    """Stop the call's stream called `name` (None: every stream of the call); how many."""
    streams = _running.get(call_sid, {})
    targets = list(streams.values()) if name is None else [s for s in (streams.get(name),) if s is not None]
    for entry in targets:
        entry.stop()
    return len(targets)
