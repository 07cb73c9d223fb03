import shutil
import struct
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from wirexa.media.codecs import FRAME_SAMPLES, PCMA, PCMU
from wirexa.media.dtmf import COL_HZ, KEYPAD, ROW_HZ, InbandDtmfDetector, Rfc4733Receiver, Rfc4733Sender
from wirexa.media.rtp import RtpPacket, TelephoneEvent

ALL_DIGITS = "123A456B789C*0#D"
PCAP_DIR = Path("/usr/share/sip-tester")
RATE = 8000


# --- RFC 4733 --------------------------------------------------------------------------------


def test_receiver_reports_each_event_once_keyed_by_timestamp():
    rx = Rfc4733Receiver()
    press = lambda code, n, end: TelephoneEvent(code, end, 10, n * 160).serialize()  # noqa: E731
    got = [rx.feed(1000, press(1, 1, False)), rx.feed(1000, press(1, 2, False))]
    got += [rx.feed(1000, press(1, 3, True)) for _ in range(3)]
    got += [rx.feed(2600, press(1, 3, True)) for _ in range(3)]  # same key again, only its end seen
    got += [rx.feed(4200, b"\x10\x8a\x00\xa0")]  # event 16 (not DTMF)
    got += [rx.feed(4200, b"\x01")]  # truncated
    assert [d for d in got if d] == ["1", "1"]


def test_sender_packets_and_pause():
    done = []
    tx = Rfc4733Sender()
    tx.send("4#", duration_ms=60, pause_ms=40, on_done=lambda: done.append(True))
    ticks = [tx.next_packet(1000 + 160 * i) for i in range(16)]
    kinds = ["-" if p is None else ("E" if TelephoneEvent.parse(p.payload).end else "u") for p in ticks]
    # 60 ms = 3 frames: 2 updates, the end packet 3 times, a 40 ms pause, then the next digit.
    assert "".join(kinds) == "uuEEE--uuEEE----"
    first, second = ticks[0], ticks[7]
    assert first.marker and second.marker and not any(p.marker for p in ticks[1:5])
    assert {p.timestamp for p in ticks[:5]} == {1000}
    assert {p.timestamp for p in ticks[7:12]} == {1000 + 7 * 160}
    assert [TelephoneEvent.parse(p.payload).event for p in (first, second)] == [4, 11]
    assert done == [True] and not tx.busy


def read_pcap_udp_payloads(path: Path) -> list[bytes]:
    """UDP payloads of an Ethernet/IPv4 pcap (classic format): just enough for SIPp's captures."""
    data = path.read_bytes()
    magic = struct.unpack_from("<I", data)[0]
    endian = {0xA1B2C3D4: "<", 0xD4C3B2A1: ">"}[magic]
    linktype = struct.unpack_from(endian + "I", data, 20)[0]
    assert linktype == 1, "Ethernet captures only"
    payloads, offset = [], 24
    while offset + 16 <= len(data):
        captured = struct.unpack_from(endian + "I", data, offset + 8)[0]
        frame = data[offset + 16 : offset + 16 + captured]
        offset += 16 + captured
        ip = frame[14:]
        if ip[0] >> 4 != 4 or ip[9] != 17:  # IPv4 and UDP only
            continue
        udp = ip[(ip[0] & 0x0F) * 4 :]
        payloads.append(udp[8:])
    return payloads


PCAPS = sorted(PCAP_DIR.glob("dtmf_2833_*.pcap"))


@pytest.mark.skipif(not PCAPS, reason="Debian sip-tester is not installed")
@pytest.mark.parametrize("pcap", PCAPS, ids=lambda p: p.name)
def test_sipp_rfc2833_pcaps_decode_to_their_digit_once(pcap: Path):
    expected = {"pound": "#", "star": "*"}.get(pcap.stem.rsplit("_", 1)[1], pcap.stem[-1])
    rx = Rfc4733Receiver()
    digits = []
    packets = [RtpPacket.parse(p) for p in read_pcap_udp_payloads(pcap)]
    assert sum(TelephoneEvent.parse(p.payload).end for p in packets) >= 3  # redundant ends present
    for packet in packets:
        assert packet.payload_type == 101
        digit = rx.feed(packet.timestamp, packet.payload)
        if digit:
            digits.append(digit)
    assert digits == [expected]


# --- in-band -----------------------------------------------------------------------------------


def amplitude(dbm0: float) -> float:
    return 32768 * 10 ** ((dbm0 - 3.17) / 20)  # 0 dBm0 = 3.17 dB below G.711 full scale


def detect(signal: np.ndarray, codec=PCMU) -> str:
    """Run a signal through G.711 and the detector, 20 ms at a time."""
    pcm = np.clip(np.round(signal), -32768, 32767).astype("<i2")
    pcm = np.concatenate([pcm, np.zeros(-len(pcm) % FRAME_SAMPLES, "<i2")])
    detector = InbandDtmfDetector()
    found = []
    for i in range(0, len(pcm), FRAME_SAMPLES):
        frame = codec.decode(codec.encode(pcm[i : i + FRAME_SAMPLES].tobytes()))
        digit = detector.feed(frame)
        if digit:
            found.append(digit)
    return "".join(found)


