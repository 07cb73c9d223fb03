"""G.711 codecs (PCMU/PCMA) and the payload-type table for 8 kHz telephone audio.

PCM everywhere in the media plane is 8 kHz, 16-bit signed little-endian (native), mono.
"""

from __future__ import annotations

import sys
import warnings
from dataclasses import dataclass
from typing import Callable

if sys.version_info >= (3, 13):  # audioop left the stdlib; audioop-lts provides it
    import audioop
else:
    with warnings.catch_warnings():  # 3.11/3.12 warn on import; the module is still the fastest option
        warnings.simplefilter("ignore", DeprecationWarning)
        import audioop

SAMPLE_RATE = 8000
FRAME_MS = 20
FRAME_SAMPLES = SAMPLE_RATE * FRAME_MS // 1000  # 160
FRAME_BYTES = FRAME_SAMPLES * 2  # 320 bytes of 16-bit PCM
SILENT_FRAME = bytes(FRAME_BYTES)  # 20 ms of PCM silence

DEFAULT_TELEPHONE_EVENT_PT = 101  # dynamic: the SDP offer/answer decides the real value


def _ulaw_encode(pcm: bytes) -> bytes:
    return audioop.lin2ulaw(pcm, 2)


def _ulaw_decode(payload: bytes) -> bytes:
    return audioop.ulaw2lin(payload, 2)


def _alaw_encode(pcm: bytes) -> bytes:
    return audioop.lin2alaw(pcm, 2)


def _alaw_decode(payload: bytes) -> bytes:
    return audioop.alaw2lin(payload, 2)


@dataclass(frozen=True)
class Codec:
    name: str
    payload_type: int
    clock_rate: int
    encode: Callable[[bytes], bytes]  # PCM16 -> payload
    decode: Callable[[bytes], bytes]  # payload -> PCM16

    @property
    def samples_per_frame(self) -> int:
        return self.clock_rate * FRAME_MS // 1000

    @property
    def silence_payload(self) -> bytes:
        """One encoded 20 ms frame of digital silence."""
        return self.encode(bytes(self.samples_per_frame * 2))


PCMU = Codec("PCMU", 0, SAMPLE_RATE, _ulaw_encode, _ulaw_decode)
PCMA = Codec("PCMA", 8, SAMPLE_RATE, _alaw_encode, _alaw_decode)

_BY_NAME = {c.name: c for c in (PCMU, PCMA)}
_BY_PT = {c.payload_type: c for c in (PCMU, PCMA)}


def codec_by_name(name: str) -> Codec:
    """Look up a codec by its SDP encoding name (case-insensitive, e.g. "pcmu")."""
    try:
        return _BY_NAME[name.upper()]
    except KeyError:
        raise KeyError(f"unsupported codec {name!r}") from None


def codec_by_payload_type(payload_type: int) -> Codec:
    """Look up a codec by its static RTP payload type (0 or 8)."""
    try:
        return _BY_PT[payload_type]
    except KeyError:
        raise KeyError(f"unsupported payload type {payload_type}") from None
