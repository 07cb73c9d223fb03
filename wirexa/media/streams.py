"""A call's audio on a WebSocket in Twilio's Media Streams protocol: `calling.stream`, LaML
`<Start><Stream>` (one way) and `<Connect><Stream>` (both ways).

Wirexa connects to the URL (an `Authorization: Bearer` header when a token is given) and sends
JSON text messages: `connected`, `start` (streamSid, callSid, tracks, customParameters,
mediaFormat audio/x-mulaw 8000 Hz mono), `media` (base64 µ-law, 20 ms each, with track,
chunk, timestamp in ms since the stream started), `dtmf` (both ways only) and `stop`.

Both ways (`bidirectional`), the server may send `media` (base64 µ-law: played to the caller
in order, queued without limit), `mark` (echoed back, same name, once the audio sent before it
has been played) and `clear` (drops the queued audio; its pending marks are echoed at once).
That is what voice-bot frameworks written for Twilio (Pipecat's Twilio serializer, ...) speak.

Inbound audio goes out as each packet arrives (no extra wait); outbound audio (what the call
hears) is taken on the call's 20 ms clock."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from .codecs import FRAME_BYTES, FRAME_MS, SILENT_FRAME, audioop
from .session import MediaSession

log = logging.getLogger(__name__)

INBOUND, OUTBOUND = "inbound", "outbound"
QUEUE_LIMIT = 500  # messages waiting for the socket (10 s of one track): beyond, audio is dropped


@dataclass
class StreamSpec:
    url: str
    stream_sid: str
    call_sid: str
    account_sid: str
    tracks: tuple[str, ...] = (INBOUND,)  # inbound (what the caller says), outbound (what it hears)
    custom_parameters: dict[str, str] = field(default_factory=dict)
    token: str | None = None
    bidirectional: bool = False
    name: str | None = None


class PlaybackQueue:
    """The audio a bidirectional stream's server sends, played in order; silence while empty
    (the source stays on the call until the stream ends). Marks are reported (`on_mark`)
    when the audio queued before them has been played."""

    def __init__(self, on_mark: Callable[[str], None]) -> None:
        self._items: deque[bytes | str] = deque()  # PCM frames and mark names, in order
        self._partial = b""
        self._stopped = False
        self.on_mark = on_mark
        self.frames_played = 0

    def push(self, pcm: bytes) -> None:
        pcm = self._partial + pcm
        whole = len(pcm) // FRAME_BYTES * FRAME_BYTES
        self._items.extend(pcm[i:i + FRAME_BYTES] for i in range(0, whole, FRAME_BYTES))
        self._partial = pcm[whole:]

    def mark(self, name: str) -> None:
        if self._partial:  # a mark follows all audio sent before it
            self._items.append(self._partial + bytes(FRAME_BYTES - len(self._partial)))
            self._partial = b""
        if self._items:
            self._items.append(name)
        else:
            self.on_mark(name)

    def clear(self) -> None:
        marks = [item for item in self._items if isinstance(item, str)]
        self._items.clear()
        self._partial = b""
        for name in marks:
            self.on_mark(name)

    def next_frame(self) -> bytes | None:
        if self._stopped:
            return None
        items = self._items
        while items:
            item = items.popleft()
            if isinstance(item, str):
                self.on_mark(item)
                continue
            self.frames_played += 1
            return item
        return SILENT_FRAME

    def stop(self) -> None:
        self._stopped = True


class MediaStream:
    """One stream of one call. `run()` connects and streams until stop(), the server closing,
    or the call ending; it returns why it ended (None: stopped or closed cleanly)."""

    def __init__(self, media: MediaSession, spec: StreamSpec) -> None:
        self.media = media
        self.spec = spec
        self._out: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._seq = 0
        self._chunks = {INBOUND: 0, OUTBOUND: 0}
        self._start_tick: float | None = None
        self._removers: list[Callable[[], None]] = []
        self._stopping = asyncio.Event()
        self.playback: PlaybackQueue | None = None
        self.connected = asyncio.Event()
        self.error: str | None = None
        self.media_sent = 0
        self.media_received = 0

    # --- messages out -----------------------------------------------------------------------

    def _send(self, event: str, body: dict[str, Any] | None = None, with_sid: bool = True) -> None:
        self._seq += 1
        message: dict[str, Any] = {"event": event, "sequenceNumber": str(self._seq)}
        if body:
            message.update(body)
        if with_sid:
            message["streamSid"] = self.spec.stream_sid
        if self._out.qsize() >= QUEUE_LIMIT and event == "media":
            return  # the server is not keeping up: drop audio, never control messages
        self._out.put_nowait(orjson.dumps(message))

    def _media(self, track: str, pcm: bytes) -> None:
        self._chunks[track] += 1
        chunk = self._chunks[track]
        payload = base64.b64encode(audioop.lin2ulaw(pcm, 2)).decode()
        self._send("media", {"media": {"track": track, "chunk": str(chunk),
                                       "timestamp": str((chunk - 1) * FRAME_MS), "payload": payload}})
        self.media_sent += 1

    def _on_inbound(self, pcm: bytes) -> None:
        self._media(INBOUND, pcm)

    def _on_tick(self, sent: bytes | memoryview | None) -> None:
        self._media(OUTBOUND, bytes(sent) if sent is not None and len(sent) == FRAME_BYTES else SILENT_FRAME)

    def _on_digit(self, digit: str) -> None:
        self._send("dtmf", {"dtmf": {"track": "inbound_track", "digit": digit}})

    def _on_mark(self, name: str) -> None:
        self._send("mark", {"mark": {"name": name}})

    # --- messages in (bidirectional) ----------------------------------------------------------

    def _receive(self, text: str | bytes) -> None:
        try:
            message = orjson.loads(text)
            event = message.get("event")
        except (orjson.JSONDecodeError, AttributeError):
            log.debug("stream %s: not a JSON message", self.spec.stream_sid)
            return
        if self.playback is None:
            return
        if event == "media":
            payload = (message.get("media") or {}).get("payload")
            if payload:
                try:
                    self.playback.push(audioop.ulaw2lin(base64.b64decode(payload), 2))
                    self.media_received += 1
                except (ValueError, TypeError):
                    log.debug("stream %s: bad media payload", self.spec.stream_sid)
        elif event == "mark":
            name = (message.get("mark") or {}).get("name")
            if name is not None:
                self.playback.mark(str(name))
        elif event == "clear":
            self.playback.clear()

    # --- running ------------------------------------------------------------------------------

    def _attach(self) -> None:
        if INBOUND in self.spec.tracks:
            self._removers.append(self.media.tap(self._on_inbound))
        if OUTBOUND in self.spec.tracks:
            self._removers.append(self.media.tap_sent(self._on_tick))
        if self.spec.bidirectional:
            self.media.endpoint.add_dtmf_listener(self._on_digit)
            self._removers.append(lambda: self.media.endpoint.remove_dtmf_listener(self._on_digit))
            self.playback = PlaybackQueue(self._on_mark)
            self.media.endpoint.play(self.playback)

    def _detach(self) -> None:
        removers, self._removers = self._removers, []
        for remove in removers:
            with contextlib.suppress(ValueError):
                remove()
        if self.playback is not None:
            self.playback.stop()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> str | None:
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed

        spec = self.spec
        headers = {"Authorization": f"Bearer {spec.token}"} if spec.token else {}
        try:
            async with connect(spec.url, additional_headers=headers, open_timeout=10,
                               max_size=2**20, compression=None) as ws:
                self._send("connected", {"protocol": "Call", "version": "1.0.0"}, with_sid=False)
                self._send("start", {"start": {
                    "accountSid": spec.account_sid, "streamSid": spec.stream_sid, "callSid": spec.call_sid,
                    "tracks": list(spec.tracks), "customParameters": spec.custom_parameters,
                    "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}})
                self._attach()
                self.connected.set()
                sender = asyncio.ensure_future(self._sender(ws))
                receiver = asyncio.ensure_future(self._receiver(ws))
                stopping = asyncio.ensure_future(self._stopping.wait())
                try:
                    await asyncio.wait({sender, receiver, stopping}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    self._detach()
                    receiver.cancel()
                    stopping.cancel()
                    if not sender.done():  # say goodbye when the server is still there
                        self._send("stop", {"stop": {"accountSid": spec.account_sid, "callSid": spec.call_sid}})
                        self._out.put_nowait(None)
                        with contextlib.suppress(asyncio.TimeoutError, ConnectionClosed):
                            await asyncio.wait_for(sender, 2.0)
                    sender.cancel()
                    if receiver.done() and not receiver.cancelled() and receiver.exception() is not None:
                        exc = receiver.exception()
                        if not isinstance(exc, ConnectionClosed):
                            self.error = f"{type(exc).__name__}: {exc}"
        except asyncio.CancelledError:
            self._detach()
            raise
        except Exception as exc:
            self._detach()
            self.error = f"{type(exc).__name__}: {exc}"
            log.warning("media stream %s to %s: %s", spec.stream_sid, spec.url, self.error)
        return self.error

    async def _sender(self, ws: Any) -> None:
        while (message := await self._out.get()) is not None:
            await ws.send(message.decode())

    async def _receiver(self, ws: Any) -> None:
        async for message in ws:
            self._receive(message)
