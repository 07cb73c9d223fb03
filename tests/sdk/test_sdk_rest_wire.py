"""`wirexaapi.Client` as SignalWire's `signalwire.rest.Client`: how the space is named, and the raw
REST requests it sends (paths, headers, forms, paging), checked on a recording HTTP server."""

from __future__ import annotations

import base64
import json
from collections import Counter
from typing import Any

import pytest
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client as TwilioClient

import wirexaapi
from sdk_support import PROJECT, TOKEN, RecordingServer, Seen
from wirexaapi import Client

CALL = "CA" + "1" * 32
RECORDING = "RE" + "2" * 32
NUMBER = "PN" + "3" * 32
P = f"/api/laml/2010-04-01/Accounts/{PROJECT}"  # where every request goes
U = f"/2010-04-01/Accounts/{PROJECT}"  # what the server's URIs look like (no /api/laml)
DATE = "Tue, 14 Jan 2025 10:00:00 +0000"


def call_json(sid: str = CALL, status: str = "queued", to: str = "+15551234567") -> dict[str, Any]:
    return {
        "sid": sid, "account_sid": PROJECT, "parent_call_sid": None, "date_created": DATE, "date_updated": DATE,
        "start_time": None, "end_time": None, "to": to, "to_formatted": to, "from": "+15559876543",
        "from_formatted": "+15559876543", "phone_number_sid": None, "status": status, "duration": None,
        "price": None, "price_unit": "USD", "direction": "outbound-api", "answered_by": None, "annotation": None,
        "api_version": "2010-04-01", "forwarded_from": None, "group_sid": None, "caller_name": None,
        "queue_time": "0", "trunk_sid": None, "uri": f"{U}/Calls/{sid}.json",
        "subresource_uris": {"recordings": f"{U}/Calls/{sid}/Recordings.json"},
    }


def recording_json(sid: str = RECORDING) -> dict[str, Any]:
    return {
        "account_sid": PROJECT, "api_version": "2010-04-01", "call_sid": CALL, "conference_sid": None,
        "date_created": DATE, "date_updated": DATE, "start_time": DATE, "duration": "7", "sid": sid,
        "price": None, "uri": f"{U}/Recordings/{sid}.json", "price_unit": "USD", "status": "completed",
        "source": "OutboundAPI", "error_code": None, "channels": 1, "track": "both",
        "media_url": f"https://wirexa.example/recordings/{sid}", "encryption_details": None,
        "subresource_uris": {},
    }


def number_json(voice_url: str = "https://backend.example/in") -> dict[str, Any]:
    return {"sid": NUMBER, "account_sid": PROJECT, "phone_number": "+13125550777",
            "friendly_name": "(312) 555-0777", "voice_url": voice_url, "voice_method": "POST",
            "date_created": DATE, "date_updated": DATE, "api_version": "2010-04-01",
            "uri": f"{U}/IncomingPhoneNumbers/{NUMBER}.json"}


def basic() -> str:
    return "Basic " + base64.b64encode(f"{PROJECT}:{TOKEN}".encode()).decode()


@pytest.fixture
def client(recorder: RecordingServer) -> Client:
    return Client(PROJECT, TOKEN, signalwire_space_url=recorder.url)


# -- Naming the space ------------------------------------------------------------------------------

@pytest.mark.parametrize(("given", "space"), [
    ("wirexaapi.com", "https://wirexaapi.com"),
    ("api.wirexaapi.com:8443", "https://api.wirexaapi.com:8443"),
    ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
    ("http://[::1]:8080/", "http://[::1]:8080"),
    ("HTTPS://pbx.example", "https://pbx.example"),
    ("https://pbx.example/wirexa/", "https://pbx.example/wirexa"),
    ("https://pbx.example/api/laml", "https://pbx.example"),
    ("http://10.0.0.5:8080/api/laml/2010-04-01", "http://10.0.0.5:8080"),
])
def test_space_url_forms(given: str, space: str) -> None:
    client = Client(PROJECT, TOKEN, signalwire_space_url=given)
    assert client.space_url == space
    assert client.api.base_url == space + "/api/laml"
    assert client.calling.url == space + "/api/calling/calls"
    assert client.account_sid == client.username == PROJECT and client.password == TOKEN


