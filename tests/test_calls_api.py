"""The Calls REST API driven over real HTTP by the `twilio` SDK (and raw HTTP), on both databases."""

from __future__ import annotations

import base64
import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from engine_support import RunningEngine, set_call_state
from wirexa.calls import status as st


def create(client: Client, **kw: object):  # type: ignore[no-untyped-def]
    args = dict(to="+13125551234", from_="+18005550100", url="https://backend.example/voice")
    args.update(kw)
    return client.calls.create(**args)


def test_create_with_every_parameter_is_queued_and_stored(server: RunningEngine, client: Client) -> None:
    call = client.calls.create(
        to="+1 (312) 555-1234",
        from_="+18005550100",
        url="https://backend.example/voice",
        method="GET",
        fallback_url="https://backend.example/fallback",
        fallback_method="GET",
        status_callback="https://backend.example/status",
        status_callback_method="GET",
        status_callback_event=["initiated", "ringing", "answered", "completed"],
        timeout=28,
        record=True,
        recording_channels="dual",
        recording_status_callback="https://backend.example/rec",
        recording_status_callback_method="GET",
        recording_status_callback_event=["in-progress", "completed"],
        machine_detection="DetectMessageEnd",
        machine_detection_timeout=15,
        machine_detection_speech_threshold=2400,
        machine_detection_speech_end_threshold=1200,
        machine_detection_silence_timeout=5000,
        async_amd=True,
        async_amd_status_callback="https://backend.example/amd",
        async_amd_status_callback_method="GET",
        send_digits="1234w#",
        time_limit=600,
        caller_id="+18005550100",
    )
    assert call.sid.startswith("CA") and len(call.sid) == 34
    assert call.status == "queued"
    assert call.to == "+13125551234" and call.to_formatted == "(312) 555-1234"
    assert call._from == "+18005550100"
    assert call.direction == "outbound-api"
    assert call.account_sid == server.project.sid
    assert isinstance(call.date_created, datetime) and call.date_created.tzinfo is not None
    assert call.uri == f"/2010-04-01/Accounts/{server.project.sid}/Calls/{call.sid}.json"
    assert call.api_version == "2010-04-01"

    stored = server.engine.calls.get(server.project.sid, call.sid)
    assert stored is not None
    expected = {
        "method": "GET", "fallback_url": "https://backend.example/fallback", "fallback_method": "GET",
        "status_callback": "https://backend.example/status", "status_callback_method": "GET",
        "status_callback_event": "initiated ringing answered completed", "timeout": 28,
        "record": True, "recording_channels": "dual",
        "recording_status_callback": "https://backend.example/rec",
        "recording_status_callback_method": "GET", "recording_status_callback_event": "in-progress completed",
        "machine_detection": "DetectMessageEnd", "machine_detection_timeout": 15,
        "machine_detection_speech_threshold": 2400, "machine_detection_speech_end_threshold": 1200,
        "machine_detection_silence_timeout": 5000, "async_amd": True,
        "async_amd_status_callback": "https://backend.example/amd",
        "async_amd_status_callback_method": "GET", "send_digits": "1234w#", "time_limit": 600,
        "caller_id": "+18005550100",
    }
    assert {k: stored[k] for k in expected} == expected

    fetched = client.calls(call.sid).fetch()
    assert fetched.sid == call.sid and fetched.status == "queued"
    assert fetched.date_created == call.date_created


def test_create_returns_every_call_key_in_twilio_formats(server: RunningEngine) -> None:
    r = httpx.post(server.calls_url, auth=server.auth,
                   data={"To": "sip:alice@127.0.0.1:5070", "From": "+18005550100", "Twiml": "<Response><Say>Hi</Say></Response>"})
    assert r.status_code == 201, r.text
    body = r.json()
    keys = ("sid account_sid parent_call_sid date_created date_updated start_time end_time to to_formatted "
            "from from_formatted phone_number_sid status duration price price_unit direction answered_by "
            "annotation api_version forwarded_from group_sid caller_name queue_time trunk_sid uri subresource_uris").split()
    assert set(keys) <= set(body)
    assert body["to"] == "sip:alice@127.0.0.1:5070"
    # RFC 2822 in UTC, as the SDKs parse it.
    datetime.strptime(body["date_created"], "%a, %d %b %Y %H:%M:%S +0000")
    assert body["duration"] is None and body["price"] is None and body["start_time"] is None


