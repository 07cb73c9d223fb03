"""Answering machine detection on real calls: sandbox phones (a human saying "Hello?", the
voicemail with a greeting and a beep, silence) answer calls with MachineDetection set."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator

import httpx
import pytest
from twilio.rest import Client

from engine_support import RunningEngine, wait_status
from laml_backend import Backend
from sandbox_calls import FINAL, phone, phone_call, sandbox_engine

HUMAN, VOICEMAIL = "+15005550001", "+15005550002"
DOC = "<Response><Say>Hi.</Say><Hangup/></Response>"
_n = itertools.count(1)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEngine]:
    yield from sandbox_engine(tmp_path_factory.mktemp("amd-calls"), webhook_poll_interval=0.1)


def test_sync_amd_decides_human_fast_and_the_document_carries_it(server: RunningEngine, client: Client,
                                                                 web: Backend) -> None:
    path = f"/amd/{next(_n)}"
    call = client.calls.create(to=HUMAN, from_="+18005550100", url=web.route(path, DOC),
                               machine_detection="Enable",
                               status_callback=web.route(path + "/status", ""))
    got = web.wait_for(path, call.sid, timeout=20)
    assert got, "no document request"
    form = got[0].form
    assert form["AnsweredBy"] == "human", form
    assert int(form["MachineDetectionDuration"]) < 3500
    assert wait_status(client, call.sid, FINAL).answered_by == "human"
    done = web.wait_for(path + "/status", call.sid)
    assert done and done[0].form["AnsweredBy"] == "human"


def test_detect_message_end_waits_for_the_beep(server: RunningEngine, client: Client, web: Backend) -> None:
    path = f"/amd/{next(_n)}"
    call = client.calls.create(to=VOICEMAIL, from_="+18005550100", url=web.route(path, DOC),
                               machine_detection="DetectMessageEnd")
    got = web.wait_for(path, call.sid, timeout=30)
    assert got and got[0].form["AnsweredBy"] == "machine_end_beep", got and got[0].form
    wait_status(client, call.sid, FINAL)
    phone = phone_call(server, VOICEMAIL)
    # The greeting (~4 s) and the beep were over before the document was even requested: the
    # phone heard Wirexa only after its beep.
    assert int(got[0].form["MachineDetectionDuration"]) >= 4000
    assert phone["heard"]["loud_seconds"] > 0.3


def test_async_amd_posts_the_result_while_the_document_runs(server: RunningEngine, client: Client,
                                                             web: Backend) -> None:
    path = f"/amd/{next(_n)}"
    call = client.calls.create(
        to=VOICEMAIL, from_="+18005550100", url=web.route(path, '<Response><Pause length="8"/></Response>'),
        machine_detection="Enable", async_amd=True, async_amd_status_callback=web.route(path + "/amd", ""))
    doc = web.wait_for(path, call.sid, timeout=20)
    assert doc and "AnsweredBy" not in doc[0].form  # requested at answer, before any decision
    result = web.wait_for(path + "/amd", call.sid, timeout=20)
    assert result, "no AsyncAmdStatusCallback"
    form = result[0].form
    assert form["AnsweredBy"] == "machine_start" and form["AccountSid"] == server.project.sid
    assert int(form["MachineDetectionDuration"]) > 0 and "AmdDetectionTimeMs" in form and "AmdConfidence" in form
    assert result[0].at > doc[0].at
    client.calls(call.sid).update(status="completed")


def test_silence_is_unknown_after_the_silence_timeout(server: RunningEngine, client: Client, web: Backend) -> None:
    number = phone(server, [{"wait_for_hangup": True}], ring=0, hangup_after=30)
    path = f"/amd/{next(_n)}"
    started = time.monotonic()
    call = client.calls.create(to=number, from_="+18005550100", url=web.route(path, DOC),
                               machine_detection="Enable", machine_detection_silence_timeout=2000)
    got = web.wait_for(path, call.sid, timeout=20)
    assert got and got[0].form["AnsweredBy"] == "unknown"
    assert 2.0 <= got[0].at - started < 6.0


def test_invalid_amd_parameters_are_refused(server: RunningEngine) -> None:
    for field, value in (("MachineDetection", "Sometimes"), ("MachineDetectionTimeout", "2"),
                         ("MachineDetectionSpeechThreshold", "999"), ("MachineDetectionSilenceTimeout", "20000")):
        r = httpx.post(server.calls_url, auth=server.auth, data={
            "To": HUMAN, "From": "+18005550100", "Twiml": DOC, field: value})
        assert r.status_code == 400 and field in r.json()["message"], (field, r.text)


def test_labelled_recordings_played_by_phones_through_real_calls(server: RunningEngine, client: Client,
                                                                  web: Backend, tmp_path_factory) -> None:
    """The first file of each kind from the evaluation corpus (bench/amd_corpus.py), spoken by
    a sandbox phone into a real call: DetectMessageEnd must give each its label."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    import amd_corpus

    folder = tmp_path_factory.mktemp("amd-corpus")
    items = [i for i in amd_corpus.build(7, 1) if i.label["kind"] in
             ("human", "machine_beep", "machine_nobeep", "silence", "fax", "dtmf_human")]
    amd_corpus.write(items, folder)
    calls = {}
    for item in items:
        number = phone(server, [{"play": str(folder / item.name)}, {"wait_for_hangup": True}], ring=0,
                       hangup_after=40)
        path = f"/amd/{next(_n)}"
        call = client.calls.create(to=number, from_="+18005550100", url=web.route(path, DOC),
                                   machine_detection="DetectMessageEnd")
        calls[item.name] = (call.sid, path, item.label["expected"]["DetectMessageEnd"])
    for name, (sid, path, expected) in calls.items():
        got = web.wait_for(path, sid, timeout=40)
        assert got and got[0].form["AnsweredBy"] == expected, (name, got and got[0].form.get("AnsweredBy"))
