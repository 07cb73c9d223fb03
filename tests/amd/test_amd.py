"""Answering machine detection (wirexa.media.amd): parameters, and the classifier on a small
subset of the benchmark corpus (bench/amd_corpus.py) plus synthetic tones."""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import webrtcvad

from wirexa.audio.pcm import silence, tone
from wirexa.media.amd import (
    DETECT_MESSAGE_END, ENABLE, AmdDetector, AmdParams, AmdResult,
)
from wirexa.media.codecs import FRAME_BYTES
from wirexa.media.dtmf import dtmf_tones

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import amd_corpus  # noqa: E402

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")


def run(pcm: bytes, params: AmdParams | None = None, chunk: int = FRAME_BYTES) -> AmdResult:
    """Feed `pcm` in `chunk`-byte pieces, then silence, until the detector decides."""
    detector = AmdDetector(params or AmdParams())
    for i in range(0, len(pcm), chunk):
        result = detector.feed(pcm[i : i + chunk])
        if result is not None:
            assert detector.feed(pcm[i : i + chunk]) is None  # reported once
            assert detector.timeout() == result
            return result
    for _ in range(3000):
        result = detector.feed(bytes(FRAME_BYTES))
        if result is not None:
            return result
    raise AssertionError("no decision within 60 s of silence")


def noise(seconds: float, dbfs: float = -50.0, seed: int = 1) -> bytes:
    x = np.random.default_rng(seed).standard_normal(int(seconds * 8000)) * 32768 * 10 ** (dbfs / 20)
    return x.astype("<i2").tobytes()


# --- parameters ---------------------------------------------------------------------------------


def test_params_default_to_twilios():
    p = AmdParams()
    assert (p.mode, p.timeout_ms, p.speech_threshold_ms, p.speech_end_threshold_ms, p.silence_timeout_ms) == (
        "Enable", 30000, 2400, 1200, 5000)


def test_params_from_call_row_fields():
    row = {"machine_detection": "DetectMessageEnd", "machine_detection_timeout": 45,
           "machine_detection_speech_threshold": 3000, "machine_detection_speech_end_threshold": 800,
           "machine_detection_silence_timeout": 7000, "to_number": "+15005550006"}
    assert AmdParams.from_call(row) == AmdParams(DETECT_MESSAGE_END, 45000, 3000, 800, 7000)
    nulls = {"machine_detection": "Enable", "machine_detection_timeout": None,
             "machine_detection_speech_threshold": None, "machine_detection_speech_end_threshold": None,
             "machine_detection_silence_timeout": None}
    assert AmdParams.from_call(nulls) == AmdParams()
    assert AmdParams.from_call({"machine_detection": None}) is None
    assert AmdParams.from_call({}) is None


@pytest.mark.parametrize("kwargs", [
    {"mode": "enable"}, {"timeout_ms": 2000}, {"timeout_ms": 60000}, {"speech_threshold_ms": 999},
    {"speech_end_threshold_ms": 5001}, {"silence_timeout_ms": 1999},
])
def test_params_outside_twilios_ranges_are_refused(kwargs):
    with pytest.raises(ValueError):
        AmdParams(**kwargs)


# --- synthetic sounds ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [ENABLE, DETECT_MESSAGE_END])
def test_silence_and_line_noise_are_unknown_after_the_silence_timeout(mode):
    assert run(silence(8), AmdParams(mode)) == AmdResult("unknown", 5000, 0.0)
    assert run(noise(8, -40), AmdParams(mode, silence_timeout_ms=2000)).answered_by == "unknown"
    assert run(noise(8, -40), AmdParams(mode, silence_timeout_ms=2000)).duration_ms == 2000


def test_dtmf_is_not_speech():
    keys = dtmf_tones("1234567890*#ABCD", 120, 60, -8.0)
    frames = [keys[i : i + FRAME_BYTES] for i in range(0, len(keys) - FRAME_BYTES + 1, FRAME_BYTES)]
    vad = webrtcvad.Vad(3)
    assert sum(vad.is_speech(f, 8000) for f in frames) > len(frames) // 2  # what a bare VAD thinks
    pcm = silence(0.3) + keys * 3 + silence(1)
    assert run(pcm + noise(6, -55)).answered_by == "unknown"


def test_a_beep_alone_is_not_speech():
    pcm = silence(0.5) + tone(1000, 1.0, 0.3) + silence(0.5) + tone(440, 0.5, 0.3)
    assert run(pcm, AmdParams(DETECT_MESSAGE_END)).answered_by == "unknown"


