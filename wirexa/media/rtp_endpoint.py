"""One call leg's RTP endpoint: a UDP socket, its send state, and the receive path to taps."""

from __future__ import annotations

import asyncio
import logging
import random
import socket
from dataclasses import dataclass
from typing import Callable

from .clock import MediaClock
from .codecs import DEFAULT_TELEPHONE_EVENT_PT, FRAME_BYTES, PCMU, Codec
from .dtmf import InbandDtmfDetector, Rfc4733Receiver, Rfc4733Sender
from .player import AudioSource
from .ports import PortAllocator
from .rtp import HEADER, RtpPacket, is_rtcp

log = logging.getLogger(__name__)

Address = tuple[str, int]
AudioTap = Callable[[bytes], None]  # 20 ms of decoded PCM, in arrival order
DtmfListener = Callable[[str], None]


@dataclass
class EndpointStats:
    sent: int = 0
    send_failed: int = 0  # socket buffer full or network error: the frame was dropped
    received: int = 0  # valid RTP from the peer, audio and events
    lost: int = 0  # sequence-number gaps
    late: int = 0  # duplicates and packets older than the newest one (dropped)
    ignored: int = 0  # not RTP, unknown payload type, or from an address other than the peer


class RtpEndpoint:
    """Sends one frame per clock tick and delivers received audio and digits to listeners.

    Receiving also happens on the clock's tick (its ``poller``, once every frame of the tick is
    sent): a received frame reaches taps and listeners within a tick (20 ms) of arriving, later
    when the process is short of CPU (sending on time comes first: see poller.py).

    Sending: whatever source ``play()`` set, else silence (so NATs and peers see a steady stream;
    ``send_silence=False`` sends nothing instead, and the next packet gets the marker bit).
    Sequence numbers count packets, timestamps count samples: both start random (RFC 3550).

    Symmetric RTP: the first valid packet's source address becomes where we send, whatever the
    SDP said; after that, packets from other addresses are ignored until ``set_remote()``.
    """

    def __init__(
        self,
        clock: MediaClock,
        *,
        codec: Codec = PCMU,
        telephone_event_pt: int | None = DEFAULT_TELEPHONE_EVENT_PT,
        inband_dtmf: bool = False,
        send_silence: bool = True,
    ) -> None:
        self.clock = clock
        self.codec = codec
        self.telephone_event_pt = telephone_event_pt
        self.send_silence = send_silence
        self.stats = EndpointStats()
        self.ssrc = random.getrandbits(32)
        self._seq = random.getrandbits(16)
        self._ts = random.getrandbits(32)
        self._silence = codec.silence_payload
        self._audio_pt = codec.payload_type
        self._frame_samples = codec.samples_per_frame
        self._encode = codec.encode
        self._decode = codec.decode
        self._source: AudioSource | None = None
        self._dtmf_out = Rfc4733Sender()
        self._dtmf_sending = False
        self._dtmf_waiters: set[asyncio.Future[None]] = set()
        self._dtmf_in = Rfc4733Receiver()
        self._inband = InbandDtmfDetector() if inband_dtmf else None
        # In-band detection costs ~40 us per loud frame: a call flow that is not collecting
        # digits turns it off (RFC 4733 digits are always received).
        self.detect_tones = True
        self._audio_taps: list[AudioTap] = []
        # Applied to each received frame before any tap sees it (noise suppression).
        self.audio_filter: Callable[[bytes], bytes] | None = None
        # Called every tick with the PCM frame sent (None for silence or DTMF): recorders use it
        # as their clock, so a recording has one frame per 20 ms whatever the network does.
        self.sent_audio_tap: Callable[[bytes | memoryview | None], None] | None = None
        self._dtmf_listeners: list[DtmfListener] = []
        self._sock: socket.socket | None = None
        self._ports: PortAllocator | None = None
        self.local_address: Address = ("", 0)
        self.remote: Address | None = None
        self._latched = False
        self._sent_last_tick = False
        self._peer_ssrc: int | None = None
        self._last_seq = -1
        self._pending = b""  # received PCM not yet making up a full 20 ms frame

    @classmethod
    async def open(
        cls,
        clock: MediaClock,
        ports: PortAllocator,
        host: str = "127.0.0.1",
        **options,
    ) -> RtpEndpoint:
        """Bind a port from ``ports`` on ``host`` and join ``clock``."""
        endpoint = cls(clock, **options)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        for _ in range(len(ports)):
            port = ports.allocate()
            sock = socket.socket(family, socket.SOCK_DGRAM)
            try:
                sock.setblocking(False)
                sock.bind((host, port))
            except OSError as exc:  # taken by another process: leave it marked, try the next
                sock.close()
                log.debug("RTP port %s:%d unavailable: %s", host, port, exc)
                continue
            endpoint._sock = sock
            endpoint._ports = ports
            endpoint.local_address = (host, port)
            clock.add(endpoint)
            clock.poller.add(sock, endpoint.datagram_received)
            return endpoint
        raise OSError(f"no free RTP port on {host}")

    # --- control -------------------------------------------------------------------------

    def set_codec(self, codec: Codec, telephone_event_pt: int | None) -> None:
        """Apply what the SDP negotiation agreed. Without telephone-event the peer's digits
        arrive as tones, so in-band detection turns on."""
        self.codec = codec
        self._silence = codec.silence_payload
        self._audio_pt = codec.payload_type
        self._frame_samples = codec.samples_per_frame
        self._encode = codec.encode
        self._decode = codec.decode
        self.telephone_event_pt = telephone_event_pt
        if telephone_event_pt is None and self._inband is None:
            self._inband = InbandDtmfDetector()

    def set_remote(self, address: Address) -> None:
        """Where to send (from the SDP); the next packet received re-latches the address."""
        self.remote = address
        self._latched = False

    def play(self, source: AudioSource) -> None:
        """Replace what is being sent; the previous source is stopped."""
        if self._source is not None and self._source is not source:
            self._source.stop()
        self._source = source

    def stop_playing(self) -> None:
        if self._source is not None:
            self._source.stop()
            self._source = None

    def send_dtmf(self, digits: str, duration_ms: int = 100, pause_ms: int = 60) -> asyncio.Future[None]:
        """Send ``digits`` as RFC 4733 events (audio pauses meanwhile); resolves when sent."""
        if self.telephone_event_pt is None:
            raise RuntimeError("telephone-event was not negotiated for this call")
        done = asyncio.get_running_loop().create_future()
        self._dtmf_waiters.add(done)

        def finished() -> None:
            self._dtmf_waiters.discard(done)
            if not done.done():
                done.set_result(None)

        self._dtmf_out.send(digits, duration_ms, pause_ms, finished)
        self._dtmf_sending = True
        return done

    def add_audio_tap(self, tap: AudioTap) -> None:
        self._audio_taps.append(tap)

    def remove_audio_tap(self, tap: AudioTap) -> None:
        self._audio_taps.remove(tap)

    def add_dtmf_listener(self, listener: DtmfListener) -> None:
        self._dtmf_listeners.append(listener)

    def remove_dtmf_listener(self, listener: DtmfListener) -> None:
        self._dtmf_listeners.remove(listener)

    def close(self) -> None:
        self.clock.remove(self)
        self.stop_playing()
        self._dtmf_out.cancel()
        for waiter in self._dtmf_waiters:  # digits that will never be sent now
            waiter.cancel()
        self._dtmf_waiters.clear()
        if self._sock is not None:
            self.clock.poller.remove(self._sock)
            self._sock.close()
            self._sock = None
        if self._ports is not None:
            self._ports.release(self.local_address[1])
            self._ports = None

    # --- sending: called by the clock every 20 ms ----------------------------------------

    def on_tick(self) -> None:
        frame = self._send_next()
        if self.sent_audio_tap is not None:
            self.sent_audio_tap(frame)

    def _send_next(self) -> bytes | memoryview | None:
        """Send this tick's packet; returns the PCM frame sent (None: silence or a DTMF event)."""
        # Hot path (every stream, every 20 ms): keep lookups and calls to a minimum.
        ts = self._ts
        self._ts = (ts + self._frame_samples) & 0xFFFFFFFF
        if self._dtmf_sending:
            event = self._dtmf_out.next_packet(ts)
            if event is not None:
                self._send(self.telephone_event_pt, event.marker, event.timestamp, event.payload)
                return None
            self._dtmf_sending = self._dtmf_out.busy
        source = self._source
        if source is not None:
            frame = source.next_frame()
            if frame is not None:
                self._send(self._audio_pt, not self._sent_last_tick, ts, self._encode(frame))
                return frame
            self._source = None
        if self.send_silence:
            self._send(self._audio_pt, not self._sent_last_tick, ts, self._silence)
        else:
            self._sent_last_tick = False
        return None

    def _send(self, pt: int, marker: bool, ts: int, payload: bytes) -> None:
        remote = self.remote
        if remote is None or self._sock is None:
            self._sent_last_tick = False
            return
        seq = self._seq
        self._seq = (seq + 1) & 0xFFFF
        packet = _pack_header(0x80, pt | 0x80 if marker else pt, seq, ts, self.ssrc) + payload
        self._sent_last_tick = True
        try:
            # Straight to the socket, not through the transport: a full send buffer drops the
            # frame instead of queueing audio that would only go out late.
            self._sock.sendto(packet, remote)
        except OSError as exc:  # buffer full, or an ICMP error reported on a later send
            log.debug("RTP send from %s to %s failed: %s", self.local_address, remote, exc)
            self.stats.send_failed += 1
        else:
            self.stats.sent += 1

    # --- receiving -----------------------------------------------------------------------

    def datagram_received(self, data: bytes, addr: Address) -> None:
        # Hot path: every packet of every call. The common packet (no CSRC, extension or
        # padding) is handled inline; anything else is normalised to that form first.
        if addr != self.remote or not self._latched:
            if self._latched or not _is_rtp(data) or is_rtcp(data):
                self.stats.ignored += 1
                return
            self.remote = addr  # symmetric RTP: answer where the peer really is
            self._latched = True
        if data[0] != 0x80 or len(data) <= 12:
            data = _plain_rtp(data)
            if data is None:
                self.stats.ignored += 1
                return
        _, b1, seq, ts, ssrc = _unpack_header(data)
        if 192 <= b1 <= 223:  # RTCP multiplexed on this port: not implemented, skipped
            self.stats.ignored += 1
            return
        if ssrc == self._peer_ssrc:
            delta = (seq - self._last_seq) & 0xFFFF
            if delta != 1:
                if delta == 0 or delta >= 0x8000:  # duplicate or older: no jitter buffer
                    self.stats.late += 1
                    return
                self.stats.lost += delta - 1
        else:  # first packet, or the peer restarted its stream
            self._peer_ssrc = ssrc
        self._last_seq = seq
        self.stats.received += 1
        pt = b1 & 0x7F
        if pt == self._audio_pt:
            pcm = self._decode(data[12:])
            if len(pcm) == FRAME_BYTES and not self._pending:
                self._deliver_audio_frame(pcm)
            else:
                self._deliver_audio(pcm)
        elif pt == self.telephone_event_pt:
            digit = self._dtmf_in.feed(ts, data[12:])
            if digit is not None:
                self._deliver_digit(digit)
        else:
            self.stats.ignored += 1

    def _deliver_audio(self, pcm: bytes) -> None:
        """Re-frame audio of a peer that uses another packet time (10, 30 ms...) into 20 ms."""
        pcm = self._pending + pcm
        while len(pcm) >= FRAME_BYTES:
            self._deliver_audio_frame(pcm[:FRAME_BYTES])
            pcm = pcm[FRAME_BYTES:]
        self._pending = pcm

    def _deliver_audio_frame(self, pcm: bytes) -> None:
        if self.audio_filter is not None:
            try:
                pcm = self.audio_filter(pcm)
            except Exception:
                log.exception("audio filter %r failed; removed", self.audio_filter)
                self.audio_filter = None
        for tap in self._audio_taps:
            try:
                tap(pcm)
            except Exception:  # one broken consumer must not take the call's audio down
                log.exception("audio tap %r failed", tap)
        if self._inband is not None and self.detect_tones:
            digit = self._inband.feed(pcm)
            if digit is not None:
                self._deliver_digit(digit)

    def _deliver_digit(self, digit: str) -> None:
        for listener in self._dtmf_listeners:
            try:
                listener(digit)
            except Exception:
                log.exception("DTMF listener %r failed", listener)


_pack_header = HEADER.pack
_unpack_header = HEADER.unpack_from


def _plain_rtp(data: bytes) -> bytes | None:
    """The packet without CSRC list, header extension and padding; None if it is not RTP."""
    try:
        packet = RtpPacket.parse(data)
    except ValueError:
        return None
    packet.csrc = ()
    plain = packet.serialize()
    return plain if len(plain) > HEADER.size else None


def _is_rtp(data: bytes) -> bool:
    try:
        RtpPacket.parse(data)
    except ValueError:
        return False
    return True
