"""LaML end to end: REST create → the sandbox phone answers → Wirexa fetches the user's
documents from a real HTTP backend and runs them; the phones press keys, hear speech, and talk
to each other through <Dial>."""

from __future__ import annotations

import io
import itertools
import time
import wave
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from engine_support import RunningEngine, wait_status
from laml_backend import Backend, Received
from sandbox_calls import FINAL, heard_pcm, phone, phone_call, sandbox_engine, seconds_of_tone

_paths = itertools.count(1)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEngine]:
    yield from sandbox_engine(tmp_path_factory.mktemp("laml"))


def check_signed(server: RunningEngine, got: Received) -> None:
    validator = RequestValidator(server.project.auth_token)
    assert validator.validate(got.url, got.form if got.method == "POST" else {},
                              got.headers["X-Twilio-Signature"]), got
    assert got.headers["X-SignalWire-Signature"] == got.headers["X-Twilio-Signature"]


def ended(client: Client, sid: str, timeout: float = 40) -> Any:
    return wait_status(client, sid, FINAL, timeout=timeout)


MENU = """<Response>
  <Say language="en-US">Hello! Thanks for calling.</Say>
  <Gather numDigits="1" timeout="{timeout}" action="gather">
    <Say>Press 1 for sales, 2 for support.</Say>
  </Gather>
  <Say>We did not receive your input. Goodbye.</Say>
  <Hangup/>
</Response>"""


def test_ivr_menu_digit_action_and_transfer_bridges_two_phones(server: RunningEngine, client: Client,
                                                                web: Backend) -> None:
    sales = phone(server, [{"wait": 0.5}, {"beep": 2.0, "frequency": 1000}, {"wait_for_hangup": True}],
                  hangup_after=7)
    caller = phone(server, [{"dtmf": "1", "when": "quiet", "quiet_ms": 1500},
                            {"wait": 4.0}, {"beep": 3.0, "frequency": 600}, {"wait_for_hangup": True}])
    web.route("/ivr/voice", MENU.format(timeout=7))

    def gather(req: Received) -> str:
        if req.form.get("Digits") == "1":
            return f"<Response><Say>Transferring to sales.</Say><Transfer>{sales}</Transfer></Response>"
        return "<Response><Say>Sorry.</Say><Hangup/></Response>"

    web.route("/ivr/gather", gather)
    call = client.calls.create(to=caller, from_="+18005550100", url=f"{web.url}/ivr/voice")
    done = ended(client, call.sid, timeout=60)
    assert done.status == "completed", (done.status, done.error_message if hasattr(done, "error_message") else "")

    first = web.requests("/ivr/voice", call.sid)
    assert len(first) == 1
    params = first[0].form
    assert params["CallStatus"] == "in-progress" and params["Direction"] == "outbound-api"
    assert params["AccountSid"] == server.project.sid and params["To"] == caller
    assert params["From"] == "+18005550100" and params["Called"] == caller and params["ApiVersion"] == "2010-04-01"
    check_signed(server, first[0])
    action = web.requests("/ivr/gather", call.sid)
    assert [r.form["Digits"] for r in action] == ["1"]
    check_signed(server, action[0])

    children = client.calls.list(parent_call_sid=call.sid)
    assert len(children) == 1
    child = children[0]
    assert child.to == sales and child._from == "+18005550100" and child.direction == "outbound-dial"
    assert child.status == "completed" and int(child.duration) >= 3

    # The caller heard the menu (speech) and, through the bridge, the sales phone's tone;
    # the sales phone heard the caller's tone.
    assert phone_call(server, caller)["heard"]["loud_seconds"] >= 3.0
    assert seconds_of_tone(heard_pcm(server, caller), 1000) >= 1.0
    assert seconds_of_tone(heard_pcm(server, sales), 600) >= 1.0
    assert phone_call(server, caller)["digits"] == ""  # Wirexa sent no digits