@pytest.mark.parametrize(
    ("overrides", "code", "names"),
    [
        ({"to": ""}, 21201, "To"),
        ({"to": "12345"}, 21211, "To"),
        ({"to": "sip:nobody"}, 21211, "To"),
        ({"from_": ""}, 21213, "From"),
        ({"from_": "+1"}, 21212, "From"),
        ({"url": "not a url"}, 21205, "Url"),
        ({"method": "PUT"}, 21209, "Method"),
        ({"timeout": -3}, 21208, "Timeout"),
        ({"send_digits": "12x"}, 21206, "SendDigits"),
        ({"status_callback": "ftp://x"}, 21205, "StatusCallback"),
        ({"status_callback_event": ["initiated", "exploded"]}, 21626, "StatusCallbackEvent"),
        ({"machine_detection": "Sometimes"}, 21200, "MachineDetection"),
        ({"machine_detection_timeout": 2}, 21200, "MachineDetectionTimeout"),
        ({"machine_detection_speech_threshold": 999}, 21200, "MachineDetectionSpeechThreshold"),
        ({"machine_detection_speech_end_threshold": 5001}, 21200, "MachineDetectionSpeechEndThreshold"),
        ({"machine_detection_silence_timeout": 1999}, 21200, "MachineDetectionSilenceTimeout"),
        ({"recording_status_callback_event": ["sometime"]}, 21626, "RecordingStatusCallbackEvent"),
        ({"status_callback_method": "DELETE"}, 21209, "StatusCallbackMethod"),
        ({"url": None, "twiml": "<Response><Say>unclosed</Response>"}, 12100, "Twiml"),
    ],
)
def test_invalid_create_parameters_raise_twilio_errors(client: Client, overrides: dict, code: int, names: str) -> None:
    with pytest.raises(TwilioRestException) as err:
        create(client, **overrides)
    assert err.value.status == 400
    assert err.value.code == code
    assert names in err.value.msg


def test_missing_url_and_twiml_is_rejected(server: RunningEngine) -> None:
    r = httpx.post(server.calls_url, auth=server.auth, data={"To": "+13125551234", "From": "+18005550100"})
    assert r.status_code == 400
    assert r.json()["code"] == 21205 and "Url" in r.json()["message"]


def test_booleans_are_case_insensitive_and_bad_ones_named(server: RunningEngine) -> None:
    base = {"To": "+13125551234", "From": "+18005550100", "Url": "https://b.example/v"}
    for raw, expected in (("TRUE", True), ("True", True), ("false", False), ("FALSE", False)):
        r = httpx.post(server.calls_url, auth=server.auth, data={**base, "Record": raw, "AsyncAmd": raw})
        assert r.status_code == 201, r.text
        stored = server.engine.calls.get(server.project.sid, r.json()["sid"])
        assert stored is not None and stored["record"] is expected and stored["async_amd"] is expected
    r = httpx.post(server.calls_url, auth=server.auth, data={**base, "Record": "perhaps"})
    assert r.status_code == 400 and "Record" in r.json()["message"]


def test_space_separated_status_callback_events_as_curl_users_send_them(server: RunningEngine) -> None:
    r = httpx.post(server.calls_url, auth=server.auth, data={
        "To": "+13125551234", "From": "+18005550100", "Url": "https://b.example/v",
        "StatusCallback": "https://b.example/s", "StatusCallbackEvent": "initiated ringing answered completed"})
    assert r.status_code == 201
    stored = server.engine.calls.get(server.project.sid, r.json()["sid"])
    assert stored is not None and stored["status_callback_event"] == "initiated ringing answered completed"


