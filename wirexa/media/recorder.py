"""Recording a call's audio to WAV (8 kHz, 16-bit): what was sent, what arrived, or both.

The endpoint's clock drives it: on every tick one 20 ms frame is added, the frame sent and
the oldest frame received since (silence when none came), so the recording keeps real time
through packet loss and silence. The tick mixes (or interleaves) the two frames with audioop,
in C (~0.5 us); a writer thread appends them to the file once a second. That thread does as
little Python as possible: it competes with the media clock for the GIL, and when it mixed
with numpy it took 10-14 % of a core at 500 recorded calls (now 3-4 %).
Each write also brings the WAV header's lengths up to date, so after a crash the file on disk
holds all but the last second, under a header that (nearly) matches it.

Several recorders may record one endpoint at once (a whole-call recording and a <Record>).
"""

from __future__ import annotations

import logging
import wave
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Literal

from .codecs import FRAME_BYTES, FRAME_SAMPLES, SAMPLE_RATE, SILENT_FRAME, audioop
from .rtp_endpoint import RtpEndpoint

log = logging.getLogger(__name__)

Direction = Literal["both", "inbound", "outbound"]
FLUSH_FRAMES = 50  # one second of audio per write

# One thread writes every recording's file, in order per recording.
_writer = ThreadPoolExecutor(1, thread_name_prefix="wirexa-recorder")


Frame = bytes | memoryview
Tick = Callable[[Frame | None], None]
Mix = Callable[[bytes, Frame], bytes]  # (inbound, outbound) -> what the file gets for this tick


def _mono_mix(inbound: bytes, outbound: Frame) -> bytes:
    return audioop.add(inbound, outbound, 2)  # saturates at full scale


def _stereo(inbound: bytes, outbound: Frame) -> bytes:
    """Inbound left, outbound right, interleaved."""
    return audioop.add(audioop.tostereo(inbound, 2, 1, 0), audioop.tostereo(outbound, 2, 0, 1), 2)


def _mixer(direction: Direction, channels: int) -> Mix:
    if channels == 2:
        return _stereo
    if direction == "both":
        return _mono_mix
    if direction == "inbound":
        return lambda inbound, _: inbound
    return lambda _, outbound: bytes(outbound)  # a copy: the frame may view a player's buffer


class _Ticks:
    """The endpoint's one `sent_audio_tap` slot shared by several recorders."""

    def __init__(self, ticks: list[Tick]) -> None:
        self.ticks = ticks

    def __call__(self, sent: Frame | None) -> None:
        for tick in self.ticks:
            tick(sent)


def _attach(endpoint: RtpEndpoint, tick: Tick) -> None:
    current = endpoint.sent_audio_tap
    if current is None:
        endpoint.sent_audio_tap = tick
    elif isinstance(current, _Ticks):
        current.ticks = [*current.ticks, tick]
    else:
        endpoint.sent_audio_tap = _Ticks([current, tick])


def _detach(endpoint: RtpEndpoint, tick: Tick) -> bool:
    """False when `tick` was not attached."""
    current = endpoint.sent_audio_tap
    if current == tick:
        endpoint.sent_audio_tap = None
        return True
    if isinstance(current, _Ticks) and tick in current.ticks:
        rest = [t for t in current.ticks if t != tick]
        endpoint.sent_audio_tap = rest[0] if len(rest) == 1 else _Ticks(rest)
        return True
    return False


class CallRecorder:
    """`direction` both + `channels` 1: a mono mix; channels 2: inbound left, outbound right."""

    def __init__(self, endpoint: RtpEndpoint, path: str | Path, direction: Direction = "both",
                 channels: int = 1) -> None:
        if channels not in (1, 2) or (channels == 2 and direction != "both"):
            raise ValueError("two channels record both directions")
        self.endpoint = endpoint
        self.path = Path(path)
        self.direction = direction
        self.channels = channels
        self.frames = 0
        self._inbound: deque[bytes] = deque(maxlen=10)  # bounded: a stalled clock cannot grow it
        self._wav = wave.open(str(self.path), "wb")
        self._wav.setnchannels(channels)
        self._wav.setsampwidth(2)
        self._wav.setframerate(SAMPLE_RATE)
        self._mix = _mixer(direction, channels)
        self._pending: list[bytes] = []
        self._writes: deque[Future[None]] = deque()
        self.closed: Future[None] | None = None  # resolves once the file is complete on disk
        self.error: BaseException | None = None  # the first write that failed
        # Called on every tick with the inbound frame just recorded (silence detection, limits).
        self.on_frame: Callable[[bytes], None] | None = None
        self.paused = False  # the Calling API's record.pause / record.resume
        endpoint.add_audio_tap(self._inbound.append)
        _attach(endpoint, self._on_tick)

    @property
    def seconds(self) -> float:
        return self.frames * FRAME_SAMPLES / SAMPLE_RATE

    def _on_tick(self, sent: Frame | None) -> None:
        inbound = self._inbound.popleft() if self._inbound else SILENT_FRAME
        if self.paused:  # paused: nothing is recorded (the recording resumes where it left off)
            return
        # Both frames whole, or audioop would raise on the tick (and the clock drop the call).
        if len(inbound) != FRAME_BYTES:
            inbound = SILENT_FRAME
        outbound = sent if sent is not None and len(sent) == FRAME_BYTES else SILENT_FRAME
        self._pending.append(self._mix(inbound, outbound))
        self.frames += 1
        if len(self._pending) >= FLUSH_FRAMES:
            self._flush()
        if self.on_frame is not None:
            self.on_frame(inbound)

    def _flush(self) -> None:
        chunk, self._pending = b"".join(self._pending), []
        # writeframes also keeps the header's lengths current
        self._writes.append(_writer.submit(self._wav.writeframes, chunk))
        while self._writes and self._writes[0].done():
            error = self._writes.popleft().exception()
            if error is not None and self.error is None:  # e.g. disk full: the call goes on
                self.error = error
                log.error("recording to %s failed: %s", self.path, error)

    def stop(self) -> float:
        """Detach from the call and finish the file (on the writer thread: `closed` tells when);
        returns the recorded seconds."""
        if _detach(self.endpoint, self._on_tick):
            self.on_frame = None
            self.endpoint.remove_audio_tap(self._inbound.append)
            self._flush()
            self.closed = _writer.submit(self._wav.close)  # queued after this recording's writes
        return self.seconds
