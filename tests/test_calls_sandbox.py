"""End to end through the sandbox carrier, as a new user runs Wirexa: REST create → the virtual
phone rings and answers → audio and digits both ways → hangup from either side."""

from __future__ import annotations

import asyncio
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from twilio.rest import Client

from engine_support import RunningEngine, call_engine_settings, free_port, wait_status
from laml_backend import HOLD, Backend
from siptest import free_udp_port
from wirexa.audio.pcm import tone

HUMAN, VOICEMAIL, BUSY, NO_ANSWER, REJECTED, FAILED, PRESSES_1, HANGS_UP = (
    f"+1500555000{i}" for i in range(1, 9))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEngine]:
    running = RunningEngine(call_engine_settings(
        tmp_path_factory.mktemp("calls-sandbox"), sandbox=True,
        sandbox_sip_port=free_udp_port(), sandbox_http_port=free_port(),
    ))
    try:
        yield running
    finally:
        running.close()


def place(client: Client, to: str, **kw: object):  # type: ignore[no-untyped-def]
    return client.calls.create(to=to, from_="+18005550100", twiml=HOLD, **kw)


def sandbox_call(server: RunningEngine, number: str) -> dict:
    assert server.engine.sandbox is not None
    url = server.engine.sandbox.http_url
    calls = httpx.get(f"{url}/calls", params={"number": number, "limit": 1}).json()
    listed = calls["calls"] if isinstance(calls, dict) else calls
    return httpx.get(f"{url}/calls/{listed[0]['id']}").json()


def test_audio_and_digits_both_ways_then_api_hangup(server: RunningEngine, client: Client) -> None:
    call = place(client, HUMAN, send_digits="12w3")
    assert wait_status(client, call.sid, {"in-progress", "failed", "no-answer"}).status == "in-progress"
    heard: list[bytes] = []

    async def talk() -> bool:
        live = server.engine.runner.live[call.sid]  # type: ignore[union-attr]
        assert live.media is not None
        untap = live.media.tap(heard.append)
        played = await live.media.play(tone(440, 1.5))  # Wirexa → phone
        await asyncio.sleep(0.3)
        untap()
        return played

    assert server.run(talk()) is True
    ended = client.calls(call.sid).update(status="completed")
    assert ended.status == "completed"
    phone = sandbox_call(server, HUMAN)
    # The phone heard Wirexa's tone, and the SendDigits sent after answer.
    assert phone["heard"]["loud_seconds"] >= 1.0, phone["heard"]
    assert phone["digits"] == "123"
    # Wirexa heard the phone ("Hello?" spoken by espeak-ng).
    frames = [np.frombuffer(f, dtype="<i2").astype(float) for f in heard]
    assert max(float(np.sqrt(np.mean(f * f))) for f in frames) > 500
    assert phone["ended_by"] == "remote"


def test_phone_presses_a_key_and_wirexa_receives_it(server: RunningEngine, client: Client) -> None:
    call = place(client, PRESSES_1)
    assert wait_status(client, call.sid, {"in-progress"}).status == "in-progress"

    async def prompt_then_listen() -> str | None:
        live = server.engine.runner.live[call.sid]  # type: ignore[union-attr]
        assert live.media is not None
        await live.media.play(tone(600, 1.0))  # the phone presses 1 once this goes quiet
        return await live.media.next_digit(timeout=5)

    assert server.run(prompt_then_listen()) == "1"
    client.calls(call.sid).update(status="completed")


def test_phone_hangs_up_first(server: RunningEngine, client: Client) -> None:
    call = place(client, HANGS_UP)
    done = wait_status(client, call.sid, {"completed", "failed"})
    assert done.status == "completed" and int(done.duration) >= 1
    assert sandbox_call(server, HANGS_UP)["ended_by"] == "local"


@pytest.mark.parametrize(("number", "status", "code"), [
    (BUSY, "busy", 486), (REJECTED, "failed", 603), (FAILED, "failed", 503),
])
def test_unanswered_outcomes(server: RunningEngine, client: Client, number: str, status: str, code: int) -> None:
    call = place(client, number)
    assert wait_status(client, call.sid, {status, "completed"}).status == status
    stored = server.engine.calls.get(server.project.sid, call.sid)
    assert stored is not None and stored["sip_response_code"] == code


