"""The sandbox against SIPp, an independent SIP implementation, both ways."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandboxtest import LOOPBACK, SCENARIOS, run, sandbox

PCAPS = Path("/usr/share/sip-tester")
SIP_TESTS = Path(__file__).parent.parent / "sip" / "scenarios"


def test_sipp_calls_the_human_number(sipp, tmp_path):
    async def scenario():
        async with sandbox(tmp_path) as (carrier, api):
            peer = sipp("uac", f"{LOOPBACK}:{carrier.sip_port}", "-s", "+15005550001", "-d", "2000")
            assert await peer.wait() == 0, peer.log()
            call = (await api.get("/calls", params={"number": "+15005550001"})).json()[0]
            return peer, (await carrier.wait_call(call["id"], 5)).to_dict()

    peer, call = run(scenario())
    log = peer.log()
    assert "SIP/2.0 180 Ringing" in log and "SIP/2.0 200 OK" in log
    assert call["state"] == "completed" and call["ended_by"] == "remote" and call["from"] == "sipp"
    assert 1.8 <= call["durations"]["talk"] <= 3.5


def test_sipp_rejected_number(sipp, tmp_path):
    async def scenario():
        async with sandbox(tmp_path) as (carrier, api):
            peer = sipp(SIP_TESTS / "uac_expect_reject.xml", f"{LOOPBACK}:{carrier.sip_port}",
                        "-s", "+15005550005")
            assert await peer.wait() == 0, peer.log()
            return peer

    assert "SIP/2.0 603 Decline" in run(scenario()).log()


@pytest.mark.skipif(not (PCAPS / "g711a.pcap").exists(), reason="SIPp pcaps not installed")
def test_sipp_audio_and_rfc2833_digit_are_recorded(sipp, tmp_path):
    async def scenario():
        async with sandbox(tmp_path) as (carrier, api):
            await api.post("/rules", json={"id": "listen", "number": "+15551000000",
                                           "script": [{"wait_for_hangup": True}]})
            scenario_file = tmp_path / "uac_pcap_dtmf.xml"
            scenario_file.write_text((SCENARIOS / "uac_pcap_dtmf.xml").read_text().replace("__PCAPDIR__", str(PCAPS)))
            peer = sipp(scenario_file, f"{LOOPBACK}:{carrier.sip_port}", "-s", "+15551000000")
            assert await peer.wait() == 0, peer.log()
            call = (await api.get("/calls", params={"number": "+15551000000"})).json()[0]
            return (await carrier.wait_call(call["id"], 5)).to_dict()

    call = run(scenario())
    assert call["codec"] == "PCMA"
    assert call["digits"] == "1"  # once, whatever the pcap's redundant end packets
    assert call["heard"]["seconds"] >= 1.5 and call["heard"]["loud_seconds"] >= 0.5  # speech, with pauses
    assert call["ended_by"] == "remote"


def test_sandbox_calls_a_sipp_uas(sipp, tmp_path):
    async def scenario():
        async with sandbox(tmp_path) as (carrier, api):
            peer = sipp("uas")
            r = await api.post("/calls", json={
                "from": "+15005550001", "to": "+15557654321", "target": f"{LOOPBACK}:{peer.port}",
                "script": [{"say": "Hello from the sandbox"}, {"dtmf": "9"}],
                "hangup_when_done": True})
            assert r.status_code == 201, r.text
            call = await carrier.wait_call(r.json()["id"], 15)
            assert await peer.wait() == 0, peer.log()
            return peer, call.to_dict()

    peer, call = run(scenario())
    log = peer.log()
    assert "INVITE sip:+15557654321@" in log and "From: <sip:+15005550001@" in log
    assert "BYE sip:" in log
    assert call["direction"] == "outbound" and call["state"] == "completed"
    assert call["ended_by"] == "local" and [e["event"] for e in call["events"]][:3] == ["invite", "ringing", "answered"]
    assert call["sent_digits"][0]["digits"] == "9"
