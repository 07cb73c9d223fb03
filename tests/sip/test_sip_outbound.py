"""Outbound legs (we are the UAC) against SIPp playing the trunk."""

from __future__ import annotations

import hashlib

import pytest

from siptest import LOOPBACK, engine, expect, free_udp_port, run, scenario_from_template
from wirexa.sip import Answered, Canceled, Disconnected, Failed, Ringing, Trunk, sdp

OFFER = sdp.offer(LOOPBACK, 40000)


@pytest.mark.parametrize("to", ["+15551234567", "sip:alice@example.com"])
def test_answered_then_we_hang_up(sipp, to):
    peer = sipp("uas")  # SIPp's built-in: 180, 200 (Contact ;transport=UDP), waits for BYE

    async def scenario():
        async with engine() as sip:
            leg = await sip.dial(Trunk(LOOPBACK, peer.port), to, "+15550001111", OFFER)
            await expect(leg, Ringing)
            answered = await expect(leg, Answered)
            assert sdp.parse(answered.sdp).audio.codec_names() == ["PCMU"]
            leg.hangup()
            assert await expect(leg, Disconnected) == Disconnected("local")
            assert await peer.wait() == 0, peer.log()

    run(scenario())
    log = peer.log()
    request_uri = to if to.startswith("sip:") else f"sip:{to}@{LOOPBACK}:{peer.port}"
    assert f"INVITE {request_uri} SIP/2.0" in log
    assert "BYE sip:" in log and "From: <sip:+15550001111@" in log


def test_busy(sipp):
    peer = sipp("uas_busy.xml")

    async def scenario():
        async with engine() as sip:
            leg = await sip.dial(Trunk(LOOPBACK, peer.port), "+15551234567", "+15550001111", OFFER)
            assert await expect(leg, Failed) == Failed(486, "Busy Here")
            assert await peer.wait() == 0, peer.log()  # it got its ACK

    run(scenario())


def test_cancel_while_ringing(sipp):
    peer = sipp("uas_ring_no_answer.xml")

    async def scenario():
        async with engine() as sip:
            leg = await sip.dial(Trunk(LOOPBACK, peer.port), "+15551234567", "+15550001111", OFFER)
            await expect(leg, Ringing)
            leg.cancel()  # what the caller's ring timeout does
            assert await expect(leg, Canceled) == Canceled(487, "Request Terminated")
            assert await peer.wait() == 0, peer.log()

    run(scenario())
    assert "CANCEL sip:" in peer.log()


def test_401_challenge_answered(sipp):
    peer = sipp("uas_auth_401.xml")  # SIPp verifies the Authorization digest itself

    async def scenario():
        async with engine() as sip:
            trunk = Trunk(LOOPBACK, peer.port, username="alice", password="s3cret")
            leg = await sip.dial(trunk, "+15551234567", "+15550001111", OFFER)
            await expect(leg, Answered)  # Failed(403) here means the digest did not verify
            leg.hangup()
            await expect(leg, Disconnected)
            assert await peer.wait() == 0, peer.log()

    run(scenario())
    assert 'Authorization: Digest username="alice",realm="wirexa.test"' in peer.log()


def test_407_challenge_answered(sipp, tmp_path):
    port = free_udp_port()
    uri = f"sip:+15551234567@{LOOPBACK}:{port}"
    ha1 = _md5("alice:wirexa.test:s3cret")
    expected = _md5(f"{ha1}:wirexa-407-nonce:{_md5(f'INVITE:{uri}')}")  # RFC 2617, no qop
    peer = sipp(scenario_from_template("uas_auth_407.xml", tmp_path, expected_response=expected),
                port=port)

    async def scenario():
        async with engine() as sip:
            trunk = Trunk(LOOPBACK, port, username="alice", password="s3cret")
            leg = await sip.dial(trunk, "+15551234567", "+15550001111", OFFER)
            await expect(leg, Answered)
            leg.hangup()
            await expect(leg, Disconnected)
            assert await peer.wait() == 0, peer.log()

    run(scenario())
    assert 'Proxy-Authorization: Digest username="alice",realm="wirexa.test"' in peer.log()


def test_wrong_password_fails_once(sipp):
    peer = sipp("uas_auth_401.xml")

    async def scenario():
        async with engine() as sip:
            trunk = Trunk(LOOPBACK, peer.port, username="alice", password="wrong")
            leg = await sip.dial(trunk, "+15551234567", "+15550001111", OFFER)
            assert await expect(leg, Failed) == Failed(403, "Forbidden")
            assert await peer.wait() == 0, peer.log()

    run(scenario())


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()
