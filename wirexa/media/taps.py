"""Copies of a call's audio sent elsewhere (`calling.tap`): what the far end says (`speak`,
the inbound audio), what it hears (`listen`, what we send it) or both mixed, as RTP to an
address and port (PCMU/PCMA, `ptime` ms a packet) or as binary WebSocket messages (one
G.711 packet's payload each).

The call's 20 ms clock drives a tap, as it drives a recording: on every tick the frame sent and
the oldest inbound frame not yet taken are combined, so the copy keeps real time."""

from __future__ import annotations

import asyncio
import logging
import random
import socket
from collections import deque
from collections.abc import Callable

from .codecs import FRAME_BYTES, SILENT_FRAME, audioop, codec_by_name
from .rtp import HEADER
from .session import MediaSession

log = logging.getLogger(__name__)

Sink = Callable[[bytes], None]  # one packet's payload (G.711) at a time


class CallAudioTap:
    """Calls `sink(frame)` with 20 ms of PCM per clock tick for `direction` (speak, listen,
    both) until stop()."""

    def __init__(self, media: MediaSession, direction: str, sink: Callable[[bytes], None]) -> None:
        self.direction = direction
        self.sink = sink
        self._inbound: deque[bytes] = deque(maxlen=10)
        self._removers = [media.tap(self._inbound.append), media.tap_sent(self._tick)]

    def _tick(self, sent: bytes | memoryview | None) -> None:
        inbound = self._inbound.popleft() if self._inbound else SILENT_FRAME
        outbound = bytes(sent) if sent is not None and len(sent) == FRAME_BYTES else SILENT_FRAME
        if self.direction == "speak":
            frame = inbound
        elif self.direction == "listen":
            frame = outbound
        else:  # audioop, in C: ~0.4 us on the tick where numpy took ~14
            frame = audioop.add(inbound, outbound, 2)  # saturates at full scale
        try:
            self.sink(frame)
        except Exception:
            log.exception("tap sink failed")

    def stop(self) -> None:
        removers, self._removers = self._removers, []
        for remove in removers:
            try:
                remove()
            except ValueError:  # the call's media closed first
                pass


class Packetizer:
    """PCM frames → G.711 payloads of `ptime` ms."""

    def __init__(self, codec: str, ptime: int, send: Sink) -> None:
        self.codec = codec_by_name(codec)
        self.frames = max(1, ptime // 10) / 2  # 20 ms frames per packet (10 ms: half a frame)
        self.send = send
        self._pending = b""
        self._bytes = int(self.frames * FRAME_BYTES)

    def __call__(self, frame: bytes) -> None:
        self._pending += frame
        while len(self._pending) >= self._bytes:
            pcm, self._pending = self._pending[:self._bytes], self._pending[self._bytes:]
            self.send(self.codec.encode(pcm))


class RtpSender:
    """Sends G.711 payloads as RTP (its own SSRC, sequence and timestamps) to `addr:port`."""

    def __init__(self, addr: str, port: int, codec: str) -> None:
        family = socket.AF_INET6 if ":" in addr else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        self.sock.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", 0))
        self.remote = (addr, port)
        self.payload_type = codec_by_name(codec).payload_type
        self.ssrc = random.getrandbits(32)
        self._seq = random.getrandbits(16)
        self._ts = random.getrandbits(32)
        self._first = True
        self.sent = 0

    @property
    def local_address(self) -> tuple[str, int]:
        return self.sock.getsockname()[:2]

    def __call__(self, payload: bytes) -> None:
        pt = self.payload_type | (0x80 if self._first else 0)
        self._first = False
        packet = HEADER.pack(0x80, pt, self._seq, self._ts, self.ssrc) + payload
        self._seq = (self._seq + 1) & 0xFFFF
        self._ts = (self._ts + len(payload)) & 0xFFFFFFFF  # G.711: one byte a sample
        try:
            self.sock.sendto(packet, self.remote)
            self.sent += 1
        except OSError as exc:  # unreachable or buffer full: the tap goes on
            log.debug("tap to %s: %s", self.remote, exc)

    def close(self) -> None:
        self.sock.close()


class WebSocketSender:
    """Sends G.711 payloads as binary messages on a WebSocket (websockets' asyncio client),
    queued so the media tick never waits for the network; drops audio while the socket is
    more than a second behind."""

    def __init__(self, uri: str, headers: dict[str, str] | None = None) -> None:
        self.uri = uri
        self.headers = headers or {}
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=50)
        self.task: asyncio.Task[None] = asyncio.ensure_future(self._run())
        self.sent = 0
        self.error: str | None = None

    def __call__(self, payload: bytes) -> None:
        try:
            self._queue.put_nowait(payload)
        except asyncio.QueueFull:
            pass

    async def _run(self) -> None:
        from websockets.asyncio.client import connect

        try:
            async with connect(self.uri, additional_headers=self.headers, open_timeout=10) as ws:
                while (payload := await self._queue.get()) is not None:
                    await ws.send(payload)
                    self.sent += 1
        except Exception as exc:  # the tap ends; the call goes on
            self.error = f"{type(exc).__name__}: {exc}"
            log.warning("tap WebSocket %s: %s", self.uri, self.error)

    def close(self) -> None:
        try:
            self._queue.put_nowait(None)
        except asyncio.QueueFull:
            self.task.cancel()
