import struct

import pytest

from wirexa.media.rtp import RtpPacket, TelephoneEvent, is_rtcp


def test_serialize_then_parse():
    packet = RtpPacket(payload_type=0, sequence=65535, timestamp=2**32 - 1, ssrc=0xDEADBEEF, payload=b"\x01" * 160, marker=True)
    data = packet.serialize()
    assert data[:2] == b"\x80\x80"
    assert len(data) == 12 + 160
    assert RtpPacket.parse(data) == packet


def test_parse_tolerates_csrc_extension_and_padding():
    b0 = 0x80 | 0x20 | 0x10 | 2  # padding, extension, 2 CSRCs
    header = struct.pack("!BBHII", b0, 8, 7, 1234, 42) + struct.pack("!II", 1, 2)
    extension = struct.pack("!HH", 0xBEDE, 1) + b"\xaa\xbb\xcc\xdd"
    data = header + extension + b"payload" + b"\x00\x00\x03"
    packet = RtpPacket.parse(data)
    assert (packet.payload_type, packet.sequence, packet.timestamp, packet.ssrc) == (8, 7, 1234, 42)
    assert packet.csrc == (1, 2)
    assert packet.extension == (0xBEDE, b"\xaa\xbb\xcc\xdd")
    assert packet.payload == b"payload"
    assert not packet.marker


@pytest.mark.parametrize(
    "data",
    [
        b"\x80\x00\x00",  # shorter than the header
        b"\x40" + bytes(11),  # version 1
        b"\xa0" + bytes(11) + b"\x00",  # padding count 0
        b"\x8f" + bytes(11),  # 15 CSRCs announced, none present
        b"\x90" + bytes(11) + b"\x00\x00\x00\x05",  # extension longer than the packet
    ],
)
def test_parse_rejects_malformed(data):
    with pytest.raises(ValueError):
        RtpPacket.parse(data)


def test_rtcp_is_recognised():
    sender_report = b"\x80\xc8\x00\x06" + bytes(24)
    assert is_rtcp(sender_report)
    assert not is_rtcp(RtpPacket(0, 1, 2, 3, b"x").serialize())
    assert not is_rtcp(RtpPacket(101, 1, 2, 3, b"x", marker=True).serialize())


def test_telephone_event_round_trip():
    event = TelephoneEvent(event=11, end=True, volume=10, duration=800)
    data = event.serialize()
    assert data == b"\x0b\x8a\x03\x20"
    assert TelephoneEvent.parse(data) == event
    with pytest.raises(ValueError):
        TelephoneEvent.parse(b"\x01\x02")
