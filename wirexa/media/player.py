"""Audio sources an endpoint pulls one 20 ms frame from on every clock tick."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Protocol

from .codecs import FRAME_BYTES, SILENT_FRAME


class AudioSource(Protocol):
    def next_frame(self) -> bytes | memoryview | None:
        """The next 20 ms of 16-bit 8 kHz PCM (320 bytes), or None once the source is done."""

    def stop(self) -> None:
        """Called when the endpoint drops this source before it ended (replaced or closed)."""


class PcmPlayer:
    """Plays a buffer of 8 kHz 16-bit mono PCM, optionally looping; interruptible with stop().

    ``await player.wait()`` returns True when it played to the end, False when stopped.
    """

    def __init__(self, pcm: bytes, *, loop: bool = False) -> None:
        if len(pcm) % FRAME_BYTES:  # pad the last frame with silence
            pcm = pcm + bytes(FRAME_BYTES - len(pcm) % FRAME_BYTES)
        self._pcm = memoryview(pcm)
        self._pos = 0
        self._end = len(pcm)
        self._loop = loop and len(pcm) > 0
        self._done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

    @property
    def done(self) -> bool:
        return self._done.done()

    def next_frame(self) -> memoryview | None:
        pos = self._pos
        if pos < self._end:  # hot path: called every 20 ms per playing call
            self._pos = pos + FRAME_BYTES
            return self._pcm[pos : pos + FRAME_BYTES]
        if self._loop and not self._done.done():
            self._pos = FRAME_BYTES
            return self._pcm[:FRAME_BYTES]
        if not self._done.done():
            self._done.set_result(True)
        return None

    def stop(self) -> None:
        self._end = 0
        if not self._done.done():
            self._done.set_result(False)

    async def wait(self) -> bool:
        return await asyncio.shield(self._done)


class StreamPlayer:
    """PCM that arrives in pieces (speech rendered sentence by sentence): plays what has
    arrived and silence while the next piece is on its way; done after finish() and the last
    frame. Interruptible with stop(), like PcmPlayer."""

    def __init__(self) -> None:
        self._frames: deque[memoryview] = deque()
        self._finished = False
        self._done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

    @property
    def done(self) -> bool:
        return self._done.done()

    def push(self, pcm: bytes) -> None:
        if len(pcm) % FRAME_BYTES:  # each piece ends on a frame boundary (< 20 ms of silence)
            pcm = pcm + bytes(FRAME_BYTES - len(pcm) % FRAME_BYTES)
        view = memoryview(pcm)
        self._frames.extend(view[i : i + FRAME_BYTES] for i in range(0, len(view), FRAME_BYTES))

    def finish(self) -> None:
        self._finished = True

    def next_frame(self) -> memoryview | bytes | None:
        if self._frames:
            return self._frames.popleft()
        if not self._finished and not self._done.done():
            return SILENT_FRAME  # the next piece is still rendering
        if not self._done.done():
            self._done.set_result(True)
        return None

    def stop(self) -> None:
        self._frames.clear()
        self._finished = True
        if not self._done.done():
            self._done.set_result(False)

    async def wait(self) -> bool:
        return await asyncio.shield(self._done)
