"""What `<Record>` and the Calling API's `calling.record` share: the beep before recording, and
how long a recording runs (until a finish key, silence, a length limit or a stop request)."""

from __future__ import annotations

import asyncio
from typing import Any

from wirexa.audio.pcm import rms, tone
from wirexa.media.recorder import CallRecorder
from wirexa.media.session import MediaSession
from wirexa.recordings.files import SILENCE_RMS

FRAMES_PER_SECOND = 50
BEEP = tone(1000, 0.4)  # as Twilio's: 1 kHz, 0.4 s


async def record_until(media: MediaSession, recorder: CallRecorder, *, keys: str = "",
                       initial_silence: float = 0, end_silence: float = 0, max_seconds: float = 0,
                       stop: asyncio.Event | None = None) -> str:
    """Wait while `recorder` records; returns the key in `keys` that ended it, or '' when it
    ended otherwise: `initial_silence` seconds with nothing heard yet, `end_silence` seconds
    quiet after something was heard, `max_seconds` recorded, or `stop` set. 0 disables a limit.
    Paused stretches (recorder.paused) count toward none of them."""
    limit: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    initial, after = int(initial_silence * FRAMES_PER_SECOND), int(end_silence * FRAMES_PER_SECOND)
    max_frames = int(max_seconds * FRAMES_PER_SECOND)
    heard, quiet = False, 0

    def on_frame(frame: bytes) -> None:
        nonlocal heard, quiet
        if recorder.paused or limit.done():
            return
        loud = rms(frame) >= SILENCE_RMS
        heard = heard or loud
        quiet = 0 if loud else quiet + 1
        if ((not heard and initial and quiet >= initial) or (heard and after and quiet >= after)
                or (max_frames and recorder.frames >= max_frames)):
            limit.set_result(None)

    recorder.on_frame = on_frame
    waits: set[asyncio.Future[Any]] = {limit}
    key = asyncio.ensure_future(_finish_key(media, keys)) if keys else None
    if key is not None:
        waits.add(key)
        media.listen_for_tones(True)
    if stop is not None:
        waits.add(asyncio.ensure_future(stop.wait()))
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in waits:
            waiting.cancel()
        if key is not None:
            media.listen_for_tones(False)
    if key is not None and key.done() and not key.cancelled():
        return key.result()
    return ""


async def _finish_key(media: MediaSession, keys: str) -> str:
    while True:
        digit = await media.next_digit()
        if digit is not None and digit in keys:
            return digit
