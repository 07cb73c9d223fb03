"""Inbound legs (we are the UAS) with SIPp placing the calls."""

from __future__ import annotations

import asyncio

import pytest

from siptest import LOOPBACK, engine, expect, run
from wirexa.sip import Answered, Disconnected, InboundLeg, Updated, sdp

CAPABILITIES = sdp.offer(LOOPBACK, 40010)  # PCMU, PCMA, telephone-event


def answering(legs: asyncio.Queue[InboundLeg]):
    """An on_invite handler that rings, then answers with an SDP answer to the offer."""
    async def on_invite(leg: InboundLeg) -> None:
        leg.ring()
        leg.answer(sdp.answer(sdp.parse(leg.offer), CAPABILITIES))
        await legs.put(leg)
    return on_invite


def test_sipp_calls_we_answer_sipp_hangs_up(sipp):
    async def scenario():
        legs: asyncio.Queue[InboundLeg] = asyncio.Queue()
        async with engine(answering(legs)) as sip:
            peer = sipp("uac", f"{LOOPBACK}:{sip.port}", "-d", "200")  # built-in UAC
            leg = await asyncio.wait_for(legs.get(), 10)
            assert leg.from_user == "sipp" and leg.source[0] == LOOPBACK
            assert (await expect(leg, Answered)).sdp == leg.offer
            assert await expect(leg, Disconnected) == Disconnected("remote")
            assert await peer.wait() == 0, peer.log()
            return peer

    log = run(scenario()).log()
    assert "SIP/2.0 180 Ringing" in log and "SIP/2.0 200 OK" in log


@pytest.mark.parametrize("code", [403, 404, 486, 603])
def test_reject(sipp, code):
    async def on_invite(leg: InboundLeg) -> None:
        leg.reject(code)

    async def scenario():
        async with engine(on_invite) as sip:
            peer = sipp("uac_expect_reject.xml", f"{LOOPBACK}:{sip.port}")
            assert await peer.wait() == 0, peer.log()
            return peer

    assert f"SIP/2.0 {code} " in run(scenario()).log()


def test_reinvite_hold_and_codec_change_answered(sipp):
    async def scenario():
        legs: asyncio.Queue[InboundLeg] = asyncio.Queue()
        async with engine(answering(legs)) as sip:
            peer = sipp("uac_reinvite.xml", f"{LOOPBACK}:{sip.port}")
            leg = await asyncio.wait_for(legs.get(), 10)
            first = sdp.parse(str(sdp.answer(sdp.parse(leg.offer), CAPABILITIES)))
            await expect(leg, Answered)

            hold = await expect(leg, Updated)
            assert sdp.parse(hold.remote_sdp).audio.direction == "sendonly"
            held = sdp.parse(hold.local_sdp)
            assert held.audio.direction == "recvonly"
            assert held.audio.port == CAPABILITIES.audio.port
            assert (held.session_id, held.version) == (first.session_id, first.version + 1)

            resume = await expect(leg, Updated)
            resumed = sdp.parse(resume.local_sdp)
            assert resumed.audio.direction == "sendrecv"
            assert [(c.pt, c.name) for c in resumed.audio.codecs] == [(8, "PCMA"), (101, "telephone-event")]
            assert resumed.version == held.version + 1

            assert await expect(leg, Disconnected) == Disconnected("remote")
            assert await peer.wait() == 0, peer.log()  # SIPp checked both answers too

    run(scenario())
