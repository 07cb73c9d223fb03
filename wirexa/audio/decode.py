"""Audio files (WAV, MP3, FLAC, OGG Vorbis) → the media plane's 8 kHz mono PCM.

miniaudio decodes at the file's own rate and channel count; `to_8k_mono` then downmixes and
resamples with soxr (a real anti-alias filter: miniaudio's own resampler is linear). Pure CPU:
call it with `asyncio.to_thread` from anything that shares a loop with RTP.
"""

from __future__ import annotations

import miniaudio
import numpy as np

from wirexa.audio.pcm import AudioError, to_8k_mono

SUPPORTED = "WAV, MP3, FLAC or OGG Vorbis"


def decode_audio(blob: bytes | bytearray | memoryview) -> bytes:
    """The bytes of an audio file → 8 kHz 16-bit mono PCM. Raises AudioError for empty,
    truncated, unsupported or non-audio input."""
    if not blob:
        raise AudioError("empty audio file (0 bytes)")
    data = bytes(blob)  # cffi wants bytes, not bytearray/memoryview
    channels, rate = _native_format(data)
    try:
        decoded = miniaudio.decode(data, output_format=miniaudio.SampleFormat.SIGNED16,
                                   nchannels=channels, sample_rate=rate)
    except miniaudio.MiniaudioError as exc:
        raise AudioError(f"{_describe(data)} could not be decoded ({exc})") from exc
    if decoded.num_frames == 0:
        raise AudioError(f"{_describe(data)} holds no audio frames (empty or truncated)")
    samples = np.frombuffer(decoded.samples, dtype=np.int16)
    return to_8k_mono(samples, rate, channels)


def _native_format(data: bytes) -> tuple[int, int]:
    """(channels, sample rate) of the file, read by miniaudio's own format probe (the same one
    `miniaudio.decode` uses), so that decoding happens without conversion."""
    ffi, lib = miniaudio.ffi, miniaudio.lib
    decoder = ffi.new("ma_decoder *")
    config = lib.ma_decoder_config_init(lib.ma_format_s16, 0, 0)  # 0, 0: the file's own
    result = lib.ma_decoder_init_memory(data, len(data), ffi.addressof(config), decoder)
    if result != lib.MA_SUCCESS:
        raise AudioError(_unrecognised(data))
    try:
        channels, rate = int(decoder.outputChannels), int(decoder.outputSampleRate)
    finally:
        lib.ma_decoder_uninit(decoder)
    if channels < 1 or rate < 1:
        raise AudioError(f"{_describe(data)} has an invalid header ({channels} channels at {rate} Hz)")
    return channels, rate


def _kind(data: bytes) -> str | None:
    """What the first bytes say the file is (None: nothing we know)."""
    if data[:4] in (b"RIFF", b"RIFX", b"RF64") and data[8:12] == b"WAVE":
        return "WAV"
    if data[:4] == b"fLaC":
        return "FLAC"
    if data[:4] == b"OggS":
        if b"OpusHead" in data[:64]:
            return "Ogg Opus"
        return "Ogg"
    if data[:3] == b"ID3" or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0):
        return "MP3"
    return None


def _describe(data: bytes) -> str:
    kind = _kind(data)
    return f"the {kind} file ({len(data)} bytes)" if kind else f"the file ({len(data)} bytes)"


def _unrecognised(data: bytes) -> str:
    kind = _kind(data)
    if kind == "Ogg Opus":
        return f"Ogg Opus audio is not supported (use {SUPPORTED})"
    if kind is not None:
        return (f"{_describe(data)} cannot be decoded: truncated, or an encoding miniaudio does not "
                f"support")
    head = data[:256].lstrip().lower()
    if head.startswith(b"<"):
        return f"not audio but markup (starts {data[:40]!r}); expected {SUPPORTED}"
    if head.startswith((b"{", b"[")):
        return f"not audio but JSON-like text (starts {data[:40]!r}); expected {SUPPORTED}"
    return f"not a {SUPPORTED} file ({len(data)} bytes, starts {data[:16]!r})"
