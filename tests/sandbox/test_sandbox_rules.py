"""Rules (matching, validation, the TOML file) and the sandbox's audio helpers."""

from __future__ import annotations

import asyncio
import io
import wave

import numpy as np
import pytest

from wirexa.audio import pcm as audio_pcm
from wirexa.sandbox import audio
from wirexa.sandbox.rules import (READY_NUMBERS, Rule, RuleBook, RuleError, load_rules_file,
                                  ready_rules)


def test_ready_numbers_table():
    book = RuleBook(ready_rules())
    assert book.match("+15005550001").id == "human"
    assert book.match("15005550003").id == "busy"  # a missing "+" still matches
    assert book.match("+15005550005").final_code == 603
    assert book.match("+15005550006").final_code == 503
    assert book.match("+15005550004").outcome == "no-answer"
    assert book.match("+4930123456").id == "default"
    assert len({r["number"] for r in READY_NUMBERS if "number" in r}) == len(READY_NUMBERS) - 1


def test_exact_number_beats_patterns_and_new_rules_go_first():
    book = RuleBook(ready_rules())
    book.add(Rule.from_dict({"id": "uk", "prefix": "+44", "outcome": "busy"}))
    book.add(Rule.from_dict({"id": "catch", "regex": r"^\+1500555", "outcome": "fail"}))
    assert book.match("+15005550001").id == "human"  # exact wins over the newer regex
    assert book.match("+15005559999").id == "catch"
    assert book.match("+442071234567").id == "uk"
    with pytest.raises(RuleError, match="exists"):
        book.add(Rule.from_dict({"id": "uk", "prefix": "+44"}))
    assert book.put(Rule.from_dict({"id": "uk", "prefix": "+44", "outcome": "reject", "code": 404}))
    assert book.match("+442071234567").final_code == 404
    assert book.remove("uk") and not book.remove("uk")


@pytest.mark.parametrize("raw, message", [
    ({"ring": 1}, "exactly one of number, prefix, regex"),
    ({"number": "1", "prefix": "1"}, "exactly one of"),
    ({"number": "1", "outcome": "maybe"}, "outcome must be one of"),
    ({"number": "1", "ring": -1}, "ring must be a number"),
    ({"number": "1", "code": 200}, "code must be a SIP failure code"),
    ({"number": "1", "regex": None, "colour": "red"}, "unknown field"),
    ({"regex": "("}, "bad regex"),
    ({"number": "1", "script": [{"say": "hi", "dtmf": "1"}]}, "exactly one of"),
    ({"number": "1", "script": [{"dtmf": "12x"}]}, "dtmf digits"),
    ({"number": "1", "script": [{"dtmf": "1", "when": "loud"}]}, "when"),
    ({"number": "1", "script": [{"wait": "long"}]}, "bad value"),
    ({"number": "1", "script": [{"say": "hi", "volume": 3}]}, "no option 'volume'"),
    ({"number": "1", "script": {"say": "hi"}}, "must be a list"),
])
def test_invalid_rules_are_refused_with_a_reason(raw, message):
    with pytest.raises(RuleError, match=message):
        Rule.from_dict(raw)


def test_rule_round_trips_as_json():
    raw = {"id": "x", "number": "+1555", "ring": 2, "hangup_after": 30,
           "script": [{"say": "Hi", "voice": "en-gb"}, {"dtmf": "1", "when": "quiet", "quiet_ms": 500}]}
    rule = Rule.from_dict(raw)
    again = Rule.from_dict(rule.to_dict())
    assert again.to_dict() == rule.to_dict()
    assert rule.to_dict()["script"] == raw["script"]


def test_rules_file_errors_name_the_file(tmp_path):
    path = tmp_path / "rules.toml"
    path.write_text('[[rule]]\nnumber = "1"\n[[rule]]\nnumber = "2"\noutcome = "nope"\n')
    with pytest.raises(RuleError, match="rule 2: outcome"):
        load_rules_file(path)
    path.write_text('[[rule]]\nid = "a"\nnumber = "1"\n[[rule]]\nid = "a"\nnumber = "2"\n')
    with pytest.raises(RuleError, match="duplicate"):
        load_rules_file(path)
    path.write_text('rules = 1\n')
    with pytest.raises(RuleError, match="unknown top-level"):
        load_rules_file(path)
    path.write_text('[[rule]\n')
    with pytest.raises(RuleError):
        load_rules_file(path)


@pytest.mark.skipif(not audio.tts_available(), reason="espeak-ng not installed")
def test_tts_is_8khz_speech():
    pcm = asyncio.run(audio.tts("Hello?"))
    assert 0.3 < len(pcm) / 16000 < 1.5
    assert audio_pcm.rms(pcm) > 500
    assert asyncio.run(audio.tts("Hello?")) == pcm  # cached


def test_wav_decoding_resamples_and_mixes_down():
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(2), w.setsampwidth(2), w.setframerate(44100)
        x = (np.sin(2 * np.pi * 1000 * np.arange(44100) / 44100) * 10000).astype("<i2")
        w.writeframes(np.repeat(x, 2).tobytes())
    pcm = audio_pcm.decode_wav(buf.getvalue())
    assert len(pcm) == 16000
    assert abs(audio_pcm.dominant_frequency(pcm) - 1000) < 5
    assert 6500 < audio_pcm.rms(pcm) < 7500
    with pytest.raises(audio_pcm.AudioError):
        audio_pcm.decode_wav(b"not a wav")


def test_tones_and_inband_dtmf():
    beep = audio_pcm.tone(1000, 0.5)
    assert len(beep) == 8000 and abs(audio_pcm.dominant_frequency(beep) - 1000) < 3
    from wirexa.media.dtmf import InbandDtmfDetector, dtmf_tones

    detector = InbandDtmfDetector()
    pcm = dtmf_tones("19#")
    found = [d for i in range(0, len(pcm) - 319, 320) if (d := detector.feed(pcm[i:i + 320]))]
    assert found == ["1", "9", "#"]
