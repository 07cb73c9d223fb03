"""The sandbox places calls to Wirexa (here our own SipEngine + RtpEndpoint stands in for it)."""

from __future__ import annotations

import asyncio

import httpx

from sandboxtest import LOOPBACK, caller, dominant_frequency, loud_segments, rms, run, sandbox, tone
from wirexa.media import PcmPlayer, RtpEndpoint
from wirexa.sandbox import serve_sandbox
from wirexa.sip import InboundLeg, sdp


def test_sandbox_calls_wirexa_runs_its_script_and_records(tmp_path):
    got: dict = {}

    async def scenario():
        async with sandbox(tmp_path) as (carrier, api):
            heard = bytearray()
            digits: list[str] = []
            done = asyncio.Event()

            async def wirexa(leg: InboundLeg):  # the stand-in: answers, plays a 440 Hz prompt
                got["to"], got["from"] = leg.to_user, leg.from_user
                endpoint = await RtpEndpoint.open(me.clock, me.ports, LOOPBACK)
                endpoint.add_audio_tap(heard.extend)
                endpoint.add_dtmf_listener(digits.append)
                offer = sdp.parse(leg.offer)
                endpoint.set_remote(offer.rtp_address())
                leg.ring()
                await asyncio.sleep(0.3)
                leg.answer(sdp.answer(offer, sdp.offer(LOOPBACK, endpoint.local_address[1])))
                await asyncio.sleep(0.2)
                endpoint.play(PcmPlayer(tone(440, 1.0)))
                while len(digits) < 2:
                    await asyncio.sleep(0.02)
                await asyncio.sleep(0.3)
                leg.hangup()
                got["bye"] = await leg.next_event(5), await leg.next_event(5)
                endpoint.close()
                done.set()

            async with caller(on_invite=wirexa) as me:
                r = await api.post("/calls", json={
                    "from": "+15005550001", "to": "+15557654321", "target": f"{LOOPBACK}:{me.sip.port}",
                    "script": [{"say": "Hello?"}, {"dtmf": "42", "at": 1.5}, {"wait_for_hangup": True}]})
                assert r.status_code == 201, r.text
                call = await carrier.wait_call(r.json()["id"], 15)
                await asyncio.wait_for(done.wait(), 5)
                wav = (await api.get(f"/calls/{call.id}/heard.wav")).content
                listed = (await api.get("/calls", params={"from": "+15005550001"})).json()
            return call.to_dict(), bytes(heard), digits, wav, listed

    call, heard, digits, wav, listed = run(scenario())
    assert (got["to"], got["from"]) == ("+15557654321", "+15005550001")
    assert digits == ["4", "2"]
    assert rms(heard[: 8000 * 2]) > 300  # "Hello?" arrived at Wirexa
    assert call["state"] == "completed" and call["ended_by"] == "remote" and call["direction"] == "outbound"
    assert [e["event"] for e in call["events"]][:3] == ["invite", "ringing", "answered"]
    call_pcm = wav[44:]
    (start, end), = [s for s in loud_segments(call_pcm) if s[1] - s[0] > 0.5]
    assert 0.9 <= end - start <= 1.1
    assert abs(dominant_frequency(call_pcm[int(start * 8000) * 2 + 800: int(end * 8000) * 2 - 800]) - 440) < 10
    assert [c["id"] for c in listed] == [call["id"]]


def test_sandbox_outbound_busy_and_ring_timeout(tmp_path):
    async def scenario():
        async with sandbox(tmp_path) as (carrier, api):
            async def wirexa(leg: InboundLeg):
                if leg.to_user == "+15550000486":
                    leg.reject(486)
                else:
                    leg.ring()  # never answers

            async with caller(on_invite=wirexa) as me:
                target = f"{LOOPBACK}:{me.sip.port}"
                busy = await carrier.place_call("+15550000486", "+15005550001", target)
                late = await carrier.place_call("+15550000000", "+15005550001", target, ring_timeout=1)
                await carrier.wait_call(busy.id, 5)
                await carrier.wait_call(late.id, 10)
                bad = await api.post("/calls", json={"to": "+1555", "target": "nowhere:port"})
            return busy.to_dict(), late.to_dict(), bad

    busy, late, bad = run(scenario())
    assert (busy["state"], busy["final_code"]) == ("busy", 486)
    assert (late["state"], late["final_code"]) == ("no-answer", 487)
    assert any(e["event"] == "ring-timeout" for e in late["events"])
    assert bad.status_code == 400


def test_serve_sandbox_standalone(tmp_path, capsys):
    from sandboxtest import free_udp_port

    async def scenario():
        ready, stop = asyncio.Event(), asyncio.Event()
        sip_port = free_udp_port()
        server = asyncio.create_task(serve_sandbox("127.0.0.1", sip_port, "127.0.0.1", 0, tmp_path,
                                                   ready=ready, stop=stop))
        await asyncio.wait_for(ready.wait(), 5)
        line = capsys.readouterr().out
        url = line.split("REST ")[1].split()[0]
        async with httpx.AsyncClient(base_url=url) as client:
            numbers = (await client.get("/numbers")).json()
        stop.set()
        await asyncio.wait_for(server, 5)
        return line, sip_port, numbers

    line, sip_port, numbers = run(scenario())
    assert f"SIP udp 127.0.0.1:{sip_port}" in line
    assert numbers[0]["number"] == "+15005550001"
