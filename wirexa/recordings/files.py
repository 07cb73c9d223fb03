"""Recording files: WAV repair after a crash, silence trimming, MP3 encoding. Pure CPU and
disk work: run it on a thread, never on the media loop.

WAV is 8 kHz 16-bit PCM, mono or two channels (inbound left, outbound right).

MP3 (lameenc, constant bit rate, MPEG 2.5 at 8 kHz) starts with a LAME "Info" frame holding the
encoder delay and padding, so decoders that honour it (miniaudio, ffmpeg, browsers) give back
exactly the WAV's samples: without it every MP3 would be ~0.15 s longer than its recording.
"""

from __future__ import annotations

import os
import struct
import wave
from dataclasses import dataclass
from pathlib import Path

import lameenc
import numpy as np

from wirexa.media.codecs import FRAME_SAMPLES, SAMPLE_RATE

SILENCE_RMS = 200.0  # a 20 ms frame quieter than this (about -44 dBFS) counts as silence
TRIM_MARGIN_FRAMES = 2  # kept on each side of the audio when trimming (40 ms): soft onsets survive
BIT_RATES = {1: 32, 2: 48}  # kbit/s, by channel count
MP3_FRAME_SAMPLES = 576  # MPEG 2 / 2.5 Layer III
ENCODER_DELAY = 576  # what LAME adds before the first sample
DECODER_DELAY = 529  # what an MP3 decoder adds (528 + 1), counted in the LAME tag's padding
_KBPS_V2 = (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)
_RATES_V25 = {0: 11025, 1: 12000, 2: 8000}
ENCODE_CHUNK = SAMPLE_RATE // 2  # frames per lameenc call: the GIL is free between calls


@dataclass(frozen=True)
class WavInfo:
    channels: int
    frames: int

    @property
    def seconds(self) -> float:
        return self.frames / SAMPLE_RATE


def wav_info(path: Path) -> WavInfo:
    with wave.open(str(path), "rb") as w:
        return WavInfo(w.getnchannels(), w.getnframes())


def write_empty_wav(path: Path, channels: int) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)


