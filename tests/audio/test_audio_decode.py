"""decode_audio: real WAV / MP3 / FLAC / OGG files → 8 kHz mono PCM, with a real anti-alias
filter and clear errors for what is not audio."""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import miniaudio
import numpy as np
import pytest

from audio_helpers import interleave, mp3_file, seconds, sine, sound_span, sox_convert, wav_file
from wirexa.audio.decode import decode_audio
from wirexa.audio.pcm import AudioError, dominant_frequency, rms

FULL_SCALE_SINE_RMS = 32767 / np.sqrt(2)


@pytest.mark.parametrize(("encoding", "rate", "channels"), [
    ("u8", 22050, 1),
    ("s16", 44100, 2),
    ("s16", 8000, 1),
    ("s24", 48000, 2),
    ("s32", 16000, 1),
    ("f32", 44100, 2),
    ("ulaw", 8000, 1),
    ("alaw", 8000, 1),
])
def test_wav_encodings_keep_duration_pitch_and_level(encoding: str, rate: int, channels: int) -> None:
    tone = sine(1000, 1.5, rate, amplitude=0.5)
    blob = wav_file(interleave(*[tone] * channels), rate, channels, encoding)
    pcm = decode_audio(blob)
    assert seconds(pcm) == pytest.approx(1.5, abs=0.02)
    assert dominant_frequency(pcm) == pytest.approx(1000, abs=3)
    # right scale for the sample format (no 8-bit read as 16-bit, float not truncated to 0)
    assert rms(pcm) == pytest.approx(0.5 * FULL_SCALE_SINE_RMS, rel=0.05)


def test_stereo_is_mixed_down_not_just_the_left_channel() -> None:
    left, right = sine(500, 1.0, 44100), np.zeros(44100)
    pcm = decode_audio(wav_file(interleave(left, right), 44100, 2))
    assert dominant_frequency(pcm) == pytest.approx(500, abs=3)
    assert rms(pcm) == pytest.approx(0.25 * FULL_SCALE_SINE_RMS, rel=0.05)  # the mean of both
    only_right = decode_audio(wav_file(interleave(right, left), 44100, 2))
    assert rms(only_right) == pytest.approx(rms(pcm), rel=0.01)


def test_tone_above_4khz_is_filtered_out_not_aliased() -> None:
    """A 6 kHz tone cannot exist at 8 kHz: a real low-pass removes it, a bare resampler folds
    it down to 2 kHz (miniaudio's own linear resampler, for contrast)."""
    blob = wav_file(sine(6000, 1.0, 44100, amplitude=0.5), 44100)
    source_rms = 0.5 * FULL_SCALE_SINE_RMS
    pcm = decode_audio(blob)
    assert seconds(pcm) == pytest.approx(1.0, abs=0.02)
    assert rms(pcm) < 0.01 * source_rms
    naive = miniaudio.decode(blob, nchannels=1, sample_rate=8000).samples.tobytes()
    assert rms(naive) > 0.05 * source_rms and dominant_frequency(naive) == pytest.approx(2000, abs=5)


def test_telephone_band_tone_passes_the_filter() -> None:
    pcm = decode_audio(wav_file(sine(3400, 1.0, 44100, amplitude=0.5), 44100))
    assert dominant_frequency(pcm) == pytest.approx(3400, abs=3)
    assert rms(pcm) == pytest.approx(0.5 * FULL_SCALE_SINE_RMS, rel=0.03)


@pytest.mark.parametrize(("rate", "channels"), [(44100, 2), (22050, 1)])
def test_mp3_from_lame(rate: int, channels: int) -> None:
    tone = sine(440, 2.0, rate, amplitude=0.5)
    blob = mp3_file(interleave(*[tone] * channels), rate, channels)
    assert miniaudio.mp3_get_info(blob).sample_rate == rate  # really decoded at its own rate
    pcm = decode_audio(blob)
    assert dominant_frequency(pcm) == pytest.approx(440, abs=2)
    assert sound_span(pcm) == pytest.approx(2.0, abs=0.02)
    # Without a gapless (LAME/Xing) tag an MP3 decodes with the codec's delay in front
    # (576 + 529 samples for LAME) and the last frame's padding behind: ~25-50 ms at 44.1 kHz.
    assert 2.0 - 0.02 <= seconds(pcm) <= 2.0 + 0.1
    assert rms(pcm) == pytest.approx(0.5 * FULL_SCALE_SINE_RMS * sound_span(pcm) / seconds(pcm), rel=0.1)


@pytest.mark.skipif(shutil.which("sox") is None, reason="sox (Debian) makes the FLAC/OGG files")
@pytest.mark.parametrize("suffix", ["flac", "ogg"])
def test_flac_and_ogg_vorbis(suffix: str, tmp_path: Path) -> None:
    blob = sox_convert(wav_file(interleave(*[sine(750, 1.25, 44100)] * 2), 44100, 2), suffix, tmp_path)
    assert blob[:4] == (b"fLaC" if suffix == "flac" else b"OggS")
    pcm = decode_audio(blob)
    assert seconds(pcm) == pytest.approx(1.25, abs=0.02)
    assert dominant_frequency(pcm) == pytest.approx(750, abs=3)


def test_accepts_bytearray_and_memoryview() -> None:
    blob = wav_file(sine(1000, 0.5, 16000), 16000)
    assert decode_audio(bytearray(blob)) == decode_audio(memoryview(blob)) == decode_audio(blob)


def test_streamed_wav_header_with_bogus_length() -> None:
    """espeak-ng --stdout and other streamers write 0x7fffffff / 0xffffffff as the data size."""
    blob = bytearray(wav_file(sine(1000, 1.0, 22050), 22050))
    data_at = blob.find(b"data")
    for bogus in (0x7FFFFFFF, 0xFFFFFFFF):
        blob[4:8] = struct.pack("<I", bogus)
        blob[data_at + 4:data_at + 8] = struct.pack("<I", bogus)
        assert seconds(decode_audio(bytes(blob))) == pytest.approx(1.0, abs=0.02)


def test_wav_cut_short_plays_what_arrived() -> None:
    blob = wav_file(sine(1000, 2.0, 16000), 16000)
    pcm = decode_audio(blob[: 44 + 16000 * 2])  # header + the first second
    assert seconds(pcm) == pytest.approx(1.0, abs=0.02)


MP3 = mp3_file(sine(440, 0.5, 44100), 44100)
WAV = wav_file(sine(440, 0.5, 8000), 8000)


@pytest.mark.parametrize(("blob", "message"), [
    (b"", r"empty audio file \(0 bytes\)"),
    (b"<!DOCTYPE html><html><body>Not Found</body></html>", r"not audio but markup .*DOCTYPE"),
    (b'{"error": "nope"}', r"not audio but JSON"),
    (bytes(range(256)) * 8, r"not a WAV, MP3, FLAC or OGG Vorbis file \(2048 bytes"),
    (bytes(4096), r"not a WAV, MP3, FLAC or OGG Vorbis file"),
    (WAV[:30], r"the WAV file \(30 bytes\) cannot be decoded: truncated"),
    (WAV[:44], r"the WAV file \(44 bytes\) holds no audio frames \(empty or truncated\)"),
    (MP3[:200], r"the MP3 file \(200 bytes\) cannot be decoded: truncated"),
    (b"OggS\x00\x02" + bytes(22) + b"\x13OpusHead" + bytes(40), r"Ogg Opus audio is not supported"),
])
def test_errors_say_what_is_wrong(blob: bytes, message: str) -> None:
    with pytest.raises(AudioError, match=message):
        decode_audio(blob)
