"""Calls into the sandbox with our own SipEngine + RtpEndpoint as the caller (as Wirexa does)."""

from __future__ import annotations

import asyncio
import io
import time
import wave

import numpy as np

from sandboxtest import (answered, caller, dominant_frequency, loud_segments, next_event, rms,
                         run, sandbox, tone)
from wirexa.media import PCMA
from wirexa.sip import Answered, Canceled, Disconnected, Failed, Ringing


def test_human_answers_says_hello_records_digits_and_audio(tmp_path):
    async def scenario():
        async with sandbox(tmp_path) as (carrier, api), caller() as me:
            started = time.monotonic()
            leg = await me.dial(carrier, "+15005550001")
            assert await next_event(leg, Ringing) == Ringing(180, "Ringing")
            answered = await next_event(leg, Answered)
            assert 0.9 <= time.monotonic() - started < 2.5  # rings 1 s
            me.connect(answered.sdp)
            await asyncio.sleep(1.2)  # "Hello?" lasts about 0.6 s
            hello = bytes(me.heard)
            await me.play(tone(440, 1.0))
            await me.endpoint.send_dtmf("42")
            await asyncio.sleep(0.3)
            leg.hangup()
            assert await next_event(leg, Disconnected) == Disconnected("local")
            call = (await api.get("/calls", params={"number": "+15005550001"})).json()[0]
            done = await carrier.wait_call(call["id"], 5)
            wav = (await api.get(f"/calls/{call['id']}/heard.wav")).content
            by_call_id = (await api.get(f"/calls/{leg.call_id}")).json()
            return hello, done.to_dict(), wav, by_call_id

    hello, call, wav, by_call_id = run(scenario())
    assert rms(hello) > 500, "the caller heard no 'Hello?'"
    assert call["state"] == "completed" and call["ended_by"] == "remote"
    assert call["digits"] == "42" and [d["digit"] for d in call["digit_events"]] == ["4", "2"]
    assert call["rule"] == "human" and call["from"] == "+15551110000"
    assert [e["event"] for e in call["events"]][:3] == ["invite", "ringing", "answered"]
    assert any(e["event"] == "bye" and e["by"] == "remote" for e in call["events"])
    assert by_call_id["id"] == call["id"]
    assert call["heard"]["loud_seconds"] >= 0.8 and call["durations"]["talk"] > 1
    with wave.open(io.BytesIO(wav)) as w:
        assert (w.getframerate(), w.getsampwidth(), w.getnchannels()) == (8000, 2, 1)
        heard = w.readframes(w.getnframes())
    (start, end), = [s for s in loud_segments(heard) if s[1] - s[0] > 0.5]
    assert 0.9 <= end - start <= 1.1
    segment = heard[int(start * 8000) * 2 + 800: int(end * 8000) * 2 - 800]
    assert abs(dominant_frequency(segment) - 440) < 10


def test_busy_rejected_failed(tmp_path):
    async def scenario():
        async with sandbox(tmp_path) as (carrier, api), caller() as me:
            results = {}
            for number in ("+15005550003", "+15005550005", "+15005550006"):
                leg = await me.dial(carrier, number)
                results[number] = await next_event(leg, Failed)
                me.close()
            calls = {c["to"]: c for c in (await api.get("/calls")).json()}
            return results, calls

    results, calls = run(scenario())
    assert results["+15005550003"] == Failed(486, "Busy Here")
    assert results["+15005550005"] == Failed(603, "Decline")
    assert results["+15005550006"] == Failed(503, "Service Unavailable")
    assert (calls["+15005550003"]["state"], calls["+15005550003"]["final_code"]) == ("busy", 486)
    assert (calls["+15005550005"]["state"], calls["+15005550005"]["final_code"]) == ("rejected", 603)
    assert (calls["+15005550006"]["state"], calls["+15005550006"]["final_code"]) == ("failed", 503)
    assert calls["+15005550003"]["heard_wav"] is None