def repair_wav(path: Path, channels: int) -> WavInfo:
    """Make a WAV a killed engine left behind valid: the header's lengths set to the whole
    frames on disk (a torn last write is cut off). A file without a usable header becomes a
    valid empty WAV. Returns what the file holds now."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        size = 0
    data_start = length_at = None
    if size >= 12:
        with open(path, "rb") as f:
            head = f.read(4096)
        if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
            pos = 12
            while pos + 8 <= len(head):
                chunk, length = head[pos:pos + 4], int.from_bytes(head[pos + 4:pos + 8], "little")
                if chunk == b"fmt " and pos + 12 <= len(head):
                    found = int.from_bytes(head[pos + 10:pos + 12], "little")
                    channels = found if found in (1, 2) else channels
                elif chunk == b"data":
                    data_start, length_at = pos + 8, pos + 4
                    break
                pos += 8 + length + (length & 1)
    if data_start is None or length_at is None:
        write_empty_wav(path, channels)
        return WavInfo(channels, 0)
    block = 2 * channels
    frames = max(0, size - data_start) // block
    data_bytes = frames * block
    with open(path, "r+b") as f:
        f.truncate(data_start + data_bytes)
        f.seek(4)
        f.write(struct.pack("<I", data_start - 8 + data_bytes))
        f.seek(length_at)
        f.write(struct.pack("<I", data_bytes))
        f.flush()
        os.fsync(f.fileno())
    return WavInfo(channels, frames)


def _read(path: Path) -> tuple[np.ndarray, int]:
    """(samples as frames × channels, channels)."""
    with wave.open(str(path), "rb") as w:
        channels = w.getnchannels()
        data = w.readframes(w.getnframes())
    return np.frombuffer(data, dtype="<i2").reshape(-1, channels), channels


def loud_frames(samples: np.ndarray, threshold: float = SILENCE_RMS) -> np.ndarray:
    """Per 20 ms frame (the last one partial), whether any channel is louder than `threshold`."""
    n = len(samples)
    if n == 0:
        return np.zeros(0, dtype=bool)
    padded = np.zeros((-(-n // FRAME_SAMPLES) * FRAME_SAMPLES, samples.shape[1]), dtype=np.float32)
    padded[:n] = samples
    frames = padded.reshape(-1, FRAME_SAMPLES, samples.shape[1])
    rms = np.sqrt(np.mean(frames * frames, axis=1))
    return (rms >= threshold).any(axis=1)


def trim_silence(path: Path, threshold: float = SILENCE_RMS, margin: int = TRIM_MARGIN_FRAMES) -> WavInfo:
    """Cut leading and trailing silence (Twilio's trim-silence), keeping `margin` frames of it
    on each side; a recording with no sound at all becomes empty. Rewrites the file atomically."""
    samples, channels = _read(path)
    loud = loud_frames(samples, threshold)
    if not loud.any():
        start = end = 0
    else:
        first = int(np.argmax(loud))
        last = len(loud) - 1 - int(np.argmax(loud[::-1]))
        start = max(0, first - margin) * FRAME_SAMPLES
        end = min(len(samples), (last + 1 + margin) * FRAME_SAMPLES)
    if start == 0 and end == len(samples):
        return WavInfo(channels, len(samples))
    tmp = path.with_suffix(".wav.part")
    with wave.open(str(tmp), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(samples[start:end].tobytes())
    os.replace(tmp, path)
    return WavInfo(channels, end - start)


def has_sound(path: Path, threshold: float = SILENCE_RMS) -> bool:
    samples, _ = _read(path)
    return bool(loud_frames(samples, threshold).any())


# --- MP3 ------------------------------------------------------------------------------------

def _frame_bytes(header: int) -> int:
    if (header >> 21) & 0x7FF != 0x7FF or (header >> 19) & 3 != 0:  # sync, MPEG 2.5
        raise ValueError(f"unexpected MP3 frame header {header:08x}")
    return 72000 * _KBPS_V2[(header >> 12) & 15] // _RATES_V25[(header >> 10) & 3] + ((header >> 9) & 1)


def _crc16(data: bytes) -> int:
    """CRC-16/ARC, as the LAME tag's own checksum."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def _info_frame(header: int, size: int, channels: int, frames: int, total_bytes: int, padding: int) -> bytes:
    """A silent first frame carrying the Xing "Info" tag (CBR) and the LAME extension with the
    encoder delay and padding (gapless decoding)."""
    frame = bytearray(size)
    frame[0:4] = header.to_bytes(4, "big")
    at = 4 + (9 if channels == 1 else 17)  # after the side information
    tag = bytearray(b"Info")
    tag += struct.pack(">III", 0x0F, frames, total_bytes)  # frames, bytes, TOC, quality present
    tag += bytes(i * 256 // 100 for i in range(100))  # TOC of a constant bit rate stream
    tag += struct.pack(">I", 50)
    tag += b"LAME3.100" + bytes(2) + bytes(4) + bytes(4) + bytes(2)  # version, method, gains...
    tag += ((ENCODER_DELAY & 0xFFF) << 12 | (padding & 0xFFF)).to_bytes(3, "big")
    tag += bytes(4) + struct.pack(">I", total_bytes) + bytes(2)  # misc, music length, music CRC
    frame[at:at + len(tag)] = tag
    end = at + len(tag)
    frame[end:end + 2] = _crc16(bytes(frame[:end])).to_bytes(2, "big")
    return bytes(frame)


def encode_mp3(wav_path: Path, mp3_path: Path) -> int:
    """Encode a recording's WAV as MP3 (written to a .part file, then renamed into place);
    returns the MP3's size. Raises ValueError for a recording without samples."""
    with wave.open(str(wav_path), "rb") as w:
        channels, total = w.getnchannels(), w.getnframes()
        if total == 0:
            raise ValueError("the recording holds no audio")
        encoder = lameenc.Encoder()
        encoder.set_in_sample_rate(SAMPLE_RATE)
        encoder.set_channels(channels)
        encoder.set_bit_rate(BIT_RATES[channels])
        encoder.set_quality(2)
        info_size = 72000 * BIT_RATES[channels] // SAMPLE_RATE
        tmp = mp3_path.with_suffix(".mp3.part")
        with open(tmp, "wb") as out:
            out.write(bytes(info_size))  # the Info frame, written once the stream is known
            while True:
                pcm = w.readframes(ENCODE_CHUNK)
                if not pcm:
                    break
                out.write(encoder.encode(pcm))
            out.write(encoder.flush())
    with open(tmp, "r+b") as f:
        f.seek(info_size)
        audio = f.read()
        pos = frames = 0
        while pos + 4 <= len(audio):
            pos += _frame_bytes(int.from_bytes(audio[pos:pos + 4], "big"))
            frames += 1
        first = int.from_bytes(audio[:4], "big") & ~(1 << 9)  # the same format, no padding slot
        # Samples after the last real one; the tag counts the decoder's delay in it too.
        padding = frames * MP3_FRAME_SAMPLES - ENCODER_DELAY - DECODER_DELAY - total
        padding += DECODER_DELAY
        f.seek(0)
        f.write(_info_frame(first, info_size, channels, frames, info_size + len(audio), padding))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, mp3_path)
    return info_size + len(audio)
