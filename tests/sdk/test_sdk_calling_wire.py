"""`client.calling`: the raw request each of the 37 methods sends, compared with the table in
wire-compat.md ("Calling API"), over real HTTP to a recording server on 127.0.0.1."""

from __future__ import annotations

import base64
import inspect
from typing import Any

import pytest
from twilio.base.exceptions import TwilioRestException

from sdk_support import PROJECT, TOKEN, RecordingServer
from wirexaapi import CallingNamespace, Client, SignalWireRestError, WirexaRestError

CALL_ID = "6f1b3c52-1d2e-4c1a-9a55-0c6e0d1f2a3b"

# wire-compat.md, "Calling API": method, command, whether a top-level `id` is sent, param names
# (where the table gives one params cell to a pair such as detect / detect_stop, both get it).
WIRE_TABLE: list[tuple[str, str, bool, tuple[str, ...]]] = [
    ("dial", "dial", False, ("from", "to", "caller_id", "fallback_url", "status_url", "status_events",
                             "url_method", "url", "codecs", "swml")),
    ("update", "update", False, ("id", "fallback_url", "status", "status_url", "url", "swml")),
    ("end", "calling.end", True, ("reason",)),
    ("transfer", "calling.transfer", True, ("dest",)),
    ("disconnect", "calling.disconnect", True, ()),
    ("play", "calling.play", True, ("control_id", "play", "volume", "direction", "loop", "status_url")),
    ("play_pause", "calling.play.pause", True, ("control_id",)),
    ("play_resume", "calling.play.resume", True, ("control_id",)),
    ("play_stop", "calling.play.stop", True, ("control_id",)),
    ("play_volume", "calling.play.volume", True, ("control_id", "volume")),
    ("record", "calling.record", True, ("control_id", "audio", "status_url")),
    ("record_pause", "calling.record.pause", True, ("control_id",)),
    ("record_resume", "calling.record.resume", True, ("control_id",)),
    ("record_stop", "calling.record.stop", True, ("control_id",)),
    ("collect", "calling.collect", True, ("control_id", "initial_timeout", "digits", "speech", "continuous",
                                          "partial_results")),
    ("collect_stop", "calling.collect.stop", True, ("control_id",)),
    ("collect_start_input_timers", "calling.collect.start_input_timers", True, ("control_id",)),
    ("detect", "calling.detect", True, ("control_id", "detect", "timeout")),
    ("detect_stop", "calling.detect.stop", True, ("control_id", "detect", "timeout")),
    ("tap", "calling.tap", True, ("control_id", "tap", "device")),
    ("tap_stop", "calling.tap.stop", True, ("control_id", "tap", "device")),
    ("stream", "calling.stream", True, ("control_id", "url", "codec", "track", "authorization_bearer_token",
                                        "custom_parameters")),
    ("stream_stop", "calling.stream.stop", True, ("control_id", "url", "codec", "track",
                                                  "authorization_bearer_token", "custom_parameters")),
    ("denoise", "calling.denoise", True, ()),
    ("denoise_stop", "calling.denoise.stop", True, ()),
    ("transcribe", "calling.transcribe", True, ("control_id", "status_url")),
    ("transcribe_stop", "calling.transcribe.stop", True, ("control_id", "status_url")),
    ("ai_message", "calling.ai_message", True, ("role", "message_text", "reset", "global_data")),
    ("ai_hold", "calling.ai_hold", True, ("timeout", "prompt")),
    ("ai_unhold", "calling.ai_unhold", True, ("prompt",)),
    ("ai_stop", "calling.ai.stop", True, ("control_id",)),
    ("live_transcribe", "calling.live_transcribe", True, ("action", "status_url")),
    ("live_translate", "calling.live_translate", True, ("action", "status_url")),
    ("send_fax_stop", "calling.send_fax.stop", True, ("control_id",)),
    ("receive_fax_stop", "calling.receive_fax.stop", True, ("control_id",)),
    ("refer", "calling.refer", True, ("device", "status_url")),
    ("user_event", "calling.user_event", True, ("event",)),
]

# Realistic values per param name (anything else gets a string naming it).
SAMPLES: dict[str, Any] = {
    "from": "+15559876543", "to": "+15551234567", "caller_id": "+15559876543",
    "status_events": ["answered", "ended"], "codecs": ["PCMU", "PCMA"],
    "swml": {"version": "1.0.0", "sections": {"main": [{"play": {"url": "say:Hello"}}]}},
    "id": CALL_ID, "status": "completed", "play": [{"type": "tts", "text": "Hello!"}], "volume": -3.5,
    "loop": 2, "audio": {"beep": True, "format": "wav", "stereo": True}, "initial_timeout": 4.5,
    "digits": {"max": 4, "terminators": "#"}, "speech": {"end_silence_timeout": 2.0}, "continuous": False,
    "partial_results": True, "detect": {"type": "machine", "params": {"initial_timeout": 4.5}}, "timeout": 30,
    "tap": {"type": "audio", "params": {"direction": "both"}},
    "device": {"type": "rtp", "params": {"addr": "192.0.2.10", "port": 1234}},
    "custom_parameters": {"customer": "42"}, "reset": True, "global_data": {"tier": "gold"},
    "event": {"type": "custom", "data": {"key": "value"}}, "action": "start",
}

LEG = {"id": CALL_ID, "status": "created", "from": "+15559876543", "to": "+15551234567",
       "direction": "outbound", "created_at": "2026-03-16T10:00:00Z"}


def kwarg(name: str) -> str:
    return "from_" if name == "from" else name


def sample(name: str) -> Any:
    return SAMPLES.get(name, f"{name}-value")


@pytest.fixture
def client(recorder: RecordingServer) -> Client:
    recorder.answer("POST", "/api/calling/calls", (200, LEG))
    return Client(PROJECT, TOKEN, signalwire_space_url=recorder.url)


