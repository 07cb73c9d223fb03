"""<Record> and <Dial record> attributes: Twilio's defaults (semantics.md), seed 001's `silence`."""

from __future__ import annotations

import pytest

from wirexa.laml.nodes import LamlError
from wirexa.laml.parse import parse_document
from wirexa.laml.verbs import Dial, Record


def one(xml: str):  # type: ignore[no-untyped-def]
    verbs = parse_document(f"<Response>{xml}</Response>")
    assert len(verbs) == 1
    return verbs[0]


def test_record_defaults() -> None:
    r = one("<Record/>")
    assert isinstance(r, Record)
    assert (r.action, r.method, r.timeout, r.finish_on_key, r.max_length, r.play_beep, r.trim) == \
        ("", "POST", 5.0, "1234567890*#", 3600, True, True)
    assert (r.callback, r.callback_method, r.callback_events, r.transcribe) == ("", "POST", "", False)


def test_record_attributes_and_the_seed_silence_name() -> None:
    r = one('<Record action="/done" method="get" silence="3" finishOnKey="" maxLength="60" playBeep="false" '
            'trim="do-not-trim" recordingStatusCallback="/s" recordingStatusCallbackMethod="GET" '
            'recordingStatusCallbackEvent="in-progress completed absent"/>')
    assert (r.action, r.method, r.timeout, r.finish_on_key, r.max_length, r.play_beep, r.trim) == \
        ("/done", "GET", 3.0, "", 60, False, False)
    assert (r.callback, r.callback_method, r.callback_events) == ("/s", "GET", "in-progress completed absent")
    assert one('<Record timeout="2" silence="9"/>').timeout == 2.0  # Twilio's name wins
    assert one('<Record timeout="0"/>').timeout == 0.0  # silence never ends it
    assert one('<Record maxLength="0"/>').max_length == 3600


@pytest.mark.parametrize("xml", [
    '<Record finishOnKey="A"/>', '<Record trim="yes"/>', '<Record timeout="x"/>', '<Record maxLength="-1"/>',
    '<Record recordingStatusCallbackEvent="ringing"/>', "<Record><Say>no</Say></Record>",
    '<Record playBeep="maybe"/>',
])
def test_bad_record_attributes_are_refused(xml: str) -> None:
    with pytest.raises(LamlError):
        parse_document(f"<Response>{xml}</Response>")


def test_dial_record_attributes() -> None:
    d = one("<Dial>+13125551234</Dial>")
    assert isinstance(d, Dial)
    assert (d.record, d.trim, d.recording_callback, d.recording_callback_method) == ("do-not-record", False, "", "POST")
    d = one('<Dial record="record-from-ringing-dual" trim="trim-silence" recordingStatusCallback="/s" '
            'recordingStatusCallbackEvent="completed">+13125551234</Dial>')
    assert (d.record, d.trim, d.recording_callback, d.recording_callback_events) == \
        ("record-from-ringing-dual", True, "/s", "completed")
    with pytest.raises(LamlError):
        one('<Dial record="always">+13125551234</Dial>')
