"""Helpers for recording tests: known audio, WAV/MP3 reading, alignment with what a phone sent."""

from __future__ import annotations

import io
import time
import wave
from pathlib import Path

import httpx
import miniaudio
import numpy as np

import sandbox_calls
from wirexa.audio.pcm import write_wav
from wirexa.media.codecs import PCMU

RATE = 8000


def voice_like(seconds: float, seed: int = 7) -> bytes:
    """A known, loud, non-periodic signal (two gliding tones and noise, syllable-like level
    changes that never fall silent): what a phone "says" in the tests."""
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    rng = np.random.default_rng(seed)
    glide = np.sin(2 * np.pi * (300 * t + 400 * t * t / seconds))
    glide2 = np.sin(2 * np.pi * (1200 * t - 300 * t * t / seconds))
    envelope = 0.6 + 0.4 * np.sin(2 * np.pi * 3.0 * t) ** 2
    x = (0.55 * glide + 0.35 * glide2 + 0.1 * rng.standard_normal(n)) * envelope * 9000
    ramp = np.minimum(1.0, np.minimum(np.arange(n), np.arange(n)[::-1]) / 40)
    return np.clip(x * ramp, -32768, 32767).astype("<i2").tobytes()


def save_wav(path: Path, pcm: bytes) -> Path:
    write_wav(path, pcm)
    return path


def over_the_line(pcm: bytes) -> np.ndarray:
    """What arrives after G.711 µ-law (the sandbox phones and the engine negotiate PCMU)."""
    return np.frombuffer(PCMU.decode(PCMU.encode(pcm)), dtype="<i2").astype(np.float64)


def read_wav(blob: bytes) -> tuple[np.ndarray, int, int]:
    """(samples frames × channels as float, channels, rate)."""
    with wave.open(io.BytesIO(blob)) as w:
        channels, rate, width = w.getnchannels(), w.getframerate(), w.getsampwidth()
        assert width == 2
        data = w.readframes(w.getnframes())
    return np.frombuffer(data, dtype="<i2").reshape(-1, channels).astype(np.float64), channels, rate


def decode_mp3(blob: bytes, channels: int) -> np.ndarray:
    decoded = miniaudio.decode(blob, output_format=miniaudio.SampleFormat.SIGNED16, nchannels=channels,
                               sample_rate=RATE)
    return np.frombuffer(decoded.samples, dtype="<i2").reshape(-1, channels).astype(np.float64)


def best_correlation(recorded: np.ndarray, sent: np.ndarray) -> tuple[float, int]:
    """(normalised correlation, lag in samples) of `sent` found inside `recorded`."""
    if len(recorded) < len(sent):
        recorded = np.concatenate([recorded, np.zeros(len(sent) - len(recorded))])
    size = 1 << int(np.ceil(np.log2(len(recorded) + len(sent))))
    corr = np.fft.irfft(np.fft.rfft(recorded, size) * np.conj(np.fft.rfft(sent, size)), size)
    lag = int(np.argmax(corr[: len(recorded) - len(sent) + 1]))
    window = recorded[lag:lag + len(sent)]
    value = float(np.dot(window, sent) / (np.linalg.norm(window) * np.linalg.norm(sent) + 1e-9))
    return value, lag


def seconds_of_tone(samples: np.ndarray, hz: float) -> float:
    """How long a mono float signal holds a loud tone at `hz` (100 ms windows)."""
    return sandbox_calls.seconds_of_tone(np.clip(samples, -32768, 32767).astype("<i2").tobytes(), hz)


def download(url: str, timeout: float = 20.0, **kwargs: object) -> httpx.Response:
    """GET `url` until it stops answering 202 (a file still being made)."""
    deadline = time.monotonic() + timeout
    while True:
        r = httpx.get(url, **kwargs)  # type: ignore[arg-type]
        if r.status_code != 202 or time.monotonic() > deadline:
            return r
        time.sleep(0.05)