@pytest.mark.parametrize("bad", ["", "   ", "ftp://files.example", "http://", "https://host:notaport"])
def test_bad_space_urls_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        Client(PROJECT, TOKEN, signalwire_space_url=bad)


def test_space_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="WIREXA_URL or SIGNALWIRE_SPACE_URL"):
        Client(PROJECT, TOKEN)
    monkeypatch.setenv("SIGNALWIRE_SPACE_URL", "example.signalwire.com")
    assert Client(PROJECT, TOKEN).space_url == "https://example.signalwire.com"
    monkeypatch.setenv("WIREXA_URL", "http://127.0.0.1:9000")
    assert Client(PROJECT, TOKEN).space_url == "http://127.0.0.1:9000"  # the Wirexa-specific one wins
    assert Client(PROJECT, TOKEN, signalwire_space_url="wirexaapi.com").space_url == "https://wirexaapi.com"
    # twilio's `environment=` mapping replaces os.environ, as it does for TWILIO_ACCOUNT_SID.
    env = {"SIGNALWIRE_SPACE_URL": "from-mapping.example", "TWILIO_ACCOUNT_SID": "P2", "TWILIO_AUTH_TOKEN": "T2"}
    c = Client(environment=env)
    assert (c.space_url, c.username, c.password) == ("https://from-mapping.example", "P2", "T2")


def test_it_is_twilios_client_and_the_signalwire_spellings_import() -> None:
    from wirexaapi.request_validator import RequestValidator
    from wirexaapi.rest import Client as RestClient
    from wirexaapi.voice_response import VoiceResponse

    assert RestClient is Client and issubclass(Client, TwilioClient)
    r = VoiceResponse()
    r.say("Hello!")
    r.hangup()
    assert str(r).endswith("<Response><Say>Hello!</Say><Hangup /></Response>")
    assert RequestValidator(TOKEN).validate("https://b.example/x", {}, "nope") is False
    assert wirexaapi.TwilioRestException is TwilioRestException


# -- Calls ------------------------------------------------------------------------------------------

def check_headers(got: Seen, form: bool) -> None:
    assert got.headers["authorization"] == basic()
    assert got.headers["accept"] == "application/json"
    if form:
        assert got.headers["content-type"] == "application/x-www-form-urlencoded"
    assert "wirexaapi/" in got.headers["user-agent"]