def test_no_answer_after_timeout(server: RunningEngine, client: Client) -> None:
    call = place(client, NO_ANSWER, timeout=2)
    assert wait_status(client, call.sid, {"no-answer", "failed"}).status == "no-answer"
    assert sandbox_call(server, NO_ANSWER)["final_code"] == 487


def test_canceled_while_ringing(server: RunningEngine, client: Client) -> None:
    call = place(client, NO_ANSWER, timeout=30)
    assert wait_status(client, call.sid, {"ringing"}).status == "ringing"
    assert client.calls(call.sid).update(status="canceled").status == "canceled"


def test_sandbox_calls_a_wirexa_number(server: RunningEngine, client: Client, backend: Backend) -> None:
    client.incoming_phone_numbers.create(phone_number="+13125550777", voice_url=backend.route("/in", HOLD))
    assert server.engine.sandbox is not None
    r = httpx.post(f"{server.engine.sandbox.http_url}/calls", json={
        "from": "+15005550001", "to": "+13125550777",
        "target": f"127.0.0.1:{server.settings.sip_port}",
        "script": [{"wait": 0.5}], "hangup_when_done": True,
    })
    assert r.status_code in (200, 201), r.text
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        calls = client.calls.list(to="+13125550777", limit=1)
        if calls and calls[0].status == "completed":
            break
        time.sleep(0.1)
    assert calls and calls[0].direction == "inbound" and calls[0].status == "completed"
    assert calls[0]._from == "+15005550001"


def test_health_reports_sip(server: RunningEngine) -> None:
    body = httpx.get(f"{server.base_url}/health").json()
    assert body["status"] == "ok" and body["sip"] == "ok" and body["database"] == "ok"


def test_recording_both_directions_and_bridging_two_calls(server: RunningEngine, client: Client,
                                                           tmp_path: Path) -> None:
    """Two phones bridged through Wirexa: one hears what the other says; recordings hold it."""
    assert server.engine.sandbox is not None
    talker = "+15005559001"
    r = httpx.put(f"{server.engine.sandbox.http_url}/rules/bridge-talker", json={
        "number": talker, "ring": 0, "outcome": "answer",
        "script": [{"wait": 1.5}, {"say": "This is the second phone talking to the first one."},
                   {"wait_for_hangup": True}]})
    assert r.status_code in (200, 201), r.text
    listener = place(client, HUMAN)
    assert wait_status(client, listener.sid, {"in-progress"}).status == "in-progress"
    mono, dual = tmp_path / "mono.wav", tmp_path / "dual.wav"

    async def record_a_prompt() -> None:
        media = server.engine.runner.live[listener.sid].media  # type: ignore[union-attr]
        recording = media.record(mono)
        await media.play(tone(440, 1.0))  # Wirexa → phone A, recorded (mono mix)
        recording.stop()
        await asyncio.wrap_future(recording.closed)

    server.run(record_a_prompt())
    speaker = place(client, talker)
    assert wait_status(client, speaker.sid, {"in-progress"}).status == "in-progress"

    async def bridge() -> None:
        runner = server.engine.runner
        assert runner is not None
        a, b = runner.live[listener.sid].media, runner.live[speaker.sid].media
        assert a is not None and b is not None
        recording = a.record(dual, channels=2)
        a.bridge(b)
        await asyncio.sleep(4.0)  # the talker speaks after 1.5 s
        b.unbridge()
        recording.stop()
        await asyncio.wrap_future(recording.closed)

    server.run(bridge())
    heard_before = sandbox_call(server, HUMAN)["heard"]["loud_seconds"]
    for call in (listener, speaker):
        client.calls(call.sid).update(status="completed")
    assert heard_before >= 1.0 + 0.5  # the tone, then the other phone's speech
    with wave.open(str(mono)) as w:
        assert (w.getnchannels(), w.getframerate()) == (1, 8000)
        assert 0.9 <= w.getnframes() / 8000 <= 1.3
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(float)
    assert float(np.sqrt(np.mean(pcm * pcm))) > 1000
    with wave.open(str(dual)) as w:
        assert w.getnchannels() == 2 and 3.5 <= w.getnframes() / 8000 <= 4.5
        stereo = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, 2).astype(float)
    to_listener = stereo[:, 1]  # right channel: what Wirexa sent to phone A = phone B's speech
    assert float(np.sqrt(np.mean(to_listener * to_listener))) > 200