def dtmf_signal(digits: str, level: float, on_ms: int, off_ms: int, twist_db: float = 0.0, snr_db: float | None = None, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    parts = [np.zeros(int(RATE * 0.05))]
    for digit in digits:
        row = next(i for i, keys in enumerate(KEYPAD) if digit in keys)
        col = KEYPAD[row].index(digit)
        t = np.arange(RATE * on_ms // 1000) / RATE
        low = amplitude(level) * np.sin(2 * np.pi * ROW_HZ[row] * t + rng.uniform(0, 2 * np.pi))
        high = amplitude(level + twist_db) * np.sin(2 * np.pi * COL_HZ[col] * t + rng.uniform(0, 2 * np.pi))
        parts += [low + high, np.zeros(RATE * off_ms // 1000)]
    signal = np.concatenate(parts)
    if snr_db is not None:  # white noise relative to one tone's power
        signal = signal + rng.normal(0, amplitude(level - snr_db) / np.sqrt(2), len(signal))
    return signal


@pytest.mark.parametrize("level", [-4.0, -10.0, -20.0, -26.0])
@pytest.mark.parametrize("twist_db", [-4.0, 0.0, 4.0])
def test_all_sixteen_digits_at_realistic_levels(level, twist_db):
    signal = dtmf_signal(ALL_DIGITS, level, on_ms=80, off_ms=60, twist_db=twist_db, snr_db=20, seed=int(-level))
    assert detect(signal) == ALL_DIGITS
    assert detect(signal, PCMA) == ALL_DIGITS


def test_short_tones_and_pauses_are_enough():
    assert detect(dtmf_signal(ALL_DIGITS, -10, on_ms=45, off_ms=45)) == ALL_DIGITS


def test_held_key_is_reported_once_and_repeats_are_not_merged():
    assert detect(dtmf_signal("5", -10, on_ms=3000, off_ms=100, snr_db=15)) == "5"
    assert detect(dtmf_signal("555", -10, on_ms=100, off_ms=60)) == "555"


def test_no_digit_in_beeps_noise_or_sweeps():
    t = np.arange(RATE * 3) / RATE
    rng = np.random.default_rng(7)
    assert detect(amplitude(-3) * np.sin(2 * np.pi * 1000 * t)) == ""  # the answering-machine beep
    assert detect(amplitude(-3) * np.sin(2 * np.pi * ROW_HZ[0] * t)) == ""  # one DTMF tone alone
    assert detect(amplitude(-3) * np.sin(2 * np.pi * COL_HZ[2] * t)) == ""
    assert detect(rng.normal(0, 4000, RATE * 10)) == ""  # white noise
    phase = 2 * np.pi * np.cumsum(np.linspace(300, 3400, RATE * 5)) / RATE
    assert detect(amplitude(-6) * np.sin(phase)) == ""  # a sweep crosses every DTMF frequency


def test_no_digit_in_speech_like_signal():
    # Voiced speech model: a wandering pitch with a harmonic series shaped by moving formants.
    rng = np.random.default_rng(3)
    n = RATE * 10
    pitch = 120 + 60 * np.sin(2 * np.pi * 0.7 * np.arange(n) / RATE) + rng.normal(0, 3, n).cumsum() / 50
    phase = 2 * np.pi * np.cumsum(pitch) / RATE
    formants = [(700, 1), (1220, 0.6), (2600, 0.3)]
    signal = np.zeros(n)
    for k in range(1, 30):
        f = k * pitch
        gain = sum(g * np.exp(-((f - fc) / 150) ** 2) for fc, g in formants) + 0.02
        signal += gain * np.sin(k * phase)
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * np.arange(n) / RATE) ** 2  # syllables
    signal *= envelope * 6000 / np.abs(signal).max()
    assert detect(signal) == ""


@pytest.mark.skipif(not (shutil.which("espeak-ng") and shutil.which("sox")), reason="needs espeak-ng and sox")
def test_no_digit_in_real_speech(tmp_path: Path):
    text = (
        "Thank you for calling. Please press one for sales, two for support, or stay on the line. "
        "Our office hours are nine to five, Monday through Friday. La la la, do re mi fa so."
    )
    signals = []
    for voice in ("en", "en+f3"):
        raw, wav8k = tmp_path / f"{voice}.wav", tmp_path / f"{voice}-8k.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-w", str(raw), text], check=True)
        subprocess.run(["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", str(wav8k)], check=True)
        with wave.open(str(wav8k)) as w:
            speech = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float64)
        signals.append(speech)
    for speech in signals:
        for gain in (0.5, 1.0, 3.0):  # quiet to loud (clipping) talkers
            assert detect(np.clip(speech * gain, -32767, 32767)) == ""
