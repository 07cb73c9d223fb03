import math
import struct

import pytest

from wirexa.media.codecs import (
    FRAME_BYTES,
    FRAME_SAMPLES,
    PCMA,
    PCMU,
    codec_by_name,
    codec_by_payload_type,
)


def sine_frame(amplitude: float = 8000.0, hz: float = 440.0) -> bytes:
    samples = [round(amplitude * math.sin(2 * math.pi * hz * n / 8000)) for n in range(FRAME_SAMPLES)]
    return struct.pack(f"<{FRAME_SAMPLES}h", *samples)


def test_lookup_by_name_and_payload_type():
    assert codec_by_name("pcmu") is PCMU and codec_by_name("PCMA") is PCMA
    assert codec_by_payload_type(0) is PCMU and codec_by_payload_type(8) is PCMA
    assert (PCMU.clock_rate, PCMA.clock_rate) == (8000, 8000)
    with pytest.raises(KeyError):
        codec_by_name("opus")
    with pytest.raises(KeyError):
        codec_by_payload_type(18)


@pytest.mark.parametrize("codec", [PCMU, PCMA])
def test_frame_round_trip_is_close(codec):
    pcm = sine_frame()
    encoded = codec.encode(pcm)
    assert len(encoded) == FRAME_SAMPLES
    decoded = codec.decode(encoded)
    assert len(decoded) == FRAME_BYTES
    original = struct.unpack(f"<{FRAME_SAMPLES}h", pcm)
    back = struct.unpack(f"<{FRAME_SAMPLES}h", decoded)
    # G.711 keeps ~3% relative error on loud samples (8-bit logarithmic quantisation).
    assert all(abs(a - b) <= max(16, abs(a) * 0.07) for a, b in zip(original, back))


def test_silence_encodings_are_the_standard_bytes():
    assert PCMU.silence_payload == b"\xff" * FRAME_SAMPLES
    assert PCMA.silence_payload == b"\xd5" * FRAME_SAMPLES
