"""RTP packets (RFC 3550) and RFC 4733 telephone-event payloads."""

from __future__ import annotations

import struct
from dataclasses import dataclass

RTP_VERSION = 2
HEADER = struct.Struct("!BBHII")  # V/P/X/CC, M/PT, sequence, timestamp, SSRC
_EXTENSION = struct.Struct("!HH")  # profile-defined id, length in 32-bit words
_EVENT = struct.Struct("!BBH")  # event, E/R/volume, duration


def is_rtcp(data: bytes) -> bool:
    """RTCP multiplexed on the RTP port (RFC 5761): packet types 192-223 sit where M/PT is."""
    return len(data) >= 2 and 192 <= data[1] <= 223


@dataclass(slots=True)
class RtpPacket:
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes = b""
    marker: bool = False
    csrc: tuple[int, ...] = ()
    # Header extension (profile id, data) is kept for inspection but not re-serialized.
    extension: tuple[int, bytes] | None = None

    @classmethod
    def parse(cls, data: bytes) -> RtpPacket:
        """Parse one datagram; raises ValueError on anything that is not valid RTP v2."""
        if len(data) < HEADER.size:
            raise ValueError("RTP packet shorter than its fixed header")
        b0, b1, seq, ts, ssrc = HEADER.unpack_from(data)
        if b0 >> 6 != RTP_VERSION:
            raise ValueError(f"RTP version {b0 >> 6}, expected 2")
        end = len(data)
        if b0 & 0x20:  # padding: the last octet counts the padding octets, itself included
            pad = data[-1]
            if pad == 0 or pad > end - HEADER.size:
                raise ValueError("bad RTP padding")
            end -= pad
        offset = HEADER.size
        cc = b0 & 0x0F
        if offset + 4 * cc > end:
            raise ValueError("truncated RTP CSRC list")
        csrc = struct.unpack_from(f"!{cc}I", data, offset) if cc else ()
        offset += 4 * cc
        extension = None
        if b0 & 0x10:
            if offset + _EXTENSION.size > end:
                raise ValueError("truncated RTP header extension")
            profile, words = _EXTENSION.unpack_from(data, offset)
            offset += _EXTENSION.size
            extension = (profile, bytes(data[offset : offset + 4 * words]))
            offset += 4 * words
        if offset > end:
            raise ValueError("truncated RTP packet")
        return cls(
            payload_type=b1 & 0x7F,
            sequence=seq,
            timestamp=ts,
            ssrc=ssrc,
            payload=bytes(data[offset:end]),
            marker=bool(b1 & 0x80),
            csrc=tuple(csrc),
            extension=extension,
        )

    def serialize(self) -> bytes:
        b0 = (RTP_VERSION << 6) | len(self.csrc)
        b1 = (0x80 if self.marker else 0) | self.payload_type
        head = HEADER.pack(b0, b1, self.sequence, self.timestamp, self.ssrc)
        if self.csrc:
            head += struct.pack(f"!{len(self.csrc)}I", *self.csrc)
        return head + self.payload


@dataclass(frozen=True, slots=True)
class TelephoneEvent:
    """RFC 4733 section 2.3 payload: one named event (DTMF 0-15) and its duration so far."""

    event: int
    end: bool
    volume: int  # power level in -dBm0, 0..63
    duration: int  # in RTP timestamp units (samples at 8 kHz)

    @classmethod
    def parse(cls, payload: bytes) -> TelephoneEvent:
        if len(payload) < _EVENT.size:
            raise ValueError("telephone-event payload shorter than 4 octets")
        event, flags, duration = _EVENT.unpack_from(payload)
        return cls(event, bool(flags & 0x80), flags & 0x3F, duration)

    def serialize(self) -> bytes:
        flags = (0x80 if self.end else 0) | (self.volume & 0x3F)
        return _EVENT.pack(self.event, flags, self.duration & 0xFFFF)
