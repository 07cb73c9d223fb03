"""RtpEndpoint over real UDP sockets on 127.0.0.1, driven by the shared clock."""

import asyncio
import struct

import numpy as np
import uvloop

from wirexa.media.clock import MediaClock
from wirexa.media.codecs import FRAME_BYTES, FRAME_SAMPLES, PCMA, PCMU
from wirexa.media.dtmf import COL_HZ, ROW_HZ
from wirexa.media.player import PcmPlayer
from wirexa.media.rtp import RtpPacket, TelephoneEvent
from wirexa.media.rtp_endpoint import RtpEndpoint

from media_helpers import open_raw_peer as open_peer
from media_helpers import random_ports


def numbered_frames(count: int, start: int = 1) -> bytes:
    """Frames carrying their number in the signs of their first 16 samples (survives G.711)."""
    frames = []
    for n in range(start, start + count):
        bits = [8000 if n >> b & 1 else -8000 for b in range(16)]
        frames.append(struct.pack("<16h", *bits) + bytes(FRAME_BYTES - 32))
    return b"".join(frames)


def frame_number(pcm: bytes) -> int:
    """The number numbered_frames() put in; 0 for silence."""
    return sum(1 << b for b, v in enumerate(struct.unpack_from("<16h", pcm)) if v > 1000)



async def endpoint_sending_to_peer(ports, **options):
    """A started clock and an endpoint on it that sends to a fresh loopback peer."""
    clock = MediaClock()
    ep = await RtpEndpoint.open(clock, ports, **options)
    peer = await open_peer()
    ep.set_remote(peer.address)
    clock.start()
    return clock, ep, peer

def test_two_endpoints_exchange_audio_in_order():
    ports = random_ports()
    async def main():
        clock = MediaClock()
        a = await RtpEndpoint.open(clock, ports, codec=PCMA)
        b = await RtpEndpoint.open(clock, ports, codec=PCMA)
        a.set_remote(b.local_address)
        b.set_remote(a.local_address)
        got_a, got_b = [], []
        a.add_audio_tap(got_a.append)
        b.add_audio_tap(got_b.append)
        player_a = PcmPlayer(numbered_frames(10, start=1))
        player_b = PcmPlayer(numbered_frames(10, start=50))
        a.play(player_a)
        b.play(player_b)
        clock.start()
        assert await asyncio.wait_for(player_a.wait(), 2) is True
        await player_b.wait()
        await asyncio.sleep(0.06)
        clock.stop()
        await asyncio.sleep(0.05)  # let the last packets arrive
        a.close()
        b.close()
        return a, b, got_a, got_b

    a, b, got_a, got_b = uvloop.run(main())
    assert all(len(f) == FRAME_BYTES for f in got_a + got_b)
    # The prompt arrives whole and in order, followed by silence once it ended.
    heard_by_b = [frame_number(f) for f in got_b]
    heard_by_a = [frame_number(f) for f in got_a]
    assert heard_by_b[:10] == list(range(1, 11)) and set(heard_by_b[10:]) == {0}
    assert heard_by_a[:10] == list(range(50, 60)) and set(heard_by_a[10:]) == {0}
    assert a.stats.lost == b.stats.lost == 0
    assert b.stats.received == a.stats.sent and a.stats.received == b.stats.sent
    assert ports.in_use == 0


def test_sequence_timestamp_ssrc_and_marker():
    ports = random_ports()
    async def main():
        clock, ep, peer = await endpoint_sending_to_peer(ports, send_silence=False)
        ep.play(PcmPlayer(numbered_frames(3)))
        await peer.wait_for(3)
        await asyncio.sleep(0.1)  # a gap: nothing is sent (send_silence=False)
        ep.play(PcmPlayer(numbered_frames(2)))
        packets = await peer.wait_for(5)
        clock.stop()
        ep.close()
        return ep, packets

    ep, packets = uvloop.run(main())
    assert len(packets) == 5
    assert {p.ssrc for p in packets} == {ep.ssrc}
    assert {p.payload_type for p in packets} == {0}
    assert all(len(p.payload) == FRAME_SAMPLES for p in packets)
    seqs = [p.sequence for p in packets]
    assert all((b - a) % 65536 == 1 for a, b in zip(seqs, seqs[1:]))
    ts = [p.timestamp for p in packets]
    assert (ts[1] - ts[0]) % 2**32 == 160 and (ts[2] - ts[1]) % 2**32 == 160
    # Across the silent gap the timestamp keeps counting sampling time; the sequence does not.
    assert (ts[3] - ts[2]) % 2**32 >= 160 * 4
    assert [p.marker for p in packets] == [True, False, False, True, False]


