"""A single-frequency tone detector (one DFT bin): fax calling (CNG, 1100 Hz) and answer (CED,
2100 Hz) tones for `calling.detect` type fax. A tone is reported once it has held `min_ms`
in frames where it carries most of the frame's energy."""

from __future__ import annotations

import math

import numpy as np

from .codecs import FRAME_MS, FRAME_SAMPLES, SAMPLE_RATE

CNG_HZ, CNG_MIN_MS = 1100.0, 400  # T.30 calling tone: 0.5 s bursts every 3 s
CED_HZ, CED_MIN_MS = 2100.0, 1000  # V.25 answer tone: 2.6-4 s
MIN_RMS = 100.0  # quieter frames are not a tone (about -50 dBFS)
SHARE = 0.6  # the tone's share of the frame's energy


class ToneDetector:
    def __init__(self, hz: float, min_ms: int) -> None:
        self.hz = hz
        self.min_frames = max(1, min_ms // FRAME_MS)
        n = np.arange(FRAME_SAMPLES)
        self._cos = np.cos(2 * math.pi * hz * n / SAMPLE_RATE)
        self._sin = np.sin(2 * math.pi * hz * n / SAMPLE_RATE)
        self._run = 0
        self.detected = False

    def feed(self, frame: bytes) -> bool:
        """One 20 ms frame; True on the frame where the tone has held long enough (once)."""
        if self.detected:
            return False
        x = np.frombuffer(frame, dtype="<i2").astype(np.float64)
        energy = float(np.dot(x, x))
        if energy < MIN_RMS * MIN_RMS * len(x):
            self._run = 0
            return False
        re, im = float(np.dot(x, self._cos)), float(np.dot(x, self._sin))
        share = 2 * (re * re + im * im) / (len(x) * energy)  # a pure tone at `hz` gives ~1
        self._run = self._run + 1 if share >= SHARE else 0
        if self._run >= self.min_frames:
            self.detected = True
            return True
        return False
