"""Calls placed and received by the real call engine (SIP + RTP), with SIPp as the far end."""

from __future__ import annotations

import asyncio
import math
import struct
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from twilio.rest import Client

from engine_support import RunningEngine, call_engine_settings, wait_status
from laml_backend import HOLD, Backend
from siptest import Sipp, free_udp_port, scenario_from_template
from wirexa.calls import status as st
from wirexa.sids import new_call_sid
from wirexa.store.calls import CallFilter

TRUNK_USER, TRUNK_PASSWORD = "alice", "s3cret"  # what uas_auth_401.xml verifies


@pytest.fixture(scope="module")
def trunk_port() -> int:
    return free_udp_port()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, trunk_port: int) -> Iterator[RunningEngine]:
    """A real engine whose SIP trunk is wherever each test starts SIPp (`trunk_port`)."""
    settings = call_engine_settings(tmp_path_factory.mktemp("calls-sip"), trunk_host="127.0.0.1",
                                    trunk_port=trunk_port, trunk_username=TRUNK_USER,
                                    trunk_password=TRUNK_PASSWORD)
    running = RunningEngine(settings)
    try:
        yield running
    finally:
        running.close()


def place(client: Client, **kw: object):  # type: ignore[no-untyped-def]
    args: dict[str, object] = dict(to="+13125551234", from_="+18005550100", twiml=HOLD)
    args.update(kw)
    return client.calls.create(**args)


def sipp_exit(peer: Sipp) -> int:
    return asyncio.run(peer.wait())


def tone(freq: float, seconds: float, amplitude: int = 8000) -> bytes:
    n = int(8000 * seconds)
    return struct.pack(f"<{n}h", *(int(amplitude * math.sin(2 * math.pi * freq * i / 8000)) for i in range(n)))


def test_answered_call_hung_up_through_the_api(client: Client, sipp: Callable[..., Sipp], trunk_port: int) -> None:
    peer = sipp("uas", port=trunk_port)
    call = place(client)
    live = wait_status(client, call.sid, {"in-progress", "failed", "busy", "no-answer"})
    assert live.status == "in-progress", (live.status, peer.log())
    assert live.start_time is not None
    time.sleep(1.1)
    ended = client.calls(call.sid).update(status="completed")
    assert ended.status == "completed"
    assert sipp_exit(peer) == 0, peer.log()
    assert int(ended.duration) >= 1 and ended.end_time is not None
    assert "INVITE sip:+13125551234@127.0.0.1" in peer.log()
    assert "From: <sip:+18005550100@" in peer.log() or "+18005550100" in peer.log()


def test_far_end_hangs_up(client: Client, sipp: Callable[..., Sipp], trunk_port: int) -> None:
    peer = sipp("uas_answer_then_bye.xml", port=trunk_port)
    call = place(client)
    done = wait_status(client, call.sid, {"completed", "failed"})
    assert sipp_exit(peer) == 0, peer.log()
    assert done.status == "completed"
    raw = client.http_client.request("GET", f"{client.api.base_url}/2010-04-01/Accounts/{client.account_sid}/Calls/{call.sid}.json",
                                     auth=(client.username, client.password)).text
    assert "hung up by the far end" in raw


def test_busy(client: Client, sipp: Callable[..., Sipp], trunk_port: int) -> None:
    peer = sipp("uas_busy.xml", port=trunk_port)
    call = place(client)
    done = wait_status(client, call.sid, {"busy", "failed", "completed"})
    assert done.status == "busy"
    assert sipp_exit(peer) == 0, peer.log()


def test_no_answer_cancels_after_timeout(client: Client, sipp: Callable[..., Sipp], trunk_port: int) -> None:
    peer = sipp("uas_ring_no_answer.xml", port=trunk_port)
    started = time.monotonic()
    call = place(client, timeout=2)
    assert wait_status(client, call.sid, {"ringing"}, timeout=5).status == "ringing"
    done = wait_status(client, call.sid, {"no-answer", "failed", "canceled"})
    assert done.status == "no-answer"
    assert 1.5 < time.monotonic() - started < 10
    assert sipp_exit(peer) == 0, peer.log()
    assert "CANCEL sip:" in peer.log()


def test_canceled_through_the_api_while_ringing(client: Client, sipp: Callable[..., Sipp], trunk_port: int) -> None:
    peer = sipp("uas_ring_no_answer.xml", port=trunk_port)
    call = place(client, timeout=30)
    assert wait_status(client, call.sid, {"ringing"}, timeout=5).status == "ringing"
    assert client.calls(call.sid).update(status="canceled").status == "canceled"
    assert sipp_exit(peer) == 0, peer.log()


def test_trunk_digest_challenge_is_answered(client: Client, sipp: Callable[..., Sipp], trunk_port: int,
                                            tmp_path: Path) -> None:
    peer = sipp("uas_auth_401.xml", port=trunk_port)
    call = place(client)
    live = wait_status(client, call.sid, {"in-progress", "failed", "busy", "no-answer"})
    assert live.status == "in-progress", peer.log()
    client.calls(call.sid).update(status="completed")
    assert sipp_exit(peer) == 0, peer.log()
    assert "Authorization: Digest" in peer.log()