def test_no_answer_rings_until_the_caller_cancels(tmp_path):
    async def scenario():
        async with sandbox(tmp_path) as (carrier, api), caller() as me:
            leg = await me.dial(carrier, "+15005550004")
            await next_event(leg, Ringing)
            await asyncio.sleep(1.5)  # still ringing
            leg.cancel()
            canceled = await next_event(leg, Canceled)
            call = (await api.get(f"/calls/{leg.call_id}")).json()
            call = (await carrier.wait_call(call["id"], 5)).to_dict()
            missing = await api.get(f"/calls/{call['id']}/heard.wav")
            return canceled, call, missing.status_code

    canceled, call, missing = run(scenario())
    assert canceled == Canceled(487, "Request Terminated")
    assert call["state"] == "canceled" and call["final_code"] == 487 and call["ended_by"] == "remote"
    assert call["answered_at"] is None and call["durations"]["ringing"] >= 1.5
    assert missing == 404


def test_voicemail_greeting_ends_in_a_beep(tmp_path):
    async def scenario():
        async with sandbox(tmp_path) as (carrier, api), caller() as me:
            started = time.monotonic()
            leg = await me.dial(carrier, "+15005550002")
            await next_event(leg, Ringing)
            me.connect(await answered(leg))
            rang = time.monotonic() - started
            await asyncio.sleep(6.5)  # ~4-5 s greeting, 0.3 s pause, 0.5 s beep
            leg.hangup()
            await next_event(leg, Disconnected)
            return rang, bytes(me.heard)

    rang, heard = run(scenario(), 40)
    assert 1.9 <= rang < 3.5
    segments = loud_segments(heard)
    speech_end = segments[-2][1]
    beep_start, beep_end = segments[-1]
    assert 3.0 <= speech_end <= 6.0, segments  # a greeting of roughly four seconds
    assert 0.4 <= beep_end - beep_start <= 0.6, segments
    beep = heard[int(beep_start * 8000) * 2 + 400: int(beep_end * 8000) * 2 - 400]
    assert abs(dominant_frequency(beep) - 1000) < 10


def test_phone_presses_1_when_the_caller_goes_quiet(tmp_path):
    async def scenario():
        async with sandbox(tmp_path) as (carrier, api), caller() as me:
            leg = await me.dial(carrier, "+15005550007")
            me.connect(await answered(leg))
            await asyncio.sleep(1.0)  # silence first: the phone must not press yet
            assert me.digits == []
            await me.play(tone(440, 0.8))  # a "prompt"
            quiet_since = time.monotonic()
            while not me.digits and time.monotonic() - quiet_since < 5:
                await asyncio.sleep(0.02)
            pressed_after = time.monotonic() - quiet_since
            await asyncio.sleep(0.5)
            leg.hangup()
            await next_event(leg, Disconnected)
            call = await carrier.wait_call(leg.call_id, 5)
            return list(me.digits), pressed_after, call.to_dict()

    digits, pressed_after, call = run(scenario())
    assert digits == ["1"]
    assert 0.6 <= pressed_after <= 1.5
    assert [d["digits"] for d in call["sent_digits"]] == ["1"] and call["ended_by"] == "remote"


def test_phone_that_hangs_up_itself(tmp_path):
    async def scenario():
        async with sandbox(tmp_path) as (carrier, api), caller() as me:
            leg = await me.dial(carrier, "+15005550008", codec=PCMA)
            me.connect(await answered(leg))
            assert await next_event(leg, Disconnected) == Disconnected("remote")
            call = await carrier.wait_call(leg.call_id, 5)
            return bytes(me.heard), call.to_dict()

    heard, call = run(scenario())
    assert rms(heard) > 300
    assert call["ended_by"] == "local" and call["state"] == "completed" and call["codec"] == "PCMA"


