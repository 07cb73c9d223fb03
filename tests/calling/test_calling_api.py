"""The Calling API end to end: signalwire-sdk's RestClient(...).calling against a live engine
whose calls reach sandbox phones; effects checked on the phones (what they heard, the digits
they got) and on the JSON events a real HTTP server receives at the status_url."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import sandbox_calls
from calling_support import events, rest_client, status_route, wait_answered, wait_event
from engine_support import RunningEngine
from laml_backend import Backend
from sandbox_calls import heard_pcm, phone, phone_call, sandbox_engine
from wirexa.audio.pcm import dominant_frequency, rms
from wirexa.calling.ids import call_id, call_sid

pytest.importorskip("signalwire.rest")
from signalwire.rest import SignalWireRestError  # noqa: E402

FROM = "+18005550100"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEngine]:
    yield from sandbox_engine(tmp_path_factory.mktemp("calling"))


@pytest.fixture(scope="module")
def sw(server: RunningEngine) -> Any:
    return rest_client(server)


def error_of(call: Any) -> SignalWireRestError:
    with pytest.raises(SignalWireRestError) as caught:
        call()
    return caught.value


def answered_call(sw: Any, server: RunningEngine, web: Backend, number: str, name: str, **extra: Any) -> str:
    status_url = status_route(web, name)
    leg = sw.calling.dial(from_=FROM, to=number, status_url=status_url, **extra)
    assert leg["status"] == "queued"
    got = wait_answered(sw, server, leg["id"])
    assert got["status"] == "in-progress", got
    return leg["id"]


def seconds_of_tone(pcm: bytes, hz: float) -> float:
    return sandbox_calls.seconds_of_tone(pcm, hz, loudness=500)


# --- the endpoint ---------------------------------------------------------------------------------


def test_ids_are_the_call_sids_128_bits() -> None:
    sid = "CA0e9c80d7a1494917892d420043709f45"
    assert call_id(sid) == "0e9c80d7-a149-4917-892d-420043709f45"
    assert call_sid(call_id(sid)) == sid and call_sid(sid) == sid
    assert call_sid("not-a-call") is None


def test_validation_errors_name_the_field(server: RunningEngine, sw: Any) -> None:
    url = f"{server.base_url}/api/calling/calls"
    r = httpx.post(url, json={"params": {}}, auth=server.auth)
    assert r.status_code == 400 and r.json()["errors"][0]["attribute"] == "command"
    r = httpx.post(url, json={"command": "calling.fly", "id": call_id("CA" + "0" * 32), "params": {}},
                   auth=server.auth)
    assert r.status_code == 400 and "calling.fly" in r.json()["message"]
    r = httpx.post(url, content=b"{nope", auth=server.auth, headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    r = httpx.post(url, json={"command": "dial", "params": {}}, auth=(server.project.sid, "PTwrong"))
    assert r.status_code == 401

    err = error_of(lambda: sw.calling.dial(from_=FROM, to="not a number"))
    assert err.status_code == 422 and err.body["errors"][0]["attribute"] == "params.to"
    err = error_of(lambda: sw.calling.dial(from_=FROM, to="+15005550001", status_events=["exploded"]))
    assert err.status_code == 422 and err.body["errors"][0]["attribute"] == "params.status_events"
    err = error_of(lambda: sw.calling.dial(from_=FROM, to="+15005550001", codecs=["OPUS"]))
    assert err.status_code == 422 and err.body["errors"][0]["attribute"] == "params.codecs"
    unknown = call_id("CA" + "1" * 32)
    err = error_of(lambda: sw.calling.end(unknown, reason="hangup"))
    assert err.status_code == 404 and err.body["errors"][0]["attribute"] == "id"
    err = error_of(lambda: sw.calling.update(id=unknown, status="completed"))
    assert err.status_code == 404 and err.body["errors"][0]["attribute"] == "params.id"


def test_not_available_commands_say_so(server: RunningEngine, sw: Any, web: Backend) -> None:
    number = phone(server, [{"wait_for_hangup": True}])
    cid = answered_call(sw, server, web, number, "na")
    for attempt, what in [
        (lambda: sw.calling.transcribe(cid, control_id="t1"), "transcription"),
        (lambda: sw.calling.transcribe_stop(cid, control_id="t1"), "transcription"),
        (lambda: sw.calling.live_transcribe(cid, action={"start": {"lang": "en"}}), "transcription"),
        (lambda: sw.calling.live_translate(cid, action={"start": {"from_lang": "en", "to_lang": "es"}}),
         "translation"),
        (lambda: sw.calling.ai_message(cid, role="user", message_text="hi"), "AI"),
        (lambda: sw.calling.ai_hold(cid, timeout=10, prompt="wait"), "AI"),
        (lambda: sw.calling.ai_unhold(cid, prompt="back"), "AI"),
        (lambda: sw.calling.ai_stop(cid, control_id="a1"), "AI"),
        (lambda: sw.calling.send_fax_stop(cid, control_id="f1"), "Fax"),
        (lambda: sw.calling.receive_fax_stop(cid, control_id="f1"), "Fax"),
        (lambda: sw.calling.collect(cid, speech={"end_silence_timeout": 1}), "Speech"),
    ]:
        err = error_of(attempt)
        assert err.status_code == 501, (what, err.body)
        assert what.lower() in err.body["message"].lower() and "not available" in err.body["message"]
    # Validated first: a missing field is named before the capability is refused.
    err = error_of(lambda: sw.calling.execute if False else sw.calling.ai_stop(cid, control_id=""))
    assert err.status_code == 400 and err.body["errors"][0]["attribute"] == "params.control_id"
    err = error_of(lambda: sw.calling.collect(cid))
    assert err.status_code == 400 and "digits" in err.body["message"]
    sw.calling.end(cid, reason="hangup")


# --- lifecycle -------------------------------------------------------------------------------------


def test_dial_update_end_with_state_events(server: RunningEngine, sw: Any, web: Backend) -> None:
    number = phone(server, [{"wait_for_hangup": True}], ring=0.5)
    status_url = status_route(web, "life")
    leg = sw.calling.dial(from_=FROM, to=number, status_url=status_url, extras={"timeout": 20})
    assert set(leg) >= {"id", "from", "to", "direction", "status", "created_at", "source", "type", "charge"}
    assert (leg["from"], leg["to"], leg["direction"], leg["type"]) == (FROM, number, "outbound-api",
                                                                     "relay_pstn_call")
    cid = leg["id"]
    # The REST API sees the same call under its CallSid.
    rest = wait_answered(sw, server, cid)
    assert rest["sid"] == call_sid(cid) and rest["status"] == "in-progress"
    # A canceled update is only for calls not answered yet; url only once answered.
    err = error_of(lambda: sw.calling.update(id=cid, status="canceled"))
    assert err.status_code == 422 and err.body["errors"][0]["attribute"] == "params.status"
    web.route("/life/voice", "<Response><Say>Now running LaML.</Say><Pause length=\"30\"/></Response>")
    updated = sw.calling.update(id=cid, url=f"{web.url}/life/voice")
    assert updated["status"] == "answered" and updated["id"] == cid
    got = web.wait_for("/life/voice")
    assert got and got[0].form["CallSid"] == call_sid(cid)
    time.sleep(1.5)
    ended = sw.calling.end(cid, reason="hangup")
    assert ended["status"] == "completed" and ended["end_reason"] == "hangup"
    err = error_of(lambda: sw.calling.update(id=cid, status="completed"))
    assert err.status_code == 422
    err = error_of(lambda: sw.calling.play(cid, play=[{"type": "silence", "params": {"duration": 1}}]))
    assert err.status_code == 422
    final = wait_event(web, "/status/life", lambda e: e["params"].get("call_state") == "ended")
    states = [e["params"]["call_state"] for e in events(web, "/status/life")]
    assert states == ["created", "ringing", "answered", "ending", "ended"], states
    assert final["event_type"] == "calling.call.state" and final["call_id"] == cid
    assert final["params"]["end_reason"] == "hangup" and final["params"]["device"]["params"]["to_number"] == number
    heard = phone_call(server, number)
    assert heard["heard"]["loud_seconds"] >= 0.5  # the LaML <Say>


def test_refer_transfers_the_call_to_the_far_end(server: RunningEngine, sw: Any, web: Backend) -> None:
    number = phone(server, [{"wait_for_hangup": True}])
    cid = answered_call(sw, server, web, number, "refer")
    answer = sw.calling.refer(cid, device={"type": "sip", "params": {"to": "sip:sales@127.0.0.1:5099"}},
                              status_url=f"{web.url}/status/refer")
    assert answer["refer"]["state"] == "success" and answer["refer"]["sip_refer_response_code"] == "202"
    got = wait_event(web, "/status/refer", lambda e: e["event_type"] == "calling.call.refer")
    assert got["params"]["sip_refer_to"] == "sip:sales@127.0.0.1:5099" and got["params"]["state"] == "success"
    wait_event(web, "/status/refer", lambda e: e["params"].get("call_state") == "ended")
    err = error_of(lambda: sw.calling.refer(cid, device={"type": "sip", "params": {"to": "tel:+1"}}))
    assert err.status_code in (400, 422)


def test_status_events_filter_and_user_event(server: RunningEngine, sw: Any, web: Backend) -> None:
    number = phone(server, [{"wait_for_hangup": True}])
    cid = answered_call(sw, server, web, number, "user", status_events=["answered", "ended"])
    sw.calling.user_event(cid, event={"type": "custom", "data": {"key": "value"}})
    got = wait_event(web, "/status/user", lambda e: e["event_type"] == "calling.user_event")
    assert got["params"]["event"] == {"type": "custom", "data": {"key": "value"}}
    sw.calling.end(cid, reason="hangup")
    wait_event(web, "/status/user", lambda e: e["params"].get("call_state") == "ended")
    states = [e["params"]["call_state"] for e in events(web, "/status/user") if "call_state" in e["params"]]
    assert states == ["answered", "ended"]
    # The JSON events are signed like the form callbacks: HMAC-SHA1 over URL + body.
    import base64
    import hashlib
    import hmac

    req = web.requests("/status/user")[0]
    want = base64.b64encode(hmac.new(server.project.auth_token.encode(), (req.url + req.body).encode(),
                                     hashlib.sha1).digest()).decode()
    assert req.headers["X-SignalWire-Signature"] == want and req.headers["Content-Type"] == "application/json"


# --- media ---------------------------------------------------------------------------------------


def test_play_items_and_controls(server: RunningEngine, sw: Any, web: Backend) -> None:
    number = phone(server, [{"wait_for_hangup": True}])
    cid = answered_call(sw, server, web, number, "play")
    web.route("/tone.wav", (200, "audio/wav", _wav_tone(700, 1.0)))
    answer = sw.calling.play(cid, control_id="p1", volume=0.0, play=[
        {"type": "audio", "params": {"url": f"{web.url}/tone.wav"}},
        {"type": "silence", "params": {"duration": 0.5}},
        {"type": "ringtone", "params": {"name": "us", "duration": 1.0}},
        {"type": "tts", "text": "Hello from the Calling API."},
    ])
    assert answer["control_id"] == "p1" and answer["id"] == cid
    wait_event(web, "/status/play", lambda e: e.get("state") == "finished", timeout=20)
    pcm = heard_pcm(server, number)
    assert seconds_of_tone(pcm, 700) >= 0.6
    assert [e["state"] for e in events(web, "/status/play") if e["event_type"] == "calling.call.play"] == [
        "playing", "finished"]
    # Pause, resume, volume and stop by control_id, on a long tone.
    sw.calling.play(cid, control_id="p2", loop=0, play=[{"type": "audio", "params": {"url": f"{web.url}/tone.wav"}}])
    time.sleep(0.6)
    sw.calling.play_pause(cid, control_id="p2")
    time.sleep(0.6)
    sw.calling.play_resume(cid, control_id="p2")
    sw.calling.play_volume(cid, control_id="p2", volume=-20.0)
    time.sleep(0.6)
    sw.calling.play_stop(cid, control_id="p2")
    wait_event(web, "/status/play", lambda e: e.get("control_id") == "p2" and e["state"] == "finished")
    states = [e["state"] for e in events(web, "/status/play") if e.get("control_id") == "p2"]
    assert states == ["playing", "paused", "playing", "finished"], states
    err = error_of(lambda: sw.calling.play_pause(cid, control_id="p2"))
    assert err.status_code == 404 and err.body["errors"][0]["attribute"] == "params.control_id"
    err = error_of(lambda: sw.calling.play(cid, play=[{"type": "audio", "params": {}}]))
    assert err.status_code == 400 and err.body["errors"][0]["attribute"] == "params.play[0].params.url"
    err = error_of(lambda: sw.calling.play(cid, play=[{"type": "ringtone", "params": {"name": "xx"}}]))
    assert err.status_code == 422 and "params.play[0].params.name" == err.body["errors"][0]["attribute"]
    sw.calling.end(cid)


def test_collect_digits_with_partial_results(server: RunningEngine, sw: Any, web: Backend) -> None:
    number = phone(server, [{"wait": 1.5}, {"dtmf": "12#", "pause_ms": 200}, {"wait": 1.0},
                            {"dtmf": "7"}, {"wait_for_hangup": True}])
    cid = answered_call(sw, server, web, number, "collect")
    sw.calling.collect(cid, control_id="c1", initial_timeout=10, partial_results=True,
                       digits={"max": 4, "terminators": "#", "digit_timeout": 3})
    final = wait_event(web, "/status/collect", lambda e: e.get("final") is True)
    assert final["result"] == {"type": "digit", "params": {"digits": "12", "terminator": "#"}}
    partial = [e["result"]["params"]["digits"] for e in events(web, "/status/collect") if e.get("final") is False]
    assert partial == ["1", "12"]
    # start_input_timers false: no initial timer until asked for; then no_input.
    sw.calling.collect(cid, control_id="c2", initial_timeout=0.5, digits={"max": 1},
                       extras={"start_input_timers": False})
    time.sleep(2.5)  # the phone pressed 7 meanwhile: it counts
    got = wait_event(web, "/status/collect", lambda e: e.get("control_id") == "c2")
    assert got["result"]["params"]["digits"] == "7"
    sw.calling.collect(cid, control_id="c3", initial_timeout=0.5, digits={"max": 1},
                       extras={"start_input_timers": False})
    time.sleep(1.0)
    assert not [e for e in events(web, "/status/collect") if e.get("control_id") == "c3"]
    sw.calling.collect_start_input_timers(cid, control_id="c3")
    got = wait_event(web, "/status/collect", lambda e: e.get("control_id") == "c3")
    assert got["result"] == {"type": "no_input"}
    sw.calling.end(cid)


def _wav_tone(hz: float, seconds: float) -> bytes:
    from wirexa.audio.pcm import tone, wav_bytes

    return wav_bytes(tone(hz, seconds))


def test_record_pause_stop_and_listed_in_recordings(server: RunningEngine, sw: Any, web: Backend) -> None:
    number = phone(server, [{"wait": 0.5}, {"beep": 1.0, "frequency": 600}, {"wait": 0.5},
                            {"beep": 1.0, "frequency": 600}, {"wait_for_hangup": True}])
    cid = answered_call(sw, server, web, number, "record")
    sw.calling.record(cid, control_id="r1", audio={"beep": False, "format": "wav", "direction": "speak"})
    time.sleep(1.2)
    sw.calling.record_pause(cid, control_id="r1")
    time.sleep(0.8)
    sw.calling.record_resume(cid, control_id="r1")
    time.sleep(1.0)
    sw.calling.record_stop(cid, control_id="r1")
    done = wait_event(web, "/status/record", lambda e: e.get("state") == "finished")
    states = [e["state"] for e in events(web, "/status/record") if e.get("control_id") == "r1"]
    assert states == ["recording", "paused", "recording", "finished"], states
    assert done["url"].endswith(".wav") and 1.5 <= done["duration"] <= 2.8, done
    wav = httpx.get(done["url"])
    assert wav.status_code == 200 and wav.content[:4] == b"RIFF"
    listed = httpx.get(f"{server.base_url}/2010-04-01/Accounts/{server.project.sid}/Calls/{call_sid(cid)}"
                       "/Recordings.json", auth=server.auth).json()["recordings"]
    assert [r["sid"] for r in listed] == [done["recording_sid"]] and listed[0]["source"] == "StartCallRecordingAPI"
    # end_silence_timeout ends a recording by itself once the speaker stops.
    sw.calling.record(cid, control_id="r2", audio={"end_silence_timeout": 0.5, "initial_timeout": 0.5})
    got = wait_event(web, "/status/record", lambda e: e.get("control_id") == "r2" and e["state"] != "recording")
    assert got["state"] in ("no_input", "finished")
    sw.calling.end(cid)


def test_detect_digit_fax_and_machine(server: RunningEngine, sw: Any, web: Backend) -> None:
    number = phone(server, [{"wait": 1.0}, {"dtmf": "5"}, {"wait": 0.5}, {"beep": 0.5, "frequency": 1100},
                            {"wait": 1.0}, {"beep": 0.5, "frequency": 1100}, {"wait_for_hangup": True}])
    cid = answered_call(sw, server, web, number, "detect")
    sw.calling.detect(cid, control_id="d1", detect={"type": "digit", "params": {"digits": "5"}}, timeout=30)
    sw.calling.detect(cid, control_id="d2", detect={"type": "fax", "params": {"tone": "CNG"}}, timeout=10)
    wait_event(web, "/status/detect", lambda e: e.get("control_id") == "d1"
               and e["detect"]["params"]["event"] == "5")
    wait_event(web, "/status/detect", lambda e: e.get("control_id") == "d2"
               and e["detect"]["params"]["event"] == "CNG")
    sw.calling.detect_stop(cid, control_id="d1")
    wait_event(web, "/status/detect", lambda e: e.get("control_id") == "d1"
               and e["detect"]["params"]["event"] == "finished")
    sw.calling.end(cid)
    # The ready-made voicemail number: a long greeting, then a beep.
    cid = answered_call(sw, server, web, "+15005550002", "machine")
    sw.calling.detect(cid, control_id="m1", timeout=20, detect={"type": "machine", "params": {"initial_timeout": 5}})
    got = wait_event(web, "/status/machine", lambda e: e.get("control_id") == "m1"
                     and e["detect"]["params"]["event"] != "finished", timeout=20)
    assert got["detect"] == {"type": "machine", "params": {"event": "MACHINE"}}
    sw.calling.end(cid)


def test_tap_to_rtp_and_denoise(server: RunningEngine, sw: Any, web: Backend) -> None:
    number = phone(server, [{"wait": 0.3}, {"beep": 2.0, "frequency": 800}, {"wait_for_hangup": True}])
    cid = answered_call(sw, server, web, number, "tap")
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(0.2)
    port = receiver.getsockname()[1]
    answer = sw.calling.tap(cid, control_id="t1", tap={"type": "audio", "params": {"direction": "speak"}},
                            device={"type": "rtp", "params": {"addr": "127.0.0.1", "port": port, "codec": "PCMU",
                                                              "ptime": 20}})
    assert answer["source_device"]["type"] == "rtp"
    packets: list[bytes] = []
    started = time.monotonic()
    while time.monotonic() - started < 1.5:
        try:
            packets.append(receiver.recv(2048))
        except TimeoutError:
            pass
    sw.calling.tap_stop(cid, control_id="t1")
    receiver.close()
    assert 60 <= len(packets) <= 80, len(packets)  # 1.5 s of 20 ms packets
    assert {p[1] & 0x7F for p in packets} == {0} and {len(p) for p in packets} == {12 + 160}
    import audioop

    pcm = b"".join(audioop.ulaw2lin(p[12:], 2) for p in packets)
    assert seconds_of_tone(pcm, 800) >= 0.8  # what the phone said
    states = [e["state"] for e in events(web, "/status/tap") if e.get("control_id") == "t1"]
    wait_event(web, "/status/tap", lambda e: e.get("control_id") == "t1" and e["state"] == "finished")
    assert states[0] == "tapping"
    assert sw.calling.denoise(cid)["denoised"] is True
    assert sw.calling.denoise_stop(cid)["denoised"] is False
    wait_event(web, "/status/tap", lambda e: e["event_type"] == "calling.call.denoise" and not e["denoised"])
    denoised = [e["denoised"] for e in events(web, "/status/tap") if e["event_type"] == "calling.call.denoise"]
    assert denoised == [True, False]
    # A control_id in use is a conflict.
    sw.calling.play(cid, control_id="dup", loop=0, play=[{"type": "silence", "params": {"duration": 1}}])
    err = error_of(lambda: sw.calling.play(cid, control_id="dup", play=[{"type": "silence",
                                                                          "params": {"duration": 1}}]))
    assert err.status_code == 409 and err.body["errors"][0]["attribute"] == "params.control_id"
    # A WebSocket tap: binary messages of G.711, one per 20 ms.
    ws = WsServer()
    try:
        sw.calling.tap(cid, control_id="t2", tap={"type": "audio", "params": {"direction": "both"}},
                       device={"type": "ws", "params": {"uri": ws.url, "codec": "PCMA"}})
        time.sleep(1.0)
        sw.calling.tap_stop(cid, control_id="t2")
        time.sleep(0.3)
        assert 40 <= len(ws.binary) <= 60 and {len(b) for b in ws.binary} == {160}, len(ws.binary)
    finally:
        ws.close()
    sw.calling.end(cid)


class WsServer:
    """A websockets server on a thread: keeps the messages it received; `echo` sends every
    inbound media payload straight back (a Twilio-style voice bot that repeats the caller)."""

    def __init__(self, echo: bool = False) -> None:
        self.echo = echo
        self.messages: list[dict[str, Any]] = []
        self.binary: list[bytes] = []
        self.headers: dict[str, str] = {}
        self.media_at: list[float] = []
        self._ready = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)
        self._thread.start()
        self._ready.wait(5)

    async def _handler(self, ws: Any) -> None:
        import json

        self.headers = dict(ws.request.headers)
        async for raw in ws:
            if isinstance(raw, bytes):
                self.binary.append(raw)
                continue
            message = json.loads(raw)
            self.messages.append(message)
            if message["event"] == "media":
                self.media_at.append(time.monotonic())
                if self.echo:
                    await ws.send(json.dumps({"event": "media", "streamSid": message["streamSid"],
                                              "media": {"payload": message["media"]["payload"]}}))
            elif message["event"] == "start" and self.echo:
                await ws.send(json.dumps({"event": "mark", "streamSid": message["streamSid"],
                                          "mark": {"name": "hello"}}))

    async def _main(self) -> None:
        from websockets.asyncio.server import serve

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with serve(self._handler, "127.0.0.1", 0) as server:
            self.port = server.sockets[0].getsockname()[1]
            self._ready.set()
            await self._stop.wait()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/media"

    def events(self, name: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["event"] == name]

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(5)


def test_stream_speaks_twilio_media_streams(server: RunningEngine, sw: Any, web: Backend) -> None:
    number = phone(server, [{"wait": 0.3}, {"beep": 1.0, "frequency": 900}, {"wait_for_hangup": True}])
    cid = answered_call(sw, server, web, number, "stream")
    ws = WsServer()
    try:
        sw.calling.stream(cid, control_id="s1", url=ws.url, track="both_tracks",
                          authorization_bearer_token="secret-token", custom_parameters={"agent": "bob", "n": 1})
        time.sleep(2.0)
        sw.calling.stream_stop(cid, control_id="s1")
        wait_event(web, "/status/stream", lambda e: e.get("control_id") == "s1" and e["state"] == "finished")
        time.sleep(0.3)
        names = [m["event"] for m in ws.messages]
        assert names[:2] == ["connected", "start"] and names[-1] == "stop"
        start = ws.events("start")[0]
        assert start["start"]["callSid"] == call_sid(cid) and start["start"]["customParameters"] == {
            "agent": "bob", "n": "1"}
        assert start["start"]["mediaFormat"] == {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}
        assert ws.headers["authorization"] == "Bearer secret-token"
        media = ws.events("media")
        inbound = [m for m in media if m["media"]["track"] == "inbound"]
        outbound = [m for m in media if m["media"]["track"] == "outbound"]
        assert 85 <= len(inbound) <= 105 and 85 <= len(outbound) <= 105, (len(inbound), len(outbound))
        import audioop
        import base64

        chunks = [base64.b64decode(m["media"]["payload"]) for m in inbound]
        assert {len(c) for c in chunks} == {160}  # 20 ms of µ-law
        assert seconds_of_tone(b"".join(audioop.ulaw2lin(c, 2) for c in chunks), 900) >= 0.6
        assert [int(m["sequenceNumber"]) for m in ws.messages] == list(range(1, len(ws.messages) + 1))
    finally:
        ws.close()
    sw.calling.end(cid)


def test_connect_stream_echo_bot_round_trip(server: RunningEngine, sw: Any, web: Backend) -> None:
    """<Connect><Stream> to an echo bot: the phone hears its own tone back. The added latency is
    measured from what the engine's media saw: the phone's tone arriving, and the echoed tone
    leaving for the phone."""
    bot = WsServer(echo=True)
    try:
        web.route("/connect/voice", f'<Response><Connect><Stream url="{bot.url}"><Parameter name="who" '
                                    f'value="echo"/></Stream></Connect><Say>Stream ended.</Say></Response>')
        number = phone(server, [{"wait": 1.0}, {"beep": 1.0, "frequency": 500}, {"wait": 1.5}, {"hangup": True}])
        leg = sw.calling.dial(from_=FROM, to=number, url=f"{web.url}/connect/voice")
        cid = leg["id"]
        wait_answered(sw, server, cid)
        seen: dict[str, float] = {}

        def onset(name: str):  # type: ignore[no-untyped-def]
            def look(frame: Any) -> None:
                if name not in seen and frame is not None and rms(bytes(frame)) > 500 \
                        and abs(dominant_frequency(bytes(frame)) - 500) < 50:
                    seen[name] = time.monotonic()
            return look

        async def install() -> None:
            media = server.engine.runner.live[call_sid(cid)].media
            media.tap(onset("arrived"))  # the phone's tone reaching Wirexa
            media.tap_sent(onset("sent"))  # the echoed tone leaving Wirexa for the phone

        server.run(install())
        deadline = time.monotonic() + 15
        while phone_call(server, number)["state"] == "in-progress" and time.monotonic() < deadline:
            time.sleep(0.2)
        heard = heard_pcm(server, number)
        assert seconds_of_tone(heard, 500) >= 0.6  # its own tone, back through the bot
        assert bot.events("start")[0]["start"]["customParameters"] == {"who": "echo"}
        assert bot.events("start")[0]["start"]["tracks"] == ["inbound"]
        assert [m["mark"]["name"] for m in bot.events("mark")] == ["hello"]  # echoed once played
        latency_ms = (seen["sent"] - seen["arrived"]) * 1000
        print(f"\necho round trip inside Wirexa (RTP in -> bot -> RTP out): {latency_ms:.1f} ms")
        assert latency_ms < 60
    finally:
        bot.close()



def test_transfer_bridges_and_disconnect_unbridges(server: RunningEngine, sw: Any, web: Backend) -> None:
    agent = phone(server, [{"wait": 0.5}, {"beep": 1.5, "frequency": 1000}, {"wait_for_hangup": True}])
    caller = phone(server, [{"wait_for_hangup": True}])
    cid = answered_call(sw, server, web, caller, "transfer")
    err = error_of(lambda: sw.calling.disconnect(cid))
    assert err.status_code == 422 and "not bridged" in err.body["message"]
    sw.calling.transfer(cid, dest=agent)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and seconds_of_tone(heard_pcm(server, caller), 1000) < 1.0:
        time.sleep(0.2)
    assert seconds_of_tone(heard_pcm(server, caller), 1000) >= 1.0  # the agent, through the bridge
    children = httpx.get(f"{server.base_url}/2010-04-01/Accounts/{server.project.sid}/Calls.json",
                         params={"ParentCallSid": call_sid(cid)}, auth=server.auth).json()["calls"]
    assert len(children) == 1 and children[0]["to"] == agent
    sw.calling.disconnect(cid)
    time.sleep(0.5)
    # Disconnect hung up neither leg; each is a call of its own id (the child's end then ends
    # the <Dial> the transfer runs, and with it the transferred call, as LaML does).
    assert phone_call(server, caller)["state"] == "in-progress"
    assert phone_call(server, agent)["state"] == "in-progress"
    child = sw.calling.end(call_id(children[0]["sid"]))
    assert child["status"] == "completed"


def test_laml_start_and_stop_stream(server: RunningEngine, sw: Any, web: Backend) -> None:
    ws = WsServer()
    try:
        web.route("/startstop/voice", f'<Response><Start><Stream name="s1" url="{ws.url}" track="outbound_track">'
                                      f'<Parameter name="a" value="b"/></Stream></Start>'
                                      f'<Play>{web.url}/tone.wav</Play><Stop><Stream name="s1"/></Stop>'
                                      f'<Pause length="2"/></Response>')
        web.route("/tone.wav", (200, "audio/wav", _wav_tone(700, 1.0)))
        number = phone(server, [{"wait_for_hangup": True}])
        leg = sw.calling.dial(from_=FROM, to=number, url=f"{web.url}/startstop/voice")
        wait_answered(sw, server, leg["id"])
        deadline = time.monotonic() + 10
        while not ws.events("stop") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert ws.events("start")[0]["start"]["customParameters"] == {"a": "b"}
        assert ws.events("start")[0]["start"]["tracks"] == ["outbound"]
        media = ws.events("media")
        assert {m["media"]["track"] for m in media} == {"outbound"}
        assert 40 <= len(media) <= 75, len(media)  # the 1 s <Play>, then <Stop>
        import audioop
        import base64

        pcm = b"".join(audioop.ulaw2lin(base64.b64decode(m["media"]["payload"]), 2) for m in media)
        assert seconds_of_tone(pcm, 700) >= 0.6  # what the phone heard
        sw.calling.end(leg["id"])
    finally:
        ws.close()
