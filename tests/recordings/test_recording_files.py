"""Recording files on their own: crash repair, trimming, MP3 that decodes to the WAV's length,
and the Range header parser."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from recording_support import decode_mp3, read_wav, voice_like
from wirexa.api.errors import ApiError
from wirexa.api.recordings import parse_range
from wirexa.recordings.files import encode_mp3, repair_wav, trim_silence, wav_info
from wirexa.recordings.storage import LocalStorage


def write(path: Path, samples: np.ndarray, channels: int = 1) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(samples.astype("<i2").tobytes())
    return path


@pytest.mark.parametrize(("channels", "frames"), [(1, 1), (1, 575), (1, 8000 * 7 + 123), (2, 8000 * 3 + 1)])
def test_mp3_decodes_to_exactly_the_wav_length(tmp_path: Path, channels: int, frames: int) -> None:
    rng = np.random.default_rng(frames)
    samples = (rng.standard_normal(frames * channels) * 4000).clip(-32768, 32767)
    wav = write(tmp_path / "a.wav", samples, channels)
    size = encode_mp3(wav, tmp_path / "a.mp3")
    blob = (tmp_path / "a.mp3").read_bytes()
    assert size == len(blob) and blob[13 if channels == 1 else 21:][:4] == b"Info"
    assert len(decode_mp3(blob, channels)) == frames
    assert not (tmp_path / "a.mp3.part").exists()


def test_empty_recordings_make_no_mp3(tmp_path: Path) -> None:
    wav = write(tmp_path / "e.wav", np.zeros(0))
    with pytest.raises(ValueError):
        encode_mp3(wav, tmp_path / "e.mp3")


def test_repair_fixes_a_stale_header_and_cuts_a_torn_write(tmp_path: Path) -> None:
    samples = np.frombuffer(voice_like(2.0), dtype="<i2")
    wav = write(tmp_path / "c.wav", samples)
    blob = bytearray(wav.read_bytes())
    blob[4:8] = (36 + 16000).to_bytes(4, "little")  # the header last written a second ago
    blob[40:44] = (16000).to_bytes(4, "little")
    wav.write_bytes(bytes(blob) + b"\x01")  # and half a sample of a write cut short
    assert wav_info(wav).frames == 8000
    info = repair_wav(wav, 1)
    assert info.frames == 16000 and wav_info(wav).frames == 16000
    got, _, _ = read_wav(wav.read_bytes())
    assert np.array_equal(got[:, 0], samples.astype(np.float64))


@pytest.mark.parametrize("content", [b"", b"RIFF", b"garbage that is no wav at all" * 3])
def test_repair_of_nothing_usable_is_a_valid_empty_wav(tmp_path: Path, content: bytes) -> None:
    wav = tmp_path / "n.wav"
    wav.write_bytes(content)
    assert repair_wav(wav, 2).frames == 0
    with wave.open(str(wav)) as w:
        assert (w.getnchannels(), w.getframerate(), w.getnframes()) == (2, 8000, 0)


def test_trim_keeps_the_sound_and_a_short_margin(tmp_path: Path) -> None:
    sound = np.frombuffer(voice_like(1.5), dtype="<i2")
    samples = np.concatenate([np.zeros(8000), sound, np.zeros(16000)])
    wav = write(tmp_path / "t.wav", samples)
    info = trim_silence(wav)
    assert abs(info.seconds - 1.5) <= 0.1 and wav_info(wav) == info
    silent = write(tmp_path / "s.wav", np.zeros(8000))
    assert trim_silence(silent).frames == 0


def test_local_storage_layout_and_delete(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    path = storage.working_path("REab" + "0" * 30, "wav")
    assert path == tmp_path / "ab" / ("REab" + "0" * 30 + ".wav")
    path.write_bytes(b"0123456789")
    assert storage.size("REab" + "0" * 30, "wav") == 10
    assert b"".join(storage.read("REab" + "0" * 30, "wav", 3, 4)) == b"3456"
    storage.delete("REab" + "0" * 30)
    assert storage.size("REab" + "0" * 30, "wav") is None
    with pytest.raises(ValueError):
        storage.working_path("../etc/passwd", "wav")


def test_range_header_parsing() -> None:
    assert parse_range(None, 100) is None
    assert parse_range("bytes=0-9", 100) == (0, 9)
    assert parse_range("bytes=90-", 100) == (90, 99)
    assert parse_range("bytes=-10", 100) == (90, 99)
    assert parse_range("bytes=-500", 100) == (0, 99)
    assert parse_range("bytes=50-5000", 100) == (50, 99)
    assert parse_range("bytes=0-1,5-6", 100) is None  # several ranges: the whole file
    assert parse_range("items=0-1", 100) is None
    for bad in ("bytes=100-", "bytes=9-3", "bytes=-0"):
        with pytest.raises(ApiError) as err:
            parse_range(bad, 100)
        assert err.value.status == 416