def test_list_pages_with_filters_newest_first_and_stable_under_inserts(server: RunningEngine, client: Client) -> None:
    to_a, to_b = "+13125550001", "+13125550002"
    made_a = [create(client, to=to_a).sid for _ in range(7)]
    for _ in range(3):
        create(client, to=to_b)

    # The SDK follows next_page_uri across three pages of three.
    listed = [c.sid for c in client.calls.list(to=to_a, page_size=3)]
    assert listed == made_a[::-1]

    # Raw paging: new calls arriving between pages neither duplicate nor skip records.
    first = httpx.get(server.calls_url, auth=server.auth, params={"To": to_a, "PageSize": 3}).json()
    assert set(first) == {"calls", "uri", "first_page_uri", "next_page_uri", "previous_page_uri",
                          "page", "page_size", "start", "end"}
    assert [c["sid"] for c in first["calls"]] == made_a[::-1][:3]
    assert first["next_page_uri"].startswith(f"/2010-04-01/Accounts/{server.project.sid}/Calls.json?")
    assert first["previous_page_uri"] is None and first["page"] == 0 and first["end"] == 2
    late = create(client, to=to_a).sid
    second = httpx.get(server.base_url + first["next_page_uri"], auth=server.auth).json()
    assert [c["sid"] for c in second["calls"]] == made_a[::-1][3:6]
    assert second["page"] == 1 and second["start"] == 3
    back = httpx.get(server.base_url + second["previous_page_uri"], auth=server.auth).json()
    assert [c["sid"] for c in back["calls"]] == made_a[::-1][:3]
    third = httpx.get(server.base_url + second["next_page_uri"], auth=server.auth).json()
    assert [c["sid"] for c in third["calls"]] == made_a[::-1][6:]
    assert third["next_page_uri"] is None
    # Page numbers without a token count from the newest call.
    page1 = httpx.get(server.calls_url, auth=server.auth, params={"To": to_a, "PageSize": 3, "Page": 1}).json()
    assert [c["sid"] for c in page1["calls"]] == [*made_a[::-1]][2:5]
    assert late not in listed


def test_list_filters_status_from_parent_and_times(server: RunningEngine, client: Client) -> None:
    src = "+14155550123"
    sids = [create(client, from_=src, to="+13125550100").sid for _ in range(3)]
    day = datetime(2025, 1, 14, 10, 0, tzinfo=timezone.utc)
    set_call_state(server.engine, sids[0], status=st.COMPLETED, start_time=day, end_time=day + timedelta(seconds=30))
    set_call_state(server.engine, sids[1], status=st.COMPLETED, start_time=day + timedelta(days=2),
                   end_time=day + timedelta(days=2, seconds=5), parent_call_sid=sids[0])
    set_call_state(server.engine, sids[2], status=st.IN_PROGRESS, start_time=day + timedelta(days=5))

    def sids_of(**kw: object) -> list[str]:
        return [c.sid for c in client.calls.list(from_=src, **kw)]

    assert sids_of(status="completed") == [sids[1], sids[0]]
    assert sids_of(status="in-progress") == [sids[2]]
    assert sids_of(parent_call_sid=sids[0]) == [sids[1]]
    assert sids_of(start_time=day.date()) == [sids[0]]
    assert sids_of(start_time_after=day + timedelta(days=1)) == [sids[2], sids[1]]
    assert sids_of(start_time_before=day + timedelta(days=2)) == [sids[1], sids[0]]
    assert sids_of(end_time=(day + timedelta(days=2)).date()) == [sids[1]]
    assert sids_of(end_time_after=day + timedelta(days=1), end_time_before=day + timedelta(days=3)) == [sids[1]]
    assert [c.sid for c in client.calls.list(to="+13125550100", from_=src, status="queued")] == []
    r = httpx.get(server.calls_url, auth=server.auth, params={"Status": "exploded"})
    assert r.status_code == 400 and "Status" in r.json()["message"]
    r = httpx.get(server.calls_url, auth=server.auth, params={"StartTime>": "yesterday"})
    assert r.status_code == 400 and "StartTime>" in r.json()["message"]
    r = httpx.get(server.calls_url, auth=server.auth, params={"PageSize": 1001})
    assert r.status_code == 400 and "PageSize" in r.json()["message"]


def test_update_cancel_queued_then_not_modifiable(client: Client) -> None:
    call = create(client)
    canceled = client.calls(call.sid).update(status="canceled")
    assert canceled.status == "canceled" and canceled.end_time is not None
    with pytest.raises(TwilioRestException) as err:
        client.calls(call.sid).update(status="completed")
    assert err.value.status == 400 and err.value.code == 21220
    with pytest.raises(TwilioRestException) as err:
        client.calls(call.sid).update(url="https://backend.example/new")
    assert err.value.code == 21220


def test_update_completed_on_a_queued_call_cancels_it(client: Client) -> None:
    call = create(client)
    assert client.calls(call.sid).update(status="completed").status == "canceled"


def test_update_url_on_queued_call_is_used_at_answer(server: RunningEngine, client: Client) -> None:
    call = create(client)
    updated = client.calls(call.sid).update(url="https://backend.example/new", method="GET")
    assert updated.status == "queued"
    stored = server.engine.calls.get(server.project.sid, call.sid)
    assert stored is not None and stored["url"] == "https://backend.example/new" and stored["method"] == "GET"
    assert call.sid not in server.live.redirected  # type: ignore[union-attr]


