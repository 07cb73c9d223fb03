"""Helpers for the media-plane tests: real UDP sockets on 127.0.0.1 only.

A plain module rather than a conftest.py: other test folders import their conftest by name.
"""

from __future__ import annotations

import asyncio
import random

from wirexa.media.ports import PortAllocator
from wirexa.media.rtp import RtpPacket


class RawPeer(asyncio.DatagramProtocol):
    """A bare UDP socket standing in for a remote phone: records what it receives."""

    def __init__(self) -> None:
        self.packets: list[tuple[RtpPacket, tuple[str, int]]] = []
        self.arrived = asyncio.Event()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        self.packets.append((RtpPacket.parse(data), addr))
        self.arrived.set()

    @property
    def address(self) -> tuple[str, int]:
        return self.transport.get_extra_info("sockname")[:2]

    def send(self, packet: RtpPacket, to: tuple[str, int]) -> None:
        self.transport.sendto(packet.serialize(), to)

    async def wait_for(self, count: int, timeout: float = 3.0) -> list[RtpPacket]:
        async def enough() -> None:
            while len(self.packets) < count:
                self.arrived.clear()
                await self.arrived.wait()

        await asyncio.wait_for(enough(), timeout)
        return [p for p, _ in self.packets]


async def open_raw_peer() -> RawPeer:
    loop = asyncio.get_running_loop()
    _, peer = await loop.create_datagram_endpoint(RawPeer, local_addr=("127.0.0.1", 0))
    return peer


def random_ports() -> PortAllocator:
    """A wide random port range per test: other tests and benchmarks on the machine may hold
    whole blocks of ports, and RtpEndpoint.open steps past the ones in use."""
    low = random.randrange(10000, 56000, 2)
    return PortAllocator(low, low + 4000)