def test_create_with_every_parameter(client: Client, recorder: RecordingServer) -> None:
    recorder.answer("POST", f"{P}/Calls.json", (201, call_json()))
    call = client.calls.create(
        to="+15551234567", from_="+15559876543", url="https://backend.example/voice", method="GET",
        status_callback="https://backend.example/status", status_callback_method="POST",
        status_callback_event=["initiated", "ringing", "answered", "completed"], timeout=28, record=True,
        recording_status_callback="https://backend.example/rec", recording_status_callback_method="GET",
        recording_status_callback_event=["in-progress", "completed"], machine_detection="Enable",
        machine_detection_timeout=10, machine_detection_speech_threshold=2400,
        machine_detection_speech_end_threshold=1200, machine_detection_silence_timeout=5000, async_amd=True,
        async_amd_status_callback="https://backend.example/amd", async_amd_status_callback_method="POST",
        send_digits="1234w#", fallback_url="https://backend.example/fallback",
    )
    assert (call.sid, call.status, call.to, call._from) == (CALL, "queued", "+15551234567", "+15559876543")
    got = recorder.last()
    # twilio's serialization, kept as is: Record=true but AsyncAmd=True (str(True)); wire-compat.md
    # has the server parse booleans case-insensitively.
    assert (got.method, got.target) == ("POST", f"{P}/Calls.json")
    check_headers(got, form=True)
    assert Counter(got.form) == Counter([
        ("To", "+15551234567"), ("From", "+15559876543"), ("Url", "https://backend.example/voice"),
        ("Method", "GET"), ("StatusCallback", "https://backend.example/status"), ("StatusCallbackMethod", "POST"),
        ("StatusCallbackEvent", "initiated"), ("StatusCallbackEvent", "ringing"),
        ("StatusCallbackEvent", "answered"), ("StatusCallbackEvent", "completed"), ("Timeout", "28"),
        ("Record", "true"), ("RecordingStatusCallback", "https://backend.example/rec"),
        ("RecordingStatusCallbackMethod", "GET"), ("RecordingStatusCallbackEvent", "in-progress"),
        ("RecordingStatusCallbackEvent", "completed"), ("MachineDetection", "Enable"),
        ("MachineDetectionTimeout", "10"), ("MachineDetectionSpeechThreshold", "2400"),
        ("MachineDetectionSpeechEndThreshold", "1200"), ("MachineDetectionSilenceTimeout", "5000"),
        ("AsyncAmd", "True"), ("AsyncAmdStatusCallback", "https://backend.example/amd"),
        ("AsyncAmdStatusCallbackMethod", "POST"), ("SendDigits", "1234w#"),
        ("FallbackUrl", "https://backend.example/fallback"),
    ])
    # Unset arguments are omitted; Twiml instead of Url.
    client.calls.create(to="+15551234567", from_="+15559876543", twiml="<Response><Hangup/></Response>")
    assert recorder.last().form == [("To", "+15551234567"), ("From", "+15559876543"),
                                    ("Twiml", "<Response><Hangup/></Response>")]


def test_fetch_update_delete(client: Client, recorder: RecordingServer) -> None:
    path = f"{P}/Calls/{CALL}.json"
    recorder.answer("GET", path, (200, call_json(status="in-progress")))
    recorder.answer("POST", path, lambda got: (200, call_json(status="completed" if ("Status", "completed")
                                                                in got.form else "in-progress")))
    recorder.answer("DELETE", path, (204, None))
    assert client.calls(CALL).fetch().status == "in-progress"
    assert client.calls(CALL).update(status="completed").status == "completed"
    assert client.calls(CALL).update(url="https://backend.example/new-flow").status == "in-progress"
    assert client.calls(CALL).delete() is True
    fetched, hangup, redirect, deleted = recorder.take()
    assert (fetched.method, fetched.target, fetched.body) == ("GET", path, b"")
    assert (hangup.method, hangup.target, hangup.form) == ("POST", path, [("Status", "completed")])
    assert redirect.form == [("Url", "https://backend.example/new-flow")]
    assert (deleted.method, deleted.target) == ("DELETE", path)
    for got in (fetched, hangup, redirect):
        check_headers(got, form=got.method == "POST")
    assert deleted.headers["authorization"] == basic()


def paged_calls(total: int) -> Any:
    """Answers Calls.json pages the way Wirexa does: URIs without /api/laml, next_page_uri verbatim."""
    sids = [f"CA{i:032x}" for i in range(total)]

    def answer(got: Seen) -> tuple[int, Any]:
        q = dict(got.query)
        size, page = int(q.get("PageSize", 50)), int(q.get("Page", 0))
        chunk = sids[page * size:(page + 1) * size]
        more = (page + 1) * size < total
        base = f"{U}/Calls.json?Status=completed&PageSize={size}"
        return 200, {
            "calls": [call_json(sid, "completed") for sid in chunk],
            "uri": f"{base}&Page={page}", "first_page_uri": f"{base}&Page=0",
            "next_page_uri": f"{base}&Page={page + 1}&PageToken=PA{page + 1}" if more else None,
            "previous_page_uri": None, "page": page, "page_size": size,
            "start": page * size, "end": page * size + len(chunk) - 1,
        }

    return answer, sids