def test_no_input_falls_through_to_the_next_verbs(server: RunningEngine, client: Client, web: Backend) -> None:
    caller = phone(server, [{"wait_for_hangup": True}])
    web.route("/quiet/voice", MENU.format(timeout=1))
    call = client.calls.create(to=caller, from_="+18005550100", url=f"{web.url}/quiet/voice")
    assert ended(client, call.sid).status == "completed"
    assert web.requests("/quiet/gather") == []
    heard = phone_call(server, caller)
    assert heard["heard"]["loud_seconds"] >= 3.0  # greeting, prompt and goodbye
    assert heard["ended_by"] == "remote"  # <Hangup/> from Wirexa


def test_digits_until_finish_on_key(server: RunningEngine, client: Client, web: Backend) -> None:
    caller = phone(server, [{"dtmf": "123#", "at": 1.0}, {"wait_for_hangup": True}])
    web.route("/keys/voice", '<Response><Gather timeout="5"><Pause length="10"/></Gather></Response>')
    web.route("/keys/done", "<Response><Hangup/></Response>")
    web.routes["/keys/voice"] = ('<Response><Gather timeout="5" action="done" method="GET">'
                                 '<Pause length="10"/></Gather></Response>')
    call = client.calls.create(to=caller, from_="+18005550100", url=f"{web.url}/keys/voice")
    assert ended(client, call.sid).status == "completed"
    got = web.wait_for("/keys/done", call.sid)
    assert len(got) == 1 and got[0].method == "GET"
    assert got[0].query["Digits"] == "123" and got[0].query["FinishedOnKey"] == "#"
    check_signed(server, got[0])
    # The Pause prompt was interrupted by the first key: the action came well before 10 s.
    start = web.requests("/keys/voice", call.sid)[0].at
    assert got[0].at - start < 6


def test_failing_url_uses_fallback_url_and_keeps_the_error(server: RunningEngine, client: Client,
                                                           web: Backend) -> None:
    caller = phone(server, [{"wait_for_hangup": True}])
    web.route("/broken", (500, "text/plain", "oops"))
    web.route("/fallback", "<Response><Say>Fallback speaking.</Say></Response>")
    call = client.calls.create(to=caller, from_="+18005550100", url=f"{web.url}/broken",
                               fallback_url=f"{web.url}/fallback")
    assert ended(client, call.sid).status == "completed"
    fb = web.requests("/fallback", call.sid)
    assert len(fb) == 1 and fb[0].form["ErrorCode"] == "11200" and fb[0].form["ErrorUrl"] == f"{web.url}/broken"
    stored = server.engine.calls.get(server.project.sid, call.sid)
    assert stored is not None and stored["error_code"] == 11200 and "500" in stored["error_message"]
    assert phone_call(server, caller)["heard"]["loud_seconds"] >= 0.5


@pytest.mark.parametrize(("document", "code", "words"), [
    ("<Response><Say>Hi</Say><Dance/></Response>", 12200, "<Dance>"),
    ("<Response><Gather><Dial>+15005550001</Dial></Gather></Response>", 12200, "<Dial>"),
    ("<Response><Say>unclosed</Response>", 12100, "XML"),
    ('<Response><Gather numDigits="x"/></Response>', 12200, "numDigits"),
])
def test_bad_documents_end_the_call_with_the_reason(server: RunningEngine, client: Client, web: Backend,
                                                    document: str, code: int, words: str) -> None:
    caller = phone(server, [{"wait_for_hangup": True}])
    path = f"/bad/{next(_paths)}"
    web.route(path, document)
    call = client.calls.create(to=caller, from_="+18005550100", url=web.url + path)
    done = ended(client, call.sid)
    assert done.status == "completed"
    stored = server.engine.calls.get(server.project.sid, call.sid)
    assert stored is not None and stored["error_code"] == code and words in stored["error_message"]
    r = httpx.get(server.calls_url.replace(".json", f"/{call.sid}.json"), auth=server.auth)
    assert r.json()["error_code"] == code  # visible through the API


