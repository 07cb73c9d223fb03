"""From an agreed SDP to media settings: where to send RTP, which G.711 law, which DTMF type."""

from __future__ import annotations

from dataclasses import dataclass

from wirexa.media.codecs import Codec, codec_by_name
from wirexa.sip import sdp


@dataclass(frozen=True)
class MediaParams:
    remote: tuple[str, int]
    codec: Codec
    telephone_event_pt: int | None  # None: the peer sends DTMF in-band
    on_hold: bool


def media_params(session: sdp.Session) -> MediaParams:
    """The first G.711 codec of the audio stream (the answer holds one), and telephone-event."""
    audio = session.audio
    codec = None
    event_pt = None
    for c in audio.codecs:
        if c.name.lower() == sdp.TELEPHONE_EVENT:
            event_pt = event_pt if event_pt is not None else c.pt
        elif codec is None and c.name.upper() in ("PCMU", "PCMA") and c.rate == 8000:
            codec = codec_by_name(c.name.upper())
    if codec is None:
        raise sdp.SdpError(f"no G.711 codec in {audio.codec_names()}")
    address = session.rtp_address(audio)
    return MediaParams(
        remote=address,
        codec=codec,
        telephone_event_pt=event_pt,
        on_hold=audio.direction in ("sendonly", "inactive") or address[0] in ("0.0.0.0", "::"),
    )