def test_list_and_stream_follow_next_page_uri_under_the_prefix(client: Client, recorder: RecordingServer) -> None:
    answer, sids = paged_calls(5)
    recorder.answer("GET", f"{P}/Calls.json", answer)
    calls = client.calls.list(limit=50, status="completed")
    assert [c.sid for c in calls] == sids
    (only,) = recorder.take()
    assert only.target == f"{P}/Calls.json?Status=completed&PageSize=50"
    check_headers(only, form=False)

    streamed = [c.sid for c in client.calls.stream(status="completed", page_size=2)]
    assert streamed == sids
    targets = [got.target for got in recorder.take()]
    assert targets == [
        f"{P}/Calls.json?Status=completed&PageSize=2",
        f"{P}/Calls.json?Status=completed&PageSize=2&Page=1&PageToken=PA1",
        f"{P}/Calls.json?Status=completed&PageSize=2&Page=2&PageToken=PA2",
    ]
    assert [c.sid for c in client.calls.list(status="completed", page_size=2, limit=3)] == sids[:3]


def test_list_filters(client: Client, recorder: RecordingServer) -> None:
    from datetime import datetime, timezone

    recorder.answer("GET", f"{P}/Calls.json", (200, {"calls": [], "next_page_uri": None, "page": 0,
                                                     "page_size": 20}))
    client.calls.list(to="+15551234567", from_="+15559876543", parent_call_sid=CALL, status="busy",
                      start_time_after=datetime(2025, 1, 14, tzinfo=timezone.utc), page_size=20)
    assert dict(recorder.last().query) == {
        "To": "+15551234567", "From": "+15559876543", "ParentCallSid": CALL, "Status": "busy",
        "StartTime>": "2025-01-14T00:00:00Z", "PageSize": "20"}


# -- Recordings ------------------------------------------------------------------------------------

def test_recordings_list_fetch_delete_and_under_a_call(client: Client, recorder: RecordingServer) -> None:
    page = {"recordings": [recording_json()], "next_page_uri": None, "page": 0, "page_size": 50,
            "uri": f"{U}/Recordings.json"}
    recorder.answer("GET", f"{P}/Recordings.json", (200, page))
    recorder.answer("GET", f"{P}/Calls/{CALL}/Recordings.json", (200, page))
    recorder.answer("GET", f"{P}/Recordings/{RECORDING}.json", (200, recording_json()))
    recorder.answer("GET", f"{P}/Calls/{CALL}/Recordings/{RECORDING}.json", (200, recording_json()))
    recorder.answer("DELETE", f"{P}/Recordings/{RECORDING}.json", (204, None))
    recorder.answer("DELETE", f"{P}/Calls/{CALL}/Recordings/{RECORDING}.json", (204, None))

    (rec,) = client.recordings.list()
    assert (rec.sid, rec.call_sid, rec.duration, rec.status, rec.channels) == (RECORDING, CALL, "7", "completed", 1)
    assert rec.date_created is not None and rec.date_created.year == 2025
    assert client.recordings(RECORDING).fetch().sid == RECORDING
    assert [r.sid for r in client.recordings.list(call_sid=CALL)] == [RECORDING]
    assert client.recordings(RECORDING).delete() is True
    assert [r.sid for r in client.calls(CALL).recordings.list()] == [RECORDING]
    assert client.calls(CALL).recordings(RECORDING).fetch().call_sid == CALL
    assert client.calls(CALL).recordings(RECORDING).delete() is True

    seen = [(got.method, got.target) for got in recorder.take()]
    assert seen == [  # list() without a limit sends no PageSize: the server's default (50) applies
        ("GET", f"{P}/Recordings.json"),
        ("GET", f"{P}/Recordings/{RECORDING}.json"),
        ("GET", f"{P}/Recordings.json?CallSid={CALL}"),
        ("DELETE", f"{P}/Recordings/{RECORDING}.json"),
        ("GET", f"{P}/Calls/{CALL}/Recordings.json"),
        ("GET", f"{P}/Calls/{CALL}/Recordings/{RECORDING}.json"),
        ("DELETE", f"{P}/Calls/{CALL}/Recordings/{RECORDING}.json"),
    ]


