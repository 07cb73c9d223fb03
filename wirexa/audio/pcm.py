"""8 kHz telephony PCM: resampling (soxr, anti-aliased; never `audioop.ratecv` to
downsample), WAV in and out, tones, and measurements of what a call heard.

All PCM here is what the media plane uses: 8 kHz, 16-bit signed little-endian, mono.
"""

from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np
import soxr

from wirexa.media.codecs import FRAME_BYTES, SAMPLE_RATE



class AudioError(RuntimeError):
    """Audio (speech, a file) could not be turned into 8 kHz PCM."""


def to_8k_mono(samples: np.ndarray, rate: int, channels: int = 1) -> bytes:
    """int16 samples (interleaved when channels > 1) at `rate` → 8 kHz mono PCM bytes."""
    data = samples.astype(np.float32)
    if channels > 1:
        data = data[: len(data) // channels * channels].reshape(-1, channels).mean(axis=1)
    if rate != SAMPLE_RATE and len(data):
        data = soxr.resample(data, rate, SAMPLE_RATE, quality="HQ")
    return np.clip(np.rint(data), -32768, 32767).astype("<i2").tobytes()


def decode_wav(blob: bytes) -> bytes:
    """A PCM WAV (8/16-bit, any rate, any channels) → 8 kHz mono PCM. Tolerates the bogus
    lengths of streamed WAV headers (espeak-ng --stdout writes 0x7fffffff)."""
    try:
        with wave.open(io.BytesIO(blob)) as w:
            channels, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
            frames = w.readframes(min(w.getnframes(), len(blob)))
    except (wave.Error, EOFError) as exc:
        raise AudioError(f"not a PCM WAV file: {exc}") from exc
    if width == 2:
        samples = np.frombuffer(frames[: len(frames) // 2 * 2], dtype="<i2")
    elif width == 1:  # unsigned 8-bit
        samples = (np.frombuffer(frames, dtype=np.uint8).astype(np.int16) - 128) << 8
    else:
        raise AudioError(f"unsupported WAV sample width {width * 8} bits (use 16-bit PCM)")
    return to_8k_mono(samples, rate, channels)


def load_wav(path: str | Path) -> bytes:
    try:
        blob = Path(path).read_bytes()
    except OSError as exc:
        raise AudioError(f"cannot read {path}: {exc}") from exc
    return decode_wav(blob)


def wav_bytes(pcm: bytes) -> bytes:
    """8 kHz mono 16-bit PCM → a WAV file's bytes (stdlib `wave`)."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(pcm)
    return out.getvalue()


def write_wav(path: str | Path, pcm: bytes) -> None:
    Path(path).write_bytes(wav_bytes(pcm))


def tone(frequency: float, seconds: float, amplitude: float = 0.3) -> bytes:
    """A sine tone (amplitude as a fraction of full scale), with 5 ms ramps against clicks."""
    n = int(round(seconds * SAMPLE_RATE))
    t = np.arange(n) / SAMPLE_RATE
    wave_ = np.sin(2 * np.pi * frequency * t) * amplitude * 32767
    ramp = min(n // 2, 40)
    if ramp:
        env = np.linspace(0.0, 1.0, ramp)
        wave_[:ramp] *= env
        wave_[-ramp:] *= env[::-1]
    return wave_.astype("<i2").tobytes()


def silence(seconds: float) -> bytes:
    return bytes(int(round(seconds * SAMPLE_RATE)) * 2)


def rms(pcm: bytes | memoryview) -> float:
    """Root mean square of 16-bit PCM (0 for nothing)."""
    samples = np.frombuffer(pcm, dtype="<i2")
    if not len(samples):
        return 0.0
    x = samples.astype(np.float32)
    return float(np.sqrt(np.mean(x * x)))


def dominant_frequency(pcm: bytes, rate: int = SAMPLE_RATE) -> float:
    """The strongest frequency in `pcm` (Hann-windowed FFT), 0 for silence."""
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    if len(samples) < 2 or not samples.any():
        return 0.0
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.argmax(spectrum) * rate / len(samples))


def frames(pcm: bytes) -> int:
    return (len(pcm) + FRAME_BYTES - 1) // FRAME_BYTES