def test_symmetric_rtp_answers_the_real_source():
    ports = random_ports()
    async def main():
        clock = MediaClock()
        ep = await RtpEndpoint.open(clock, ports)
        advertised = await open_peer()  # what the SDP said
        actual = await open_peer()  # where the peer's packets really come from (NAT)
        ep.set_remote(advertised.address)
        clock.start()
        await advertised.wait_for(2)
        actual.send(RtpPacket(0, 1, 0, 1234, PCMU.silence_payload), ep.local_address)
        await asyncio.sleep(0.05)
        before = len(actual.packets)
        sent_to_advertised = len(advertised.packets)
        await actual.wait_for(before + 3)
        # A third address cannot hijack the stream once latched.
        intruder = await open_peer()
        intruder.send(RtpPacket(0, 1, 0, 999, PCMU.silence_payload), ep.local_address)
        await asyncio.sleep(0.1)
        clock.stop()
        ep.close()
        return ep, advertised, actual, intruder, sent_to_advertised, actual.address

    ep, advertised, actual, intruder, sent_to_advertised, actual_address = uvloop.run(main())
    assert ep.remote == actual_address
    assert len(advertised.packets) == sent_to_advertised  # nothing more went there
    assert intruder.packets == []
    assert ep.stats.ignored == 1


def test_rfc4733_round_trip_with_duplicated_end_packets():
    ports = random_ports()
    async def main():
        clock = MediaClock()
        a = await RtpEndpoint.open(clock, ports)
        b = await RtpEndpoint.open(clock, ports)
        a.set_remote(b.local_address)
        b.set_remote(a.local_address)
        digits_b: list[str] = []
        b.add_dtmf_listener(digits_b.append)
        clock.start()
        await asyncio.wait_for(a.send_dtmf("1234567890*#ABCD", duration_ms=60, pause_ms=40), 10)
        await asyncio.sleep(0.05)

        # A raw peer that repeats every end packet 5 times and every update twice.
        peer = await open_peer()
        digits_a: list[str] = []
        a.add_dtmf_listener(digits_a.append)
        a.set_remote(peer.address)
        seq, ts = 100, 8000
        for digit_code in (5, 5, 11):  # the same key twice is two presses: new timestamps
            for n in (1, 2, 3):
                event = TelephoneEvent(digit_code, n == 3, 10, n * 160)
                for _ in range(5 if n == 3 else 2):
                    peer.send(RtpPacket(101, seq, ts, 77, event.serialize(), marker=n == 1), a.local_address)
                    seq += 1
            ts += 1600
        await asyncio.sleep(0.1)
        clock.stop()
        a.close()
        b.close()
        return digits_a, digits_b

    digits_a, digits_b = uvloop.run(main())
    assert "".join(digits_b) == "1234567890*#ABCD"
    assert digits_a == ["5", "5", "#"]


def test_rfc4733_packets_on_the_wire():
    ports = random_ports()
    async def main():
        clock, ep, peer = await endpoint_sending_to_peer(ports)
        await peer.wait_for(2)
        await ep.send_dtmf("9", duration_ms=100)
        await asyncio.sleep(0.05)
        clock.stop()
        ep.close()
        return [p for p, _ in peer.packets]

    packets = uvloop.run(main())
    events = [(i, p) for i, p in enumerate(packets) if p.payload_type == 101]
    first = events[0][0]
    assert [i for i, _ in events] == list(range(first, first + 7))  # 4 updates + 3 end packets
    decoded = [TelephoneEvent.parse(p.payload) for _, p in events]
    assert {e.event for e in decoded} == {9}
    assert [e.duration for e in decoded] == [160, 320, 480, 640, 800, 800, 800]
    assert [e.end for e in decoded] == [False] * 4 + [True] * 3
    assert [p.marker for _, p in events] == [True] + [False] * 6
    # One timestamp for the whole event: the sampling time of its start.
    assert {p.timestamp for _, p in events} == {events[0][1].timestamp}
    seqs = [p.sequence for p in packets]
    assert all((b - a) % 65536 == 1 for a, b in zip(seqs, seqs[1:]))
    # Audio resumes after the event with the timestamp of the time elapsed.
    after = packets[first + 7]
    assert after.payload_type == 0
    assert (after.timestamp - events[0][1].timestamp) % 2**32 >= 7 * 160


def test_player_stop_and_replace():
    ports = random_ports()
    async def main():
        clock, ep, peer = await endpoint_sending_to_peer(ports)
        long_prompt = PcmPlayer(numbered_frames(200))
        ep.play(long_prompt)
        await asyncio.sleep(0.1)
        interrupting = PcmPlayer(numbered_frames(2, start=300))
        ep.play(interrupting)  # barge-in: the first player is stopped
        stopped_result = await asyncio.wait_for(long_prompt.wait(), 1)
        finished_result = await asyncio.wait_for(interrupting.wait(), 1)
        looping = PcmPlayer(numbered_frames(1, start=400), loop=True)
        ep.play(looping)
        await asyncio.sleep(0.1)
        ep.stop_playing()
        await asyncio.sleep(0.05)
        clock.stop()
        ep.close()
        return stopped_result, finished_result, looping.done, peer

    stopped_result, finished_result, looping_done, peer = uvloop.run(main())
    assert (stopped_result, finished_result, looping_done) == (False, True, True)
    heard = [frame_number(PCMU.decode(p.payload)) for p, _ in peer.packets]
    assert heard.count(300) == 1 and heard.count(301) == 1
    assert heard.count(400) >= 3
    assert heard[-1] == 0  # back to silence


