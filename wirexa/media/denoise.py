"""Noise suppression on a call's inbound audio (`calling.denoise`): WebRTC's noise suppressor
(`webrtc-noise-gain`, the audio-processing module of WebRTC, maintained) at its highest level.

It runs at 16 kHz in 10 ms blocks: each 20 ms frame of 8 kHz telephone audio is doubled in rate
(zeros between samples, then a 31-tap half-band low-pass), suppressed in two blocks, filtered
and decimated back. soxr's streaming resamplers hand out audio in 100-200 ms lumps, too late
for a live call; the two short filters delay it by about 2 ms. Cost: bench/denoise_cost.py."""

from __future__ import annotations

import numpy as np
import webrtc_noise_gain

from .codecs import FRAME_BYTES, FRAME_SAMPLES

LEVEL = 4  # 0 (off) .. 4 (very high)
_BLOCK = 320  # bytes: 10 ms at 16 kHz, 16-bit
_TAPS = 31
# Half-band low-pass at a quarter of 16 kHz (4 kHz): windowed sinc.
_n = np.arange(_TAPS) - (_TAPS - 1) / 2
_LOWPASS = np.sinc(_n / 2) / 2 * np.hamming(_TAPS)
_LOWPASS /= _LOWPASS.sum()


class _Fir:
    """A FIR filter over a stream of blocks (keeps the last taps-1 samples between blocks)."""

    def __init__(self, taps: np.ndarray) -> None:
        self.taps = taps
        self.tail = np.zeros(len(taps) - 1)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        padded = np.concatenate((self.tail, x))
        self.tail = padded[-(len(self.taps) - 1):]
        return np.convolve(padded, self.taps, mode="valid")


class Denoiser:
    """`process(frame)`: one 20 ms frame of 8 kHz 16-bit PCM in, one (denoised) out."""

    def __init__(self, level: int = LEVEL) -> None:
        self._ns = webrtc_noise_gain.AudioProcessor(0, level)
        self._up = _Fir(_LOWPASS * 2)  # x2: the zeros halve the level
        self._down = _Fir(_LOWPASS)

    def process(self, frame: bytes) -> bytes:
        if len(frame) != FRAME_BYTES:
            return frame
        wide = np.zeros(2 * FRAME_SAMPLES)
        wide[::2] = np.frombuffer(frame, dtype="<i2")
        wide = np.clip(self._up(wide), -32768, 32767).astype("<i2").tobytes()
        cleaned = self._ns.Process10ms(wide[:_BLOCK]).audio + self._ns.Process10ms(wide[_BLOCK:]).audio
        narrow = self._down(np.frombuffer(cleaned, dtype="<i2").astype(np.float64))[::2]
        return np.clip(narrow, -32768, 32767).astype("<i2").tobytes()