def test_update_live_call_hangs_up_and_redirects_through_the_engine(server: RunningEngine, client: Client) -> None:
    live = server.live
    assert live is not None
    call = create(client)
    set_call_state(server.engine, call.sid, status=st.IN_PROGRESS,
                   start_time=datetime.now(timezone.utc) - timedelta(seconds=65))
    with pytest.raises(TwilioRestException) as err:
        client.calls(call.sid).update(status="canceled")
    assert err.value.code == 21220 and "completed" in err.value.msg
    client.calls(call.sid).update(twiml="<Response><Hangup/></Response>")
    assert live.redirected[-1] == call.sid
    ended = client.calls(call.sid).update(status="completed")
    assert live.ended[-1] == (call.sid, "completed")
    assert ended.status == "completed"
    assert ended.duration == "65"
    assert ended.price == "-0.02000" and ended.price_unit == "USD"


def test_update_ringing_call_is_canceled_by_the_engine(server: RunningEngine, client: Client) -> None:
    call = create(client)
    set_call_state(server.engine, call.sid, status=st.RINGING)
    assert client.calls(call.sid).update(status="canceled").status == "canceled"
    assert server.live is not None and server.live.ended[-1] == (call.sid, "canceled")


def test_delete_only_finished_calls(client: Client) -> None:
    call = create(client)
    with pytest.raises(TwilioRestException) as err:
        client.calls(call.sid).delete()
    assert err.value.status == 400 and err.value.code == 21220
    client.calls(call.sid).update(status="canceled")
    assert client.calls(call.sid).delete() is True
    with pytest.raises(TwilioRestException) as err:
        client.calls(call.sid).fetch()
    assert err.value.status == 404 and err.value.code == 20404


def test_unknown_call_is_404(client: Client) -> None:
    with pytest.raises(TwilioRestException) as err:
        client.calls("CA" + "0" * 32).fetch()
    assert err.value.status == 404 and err.value.code == 20404


def test_missing_or_wrong_credentials_get_401_with_challenge(server: RunningEngine) -> None:
    for auth in (None, (server.project.sid, "PTwrong"), ("no-such-project", "x")):
        r = httpx.get(server.calls_url, auth=auth)
        assert r.status_code == 401
        assert r.json()["code"] == 20003
        assert r.headers["www-authenticate"].startswith("Basic")
    r = httpx.get(server.calls_url, headers={"Authorization": "Basic !!notbase64"})
    assert r.status_code == 401
    bad = Client(server.project.sid, "PTwrong")
    bad.api.base_url = server.base_url
    with pytest.raises(TwilioRestException) as err:
        create(bad)
    assert err.value.status == 401 and err.value.code == 20003


def test_projects_never_see_each_other(server: RunningEngine, client: Client) -> None:
    mine = create(client)
    other = server.engine.projects.create("Other")
    theirs = Client(other.sid, other.auth_token)
    theirs.api.base_url = server.base_url
    assert [c.sid for c in theirs.calls.list()] == []
    with pytest.raises(TwilioRestException) as err:
        theirs.calls(mine.sid).fetch()
    assert err.value.status == 404
    with pytest.raises(TwilioRestException) as err:
        theirs.calls(mine.sid).update(status="canceled")
    assert err.value.status == 404
    # Another project's account path answers as if it did not exist, for every method.
    foreign = f"{server.base_url}/2010-04-01/Accounts/{server.project.sid}/Calls"
    creds = (other.sid, other.auth_token)
    assert httpx.get(f"{foreign}.json", auth=creds).status_code == 404
    assert httpx.get(f"{foreign}/{mine.sid}.json", auth=creds).status_code == 404
    assert httpx.post(f"{foreign}.json", auth=creds, data={"To": "+13125551234"}).status_code == 404
    assert httpx.delete(f"{foreign}/{mine.sid}.json", auth=creds).status_code == 404
    assert client.calls(mine.sid).fetch().status == "queued"