def test_audio_both_ways_through_an_echoing_peer(server: RunningEngine, client: Client,
                                                 sipp: Callable[..., Sipp], trunk_port: int) -> None:
    """SIPp echoes our RTP back: what Wirexa plays reaches the far end and comes back."""
    peer = sipp("uas", "-rtp_echo", port=trunk_port)
    call = place(client)
    assert wait_status(client, call.sid, {"in-progress"}).status == "in-progress"
    heard: list[bytes] = []
    digits: list[str] = []

    async def exercise() -> bool:
        live = server.engine.runner.live[call.sid]  # type: ignore[union-attr]
        assert live.media is not None
        untap = live.media.tap(heard.append)
        live.media.endpoint.add_dtmf_listener(digits.append)
        live.media.listen_for_tones(True)  # SIPp's answer has no telephone-event: digits are tones
        played = await live.media.play(tone(440, 1.0))
        await live.media.send_digits("1#")  # echoed back as tones
        await asyncio.sleep(0.3)
        untap()
        return played

    assert server.run(exercise()) is True
    client.calls(call.sid).update(status="completed")
    assert sipp_exit(peer) == 0, peer.log()
    pcm = b"".join(heard)
    samples = struct.unpack(f"<{len(pcm) // 2}h", pcm)
    loud = sum(1 for s in samples if abs(s) > 2000)
    assert loud > 4000, f"echoed audio too quiet: {loud} loud samples of {len(samples)}"
    assert digits == ["1", "#"]


def test_inbound_call_to_a_number(server: RunningEngine, client: Client, sipp: Callable[..., Sipp],
                                  backend: Backend) -> None:
    client.incoming_phone_numbers.create(phone_number="+13125550199", voice_url=backend.route("/in", HOLD))
    sip_port = server.settings.sip_port
    peer = sipp("uac", f"127.0.0.1:{sip_port}", "-s", "+13125550199", "-d", "500")
    assert sipp_exit(peer) == 0, peer.log()
    calls = client.calls.list(to="+13125550199", limit=5)
    assert len(calls) == 1
    inbound = wait_status(client, calls[0].sid, {"completed"})
    assert inbound.direction == "inbound" and inbound.status == "completed"


def test_inbound_call_to_an_unknown_number_is_404(server: RunningEngine, sipp: Callable[..., Sipp],
                                                  tmp_path: Path) -> None:
    scenario = scenario_from_template("uac_expect_reject.xml", tmp_path, code="404")
    peer = sipp(scenario, f"127.0.0.1:{server.settings.sip_port}", "-s", "+13125550000")
    assert sipp_exit(peer) == 0, peer.log()


def test_calls_left_open_by_a_crash_are_closed_out(tmp_path: Path) -> None:
    settings = call_engine_settings(tmp_path, trunk_host="127.0.0.1", trunk_port=free_udp_port())
    first = RunningEngine(settings, live=None, start=False)
    project = first.project
    answered, ringing = new_call_sid(), new_call_sid()
    for sid, status in ((answered, st.IN_PROGRESS), (ringing, st.RINGING)):
        first.engine.calls.create({
            "sid": sid, "account_sid": project.sid, "direction": "outbound-api", "status": status,
            "to_number": "+13125551234", "from_number": "+18005550100", "url": "https://b.example/v",
            "node_id": settings.node_id, "start_time": datetime.now(timezone.utc) - timedelta(seconds=30),
        })
    restarted = RunningEngine(settings)  # same node id: it owns those calls
    try:
        a = restarted.engine.calls.get(project.sid, answered)
        r = restarted.engine.calls.get(project.sid, ringing)
        assert a is not None and r is not None
        assert a["status"] == st.COMPLETED and a["duration"] >= 30
        assert r["status"] == st.FAILED and "restart" in r["error_message"]
    finally:
        restarted.close()


def test_inbound_from_an_address_not_allowed_is_403(tmp_path: Path, sipp: Callable[..., Sipp]) -> None:
    settings = call_engine_settings(tmp_path, trunk_host="127.0.0.2", trunk_port=5060, inbound_allow="10.0.0.0/8")
    server = RunningEngine(settings)
    try:
        server.engine.numbers.create(server.project.sid, "+13125550199", {"voice_url": "https://b.example/in"})
        scenario = scenario_from_template("uac_expect_reject.xml", tmp_path, code="403")
        peer = sipp(scenario, f"127.0.0.1:{settings.sip_port}", "-s", "+13125550199")
        assert sipp_exit(peer) == 0, peer.log()
        assert server.engine.calls.page(server.project.sid, CallFilter(), 10) == []
    finally:
        server.close()


@pytest.mark.parametrize(("password", "answered"), [("s3cret", True), ("wrong", False)])
def test_inbound_digest_auth_for_sources_outside_the_allowlist(
        tmp_path: Path, sipp: Callable[..., Sipp], backend: Backend, password: str, answered: bool) -> None:
    settings = call_engine_settings(tmp_path, trunk_host="127.0.0.2", trunk_port=5060, inbound_allow="10.0.0.0/8",
                                    inbound_username="carrier", inbound_password="s3cret")
    server = RunningEngine(settings)
    try:
        server.engine.numbers.create(server.project.sid, "+13125550199", {"voice_url": backend.route("/in", HOLD)})
        scenario = scenario_from_template("uac_digest.xml", tmp_path)
        peer = sipp(scenario, f"127.0.0.1:{settings.sip_port}", "-s", "+13125550199",
                    "-au", "carrier", "-ap", password)
        assert sipp_exit(peer) == 0, peer.log()
        log = peer.log()
        assert "401 Unauthorized" in log and 'WWW-Authenticate: Digest realm="wirexa"' in log
        calls = server.engine.calls.page(server.project.sid, CallFilter(), 10)
        if answered:
            assert len(calls) == 1 and calls[0]["direction"] == "inbound"
            assert backend.wait_for("/in")
        else:
            assert "403" in log and calls == []
    finally:
        server.close()