# -- Incoming phone numbers ------------------------------------------------------------------------

def test_incoming_phone_numbers(client: Client, recorder: RecordingServer) -> None:
    recorder.answer("POST", f"{P}/IncomingPhoneNumbers.json", (201, number_json()))
    recorder.answer("GET", f"{P}/IncomingPhoneNumbers.json", (200, {
        "incoming_phone_numbers": [number_json()], "next_page_uri": None, "page": 0, "page_size": 50}))
    recorder.answer("GET", f"{P}/IncomingPhoneNumbers/{NUMBER}.json", (200, number_json()))
    recorder.answer("POST", f"{P}/IncomingPhoneNumbers/{NUMBER}.json", (200, number_json("https://b.example/2")))
    recorder.answer("DELETE", f"{P}/IncomingPhoneNumbers/{NUMBER}.json", (204, None))

    created = client.incoming_phone_numbers.create(phone_number="+13125550777",
                                                   voice_url="https://backend.example/in")
    assert (created.sid, created.phone_number) == (NUMBER, "+13125550777")
    assert [n.sid for n in client.incoming_phone_numbers.list(phone_number="+13125550777")] == [NUMBER]
    assert client.incoming_phone_numbers(NUMBER).fetch().voice_url == "https://backend.example/in"
    assert client.incoming_phone_numbers(NUMBER).update(voice_url="https://b.example/2").voice_url == \
        "https://b.example/2"
    assert client.incoming_phone_numbers(NUMBER).delete() is True
    create, listed, fetched, updated, deleted = recorder.take()
    assert sorted(create.form) == [("PhoneNumber", "+13125550777"), ("VoiceUrl", "https://backend.example/in")]
    assert listed.target == f"{P}/IncomingPhoneNumbers.json?PhoneNumber=%2B13125550777"
    assert (fetched.method, updated.method, updated.form) == ("GET", "POST", [("VoiceUrl", "https://b.example/2")])
    assert deleted.method == "DELETE"


# -- Errors ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("status", "code", "message"), [
    (401, 20003, "Authenticate"),
    (400, 21211, "Invalid 'To' Phone Number: abc"),
    (404, 20404, "The requested resource /x was not found"),
    (402, 20005, "No credits remaining for this project"),
])
def test_errors_raise_twilio_rest_exception(client: Client, recorder: RecordingServer, status: int, code: int,
                                           message: str) -> None:
    recorder.answer("POST", f"{P}/Calls.json", (status, {
        "code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status, "detail": message}))
    with pytest.raises(TwilioRestException) as caught:
        client.calls.create(to="abc", from_="+15559876543", url="https://backend.example/voice")
    err = caught.value
    assert type(err) is TwilioRestException  # twilio's own class, as with SignalWire's SDK
    assert (err.status, err.code, err.method) == (status, code, "POST")
    assert message in err.msg and err.uri == f"/Accounts/{PROJECT}/Calls.json"


def test_other_twilio_domains_never_leave_for_twilio_com(client: Client, recorder: RecordingServer) -> None:
    with pytest.raises(TwilioException, match="not part of the Wirexa space"):
        client.lookups.v2.phone_numbers("+15551234567").fetch()
    assert recorder.take() == []


def test_twilio_edge_and_region_do_not_rewrite_the_host(recorder: RecordingServer,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWILIO_EDGE", "sydney")
    monkeypatch.setenv("TWILIO_REGION", "au1")
    recorder.answer("GET", f"{P}/Calls/{CALL}.json", (200, call_json()))
    assert Client(PROJECT, TOKEN, signalwire_space_url=recorder.url).calls(CALL).fetch().sid == CALL
    assert json.loads(json.dumps(recorder.last().target)) == f"{P}/Calls/{CALL}.json"
