"""<Start><Stream>, <Stop><Stream> and <Connect><Stream>: the call's audio on a WebSocket in
Twilio's Media Streams protocol (wirexa/media/streams.py), on the same code as the Calling
API's `calling.stream`.

<Start><Stream url="wss://..." name="..." track="inbound_track|outbound_track|both_tracks">
with <Parameter name value/> children (customParameters): streams in the background while the
document goes on. <Stop><Stream name="..."/> stops it (without a name: every stream of the
call). <Connect><Stream url="..."> streams the caller's audio both ways: what the server sends
back is played to the caller (media, mark, clear); the document goes on (or `action` of
<Connect> is requested) once the server closes the WebSocket."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from wirexa.calls.streams import new_stream_sid, start_stream, stop_stream
from wirexa.laml.call import LamlCall
from wirexa.laml.nodes import LamlError, Node
from wirexa.laml.steps import Fetch, Step
from wirexa.media.streams import INBOUND, OUTBOUND, StreamSpec

TRACKS = {"inbound_track": (INBOUND,), "outbound_track": (OUTBOUND,), "both_tracks": (INBOUND, OUTBOUND)}
STREAM_FAILED = 31920  # Twilio: Stream - WebSocket - Connection Error


@dataclass(frozen=True)
class StreamNoun:
    url: str
    name: str
    track: str
    parameters: tuple[tuple[str, str], ...]

    @classmethod
    def parse(cls, node: Node, where: str) -> StreamNoun:
        if node.name != "Stream":
            raise LamlError(f"<{node.name}> cannot be nested in <{where}> (use <Stream>)")
        url = node.get("url") or ""
        parameters = []
        for child in node.children:
            if child.name != "Parameter":
                raise LamlError(f"<{child.name}> cannot be nested in <Stream> (use <Parameter>)")
            parameters.append((child.get("name") or "", child.get("value") or ""))
        track = node.get("track") or "inbound_track"
        if track not in TRACKS:
            raise LamlError(f"<Stream track=\"{track}\">: inbound_track, outbound_track or both_tracks")
        return cls(url, node.get("name") or "", track, tuple(parameters))

    def checked_url(self, call: LamlCall) -> str:
        url = self.url
        if url.startswith("/") and call.document_url:  # relative to the document, as ws(s)
            base = urlsplit(call.document_url)
            url = f"{'wss' if base.scheme == 'https' else 'ws'}://{base.netloc}{url}"
        if urlsplit(url).scheme not in ("ws", "wss") or not urlsplit(url).hostname:
            raise LamlError(f"<Stream url=\"{self.url}\">: a ws:// or wss:// URL is required")
        return url

    def spec(self, call: LamlCall, *, bidirectional: bool) -> StreamSpec:
        return StreamSpec(
            url=self.checked_url(call), stream_sid=new_stream_sid(), call_sid=call.live.sid,
            account_sid=call.live.account_sid, tracks=(INBOUND,) if bidirectional else TRACKS[self.track],
            custom_parameters=dict(self.parameters), bidirectional=bidirectional, name=self.name or None)


def _one_stream(node: Node) -> Node:
    if len(node.children) != 1:
        raise LamlError(f"<{node.name}> takes exactly one <Stream>")
    return node.children[0]


@dataclass(frozen=True)
class Start:
    stream: StreamNoun

    @classmethod
    def parse(cls, node: Node) -> Start:
        return cls(StreamNoun.parse(_one_stream(node), "Start"))

    async def run(self, call: LamlCall) -> Step:
        running = start_stream(call.live, self.stream.spec(call, bidirectional=False),
                               on_end=lambda _, error: error and call.report(STREAM_FAILED, f"<Stream>: {error}"))
        del running
        return None


@dataclass(frozen=True)
class Stop:
    name: str

    @classmethod
    def parse(cls, node: Node) -> Stop:
        child = _one_stream(node)
        if child.name != "Stream":
            raise LamlError(f"<{child.name}> cannot be nested in <Stop> (use <Stream>)")
        return cls(child.get("name") or "")

    async def run(self, call: LamlCall) -> Step:
        stop_stream(call.live.sid, self.name or None)
        return None


@dataclass(frozen=True)
class Connect:
    stream: StreamNoun
    action: str
    method: str

    @classmethod
    def parse(cls, node: Node) -> Connect:
        return cls(StreamNoun.parse(_one_stream(node), "Connect"), node.get("action") or "", node.method())

    async def run(self, call: LamlCall) -> Step:
        running = start_stream(call.live, self.stream.spec(call, bidirectional=True))
        try:
            error = await running.task
        finally:
            running.stop()
        if error:
            call.report(STREAM_FAILED, f"<Connect><Stream>: {error}")
        if self.action:
            return Fetch(call.resolve(self.action), self.method, {})
        return None
