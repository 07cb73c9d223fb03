"""Parsing LaML: every verb's defaults and checks, as semantics.md lists them."""

from __future__ import annotations

import pytest

from wirexa.laml.nodes import LamlError
from wirexa.laml.parse import parse_document
from wirexa.laml.verbs import Dial, Gather, Hangup, Pause, Play, Redirect, Reject, Say


def one(xml: str):  # type: ignore[no-untyped-def]
    verbs = parse_document(f"<Response>{xml}</Response>")
    assert len(verbs) == 1
    return verbs[0]


def test_defaults_of_every_verb() -> None:
    assert one("<Say>Hello</Say>") == Say("Hello", "woman", "en-US", 1)
    assert one("<Play>a.wav</Play>") == Play("a.wav", 1, "")
    assert one("<Pause/>") == Pause(1.0)
    assert one("<Hangup/>") == Hangup()
    assert one("<Redirect/>") == Redirect("", "POST")
    assert one("<Reject/>") == Reject("rejected")
    g = one("<Gather/>")
    assert isinstance(g, Gather)
    assert (g.action, g.method, g.timeout, g.finish_on_key, g.num_digits, g.action_on_empty_result) == \
        ("", "POST", 5.0, "#", None, False)
    d = one("<Dial>+13125551234</Dial>")
    assert isinstance(d, Dial)
    assert (d.timeout, d.time_limit, d.hangup_on_star, d.caller_id, d.record) == (30, 14400, False, "", "do-not-record")
    assert [t.to for t in d.targets] == ["+13125551234"]


def test_attributes_are_read_whatever_their_case_and_ssml_is_spoken_as_text() -> None:
    say = one('<Say voice="polly.Joanna" LANGUAGE="es-MX" loop="0">Hola <break time="1s"/> amigo</Say>')
    assert say == Say("Hola amigo", "polly.Joanna", "es-MX", 0)
    g = one('<Gather numdigits="4" finishOnKey="" timeout="3" actionOnEmptyResult="true" method="get">'
            '<Say>a</Say><Play>b.mp3</Play><Pause length="2"/></Gather>')
    assert (g.num_digits, g.finish_on_key, g.timeout, g.action_on_empty_result, g.method) == (4, "", 3.0, True, "GET")
    assert [type(v).__name__ for v in g.prompt] == ["Say", "Play", "Pause"]


def test_transfer_is_dial_with_number_and_sip_nouns() -> None:
    d = one('<Transfer callerId="+18005550100" timeout="12" hangupOnStar="true">'
            '<Number sendDigits="ww12">+13125551234</Number><Sip>sip:bob@example.com</Sip></Transfer>')
    assert isinstance(d, Dial) and d.caller_id == "+18005550100" and d.timeout == 12 and d.hangup_on_star
    assert [(t.to, t.send_digits) for t in d.targets] == [("+13125551234", "ww12"), ("sip:bob@example.com", "")]


@pytest.mark.parametrize(("xml", "words"), [
    ("<Dance/>", "unknown verb <Dance>"),
    ("<Conference>room</Conference>", "not supported"),
    ("<Gather><Gather/></Gather>", "<Gather> cannot be used in <Gather>"),
    ("<Gather><Hangup/></Gather>", "<Hangup> cannot be used in <Gather>"),
    ("<Number>+13125551234</Number>", "<Number> cannot be used in <Response>"),
    ("<Say><Play>x</Play></Say>", "<Play> cannot be nested in <Say>"),
    ("<Dial><Say>x</Say></Dial>", "<Say> cannot be nested in <Dial>"),
    ("<Dial/>", "needs a number"),
    ('<Say loop="-1">x</Say>', "loop"),
    ('<Gather finishOnKey="ab"/>', "finishOnKey"),
    ('<Gather input="telepathy"/>', "input"),
    ('<Redirect method="PUT">x</Redirect>', "GET or POST"),
    ('<Reject reason="nope"/>', "rejected or busy"),
    ('<Dial timeout="9999">+13125551234</Dial>', "timeout"),
    ('<Play digits="12x"/>', "digits"),
    ("<Play/>", "needs an audio URL"),
])
def test_misplaced_unknown_and_bad_values_are_reported(xml: str, words: str) -> None:
    with pytest.raises(LamlError) as err:
        parse_document(f"<Response>{xml}</Response>")
    assert words in str(err.value) and err.value.code == 12200


@pytest.mark.parametrize("text", [
    "not xml at all",
    "<Response><Say>x</Response>",
    "<Speak><Say>x</Say></Speak>",
    '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><Response><Say>&b;</Say></Response>',
])
def test_documents_that_are_not_laml_or_unsafe_are_refused(text: str) -> None:
    with pytest.raises(LamlError) as err:
        parse_document(text)
    assert err.value.code == 12100


def test_an_empty_response_has_no_verbs_and_a_namespace_is_ignored() -> None:
    assert parse_document("<Response/>") == []
    assert parse_document('<Response xmlns="http://www.twilio.com/"><Hangup/></Response>') == [Hangup()]