def check_request(recorder: RecordingServer) -> Any:
    """The last request is a Calling API POST as wire-compat.md says; returns its JSON body."""
    got = recorder.last()
    assert (got.method, got.target) == ("POST", "/api/calling/calls")
    assert got.headers["authorization"] == "Basic " + base64.b64encode(f"{PROJECT}:{TOKEN}".encode()).decode()
    assert got.headers["content-type"] == "application/json"
    assert got.headers["accept"] == "application/json"
    assert "wirexaapi/" in got.headers["user-agent"]
    return got.json()


def test_the_table_is_the_whole_namespace() -> None:
    assert len(WIRE_TABLE) == 37 and len({row[0] for row in WIRE_TABLE}) == 37
    public = {name for name, member in inspect.getmembers(CallingNamespace, inspect.isfunction)
              if not name.startswith("_")}
    assert public - {"execute"} == {row[0] for row in WIRE_TABLE}


@pytest.mark.parametrize(("method", "command", "with_id", "names"), WIRE_TABLE, ids=[r[0] for r in WIRE_TABLE])
def test_each_method_sends_the_documented_request(client: Client, recorder: RecordingServer, method: str,
                                                  command: str, with_id: bool, names: tuple[str, ...]) -> None:
    fn = getattr(client.calling, method)
    kwargs = {kwarg(n): sample(n) for n in names}
    result = fn(CALL_ID, **kwargs) if with_id else fn(**kwargs)
    assert result == LEG  # the parsed JSON answer, as is
    expected: dict[str, Any] = {"command": command, "params": {n: sample(n) for n in names}}
    if with_id:
        expected["id"] = CALL_ID
    assert check_request(recorder) == expected

    # Without keyword arguments, `params` is still there, empty.
    fn(CALL_ID) if with_id else fn()
    assert check_request(recorder) == {"command": command, **({"id": CALL_ID} if with_id else {}), "params": {}}


def test_seed_003_examples_send_what_the_seed_shows(client: Client, recorder: RecordingServer) -> None:
    result = client.calling.dial(from_="+15559876543", to="+15551234567", url="https://example.com/call-handler")
    assert result.get("id") == CALL_ID
    assert check_request(recorder) == {"command": "dial", "params": {
        "from": "+15559876543", "to": "+15551234567", "url": "https://example.com/call-handler"}}
    client.calling.update(id=CALL_ID, url="https://example.com/new-handler")
    assert check_request(recorder) == {"command": "update", "params": {
        "id": CALL_ID, "url": "https://example.com/new-handler"}}
    client.calling.ai_stop(CALL_ID, control_id="ai-1")
    assert check_request(recorder) == {"command": "calling.ai.stop", "id": CALL_ID, "params": {"control_id": "ai-1"}}
    client.calling.live_translate(CALL_ID, action="start", from_lang="en", to_lang="es")
    assert check_request(recorder)["params"] == {"action": "start", "from_lang": "en", "to_lang": "es"}
    client.calling.execute({"command": "calling.end", "id": CALL_ID, "params": {"reason": "hangup"}})
    assert check_request(recorder) == {"command": "calling.end", "id": CALL_ID, "params": {"reason": "hangup"}}


def test_space_with_a_path_prefix(recorder: RecordingServer) -> None:
    recorder.answer("POST", "/wirexa/api/calling/calls", (201, LEG))
    client = Client(PROJECT, TOKEN, signalwire_space_url=recorder.url + "/wirexa/")
    assert client.calling.end(CALL_ID, reason="hangup") == LEG
    assert recorder.last().target == "/wirexa/api/calling/calls"


@pytest.mark.parametrize(("status", "body"), [
    (400, {"code": 20001, "message": "collect needs digits or speech", "status": 400}),
    (409, {"message": "a transcription is already running on this call"}),
    (500, "upstream exploded"),
])
def test_non_2xx_raises_with_status_and_body(client: Client, recorder: RecordingServer, status: int,
                                             body: Any) -> None:
    recorder.answer("POST", "/api/calling/calls", (status, body))
    with pytest.raises(WirexaRestError) as caught:
        client.calling.collect(CALL_ID, control_id="c1")
    err = caught.value
    assert isinstance(err, TwilioRestException) and isinstance(err, SignalWireRestError)
    assert err.status_code == err.status == status
    assert err.body == body
    assert err.url == f"{recorder.url}/api/calling/calls" and err.method == "POST"
    if isinstance(body, dict):
        assert err.msg == body["message"] and err.code == body.get("code")
        assert body["message"] in str(err) and str(status) in str(err)
    else:
        assert err.msg == body and err.code is None


def test_empty_answer_is_an_empty_dict_and_non_json_2xx_is_an_error(client: Client,
                                                                    recorder: RecordingServer) -> None:
    recorder.answer("POST", "/api/calling/calls", (204, None))
    assert client.calling.denoise(CALL_ID) == {}
    recorder.answer("POST", "/api/calling/calls", (200, "<html>proxy page</html>"))
    with pytest.raises(WirexaRestError) as caught:
        client.calling.denoise(CALL_ID)
    assert caught.value.status_code == 200 and caught.value.body == "<html>proxy page</html>"


def test_error_pickles(client: Client, recorder: RecordingServer) -> None:
    import pickle

    recorder.answer("POST", "/api/calling/calls", (404, {"code": 20404, "message": "nope"}))
    with pytest.raises(WirexaRestError) as caught:
        client.calling.end(CALL_ID)
    again = pickle.loads(pickle.dumps(caught.value))
    assert (again.status_code, again.body, again.code, again.msg) == (404, {"code": 20404, "message": "nope"},
                                                                      20404, "nope")
