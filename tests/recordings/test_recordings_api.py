"""The Recordings API and downloads over real HTTP (SQLite and PostgreSQL): every key the SDKs
read, list filters and paging, HTTP Range, 202 while a file is made, who must authenticate."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from engine_support import RunningEngine
from recording_support import decode_mp3, read_wav, voice_like
from wirexa.audio.pcm import write_wav
from wirexa.recordings.files import encode_mp3
from wirexa.sids import new_call_sid, new_sid

# wire-compat.md: the classic SignalWire SDK reads these with payload[k] (KeyError if missing) ...
STRICT_KEYS = {"account_sid", "api_version", "call_sid", "conference_sid", "date_created", "date_updated",
               "start_time", "duration", "sid", "price", "uri", "price_unit", "status", "source", "error_code"}
# ... and these are sent as well.
ALSO_KEYS = {"channels", "track", "media_url", "encryption_details", "subresource_uris"}
PAGE_KEYS = {"recordings", "uri", "first_page_uri", "next_page_uri", "previous_page_uri", "page", "page_size",
             "start", "end"}


def make_recording(server: RunningEngine, *, status: str = "completed", call_sid: str | None = None,
                   created: datetime | None = None, seconds: float = 1.0, files: tuple[str, ...] = ("wav", "mp3"),
                   account_sid: str | None = None) -> dict[str, Any]:
    """A stored recording with real files, as the service leaves one."""
    service = server.engine.recordings
    sid = new_sid("RE")
    values: dict[str, Any] = {
        "sid": sid, "account_sid": account_sid or server.project.sid, "call_sid": call_sid or new_call_sid(),
        "source": "RecordVerb", "track": "inbound", "channels": 1, "status": status,
        "start_time": created or datetime.now(timezone.utc), "duration_ms": int(seconds * 1000),
        "node_id": "test-node",
    }
    if created is not None:
        values.update(date_created=created, date_updated=created)
    row = service.store.create(values)
    if "wav" in files:
        wav = service.storage.working_path(sid, "wav")
        write_wav(wav, voice_like(seconds))
        if "mp3" in files:
            encode_mp3(wav, service.storage.working_path(sid, "mp3"))
    return row


def base(server: RunningEngine, prefix: str = "") -> str:
    return f"{server.base_url}{prefix}/2010-04-01/Accounts/{server.project.sid}"


def test_recording_json_has_every_key_the_sdks_read(server: RunningEngine) -> None:
    row = make_recording(server, seconds=2.4)
    r = httpx.get(f"{base(server)}/Recordings/{row['sid']}.json", auth=server.auth)
    assert r.status_code == 200
    body = r.json()
    assert set(body) == STRICT_KEYS | ALSO_KEYS
    assert body["sid"] == row["sid"] and body["call_sid"] == row["call_sid"]
    assert body["duration"] == "2" and body["channels"] == 1 and body["status"] == "completed"
    assert body["api_version"] == "2010-04-01" and body["price_unit"] == "USD" and body["price"] is None
    assert body["date_created"].endswith(" +0000") and body["start_time"].endswith(" +0000")
    assert body["uri"] == f"/2010-04-01/Accounts/{server.project.sid}/Recordings/{row['sid']}.json"
    assert body["media_url"] == f"{base(server)}/Recordings/{row['sid']}"
    assert set(body["subresource_uris"]) == {"add_on_results", "transcriptions"}
    # The same under /api/laml, and under the call.
    laml = httpx.get(f"{base(server, '/api/laml')}/Recordings/{row['sid']}.json", auth=server.auth).json()
    assert laml == body
    under = httpx.get(f"{base(server)}/Calls/{row['call_sid']}/Recordings/{row['sid']}.json", auth=server.auth)
    assert under.json() == body
    other_call = httpx.get(f"{base(server)}/Calls/{new_call_sid()}/Recordings/{row['sid']}.json", auth=server.auth)
    assert other_call.status_code == 404


def test_list_pages_and_filters(server: RunningEngine, client: Client) -> None:
    call = new_call_sid()
    day = datetime(2024, 3, 10, 12, 0, tzinfo=timezone.utc)
    rows = [make_recording(server, call_sid=call, created=day + timedelta(days=i), files=()) for i in range(3)]
    r = httpx.get(f"{base(server)}/Calls/{call}/Recordings.json", params={"PageSize": 2}, auth=server.auth)
    assert r.status_code == 200
    page = r.json()
    assert set(page) <= PAGE_KEYS and [x["sid"] for x in page["recordings"]] == [rows[2]["sid"], rows[1]["sid"]]
    assert page["next_page_uri"].startswith(f"/2010-04-01/Accounts/{server.project.sid}/Calls/{call}/Recordings.json")
    nxt = httpx.get(server.base_url + page["next_page_uri"], auth=server.auth).json()
    assert [x["sid"] for x in nxt["recordings"]] == [rows[0]["sid"]] and nxt["next_page_uri"] is None
    for x in page["recordings"]:
        assert set(x) == STRICT_KEYS | ALSO_KEYS

    def sids(**kwargs: Any) -> list[str]:
        return [x.sid for x in client.recordings.list(call_sid=call, **kwargs)]

    assert sids() == [rows[2]["sid"], rows[1]["sid"], rows[0]["sid"]]
    assert sids(date_created=day + timedelta(days=1)) == [rows[1]["sid"]]
    assert sids(date_created_before=day + timedelta(days=1)) == [rows[1]["sid"], rows[0]["sid"]]
    assert sids(date_created_after=day + timedelta(days=1)) == [rows[2]["sid"], rows[1]["sid"]]
    assert [x.sid for x in client.calls(call).recordings.list(date_created=day)] == [rows[0]["sid"]]
    # The raw filter names, as curl users send them.
    q = httpx.get(f"{base(server)}/Recordings.json", auth=server.auth,
                  params={"CallSid": call, "DateCreated>": "2024-03-11", "DateCreated<": "2024-03-11"}).json()
    assert [x["sid"] for x in q["recordings"]] == [rows[1]["sid"]]


def test_twilio_sdk_fetches_and_deletes(server: RunningEngine, client: Client) -> None:
    row = make_recording(server, seconds=1.5)
    got = client.recordings(row["sid"]).fetch()
    assert (got.sid, got.call_sid, got.status, got.channels, got.duration) == (row["sid"], row["call_sid"],
                                                                               "completed", 1, "2")
    assert got.date_created is not None and got.start_time is not None
    storage = server.engine.recordings.storage
    assert client.calls(row["call_sid"]).recordings(row["sid"]).delete() is True
    assert storage.size(row["sid"], "wav") is None and storage.size(row["sid"], "mp3") is None
    with pytest.raises(TwilioRestException) as failed:
        client.recordings(row["sid"]).fetch()
    assert failed.value.status == 404
    busy = make_recording(server, status="in-progress", files=("wav",))
    r = httpx.delete(f"{base(server)}/Recordings/{busy['sid']}.json", auth=server.auth)
    assert r.status_code == 400 and storage.size(busy["sid"], "wav")


def test_downloads_answer_range_requests(server: RunningEngine) -> None:
    row = make_recording(server, seconds=3.0)
    short = f"{server.base_url}/recordings/{row['sid']}"
    whole = httpx.get(short + ".wav")
    assert whole.status_code == 200 and whole.headers["accept-ranges"] == "bytes"
    size = len(whole.content)
    assert int(whole.headers["content-length"]) == size and size == 44 + 3 * 8000 * 2
    samples, channels, rate = read_wav(whole.content)
    assert (len(samples), channels, rate) == (24000, 1, 8000)

    for header, start, end in (("bytes=0-99", 0, 99), ("bytes=100-", 100, size - 1), ("bytes=-100", size - 100, size - 1),
                               (f"bytes=1000-{size + 500}", 1000, size - 1)):
        r = httpx.get(short + ".wav", headers={"Range": header})
        assert r.status_code == 206, header
        assert r.headers["content-range"] == f"bytes {start}-{end}/{size}"
        assert r.content == whole.content[start:end + 1]
    r = httpx.get(short + ".wav", headers={"Range": f"bytes={size}-"})
    assert r.status_code == 416 and r.headers["content-range"] == f"bytes */{size}"
    head = httpx.head(short + ".mp3")
    assert head.status_code == 200 and head.headers["content-type"] == "audio/mpeg" and head.content == b""
    mp3 = httpx.get(short + ".mp3")
    assert int(head.headers["content-length"]) == len(mp3.content)
    assert len(decode_mp3(mp3.content, 1)) == 24000
    tail = httpx.get(short + ".mp3", headers={"Range": "bytes=-1000"})
    assert tail.status_code == 206 and tail.content == mp3.content[-1000:]

    # Twilio's media path (auth by default), with and without an extension, both prefixes.
    api = f"{base(server)}/Recordings/{row['sid']}"
    assert httpx.get(api + ".wav").status_code == 401
    assert httpx.get(api + ".wav", auth=server.auth).content == whole.content
    assert httpx.get(api, auth=server.auth).content == whole.content
    assert httpx.get(f"{base(server, '/api/laml')}/Recordings/{row['sid']}.mp3", auth=server.auth).content == mp3.content
    ranged = httpx.get(api + ".wav", auth=server.auth, headers={"Range": "bytes=44-143"})
    assert ranged.status_code == 206 and ranged.content == whole.content[44:144]
    # By call.
    assert httpx.get(f"{server.base_url}/recordings/call/{row['call_sid']}.wav").content == whole.content
    assert httpx.get(f"{server.base_url}/recordings/call/{new_call_sid()}.wav").status_code == 404
    assert httpx.get(f"{server.base_url}/recordings/{new_sid('RE')}.wav").status_code == 404


def test_files_still_being_made_answer_202(server: RunningEngine) -> None:
    running = make_recording(server, status="in-progress", files=("wav",))
    processing = make_recording(server, status="processing", files=("wav",))
    assert httpx.get(f"{server.base_url}/recordings/{running['sid']}.wav").status_code == 202
    r = httpx.get(f"{server.base_url}/recordings/{processing['sid']}.mp3")
    assert r.status_code == 202 and r.headers["retry-after"] == "1" and r.json()["recording_status"] == "processing"
    assert httpx.get(f"{server.base_url}/recordings/{processing['sid']}.wav").status_code == 200
    body = httpx.get(f"{base(server)}/Recordings/{running['sid']}.json", auth=server.auth).json()
    assert body["status"] == "in-progress" and body["duration"] == "-1"


def test_media_auth_is_a_project_setting(server: RunningEngine) -> None:
    row = make_recording(server)
    short = f"{server.base_url}/recordings/{row['sid']}.wav"
    api = f"{base(server)}/Recordings/{row['sid']}.wav"
    projects = server.engine.projects
    cache = server.engine.api_context.authenticator._cache
    try:
        projects.set_limits(server.project.sid, media_auth="all")
        cache.clear()
        assert httpx.get(short).status_code == 401
        assert httpx.get(short, auth=server.auth).status_code == 200
        assert httpx.get(short, auth=(server.project.sid, "PT" + "0" * 48)).status_code == 401
        projects.set_limits(server.project.sid, media_auth="none")
        cache.clear()
        assert httpx.get(api).status_code == 200 and httpx.get(short).status_code == 200
    finally:
        projects.set_limits(server.project.sid, media_auth="api")
        cache.clear()
    assert httpx.get(api).status_code == 401 and httpx.get(short).status_code == 200


def test_other_projects_recordings_are_not_found(server: RunningEngine) -> None:
    other = server.engine.projects.create("other")
    row = make_recording(server, account_sid=other.sid)
    assert httpx.get(f"{base(server)}/Recordings/{row['sid']}.json", auth=server.auth).status_code == 404
    assert httpx.get(f"{base(server)}/Recordings/{row['sid']}.wav", auth=server.auth).status_code == 404
    assert httpx.delete(f"{base(server)}/Recordings/{row['sid']}.json", auth=server.auth).status_code == 404
    listed = httpx.get(f"{base(server)}/Recordings.json", params={"CallSid": row["call_sid"]}, auth=server.auth)
    assert listed.json()["recordings"] == []
