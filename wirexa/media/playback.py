"""Controls on what a call hears: pause/resume and volume (dB) over any audio source, and the
generated sounds a play list may hold (silence, national ringback tones).

`PlaybackControls` is shared by every source one play command plays (each item, each loop), so
a pause or a volume change applies to whatever of it is playing now and to what follows."""

from __future__ import annotations

import numpy as np

from .codecs import FRAME_BYTES, SAMPLE_RATE, SILENT_FRAME, audioop
from .player import AudioSource


class PlaybackControls:
    def __init__(self, volume_db: float = 0.0) -> None:
        self.paused = False
        self.gain = 1.0
        self.set_volume(volume_db)

    def set_volume(self, db: float) -> None:
        self.volume_db = db
        self.gain = 10 ** (db / 20)

    def wrap(self, source: AudioSource) -> AudioSource:
        return ControlledSource(source, self)


class ControlledSource:
    """`source` under `controls`: silence (the source not advancing) while paused, scaled by
    the gain otherwise."""

    def __init__(self, source: AudioSource, controls: PlaybackControls) -> None:
        self.source = source
        self.controls = controls

    def next_frame(self) -> bytes | memoryview | None:
        controls = self.controls
        if controls.paused:
            return SILENT_FRAME
        frame = self.source.next_frame()
        if frame is None or controls.gain == 1.0:
            return frame
        return audioop.mul(bytes(frame), 2, controls.gain)  # saturates at full scale

    def stop(self) -> None:
        self.source.stop()


def silence(seconds: float) -> bytes:
    n = int(round(seconds * SAMPLE_RATE))
    return bytes(n * 2 + (-n * 2) % FRAME_BYTES)


def ringtone(frequencies: tuple[float, ...], cadence: tuple[float, ...], seconds: float,
             amplitude: float = 0.15) -> bytes:
    """A ringback tone: `frequencies` summed, on/off `cadence` (seconds) repeated for
    `seconds` (0: one cadence)."""
    period = sum(cadence)
    total = seconds or period
    n = int(round(total * SAMPLE_RATE))
    t = np.arange(n) / SAMPLE_RATE
    wave = sum(np.sin(2 * np.pi * f * t) for f in frequencies) / len(frequencies)
    on = np.zeros(n, dtype=bool)
    phase = np.mod(t, period)
    start = 0.0
    for i, length in enumerate(cadence):
        if i % 2 == 0:
            on |= (phase >= start) & (phase < start + length)
        start += length
    pcm = (wave * on * amplitude * 32767).astype("<i2").tobytes()
    return pcm + bytes(-len(pcm) % FRAME_BYTES)