def test_redirect_resolves_relative_urls_and_rest_update_replaces_the_document(
        server: RunningEngine, client: Client, web: Backend) -> None:
    caller = phone(server, [{"wait_for_hangup": True}])
    web.route("/r/start", "<Response><Redirect method=\"GET\">next?step=2</Redirect></Response>")
    web.route("/r/next", '<Response><Say>Waiting.</Say><Pause length="60"/></Response>')
    web.route("/r/new", "<Response><Say>New instructions.</Say><Hangup/></Response>")
    call = client.calls.create(to=caller, from_="+18005550100", url=f"{web.url}/r/start")
    got = web.wait_for("/r/next", call.sid)
    assert got and got[0].method == "GET" and got[0].query["step"] == "2" and got[0].query["CallSid"] == call.sid
    check_signed(server, got[0])
    time.sleep(1.0)
    client.calls(call.sid).update(url=f"{web.url}/r/new")
    assert web.wait_for("/r/new", call.sid)
    done = ended(client, call.sid)
    assert done.status == "completed" and int(done.duration) < 30


def test_play_fetches_audio_and_the_phone_hears_it(server: RunningEngine, client: Client, web: Backend) -> None:
    t = np.arange(int(44100 * 1.5)) / 44100
    tone = (np.sin(2 * np.pi * 850 * t) * 12000).astype("<i2")
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(44100)
        w.writeframes(tone.tobytes())
    web.route("/p/tone.wav", (200, "audio/wav", out.getvalue()))
    caller = phone(server, [{"wait_for_hangup": True}])
    web.route("/p/voice", '<Response><Play loop="2">tone.wav</Play></Response>')
    call = client.calls.create(to=caller, from_="+18005550100", url=f"{web.url}/p/voice")
    assert ended(client, call.sid).status == "completed"
    assert 2.2 <= seconds_of_tone(heard_pcm(server, caller), 850) <= 3.2


def test_dial_to_a_busy_number_reports_dial_call_status(server: RunningEngine, client: Client,
                                                       web: Backend) -> None:
    busy = phone(server, [], outcome="busy")
    caller = phone(server, [{"wait_for_hangup": True}])
    web.route("/d/voice", f'<Response><Dial action="/d/after" timeout="10"><Number>{busy}</Number></Dial></Response>')
    web.route("/d/after", "<Response><Hangup/></Response>")
    call = client.calls.create(to=caller, from_="+18005550100", url=f"{web.url}/d/voice")
    assert ended(client, call.sid).status == "completed"
    after = web.requests("/d/after", call.sid)
    assert len(after) == 1 and after[0].form["DialCallStatus"] == "busy"
    child = client.calls.list(parent_call_sid=call.sid)[0]
    assert child.status == "busy" and after[0].form["DialCallSid"] == child.sid


def test_inbound_reject_busy_is_never_answered(server: RunningEngine, client: Client, web: Backend) -> None:
    number = "+13125550444"
    client.incoming_phone_numbers.create(phone_number=number,
                                         voice_url=web.route("/in/reject", '<Response><Reject reason="busy"/></Response>'))
    assert server.engine.sandbox is not None
    r = httpx.post(f"{server.engine.sandbox.http_url}/calls", json={
        "from": "+15005550001", "to": number, "target": f"127.0.0.1:{server.settings.sip_port}",
        "script": [{"wait": 1}], "hangup_when_done": True,
    })
    assert r.status_code in (200, 201), r.text
    deadline = time.monotonic() + 15
    calls: list[Any] = []
    while time.monotonic() < deadline:
        calls = client.calls.list(to=number, limit=1)
        if calls and calls[0].status in FINAL:
            break
        time.sleep(0.1)
    assert calls and calls[0].status == "busy" and calls[0].direction == "inbound"
    sandbox_side = httpx.get(f"{server.engine.sandbox.http_url}/calls/{r.json()['id']}").json()
    assert sandbox_side["final_code"] == 486 and sandbox_side["answered_at"] is None
    request = web.requests("/in/reject")[0]
    assert request.form["CallStatus"] == "ringing" and request.form["Direction"] == "inbound"
    check_signed(server, request)