def test_seed_curl_examples_on_the_api_laml_prefix(server: RunningEngine) -> None:
    sid, token = server.auth
    base = f"{server.base_url}/api/laml/2010-04-01/Accounts/{sid}"
    basic = "Basic " + base64.b64encode(f"{sid}:{token}".encode()).decode()
    # curl -X POST .../Calls.json -u "{ProjectID}:{ApiToken}" -d "To=..." -d "From=..." -d "Url=..."
    # Byte for byte what curl -d sends: the `+` is not encoded (a form decoder reads a space).
    r = httpx.post(f"{base}/Calls.json", headers={"Authorization": basic,
                                                 "Content-Type": "application/x-www-form-urlencoded"},
                   content="To=+15551234567&From=+15559876543&Url=https://your-backend.com/voice")
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["status"] == "queued" and made["to"] == "+15551234567" and made["from"] == "+15559876543"
    assert made["direction"] == "outbound-api" and made["account_sid"] == sid
    assert made["uri"].startswith("/2010-04-01/")  # never with the /api/laml prefix
    # The seed 001 form with --data-urlencode and every field it shows.
    r = httpx.post(f"{base}/Calls.json", auth=server.auth, data={
        "To": "+13125551234", "From": "+18005550100", "Url": "https://your-backend.com/xml",
        "StatusCallback": "https://your-backend.com/status", "MachineDetection": "Enable",
        "Record": "true", "RecordingStatusCallback": "https://your-backend.com/recording-status"})
    assert r.status_code == 201 and r.json()["url"] == "https://your-backend.com/xml"
    # curl ".../Calls.json?Status=completed&PageSize=50"; a GET may carry Content-Type with no body.
    r = httpx.get(f"{base}/Calls.json?Status=queued&PageSize=50", auth=server.auth,
                  headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200
    page = r.json()
    assert made["sid"] in [c["sid"] for c in page["calls"]]
    assert page["first_page_uri"].startswith("/2010-04-01/")
    r = httpx.get(f"{base}/Calls/{made['sid']}.json", auth=server.auth)
    assert r.status_code == 200 and r.json()["sid"] == made["sid"]
    r = httpx.post(f"{base}/Calls/{made['sid']}.json", auth=server.auth, data={"Status": "completed"})
    assert r.status_code == 200 and r.json()["status"] == "canceled"


def test_unknown_routes_and_methods_answer_in_twilio_shape(server: RunningEngine) -> None:
    r = httpx.get(f"{server.base_url}/2010-04-01/Accounts/{server.project.sid}/Nothing.json", auth=server.auth)
    assert r.status_code == 404 and r.json()["code"] == 20404
    r = httpx.put(server.calls_url, auth=server.auth)
    assert r.status_code == 405 and r.json()["code"] == 20004


def test_health_reports_the_database(server: RunningEngine) -> None:
    r = httpx.get(f"{server.base_url}/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["database_backend"] in ("sqlite", "postgresql")


def test_no_credits_is_402_and_a_funded_project_can_call(server: RunningEngine) -> None:
    from decimal import Decimal

    broke = server.engine.projects.create("Broke", billing_enabled=True, balance=Decimal(0))
    r = httpx.post(f"{server.base_url}/2010-04-01/Accounts/{broke.sid}/Calls.json",
                   auth=(broke.sid, broke.auth_token),
                   data={"To": "+13125551234", "From": "+18005550100", "Url": "https://b.example/v"})
    assert r.status_code == 402
    assert r.json()["detail"] == "No credits remaining for this project"
    assert r.json()["status"] == 402 and "code" in r.json() and "message" in r.json()
    rich = server.engine.projects.create("Rich", billing_enabled=True, balance=Decimal("5"))
    c = Client(rich.sid, rich.auth_token)
    c.api.base_url = server.base_url
    assert create(c).status == "queued"


def test_calls_above_the_cps_limit_wait_in_order(server: RunningEngine) -> None:
    from decimal import Decimal

    live = server.live
    assert live is not None
    project = server.engine.projects.create("Campaign", cps=Decimal(5))
    c = Client(project.sid, project.auth_token)
    c.api.base_url = server.base_url
    made = [create(c).sid for _ in range(12)]  # all accepted at once, none rejected
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        mine = [(s, t) for s, t in live.dialed if s in made]
        if len(mine) == len(made):
            break
        time.sleep(0.05)
    mine = [(s, t) for s, t in live.dialed if s in made]
    assert [s for s, _ in mine] == made  # handed to the dialer in creation order
    times = [t for _, t in mine]
    for i, t in enumerate(times):
        # Never more than 5 in any second (the sink's clock reads a moment after the hand-off).
        assert sum(1 for u in times[i:] if u - t < 0.98) <= 5
    assert times[-1] - times[0] >= 2.0  # 12 calls at 5/s need more than two seconds
    stored = server.engine.calls.get(project.sid, made[-1])
    assert stored is not None and stored["node_id"] == "test-node" and stored["status"] == "queued"
