"""The RTP media plane: one shared 20 ms clock per process driving every call's endpoint.

codecs.py   G.711 and payload types        rtp.py           packet and telephone-event formats
clock.py    the shared tick                rtp_endpoint.py  a call leg's socket, send and receive
ports.py    RTP port range allocation      dtmf.py          RFC 4733 both ways, in-band detection
player.py   PCM sources the tick pulls from
poller.py   reading every RTP socket on the tick, after its sends
"""

from .clock import MediaClock
from .codecs import PCMA, PCMU, Codec, codec_by_name, codec_by_payload_type
from .player import AudioSource, PcmPlayer
from .ports import PortAllocator
from .rtp_endpoint import RtpEndpoint

__all__ = [
    "PCMA",
    "PCMU",
    "AudioSource",
    "Codec",
    "MediaClock",
    "PcmPlayer",
    "PortAllocator",
    "RtpEndpoint",
    "codec_by_name",
    "codec_by_payload_type",
]
