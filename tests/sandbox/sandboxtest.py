"""Helpers for the sandbox tests: a carrier on free loopback ports, and our own caller."""

from __future__ import annotations

import random
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator

import httpx
import numpy as np

from wirexa.media import PCMU, Codec, MediaClock, PcmPlayer, PortAllocator, RtpEndpoint
from wirexa.media.codecs import SAMPLE_RATE
from wirexa.sandbox import SandboxCarrier
from wirexa.audio.pcm import dominant_frequency, rms, tone
from wirexa.sip import SipEngine, Trunk, sdp
from wirexa.sip.engine import InviteHandler

from siptest import LOOPBACK, free_udp_port, run
from siptest import expect as next_event

SCENARIOS = Path(__file__).parent / "scenarios"

__all__ = ["LOOPBACK", "dominant_frequency", "free_udp_port", "next_event", "rms", "run", "tone"]


def port_range() -> PortAllocator:
    low = random.randrange(30000, 59000, 2)
    return PortAllocator(low, low + 200)


@asynccontextmanager
async def sandbox(tmp_path: Path, **kwargs: Any) -> AsyncIterator[tuple[SandboxCarrier, httpx.AsyncClient]]:
    """A started carrier on free ports with its own clock, plus an HTTP client for its API."""
    clock = kwargs.pop("clock", None) or MediaClock()
    carrier = SandboxCarrier(LOOPBACK, 0, LOOPBACK, 0, tmp_path / "sandbox", clock=clock,
                             ports=kwargs.pop("ports", None) or port_range(), **kwargs)
    await carrier.start()
    try:
        async with httpx.AsyncClient(base_url=carrier.http_url, timeout=5) as client:
            yield carrier, client
    finally:
        await carrier.stop()
        clock.stop()


class Caller:
    """Our own SipEngine + RtpEndpoint: one call at a time, records what it hears."""

    def __init__(self, sip: SipEngine, clock: MediaClock, ports: PortAllocator) -> None:
        self.sip, self.clock, self.ports = sip, clock, ports
        self.heard = bytearray()
        self.digits: list[str] = []
        self.endpoint: RtpEndpoint | None = None
        self.leg: Any = None

    async def dial(self, carrier: SandboxCarrier, number: str, codec: Codec = PCMU,
                   caller_id: str = "+15551110000") -> Any:
        self.endpoint = await RtpEndpoint.open(self.clock, self.ports, LOOPBACK, codec=codec)
        self.endpoint.add_audio_tap(self.heard.extend)
        self.endpoint.add_dtmf_listener(self.digits.append)
        offer = sdp.offer(LOOPBACK, self.endpoint.local_address[1],
                          (sdp.Codec(codec.payload_type, codec.name), sdp.DTMF))
        self.leg = await self.sip.dial(Trunk(*carrier.sip_address), number, caller_id, offer)
        return self.leg

    def connect(self, answer_sdp: str) -> None:
        assert self.endpoint is not None
        self.endpoint.set_remote(sdp.parse(answer_sdp).rtp_address())

    async def play(self, pcm: bytes) -> None:
        assert self.endpoint is not None
        player = PcmPlayer(pcm)
        self.endpoint.play(player)
        await player.wait()

    def close(self) -> None:
        if self.endpoint is not None:
            self.endpoint.close()
            self.endpoint = None


@asynccontextmanager
async def caller(on_invite: InviteHandler | None = None) -> AsyncIterator[Caller]:
    clock = MediaClock()
    clock.start()
    sip = SipEngine(LOOPBACK, 0, on_invite=on_invite)
    await sip.start()
    c = Caller(sip, clock, port_range())
    try:
        yield c
    finally:
        c.close()
        await sip.stop()
        clock.stop()


def pcm_array(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2")


def loud_segments(pcm: bytes, threshold: float = 300.0, frame: int = 160) -> list[tuple[float, float]]:
    """(start s, end s) of stretches whose 20 ms frames are at or above `threshold` RMS."""
    x = pcm_array(pcm).astype(np.float64)
    n = len(x) // frame
    levels = np.sqrt((x[: n * frame].reshape(n, frame) ** 2).mean(axis=1)) if n else np.array([])
    out, start = [], None
    for i, level in enumerate(levels):
        if level >= threshold and start is None:
            start = i
        elif level < threshold and start is not None:
            out.append((start * frame / SAMPLE_RATE, i * frame / SAMPLE_RATE))
            start = None
    if start is not None:
        out.append((start * frame / SAMPLE_RATE, n * frame / SAMPLE_RATE))
    return out


async def answered(leg: Any, timeout: float = 10.0) -> str:
    """Skip 180s; the next event must be Answered: returns its SDP."""
    from wirexa.sip import Answered, Ringing

    while True:
        event = await leg.next_event(timeout)
        if not isinstance(event, Ringing):
            assert isinstance(event, Answered), f"expected Answered, got {event!r}"
            return event.sdp