def test_inbound_audio_with_other_ptime_is_reframed():
    ports = random_ports()
    async def main():
        clock = MediaClock()
        ep = await RtpEndpoint.open(clock, ports)
        clock.start()  # the clock's tick reads the socket
        got: list[bytes] = []
        ep.add_audio_tap(got.append)
        peer = await open_peer()
        pcm = numbered_frames(6)
        for i in range(4):  # 30 ms packets: 240 samples each
            chunk = pcm[i * 480 : (i + 1) * 480]
            peer.send(RtpPacket(0, i, i * 240, 5, PCMU.encode(chunk)), ep.local_address)
        await asyncio.sleep(0.05)
        clock.stop()
        ep.close()
        return got

    got = uvloop.run(main())
    assert [frame_number(f) for f in got] == [1, 2, 3, 4, 5, 6]


def test_loss_and_late_packets_are_counted():
    ports = random_ports()
    async def main():
        clock = MediaClock()
        ep = await RtpEndpoint.open(clock, ports)
        clock.start()  # the clock's tick reads the socket
        got: list[bytes] = []
        ep.add_audio_tap(got.append)
        peer = await open_peer()
        for seq in (65534, 65535, 2, 1, 2, 3):  # wraps, loses 0, 1 arrives late, 2 duplicated
            peer.send(RtpPacket(0, seq, 0, 5, PCMU.silence_payload), ep.local_address)
        await asyncio.sleep(0.05)
        clock.stop()
        ep.close()
        return ep.stats, got

    stats, got = uvloop.run(main())
    assert (stats.received, stats.lost, stats.late) == (4, 2, 2)
    assert len(got) == 4


def test_csrc_extension_padding_and_rtcp_on_the_wire():
    ports = random_ports()
    async def main():
        clock = MediaClock()
        ep = await RtpEndpoint.open(clock, ports)
        clock.start()  # the clock's tick reads the socket
        got: list[bytes] = []
        ep.add_audio_tap(got.append)
        peer = await open_peer()
        frame = PCMU.encode(numbered_frames(1, start=7))
        b0 = 0x80 | 0x20 | 0x10 | 1  # padding, extension, one CSRC
        header = struct.pack("!BBHII", b0, 0, 1, 0, 5) + struct.pack("!I", 99)
        extension = struct.pack("!HH", 0xBEDE, 1) + b"\x10\xff\x00\x00"
        rtcp_receiver_report = b"\x81\xc9\x00\x07" + bytes(28)
        for data in (header + extension + frame + b"\x00\x02", rtcp_receiver_report, b"junk"):
            peer.transport.sendto(data, ep.local_address)
        await asyncio.sleep(0.05)
        clock.stop()
        ep.close()
        return ep.stats, got

    stats, got = uvloop.run(main())
    assert [frame_number(f) for f in got] == [7]
    assert (stats.received, stats.ignored) == (1, 2)


def test_inband_dtmf_through_the_endpoint():
    ports = random_ports()
    def key(row: int, col: int) -> bytes:
        t = np.arange(8 * 100) / 8000  # 100 ms of tone, then 100 ms of silence
        tone = 7000 * (np.sin(2 * np.pi * ROW_HZ[row] * t) + np.sin(2 * np.pi * COL_HZ[col] * t))
        return tone.astype("<i2").tobytes() + bytes(1600)

    async def main():
        clock = MediaClock()
        phone = await RtpEndpoint.open(clock, ports, telephone_event_pt=None)
        ivr = await RtpEndpoint.open(clock, ports, telephone_event_pt=None, inband_dtmf=True)
        phone.set_remote(ivr.local_address)
        ivr.set_remote(phone.local_address)
        digits: list[str] = []
        ivr.add_dtmf_listener(digits.append)
        player = PcmPlayer(key(0, 0) + key(3, 2) + key(1, 1))  # 1 # 5
        phone.play(player)
        clock.start()
        await asyncio.wait_for(player.wait(), 3)
        await asyncio.sleep(0.05)
        clock.stop()
        phone.close()
        ivr.close()
        return digits

    assert uvloop.run(main()) == ["1", "#", "5"]


def test_close_cancels_pending_dtmf():
    ports = random_ports()

    async def main():
        clock = MediaClock()
        ep = await RtpEndpoint.open(clock, ports)
        ep.set_remote(("127.0.0.1", 9))
        clock.start()
        pending = ep.send_dtmf("123456")
        await asyncio.sleep(0.05)
        ep.close()
        clock.stop()
        await asyncio.sleep(0)
        return pending.cancelled(), len(clock)

    assert uvloop.run(main()) == (True, 0)