def test_rule_added_over_rest_takes_effect(tmp_path):
    async def scenario():
        async with sandbox(tmp_path) as (carrier, api), caller() as me:
            r = await api.post("/rules", json={"id": "gone", "number": "+15557770000",
                                               "outcome": "reject", "code": 404})
            assert r.status_code == 201, r.text
            assert (await api.post("/rules", json={"id": "gone", "prefix": "+1"})).status_code == 409
            bad = await api.post("/rules", json={"number": "+1555", "script": [{"sing": "la"}]})
            assert bad.status_code == 400 and "sing" in bad.json()["error"]
            leg = await me.dial(carrier, "+15557770000")
            first = await next_event(leg, Failed)
            me.close()
            # replace it: now the number answers at once, presses 7 at 0.5 s and hangs up
            r = await api.put("/rules/gone", json={
                "number": "+15557770000", "ring": 0, "hangup_when_done": True,
                "script": [{"dtmf": "7", "at": 0.5}, {"wait": 0.5}]})
            assert r.status_code == 200, r.text
            started = time.monotonic()
            leg = await me.dial(carrier, "+15557770000")
            me.connect(await answered(leg))
            answered_after = time.monotonic() - started
            bye = await next_event(leg, Disconnected)
            rules = (await api.get("/rules")).json()
            return first, answered_after, bye, list(me.digits), rules

    first, answered_after, bye, digits, rules = run(scenario())
    assert first == Failed(404, "Not Found")
    assert answered_after < 0.8 and bye == Disconnected("remote") and digits == ["7"]
    assert rules[0]["id"] == "gone" and rules[-1]["id"] == "default"


def test_rules_file(tmp_path):
    rules = tmp_path / "rules.toml"
    greeting = tmp_path / "greeting.wav"
    with wave.open(str(greeting), "wb") as w:  # 16 kHz stereo: the sandbox converts it
        w.setnchannels(2), w.setsampwidth(2), w.setframerate(16000)
        mono = (np.sin(2 * np.pi * 600 * np.arange(8000) / 16000) * 8000).astype("<i2")
        w.writeframes(np.repeat(mono, 2).tobytes())
    rules.write_text('''
[[rule]]
id = "tester"
prefix = "+1999"
ring = 0
hangup_after = 1.5
script = [ { play = "greeting.wav" } ]

[[rule]]
id = "busy"          # replaces the built-in "busy" (+15005550003)
number = "+15005550003"
outcome = "fail"
code = 502
''')

    async def scenario():
        async with sandbox(tmp_path, rules_file=rules) as (carrier, api), caller() as me:
            leg = await me.dial(carrier, "+19995551234")
            me.connect(await answered(leg))
            bye = await next_event(leg, Disconnected)
            call = await carrier.wait_call(leg.call_id, 5)
            me.close()
            leg = await me.dial(carrier, "+15005550003")
            return bye, bytes(me.heard), call.to_dict(), await next_event(leg, Failed)

    bye, heard, call, busy = run(scenario())
    assert bye == Disconnected("remote") and call["ended_by"] == "local" and call["rule"] == "tester"
    assert any(e["event"] == "hangup-timer" for e in call["events"])
    assert 1.4 <= call["durations"]["talk"] <= 2.0
    (start, end), = loud_segments(heard)
    assert 0.45 <= end - start <= 0.55
    assert abs(dominant_frequency(heard[int(start * 8000) * 2: int(end * 8000) * 2]) - 600) < 10
    assert busy.code == 502


def test_rest_hangup_of_a_live_call(tmp_path):
    async def scenario():
        async with sandbox(tmp_path) as (carrier, api), caller() as me:
            leg = await me.dial(carrier, "+15005550004")  # rings forever
            await next_event(leg, Ringing)
            call = (await api.get(f"/calls/{leg.call_id}")).json()
            assert call["state"] == "ringing"
            r = await api.post(f"/calls/{call['id']}/hangup")
            assert r.status_code == 202, r.text
            failed = await next_event(leg, Failed)
            me.close()
            leg = await me.dial(carrier, "+15005550001")
            me.connect(await answered(leg))
            await me.play(tone(440, 0.5))
            await asyncio.sleep(0.05)  # the sandbox reads what arrived on its next 20 ms tick
            live = (await api.get(f"/calls/{leg.call_id}/heard.wav")).content  # so far
            call = (await api.get(f"/calls/{leg.call_id}")).json()
            assert (await api.post(f"/calls/{call['id']}/hangup")).status_code == 202
            bye = await next_event(leg, Disconnected)
            await carrier.wait_call(call["id"], 5)
            again = await api.post(f"/calls/{call['id']}/hangup")
            return failed, live, bye, again.status_code

    failed, live, bye, again = run(scenario())
    assert failed.code == 480
    assert len(live) > 44 + 8000 and bye == Disconnected("remote") and again == 409
