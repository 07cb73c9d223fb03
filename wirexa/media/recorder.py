"""Recording a call's audio to WAV (8 kHz, 16-bit): what was sent, what arrived, or both.

The endpoint's clock drives it: on every tick one 20 ms frame is written, the frame sent and
the oldest frame received since (silence when none came), so the recording keeps real time
through packet loss and silence.
"""

from __future__ import annotations

import wave
from collections import deque
from pathlib import Path
from typing import Literal

import numpy as np

from .codecs import FRAME_BYTES, FRAME_SAMPLES, SAMPLE_RATE
from .rtp_endpoint import RtpEndpoint

Direction = Literal["both", "inbound", "outbound"]
SILENCE = np.zeros(FRAME_SAMPLES, dtype=np.int16)


def _samples(frame: bytes | memoryview | None) -> np.ndarray:
    if frame is None or len(frame) != FRAME_BYTES:
        return SILENCE
    return np.frombuffer(frame, dtype="<i2")


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
        endpoint.add_audio_tap(self._inbound.append)
        endpoint.sent_audio_tap = self._on_tick

    @property
    def seconds(self) -> float:
        return self.frames * FRAME_SAMPLES / SAMPLE_RATE

    def _on_tick(self, sent: bytes | memoryview | None) -> None:
        inbound = _samples(self._inbound.popleft() if self._inbound else None)
        outbound = _samples(sent)
        if self.channels == 2:
            out = np.column_stack((inbound, outbound)).ravel()
        elif self.direction == "both":
            out = np.clip(inbound.astype(np.int32) + outbound, -32768, 32767).astype(np.int16)
        else:
            out = inbound if self.direction == "inbound" else outbound
        self._wav.writeframesraw(out.astype("<i2").tobytes())
        self.frames += 1

    def stop(self) -> float:
        """Detach from the call and finish the file; returns the recorded seconds."""
        if self.endpoint.sent_audio_tap == self._on_tick:
            self.endpoint.sent_audio_tap = None
            self.endpoint.remove_audio_tap(self._inbound.append)
            self._wav.close()
        return self.seconds
