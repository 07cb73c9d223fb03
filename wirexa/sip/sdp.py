"""Minimal SDP (RFC 4566) model with RFC 3264 offer/answer for one or more audio streams.

Only what a G.711 voice engine needs: c=/m= lines, payload types, rtpmap, fmtp, ptime and the
direction attributes. Unknown attributes are kept verbatim so a parsed body re-serialises
without losing information.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from typing import Iterable, Literal

Direction = Literal["sendrecv", "sendonly", "recvonly", "inactive"]
DIRECTIONS: tuple[str, ...] = ("sendrecv", "sendonly", "recvonly", "inactive")
# What we answer to each offered direction (RFC 3264 section 6.1).
_ANSWER_DIRECTION: dict[str, Direction] = {
    "sendrecv": "sendrecv",
    "sendonly": "recvonly",
    "recvonly": "sendonly",
    "inactive": "inactive",
}
# Static payload types (RFC 3551) that may appear without an a=rtpmap line.
_STATIC: dict[int, tuple[str, int]] = {0: ("PCMU", 8000), 8: ("PCMA", 8000), 9: ("G722", 8000), 18: ("G729", 8000)}
TELEPHONE_EVENT = "telephone-event"


class SdpError(ValueError):
    """The text is not an SDP body we can use."""


@dataclass(frozen=True)
class Codec:
    pt: int
    name: str
    rate: int = 8000
    fmtp: str | None = None

    def same_format(self, other: Codec) -> bool:
        return self.name.lower() == other.name.lower() and self.rate == other.rate


PCMU = Codec(0, "PCMU")
PCMA = Codec(8, "PCMA")
DTMF = Codec(101, TELEPHONE_EVENT, 8000, "0-16")


@dataclass
class Media:
    port: int
    codecs: list[Codec]
    kind: str = "audio"
    proto: str = "RTP/AVP"
    direction: Direction = "sendrecv"
    ptime: int | None = None
    connection: str | None = None  # media-level c= address, if any
    extra: list[str] = field(default_factory=list)  # other a= lines, without "a="

    def codec_names(self) -> list[str]:
        return [c.name for c in self.codecs]


@dataclass
class Session:
    address: str  # session-level c= address
    media: list[Media]
    session_id: int = field(default_factory=lambda: random.randint(1, 2**31))
    version: int = 1
    username: str = "-"
    name: str = "-"
    origin_address: str | None = None
    extra: list[str] = field(default_factory=list)  # session-level a= lines, without "a="

    @property
    def audio(self) -> Media:
        """The first audio stream (there is exactly one in every call Wirexa makes)."""
        for m in self.media:
            if m.kind == "audio":
                return m
        raise SdpError("no audio stream")

    def rtp_address(self, media: Media | None = None) -> tuple[str, int]:
        m = media or self.audio
        return (m.connection or self.address, m.port)

    def __str__(self) -> str:
        ip = "IP6" if ":" in self.address else "IP4"
        o_addr = self.origin_address or self.address
        o_ip = "IP6" if ":" in o_addr else "IP4"
        lines = [
            "v=0",
            f"o={self.username} {self.session_id} {self.version} IN {o_ip} {o_addr}",
            f"s={self.name}",
            f"c=IN {ip} {self.address}",
            "t=0 0",
        ]
        lines += [f"a={a}" for a in self.extra]
        for m in self.media:
            lines.append(f"m={m.kind} {m.port} {m.proto} {' '.join(str(c.pt) for c in m.codecs)}")
            if m.connection:
                lines.append(f"c=IN {'IP6' if ':' in m.connection else 'IP4'} {m.connection}")
            for c in m.codecs:
                lines.append(f"a=rtpmap:{c.pt} {c.name}/{c.rate}")
                if c.fmtp:
                    lines.append(f"a=fmtp:{c.pt} {c.fmtp}")
            if m.ptime:
                lines.append(f"a=ptime:{m.ptime}")
            lines += [f"a={a}" for a in m.extra]
            lines.append(f"a={m.direction}")
        return "\r\n".join(lines) + "\r\n"


def parse(text: str) -> Session:
    """Parse an SDP body. Raises SdpError when c= or m= information is missing."""
    address: str | None = None
    origin: list[str] = []
    name = "-"
    session_extra: list[str] = []
    session_dir: Direction | None = None
    media: list[Media] = []
    rtpmap: dict[int, tuple[str, int]] = {}
    fmtp: dict[int, str] = {}
    pts: list[int] = []

    def close_media() -> None:
        if media:
            m = media[-1]
            m.codecs = [_codec(pt, rtpmap, fmtp) for pt in pts]

    for raw in text.replace("\r\n", "\n").split("\n"):
        line = raw.strip()
        if len(line) < 2 or line[1] != "=":
            continue
        key, value = line[0], line[2:]
        if key == "o":
            origin = value.split()
        elif key == "s":
            name = value
        elif key == "c":
            parts = value.split()
            if len(parts) != 3:
                raise SdpError(f"bad c= line: {line}")
            if media:
                media[-1].connection = parts[2]
            else:
                address = parts[2]
        elif key == "m":
            close_media()
            parts = value.split()
            if len(parts) < 3:
                raise SdpError(f"bad m= line: {line}")
            try:
                port = int(parts[1].split("/")[0])
                pts = [int(p) for p in parts[3:]] if parts[2].startswith("RTP/") else []
            except ValueError as exc:
                raise SdpError(f"bad m= line: {line}") from exc
            rtpmap, fmtp = {}, {}
            media.append(Media(port=port, codecs=[], kind=parts[0], proto=parts[2],
                               direction=session_dir or "sendrecv"))
        elif key == "a":
            attr, _, arg = value.partition(":")
            if attr in DIRECTIONS:
                if media:
                    media[-1].direction = attr  # type: ignore[assignment]
                else:
                    session_dir = attr  # type: ignore[assignment]
            elif media and attr == "rtpmap":
                pt, _, enc = arg.partition(" ")
                enc_name, _, rest = enc.partition("/")
                rtpmap[int(pt)] = (enc_name, int(rest.split("/")[0] or 8000))
            elif media and attr == "fmtp":
                pt, _, params = arg.partition(" ")
                fmtp[int(pt)] = params
            elif media and attr == "ptime":
                media[-1].ptime = int(float(arg))
            elif media:
                media[-1].extra.append(value)
            else:
                session_extra.append(value)
    close_media()
    if not media:
        raise SdpError("no m= line")
    if address is None:
        if all(m.connection for m in media):
            address = media[0].connection
        else:
            raise SdpError("no c= line")
    session = Session(address=address, media=media, name=name, extra=session_extra)  # type: ignore[arg-type]
    if len(origin) >= 6:
        session.username = origin[0]
        session.session_id = int(origin[1]) if origin[1].isdigit() else session.session_id
        session.version = int(origin[2]) if origin[2].isdigit() else 0
        session.origin_address = origin[5]
    return session


def _codec(pt: int, rtpmap: dict[int, tuple[str, int]], fmtp: dict[int, str]) -> Codec:
    name, rate = rtpmap.get(pt) or _STATIC.get(pt) or (str(pt), 8000)
    return Codec(pt, name, rate, fmtp.get(pt))


def offer(address: str, port: int, codecs: Iterable[Codec] = (PCMU, PCMA, DTMF),
          ptime: int | None = 20, direction: Direction = "sendrecv") -> Session:
    """A fresh one-stream audio offer."""
    return Session(address=address, media=[Media(port=port, codecs=list(codecs), ptime=ptime,
                                                 direction=direction)])


def answer(remote_offer: Session, local: Session, previous: Session | None = None) -> Session:
    """RFC 3264 answer to `remote_offer`.

    `local` is what we can do (address, port, codecs: a template from offer(), or the first SDP
    we sent); `previous` is the last SDP we sent in this session, whose o= line is kept with the
    version bumped when anything changed. Codecs keep the offerer's payload numbers and order;
    the direction mirrors the offer (sendonly -> recvonly, inactive -> inactive). Only the first
    usable audio stream is accepted, others get port 0. SdpError if nothing can be accepted.
    """
    ours = local.audio
    streams: list[Media] = []
    for m in remote_offer.media:
        common = [c for c in m.codecs if any(c.same_format(o) for o in ours.codecs)]
        voice = [c for c in common if c.name.lower() != TELEPHONE_EVENT]
        if m.kind != "audio" or m.port == 0 or not voice or any(s.port for s in streams):
            streams.append(Media(port=0, codecs=m.codecs[:1] or [PCMU], kind=m.kind, proto=m.proto))
            continue
        # One voice codec (the offerer's preferred) plus telephone-event keeps both ends simple.
        chosen = voice[:1] + [c for c in common if c.name.lower() == TELEPHONE_EVENT][:1]
        streams.append(Media(port=ours.port, codecs=chosen, kind="audio", proto=m.proto,
                             direction=_ANSWER_DIRECTION[m.direction], ptime=ours.ptime))
    if not any(s.port for s in streams):
        raise SdpError("no acceptable audio stream in offer")
    result = replace(previous or local, address=local.address, media=streams)
    if previous is not None and str(result) != str(previous):
        result.version = previous.version + 1
    return result
