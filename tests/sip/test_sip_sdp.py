"""SDP model and RFC 3264 offer/answer (no network)."""

from __future__ import annotations

import pytest

from wirexa.sip import sdp

# Shaped like what trunks send: static PT without rtpmap, session-level c=, extra attributes.
TRUNK_OFFER = (
    "v=0\r\no=carrier 1234 5 IN IP4 203.0.113.7\r\ns=call\r\nc=IN IP4 203.0.113.7\r\nt=0 0\r\n"
    "m=audio 30000 RTP/AVP 18 8 0 96\r\na=rtpmap:96 telephone-event/8000\r\n"
    "a=fmtp:96 0-15\r\na=fmtp:18 annexb=no\r\na=ptime:20\r\na=maxptime:40\r\na=sendrecv\r\n"
)


def test_parse_offer():
    s = sdp.parse(TRUNK_OFFER)
    assert (s.session_id, s.version, s.rtp_address()) == (1234, 5, ("203.0.113.7", 30000))
    assert [(c.pt, c.name) for c in s.audio.codecs] == [
        (18, "G729"), (8, "PCMA"), (0, "PCMU"), (96, "telephone-event")]
    assert s.audio.codecs[3].fmtp == "0-15" and s.audio.ptime == 20
    assert s.audio.extra == ["maxptime:40"]


def test_round_trip():
    offer = sdp.offer("192.0.2.1", 4000)
    text = str(offer)
    assert "m=audio 4000 RTP/AVP 0 8 101\r\n" in text and "a=fmtp:101 0-16\r\n" in text
    again = sdp.parse(text)
    assert str(again) == text


def test_answer_keeps_offerer_payload_numbers_and_order():
    answer = sdp.answer(sdp.parse(TRUNK_OFFER), sdp.offer("192.0.2.1", 4000))
    assert answer.rtp_address() == ("192.0.2.1", 4000)
    assert [(c.pt, c.name, c.fmtp) for c in answer.audio.codecs] == [
        (8, "PCMA", None), (96, "telephone-event", "0-15")]
    assert answer.audio.direction == "sendrecv"


@pytest.mark.parametrize("offered, answered", [
    ("sendonly", "recvonly"), ("recvonly", "sendonly"), ("inactive", "inactive"),
    ("sendrecv", "sendrecv")])
def test_answer_direction(offered, answered):
    offer = sdp.parse(TRUNK_OFFER.replace("a=sendrecv", f"a={offered}"))
    assert sdp.answer(offer, sdp.offer("192.0.2.1", 4000)).audio.direction == answered


def test_session_level_direction_applies_to_media():
    text = TRUNK_OFFER.replace("t=0 0\r\n", "t=0 0\r\na=inactive\r\n").replace("a=sendrecv\r\n", "")
    assert sdp.parse(text).audio.direction == "inactive"


def test_reanswer_bumps_version_only_on_change():
    ours = sdp.offer("192.0.2.1", 4000)
    first = sdp.answer(sdp.parse(TRUNK_OFFER), ours)
    same = sdp.answer(sdp.parse(TRUNK_OFFER), ours, first)
    assert (same.session_id, same.version) == (first.session_id, first.version)
    held = sdp.answer(sdp.parse(TRUNK_OFFER.replace("a=sendrecv", "a=sendonly")), ours, first)
    assert (held.session_id, held.version) == (first.session_id, first.version + 1)


def test_no_common_codec_and_extra_streams():
    g729_only = TRUNK_OFFER.replace("RTP/AVP 18 8 0 96", "RTP/AVP 18")
    with pytest.raises(sdp.SdpError):
        sdp.answer(sdp.parse(g729_only), sdp.offer("192.0.2.1", 4000))
    two = TRUNK_OFFER + "m=video 30002 RTP/AVP 97\r\na=rtpmap:97 H264/90000\r\n"
    answer = sdp.answer(sdp.parse(two), sdp.offer("192.0.2.1", 4000))
    assert [m.port for m in answer.media] == [4000, 0]  # streams keep their order, video refused


@pytest.mark.parametrize("text", ["", "v=0\r\nc=IN IP4 1.2.3.4\r\n", "v=0\r\nm=audio 1 RTP/AVP 0\r\n"])
def test_unusable_bodies(text):
    with pytest.raises(sdp.SdpError):
        sdp.parse(text)
