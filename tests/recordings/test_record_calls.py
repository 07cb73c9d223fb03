"""Recordings end to end: REST create → a sandbox phone answers and talks → Wirexa records
(<Record>, Record=true, <Dial record>) → the files, the action and status callbacks, and the
API, checked against what the phone really sent."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from engine_support import RunningEngine, wait_status
from laml_backend import Backend, Received
from recording_support import (
    best_correlation, decode_mp3, download, over_the_line, read_wav, save_wav, seconds_of_tone, voice_like,
)
from sandbox_calls import FINAL, phone, sandbox_engine
from wirexa.audio.pcm import tone

_paths = itertools.count(1)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEngine]:
    yield from sandbox_engine(tmp_path_factory.mktemp("recordings"),
                              webhook_retry_delays="0.3,0.3", webhook_poll_interval=0.1)


@pytest.fixture(scope="module")
def audio_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("phone-audio")


def paths(web: Backend, *names: str, answer: str = "") -> list[str]:
    """Fresh paths on the backend (one test's documents and callbacks)."""
    n = next(_paths)
    out = []
    for name in names:
        out.append(f"/r{n}/{name}")
        web.route(out[-1], answer)
    return out


def signed(server: RunningEngine, got: Received) -> bool:
    validator = RequestValidator(server.project.auth_token)
    return bool(validator.validate(got.url, got.form if got.method == "POST" else {},
                                   got.headers.get("X-Twilio-Signature", "")))


def ended(client: Client, sid: str, timeout: float = 40) -> Any:
    return wait_status(client, sid, FINAL, timeout=timeout)


def test_record_after_the_beep_keeps_what_the_phone_said(server: RunningEngine, client: Client, web: Backend,
                                                         audio_dir: Path) -> None:
    spoken = voice_like(2.5)
    wav = save_wav(audio_dir / "spoken.wav", spoken)
    caller = phone(server, [{"wait_for_quiet": 300}, {"play": str(wav)}, {"wait_for_hangup": True}])
    voice, done, status = paths(web, "voice", "done", "status")
    web.route(voice, '<Response><Record timeout="2" action="done" recordingStatusCallback="status" '
                     'recordingStatusCallbackEvent="in-progress completed"/><Say>never</Say></Response>')
    web.route(done, "<Response><Hangup/></Response>")
    call = client.calls.create(to=caller, from_="+18005550100", url=web.url + voice)
    got = web.wait_for(done, call.sid, timeout=30)
    assert len(got) == 1, web.requests(call_sid=call.sid)
    action = got[0].form
    assert signed(server, got[0])
    assert action["CallSid"] == call.sid and action["Digits"] == ""
    assert action["RecordingSid"].startswith("RE") and len(action["RecordingSid"]) == 34
    assert action["RecordingUrl"] == f"{server.base_url}/recordings/{action['RecordingSid']}"
    assert action["RecordingDuration"] == "3"  # 2.5 s and the trim margins, in whole seconds
    assert ended(client, call.sid).status == "completed"

    # The WAV: 8 kHz 16-bit mono, trimmed to what was said, and it is what the phone sent.
    r = httpx.get(action["RecordingUrl"] + ".wav")
    assert r.status_code == 200 and r.headers["content-type"] == "audio/wav"
    samples, channels, rate = read_wav(r.content)
    assert (channels, rate) == (1, 8000)
    seconds = len(samples) / rate
    assert abs(seconds - 2.5) <= 0.2, seconds
    correlation, _ = best_correlation(samples[:, 0], over_the_line(spoken))
    print(f"recorded {seconds:.3f} s of 2.5 s, correlation {correlation:.4f}")
    assert correlation > 0.9, correlation

    # The MP3 decodes to the same length (202 until it is made).
    mp3 = download(action["RecordingUrl"] + ".mp3")
    assert mp3.status_code == 200 and mp3.headers["content-type"] == "audio/mpeg"
    decoded = decode_mp3(mp3.content, 1)
    print(f"mp3 {len(decoded)} samples, wav {len(samples)}")
    assert abs(len(decoded) - len(samples)) <= 8, (len(decoded), len(samples))
    assert best_correlation(decoded[:, 0], over_the_line(spoken))[0] > 0.8

    # The status callbacks: in-progress, then completed once both files exist; never CallStatus.
    callbacks = web.wait_for(status, call.sid, count=2)
    assert [c.form["RecordingStatus"] for c in callbacks] == ["in-progress", "completed"]
    last = callbacks[-1].form
    assert last["RecordingSid"] == action["RecordingSid"] and last["RecordingUrl"] == action["RecordingUrl"]
    assert last["RecordingDuration"] == "3" and last["RecordingChannels"] == "mono"
    assert last["RecordingSource"] == "RecordVerb" and last["AccountSid"] == server.project.sid
    assert "CallStatus" not in last and all(signed(server, c) for c in callbacks)

    recording = client.recordings(action["RecordingSid"]).fetch()
    assert recording.status == "completed" and recording.call_sid == call.sid and recording.duration == "3"
    assert recording.channels == 1 and recording.source == "RecordVerb"
    # The next verb never ran: the action's document replaced it.
    assert web.requests(voice, call.sid)[0].form["CallStatus"] == "in-progress"


def test_finish_on_key_ends_the_recording_and_is_reported(server: RunningEngine, client: Client,
                                                          web: Backend) -> None:
    caller = phone(server, [{"wait_for_quiet": 300}, {"beep": 1.0, "frequency": 700}, {"dtmf": "#"},
                            {"wait_for_hangup": True}])
    voice, done = paths(web, "voice", "done")
    web.route(voice, '<Response><Record finishOnKey="#" timeout="20" action="done" method="GET"/></Response>')
    web.route(done, "<Response><Hangup/></Response>")
    call = client.calls.create(to=caller, from_="+18005550100", url=web.url + voice)
    got = web.wait_for(done, call.sid, timeout=20)
    assert len(got) == 1 and got[0].method == "GET"
    assert got[0].query["Digits"] == "#"
    started = web.requests(voice, call.sid)[0].at
    assert got[0].at - started < 6  # the key ended it, not the 20 s of silence
    samples, _, rate = read_wav(httpx.get(got[0].query["RecordingUrl"] + ".wav").content)
    assert abs(len(samples) / rate - 1.0) <= 0.2
    assert seconds_of_tone(samples[:, 0], 700) >= 0.8


def test_silence_ends_the_recording_with_the_seed_attribute(server: RunningEngine, client: Client,
                                                            web: Backend) -> None:
    caller = phone(server, [{"wait_for_quiet": 300}, {"beep": 1.5, "frequency": 600}, {"wait_for_hangup": True}])
    voice, done = paths(web, "voice", "done")
    web.route(voice, '<Response><Record silence="1" action="done" trim="do-not-trim"/></Response>')
    web.route(done, "<Response><Hangup/></Response>")
    call = client.calls.create(to=caller, from_="+18005550100", url=web.url + voice)
    got = web.wait_for(done, call.sid, timeout=20)
    assert len(got) == 1 and got[0].form["Digits"] == ""
    samples, _, rate = read_wav(httpx.get(got[0].form["RecordingUrl"] + ".wav").content)
    # Not trimmed: the wait for the phone to start, 1.5 s of tone, then 1 s of silence.
    seconds = len(samples) / rate
    assert 2.5 <= seconds <= 3.6, seconds
    assert seconds_of_tone(samples[:, 0], 600) >= 1.3
    tail = samples[-int(0.9 * rate):, 0]
    assert np.sqrt(np.mean(tail * tail)) < 50  # it ended on the silence


def test_nothing_said_is_absent_and_the_next_verb_runs(server: RunningEngine, client: Client, web: Backend) -> None:
    caller = phone(server, [{"wait_for_hangup": True}])
    voice, done, after, status = paths(web, "voice", "done", "after", "status")
    web.route(voice, f'<Response><Record timeout="1" action="done" recordingStatusCallback="{web.url}{status}" '
                     f'recordingStatusCallbackEvent="absent"/><Redirect>after</Redirect></Response>')
    web.route(after, "<Response><Hangup/></Response>")
    call = client.calls.create(to=caller, from_="+18005550100", url=web.url + voice)
    assert web.wait_for(after, call.sid, timeout=20)
    assert web.requests(done, call.sid) == []  # Twilio: an empty recording requests no action
    got = web.wait_for(status, call.sid)
    assert got[0].form["RecordingStatus"] == "absent"
    sid = got[0].form["RecordingSid"]
    assert client.recordings(sid).fetch().status == "absent"
    assert httpx.get(f"{server.base_url}/recordings/{sid}.wav").status_code == 404


def test_hanging_up_while_recording_still_posts_the_action(server: RunningEngine, client: Client,
                                                           web: Backend) -> None:
    caller = phone(server, [{"wait_for_quiet": 300}, {"beep": 1.2, "frequency": 900}, {"hangup": True}])
    voice, done = paths(web, "voice", "done")
    web.route(voice, '<Response><Record timeout="30" action="done"/></Response>')
    call = client.calls.create(to=caller, from_="+18005550100", url=web.url + voice)
    got = web.wait_for(done, call.sid, timeout=20)
    assert len(got) == 1 and got[0].form["Digits"] == "hangup" and got[0].form["CallStatus"] == "completed"
    samples, _, rate = read_wav(download(got[0].form["RecordingUrl"] + ".wav").content)
    assert abs(len(samples) / rate - 1.2) <= 0.2


def _tone_document(web: Backend, hz: float, seconds: float, after: str) -> str:
    from wirexa.audio.pcm import wav_bytes

    path = f"/tones/{hz}-{seconds}.wav"
    web.route(path, (200, "audio/wav", wav_bytes(tone(hz, seconds, 0.4))))
    return f"<Response><Play>{web.url}{path}</Play>{after}</Response>"


@pytest.mark.parametrize("channels", ["mono", "dual"])
def test_record_true_records_the_whole_call_both_parties(server: RunningEngine, client: Client, web: Backend,
                                                         channels: str) -> None:
    caller = phone(server, [{"wait": 2.5}, {"beep": 1.5, "frequency": 500}, {"wait_for_hangup": True}])
    voice, status = paths(web, "voice", "status")
    web.route(voice, _tone_document(web, 850, 1.5, '<Pause length="3"/>'))
    call = client.calls.create(to=caller, from_="+18005550100", url=web.url + voice, record=True,
                               recording_channels=channels, recording_status_callback=web.url + status)
    assert ended(client, call.sid).status == "completed"
    got = web.wait_for(status, call.sid, timeout=20)
    assert len(got) == 1 and got[0].form["RecordingStatus"] == "completed"
    assert got[0].form["RecordingSource"] == "OutboundAPI"
    assert got[0].form["RecordingChannels"] == ("stereo" if channels == "dual" else "mono")
    # Seed 001: by call SID, the first completed recording.
    r = httpx.get(f"{server.base_url}/recordings/call/{call.sid}.wav")
    assert r.status_code == 200
    samples, got_channels, rate = read_wav(r.content)
    call_seconds = int(client.calls(call.sid).fetch().duration)
    assert abs(len(samples) / rate - call_seconds) <= 1.5
    if channels == "mono":
        assert got_channels == 1
        assert seconds_of_tone(samples[:, 0], 850) >= 1.2  # what Wirexa played
        assert seconds_of_tone(samples[:, 0], 500) >= 1.2  # what the phone said
    else:
        assert got_channels == 2
        assert seconds_of_tone(samples[:, 0], 500) >= 1.2 and seconds_of_tone(samples[:, 0], 850) == 0
        assert seconds_of_tone(samples[:, 1], 850) >= 1.2 and seconds_of_tone(samples[:, 1], 500) == 0
    mp3 = download(f"{server.base_url}/recordings/call/{call.sid}.mp3")
    assert mp3.status_code == 200
    assert abs(len(decode_mp3(mp3.content, got_channels)) - len(samples)) <= 8
    listed = client.calls(call.sid).recordings.list()
    assert [x.sid for x in listed] == [got[0].form["RecordingSid"]]
    assert listed[0].channels == (2 if channels == "dual" else 1) and listed[0].track == "both"


def test_dial_record_from_answer_dual_has_each_party_on_its_channel(server: RunningEngine, client: Client,
                                                                    web: Backend) -> None:
    callee = phone(server, [{"wait": 0.8}, {"beep": 1.5, "frequency": 1000}, {"wait_for_hangup": True}],
                   hangup_after=5)
    caller = phone(server, [{"wait": 3.0}, {"beep": 1.5, "frequency": 600}, {"wait_for_hangup": True}])
    voice, after, status = paths(web, "voice", "after", "status")
    web.route(voice, f'<Response><Dial record="record-from-answer-dual" action="after" '
                     f'recordingStatusCallback="status">{callee}</Dial></Response>')
    web.route(after, "<Response><Hangup/></Response>")
    call = client.calls.create(to=caller, from_="+18005550100", url=web.url + voice)
    got = web.wait_for(after, call.sid, timeout=30)
    assert len(got) == 1 and got[0].form["DialCallStatus"] == "completed"
    sid = got[0].form["RecordingSid"]
    assert got[0].form["RecordingUrl"].endswith(sid) and int(got[0].form["RecordingDuration"]) >= 4
    samples, channels, rate = read_wav(download(got[0].form["RecordingUrl"] + ".wav").content)
    assert channels == 2
    assert seconds_of_tone(samples[:, 0], 600) >= 1.2  # the caller, left
    assert seconds_of_tone(samples[:, 1], 1000) >= 1.2  # the dialed party, right
    assert seconds_of_tone(samples[:, 0], 1000) == 0 and seconds_of_tone(samples[:, 1], 600) == 0
    callback = web.wait_for(status, call.sid, timeout=20)
    assert callback[0].form["RecordingSource"] == "DialVerb" and callback[0].form["CallSid"] == call.sid
    assert client.recordings(sid).fetch().call_sid == call.sid


def test_recordings_list_with_the_twilio_sdk_and_delete_removes_the_files(server: RunningEngine, client: Client,
                                                                         web: Backend) -> None:
    caller = phone(server, [{"wait_for_quiet": 300}, {"beep": 1.0, "frequency": 750}, {"wait_for_hangup": True}])
    voice, done = paths(web, "voice", "done")
    web.route(voice, '<Response><Record timeout="1" action="done"/></Response>')
    web.route(done, "<Response><Hangup/></Response>")
    call = client.calls.create(to=caller, from_="+18005550100", url=web.url + voice)
    sid = web.wait_for(done, call.sid, timeout=20)[0].form["RecordingSid"]
    assert download(f"{server.base_url}/recordings/{sid}.mp3").status_code == 200
    assert sid in [r.sid for r in client.recordings.list()]
    assert [r.sid for r in client.recordings.list(call_sid=call.sid)] == [sid]
    assert [r.sid for r in client.calls(call.sid).recordings.list()] == [sid]
    assert client.calls(call.sid).recordings(sid).fetch().sid == sid
    storage = server.engine.recordings.storage
    assert storage.size(sid, "wav") and storage.size(sid, "mp3")
    assert client.recordings(sid).delete() is True
    assert storage.size(sid, "wav") is None and storage.size(sid, "mp3") is None
    assert httpx.get(f"{server.base_url}/recordings/{sid}.wav").status_code == 404
    assert sid not in [r.sid for r in client.recordings.list()]


def test_without_action_the_document_is_requested_again_and_max_length_ends_it(
        server: RunningEngine, client: Client, web: Backend) -> None:
    caller = phone(server, [{"wait_for_quiet": 300}, {"beep": 4.0, "frequency": 800}, {"wait_for_hangup": True}])
    (voice,) = paths(web, "voice")

    def document(req: Received) -> str:
        if "RecordingSid" in req.form:
            return "<Response><Hangup/></Response>"
        return '<Response><Record maxLength="2" timeout="10" trim="do-not-trim"/></Response>'

    web.route(voice, document)
    call = client.calls.create(to=caller, from_="+18005550100", url=web.url + voice)
    got = web.wait_for(voice, call.sid, count=2, timeout=20)
    assert len(got) == 2 and got[1].method == "POST"
    assert got[1].form["RecordingDuration"] == "2" and got[1].form["Digits"] == ""
    assert got[1].at - got[0].at < 5  # maxLength, not the 4 s tone or 10 s of silence
    samples, _, rate = read_wav(httpx.get(got[1].form["RecordingUrl"] + ".wav").content)
    assert abs(len(samples) / rate - 2.0) <= 0.05  # untrimmed: exactly maxLength