@pytest.mark.parametrize("mode", [ENABLE, DETECT_MESSAGE_END])
def test_fax_calling_and_answer_tones(mode):
    cng = (silence(0.7) + tone(1100, 0.5, 0.2) + silence(3.0)) * 3
    result = run(cng + noise(1, -60), AmdParams(mode))
    assert result.answered_by == "fax" and 1100 <= result.duration_ms <= 1300
    ced = silence(0.2) + tone(2100, 3.3, 0.2) + silence(3)
    result = run(ced, AmdParams(mode))
    assert result.answered_by == "fax" and result.duration_ms <= 1400


def test_any_frame_size_decides_the_same():
    pcm = silence(0.7) + tone(1100, 0.5, 0.2) + silence(3.0)
    results = {run(pcm, chunk=c) for c in (FRAME_BYTES, 160, 480, 1000)}
    assert {r.answered_by for r in results} == {"fax"}
    assert max(r.duration_ms for r in results) - min(r.duration_ms for r in results) <= 20


def test_timeout_before_a_decision_is_unknown():
    detector = AmdDetector(AmdParams(DETECT_MESSAGE_END))
    for _ in range(50):
        assert detector.feed(bytes(FRAME_BYTES)) is None
    assert detector.timeout() == AmdResult("unknown", 1000, 0.0)
    assert detector.feed(bytes(FRAME_BYTES)) is None


def test_cost_per_frame_is_small():
    pcm = noise(3, -30) + tone(1000, 1, 0.3) + noise(3, -45)
    detector = AmdDetector(AmdParams(timeout_ms=59000, silence_timeout_ms=10000))
    frames = [pcm[i : i + FRAME_BYTES] for i in range(0, len(pcm), FRAME_BYTES)]
    t0 = time.process_time()
    for f in frames:
        detector.feed(f)
    us = (time.process_time() - t0) / len(frames) * 1e6
    assert us < 500  # ~20-40 us on the project's machines; generous against a loaded CI


# --- speech (espeak-ng), a few files of each kind from the benchmark corpus ----------------------


@pytest.fixture(scope="module")
def corpus() -> list[amd_corpus.Item]:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed")
    return amd_corpus.build(seed=7, per_class=1)


@needs_espeak
@pytest.mark.parametrize("mode", [ENABLE, DETECT_MESSAGE_END])
def test_corpus_subset(corpus, mode):
    assert {item.label["kind"] for item in corpus} >= {
        "human", "machine_beep", "machine_nobeep", "silence", "noise", "fax", "dtmf", "dtmf_human"}
    wrong = []
    for item in corpus:
        result = run(item.pcm, AmdParams(mode))
        label = item.label
        if result.answered_by != label["expected"][mode]:
            wrong.append((item.name, label["expected"][mode], result))
        elif result.answered_by == "human":  # fast: ~speech_end_threshold after they stop
            assert result.duration_ms - label["speech_end_ms"] <= 1500, (item.name, result)
        elif result.answered_by == "machine_end_beep":  # right after the beep
            assert 0 <= result.duration_ms - label["beep_end_ms"] <= 300, (item.name, result)
        elif result.answered_by == "machine_start":  # as soon as speech_threshold is reached
            assert result.duration_ms - label["speech_start_ms"] <= 3500, (item.name, result)
        assert 0.0 <= result.confidence <= 1.0
    assert not wrong


@needs_espeak
def test_machine_start_then_timeout_is_machine_end_other(corpus):
    greeting = next(i for i in corpus if i.label["kind"] == "machine_nobeep")
    start, end = greeting.label["speech_start_ms"], greeting.label["speech_end_ms"]
    assert end - start > 4000
    detector = AmdDetector(AmdParams(DETECT_MESSAGE_END))
    pcm = greeting.pcm[: (start + 3500) * 16]  # 16 bytes a millisecond
    assert all(detector.feed(pcm[i : i + FRAME_BYTES]) is None for i in range(0, len(pcm), FRAME_BYTES))
    assert detector.machine_start_ms is not None
    assert detector.timeout().answered_by == "machine_end_other"
    # The same greeting with a 3 s MachineDetectionTimeout: decided by the audio's own clock.
    result = run(greeting.pcm, AmdParams(DETECT_MESSAGE_END, timeout_ms=3000))
    assert result.answered_by == "machine_end_other" and result.duration_ms == 3000


@needs_espeak
def test_speech_end_threshold_sets_how_fast_a_human_is_decided(corpus):
    human = next(i for i in corpus if i.label["kind"] == "human")
    quick = run(human.pcm, AmdParams(speech_end_threshold_ms=500))
    slow = run(human.pcm, AmdParams(speech_end_threshold_ms=2000))
    assert quick.answered_by == slow.answered_by == "human"
    assert quick.duration_ms - human.label["speech_end_ms"] <= 600
    assert 1300 <= slow.duration_ms - quick.duration_ms <= 1700
