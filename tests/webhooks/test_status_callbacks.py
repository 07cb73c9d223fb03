"""Call status callbacks end to end: a real call through the sandbox carrier, a real HTTP
receiver, signatures checked with the twilio package's own validator."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator

import httpx
import pytest
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from engine_support import RunningEngine, wait_status
from laml_backend import Backend, Received
from sandbox_calls import sandbox_engine

HUMAN = "+15005550001"
SHORT = "<Response><Say>Hi.</Say><Hangup/></Response>"
_paths = itertools.count(1)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEngine]:
    yield from sandbox_engine(tmp_path_factory.mktemp("status-callbacks"),
                              webhook_retry_delays="0.3,0.3,0.3", webhook_poll_interval=0.1)


def signed(server: RunningEngine, got: Received) -> bool:
    validator = RequestValidator(server.project.auth_token)
    return bool(validator.validate(got.url, got.form if got.method == "POST" else {},
                                   got.headers.get("X-Twilio-Signature", "")))


def test_every_event_in_order_with_twilio_fields(server: RunningEngine, client: Client, web: Backend) -> None:
    path = f"/status/{next(_paths)}"
    url = web.route(path, "")
    call = client.calls.create(to=HUMAN, from_="+18005550100", twiml=SHORT, status_callback=url,
                               status_callback_event=["initiated", "ringing", "answered", "completed"])
    got = web.wait_for(path, call.sid, count=4)
    assert [r.form["CallStatus"] for r in got] == ["initiated", "ringing", "in-progress", "completed"]
    assert [r.form["SequenceNumber"] for r in got] == ["0", "1", "2", "3"]
    for r in got:
        assert signed(server, r), r
        assert r.headers["X-SignalWire-Signature"] == r.headers["X-Twilio-Signature"]
        f = r.form
        assert f["CallSid"] == call.sid and f["AccountSid"] == server.project.sid
        assert f["From"] == "+18005550100" and f["To"] == HUMAN and f["Caller"] == f["From"] and f["Called"] == HUMAN
        assert f["Direction"] == "outbound-api" and f["ApiVersion"] == "2010-04-01"
        assert f["CallbackSource"] == "call-progress-events" and f["Timestamp"].endswith("+0000")
    done = got[-1].form
    final = wait_status(client, call.sid, {"completed"})
    assert done["CallDuration"] == str(final.duration) and int(done["Duration"]) >= 1


def test_without_events_only_completed_is_sent_and_get_uses_the_query(server: RunningEngine, client: Client,
                                                                     web: Backend) -> None:
    path = f"/status/{next(_paths)}"
    url = web.route(path, "")
    call = client.calls.create(to=HUMAN, from_="+18005550100", twiml=SHORT, status_callback=url,
                               status_callback_method="GET")
    wait_status(client, call.sid, {"completed"})
    got = web.wait_for(path, call.sid)
    time.sleep(0.5)  # nothing else may follow
    got = web.requests(path, call.sid)
    assert len(got) == 1 and got[0].method == "GET" and got[0].form == {}
    assert got[0].query["CallStatus"] == "completed" and got[0].query["SequenceNumber"] == "0"
    assert signed(server, got[0])


def test_busy_call_reports_its_final_status(server: RunningEngine, client: Client, web: Backend) -> None:
    path = f"/status/{next(_paths)}"
    call = client.calls.create(to="+15005550003", from_="+18005550100", twiml=SHORT,
                               status_callback=web.route(path, ""))
    got = web.wait_for(path, call.sid)
    assert len(got) == 1 and got[0].form["CallStatus"] == "busy" and got[0].form["CallDuration"] == "0"
    assert got[0].form["SipResponseCode"] == "486"


def test_receiver_down_then_back_is_retried_and_the_log_shows_it(server: RunningEngine, client: Client,
                                                                  web: Backend) -> None:
    path = f"/status/{next(_paths)}"
    answers = iter([(503, "text/plain", "busy"), (503, "text/plain", "busy")])
    url = web.route(path, lambda _r: next(answers, (200, "text/plain", "ok")))
    call = client.calls.create(to="+15005550003", from_="+18005550100", twiml=SHORT, status_callback=url)
    got = web.wait_for(path, call.sid, count=3)
    assert len(got) == 3 and got[1].at - got[0].at >= 0.25
    time.sleep(0.3)
    listed = httpx.get(f"{server.base_url}/2010-04-01/Accounts/{server.project.sid}/Webhooks.json",
                       params={"CallSid": call.sid}, auth=server.auth).json()["webhooks"]
    assert len(listed) == 1 and listed[0]["status"] == "delivered" and listed[0]["attempts"] == 3
    assert [a["status_code"] for a in listed[0]["attempts_log"]] == [503, 503, 200]
    assert listed[0]["attempts_log"][0]["next_attempt_at"] is not None
    events = httpx.get(f"{server.base_url}/2010-04-01/Accounts/{server.project.sid}/Calls/{call.sid}/Events.json",
                       auth=server.auth).json()
    assert [e["response"]["response_code"] for e in events["events"]] == [503, 503, 200]
    assert events["events"][0]["request"]["parameters"]["CallStatus"] == "busy"


def test_client_errors_are_not_retried_and_can_be_resent(server: RunningEngine, client: Client, web: Backend) -> None:
    path = f"/status/{next(_paths)}"
    answers = iter([(404, "text/plain", "nope")])
    url = web.route(path, lambda _r: next(answers, (200, "text/plain", "ok")))
    call = client.calls.create(to="+15005550003", from_="+18005550100", twiml=SHORT, status_callback=url)
    web.wait_for(path, call.sid)
    base = f"{server.base_url}/2010-04-01/Accounts/{server.project.sid}"
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        listed = httpx.get(f"{base}/Webhooks.json", params={"CallSid": call.sid}, auth=server.auth).json()["webhooks"]
        if listed and listed[0]["status"] == "failed":
            break
        time.sleep(0.05)
    assert listed[0]["status"] == "failed" and listed[0]["last_status_code"] == 404
    assert len(web.requests(path, call.sid)) == 1
    r = httpx.post(f"{base}/Webhooks/{listed[0]['sid']}/Resend.json", auth=server.auth)
    assert r.status_code == 200, r.text
    assert len(web.wait_for(path, call.sid, count=2)) == 2
    assert httpx.post(f"{base}/Webhooks/WHnope/Resend.json", auth=server.auth).status_code == 404


def test_fragment_options_limit_retries(server: RunningEngine, client: Client, web: Backend) -> None:
    path = f"/status/{next(_paths)}"
    url = web.route(path, (500, "text/plain", "down"))
    call = client.calls.create(to="+15005550003", from_="+18005550100", twiml=SHORT,
                               status_callback=url + "#rc=1&rp=5xx&ct=1000")
    got = web.wait_for(path, call.sid, count=2)
    time.sleep(1.0)
    assert len(web.requests(path, call.sid)) == 2 == len(got)  # the first attempt and one retry
