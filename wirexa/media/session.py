"""MediaSession: what call flows (LaML verbs, Calling API commands) do with a live call's audio.

Play (interruptible), send digits, receive digits, tap inbound audio, record, bridge two calls.
It wraps the call's RtpEndpoint; everything runs on the media loop and never blocks it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from .codecs import SILENT_FRAME
from .dtmf import dtmf_tones
from .player import AudioSource, PcmPlayer, StreamPlayer
from .recorder import CallRecorder, Direction
from .recorder import _attach as attach_tick
from .recorder import _detach as detach_tick
from .rtp_endpoint import RtpEndpoint

PAUSES = {"w": 0.5, "W": 1.0}  # Twilio's SendDigits pause characters
Wrap = Callable[[AudioSource], AudioSource]


class FrameQueue:
    """An audio source fed frame by frame (a bridged call's audio). Keeps at most `depth`
    frames so a stalled reader never builds up delay; sends silence while empty."""

    def __init__(self, depth: int = 5) -> None:
        self._frames: deque[bytes] = deque(maxlen=depth)
        self._stopped = False

    def push(self, frame: bytes) -> None:
        self._frames.append(frame)

    def next_frame(self) -> bytes | None:
        if self._stopped:
            return None
        return self._frames.popleft() if self._frames else SILENT_FRAME

    def stop(self) -> None:
        self._stopped = True


class MediaSession:
    def __init__(self, endpoint: RtpEndpoint) -> None:
        self.endpoint = endpoint
        self._digits: asyncio.Queue[str] = asyncio.Queue()
        self._digit_ready = asyncio.Event()  # set while a digit waits in the queue
        endpoint.add_dtmf_listener(self._on_digit)
        self._bridge: _Bridge | None = None
        self._recorders: list[CallRecorder] = []

    # --- playing ---------------------------------------------------------------------------

    async def play(self, pcm: bytes, *, loop: bool = False, wrap: Wrap | None = None) -> bool:
        """Play 8 kHz 16-bit mono PCM. True when it played to the end, False when interrupted
        (stop_playing(), another play(), a bridge, or the call ending). `wrap` puts controls
        (pause, volume: media/playback.py) around the player."""
        player = PcmPlayer(pcm, loop=loop)
        self.endpoint.play(wrap(player) if wrap is not None else player)
        try:
            return await player.wait()
        finally:
            player.stop()  # no-op when it ended; stops playback when this task was cancelled

    async def play_stream(self, pieces: AsyncIterator[bytes], *, wrap: Wrap | None = None) -> bool:
        """Play PCM pieces as they arrive (speech sentence by sentence): the first piece is
        heard while the next ones are still being produced. True when it played to the end."""
        player = StreamPlayer()
        self.endpoint.play(wrap(player) if wrap is not None else player)
        try:
            async for pcm in pieces:
                if player.done:  # interrupted: render nothing more
                    break
                player.push(pcm)
            player.finish()
            return await player.wait()
        finally:
            player.stop()  # no-op when it ended; stops playback when this task was cancelled
            aclose = getattr(pieces, "aclose", None)
            if aclose is not None:
                await aclose()

    def stop_playing(self) -> None:
        self.endpoint.stop_playing()

    async def send_digits(self, digits: str) -> None:
        """DTMF as RFC 4733 events, or as tones when the peer did not negotiate
        telephone-event; `w` waits 0.5 s and `W` 1 s between them (as SendDigits)."""
        chunk = ""
        for ch in digits + "\0":
            if ch in PAUSES or ch == "\0":
                if chunk:
                    await self._send_dtmf(chunk)
                    chunk = ""
                if ch in PAUSES:
                    await asyncio.sleep(PAUSES[ch])
            else:
                chunk += ch

    async def _send_dtmf(self, digits: str) -> None:
        if self.endpoint.telephone_event_pt is not None:
            await self.endpoint.send_dtmf(digits)
        else:
            await self.play(dtmf_tones(digits))

    # --- receiving -------------------------------------------------------------------------

    def _on_digit(self, digit: str) -> None:
        self._digits.put_nowait(digit)
        self._digit_ready.set()

    async def next_digit(self, timeout: float | None = None) -> str | None:
        """The next digit the far end pressed, or None after `timeout` seconds."""
        try:
            digit = await asyncio.wait_for(self._digits.get(), timeout)
        except TimeoutError:
            return None
        if self._digits.empty():
            self._digit_ready.clear()
        return digit

    def listen_for_tones(self, on: bool) -> None:
        """Detect digits sent as tones (peers without telephone-event) or not: flows turn it
        on only while they collect digits, as detection costs CPU on every loud frame."""
        self.endpoint.detect_tones = on

    async def wait_for_digit(self) -> None:
        """Until a digit is waiting (it stays queued for next_digit)."""
        await self._digit_ready.wait()

    def clear_digits(self) -> None:
        while not self._digits.empty():
            self._digits.get_nowait()
        self._digit_ready.clear()

    def tap(self, callback: Callable[[bytes], None]) -> Callable[[], None]:
        """Deliver every 20 ms frame of inbound PCM to `callback`; returns the function that
        removes the tap."""
        self.endpoint.add_audio_tap(callback)
        return lambda: self.endpoint.remove_audio_tap(callback)

    def tap_sent(self, callback: Callable[[bytes | memoryview | None], None]) -> Callable[[], None]:
        """Call `callback` on every 20 ms clock tick with the PCM frame just sent to the far end
        (None: silence or a DTMF event); returns the function that removes it."""
        attach_tick(self.endpoint, callback)
        return lambda: detach_tick(self.endpoint, callback)

    def denoise(self, on: bool) -> bool:
        """Noise suppression on the inbound audio (everything that listens to it hears the
        cleaned audio). Returns whether it is on."""
        if not on:
            self.endpoint.audio_filter = None
        elif self.endpoint.audio_filter is None:
            from .denoise import Denoiser  # loads the suppressor only when a call asks for it

            self.endpoint.audio_filter = Denoiser().process
        return self.endpoint.audio_filter is not None

    @property
    def peer(self) -> MediaSession | None:
        """The call this one is bridged to."""
        link = self._bridge
        if link is None:
            return None
        return link.b if link.a is self else link.a

    # --- recording -------------------------------------------------------------------------

    def record(self, path: str | Path, direction: Direction = "both", channels: int = 1) -> CallRecorder:
        """Record to a WAV file until `recorder.stop()` (or the call ends). Recordings may
        overlap (a whole-call recording and a <Record>): each has its own file."""
        self._recorders = [r for r in self._recorders if r.closed is None]  # forget stopped ones
        recorder = CallRecorder(self.endpoint, path, direction, channels)
        self._recorders.append(recorder)
        return recorder

    def _stop_recording(self) -> None:
        recorders, self._recorders = self._recorders, []
        for recorder in recorders:
            recorder.stop()

    # --- bridging --------------------------------------------------------------------------

    def bridge(self, other: MediaSession) -> None:
        """Connect two calls' audio both ways (what each hears is what the other says)."""
        self.unbridge()
        other.unbridge()
        link = _Bridge(self, other)
        self._bridge = other._bridge = link

    def unbridge(self) -> None:
        if self._bridge is not None:
            link, self._bridge = self._bridge, None
            link.a._bridge = link.b._bridge = None
            link.close()

    def close(self) -> None:
        self.unbridge()
        self._stop_recording()
        self.endpoint.close()


class _Bridge:
    """Each side's inbound audio is played to the other side, 20 ms frame by frame."""

    def __init__(self, a: MediaSession, b: MediaSession) -> None:
        self.a, self.b = a, b
        self.to_a, self.to_b = FrameQueue(), FrameQueue()
        a.endpoint.add_audio_tap(self.to_b.push)
        b.endpoint.add_audio_tap(self.to_a.push)
        a.endpoint.play(self.to_a)
        b.endpoint.play(self.to_b)

    def close(self) -> None:
        self.a.endpoint.remove_audio_tap(self.to_b.push)
        self.b.endpoint.remove_audio_tap(self.to_a.push)
        self.to_a.stop()
        self.to_b.stop()
