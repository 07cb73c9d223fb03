"""<Record>: record what the caller says. A beep (playBeep, true), then recording until one of
finishOnKey (1234567890*#, '' for none) is pressed, `timeout` seconds of silence pass (5; seed
001 calls it `silence`; 0 never), maxLength seconds are reached (3600) or the caller hangs up.
trim (trim-silence) cuts leading and trailing silence.

Then, as Twilio: `action` (the current document when absent) is requested with RecordingUrl,
RecordingSid, RecordingDuration and Digits (the key that ended it, or `hangup`; the document a
hung-up call gets back is ignored). A recording without sound is `absent`: no action request,
the next verb runs. recordingStatusCallback (+Method, +Event: in-progress, completed, absent)
gets the recording's status; `completed` once the WAV and the MP3 exist."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

import numpy as np

from wirexa.calls import status as st
from wirexa.laml.call import LamlCall
from wirexa.laml.documents import DocumentError
from wirexa.laml.nodes import LamlError, Node
from wirexa.laml.steps import Fetch, Step
from wirexa.media.codecs import SAMPLE_RATE
from wirexa.recordings.files import SILENCE_RMS
from wirexa.recordings.service import EVENTS, RECORD_VERB, ActiveRecording, Finished

KEYS = frozenset("0123456789*#")
DEFAULT_FINISH_KEYS = "1234567890*#"
TRIM_VALUES = ("trim-silence", "do-not-trim")
NOT_AVAILABLE = 13000
FRAMES_PER_SECOND = 50


def beep() -> bytes:
    """Twilio-like beep: 1 kHz for 0.4 s."""
    n = int(0.4 * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    ramp = np.minimum(1.0, np.minimum(np.arange(n), np.arange(n)[::-1]) / 40)
    return (np.sin(2 * np.pi * 1000 * t) * ramp * 0.3 * 32767).astype("<i2").tobytes()


_BEEP = beep()


@dataclass(frozen=True)
class Record:
    action: str
    method: str
    timeout: float  # seconds of silence that end the recording; 0: silence never does
    finish_on_key: str
    max_length: int
    play_beep: bool
    trim: bool
    callback: str
    callback_method: str
    callback_events: str
    transcribe: bool

    @classmethod
    def parse(cls, node: Node) -> Record:
        node.no_children()
        keys = node.get("finishOnKey", DEFAULT_FINISH_KEYS) or ""
        if set(keys) - KEYS:
            raise LamlError(f"<Record finishOnKey=\"{keys}\">: only 0-9, * and #")
        # `timeout` (Twilio) or `silence` (seed 001); `timeout` wins when both are given.
        silence = "timeout" if node.get("timeout") not in (None, "") else "silence"
        trim = (node.get("trim") or "trim-silence").lower()
        if trim not in TRIM_VALUES:
            raise LamlError(f"<Record trim=\"{trim}\">: trim-silence or do-not-trim")
        events = node.get("recordingStatusCallbackEvent") or ""
        unknown = set(events.replace(",", " ").lower().split()) - set(EVENTS)
        if unknown:
            raise LamlError(f"<Record recordingStatusCallbackEvent=\"{events}\">: "
                            f"in-progress, completed and/or absent")
        return cls(
            action=node.get("action") or "", method=node.method(),
            timeout=node.number(silence, 5.0),
            finish_on_key=keys,
            max_length=node.integer("maxLength", 3600, minimum=0, maximum=86400) or 3600,  # 0: the default
            play_beep=node.boolean("playBeep", True),
            trim=trim == "trim-silence",
            callback=node.get("recordingStatusCallback") or "",
            callback_method=node.method("recordingStatusCallbackMethod"),
            callback_events=events,
            transcribe=node.boolean("transcribe", False),
        )

    async def run(self, call: LamlCall) -> Step:
        service = call.services.recordings
        if service is None:
            call.report(NOT_AVAILABLE, "<Record>: recording is not available on this engine; skipped")
            return None
        if self.transcribe:
            call.report(NOT_AVAILABLE, "<Record transcribe=\"true\">: transcription is not available; "
                                       "the recording is made without it")
        media = call.media
        if self.play_beep and not await media.play(_BEEP):
            return None  # interrupted (the call is ending or was redirected)
        media.clear_digits()  # keys pressed before the beep do not end the recording
        if self.finish_on_key:
            media.listen_for_tones(True)
        try:
            recording = await service.start(
                call.live, source=RECORD_VERB, track="inbound", channels=1, trim=self.trim, empty_is_absent=True,
                callback=call.resolve(self.callback) if self.callback else None,
                callback_method=self.callback_method, callback_events=self.callback_events)
            try:
                digits = await self._until_done(call, recording)
            except asyncio.CancelledError:
                recording.end()  # redirected (new instructions) or hung up: the recording ends now
                if not call.live.redirected.is_set():  # hung up: Twilio still calls the action
                    service.spawn(self._after_hangup(call, recording))
                raise
        finally:
            media.listen_for_tones(False)
        finished = await recording.finish()
        if finished.status in ("absent", "failed"):
            return None  # Twilio: an empty recording requests no action; the next verb runs
        target = call.resolve(self.action) if self.action else call.document_url
        if not target:
            return None  # inline Twiml without an action: nothing to request
        return Fetch(target, self.method, self._fields(finished, digits))

    async def _until_done(self, call: LamlCall, recording: ActiveRecording) -> str:
        """Record until a finish key (returned), silence or maxLength (returns '')."""
        loop = asyncio.get_running_loop()
        limit: asyncio.Future[None] = loop.create_future()
        quiet_limit = int(self.timeout * FRAMES_PER_SECOND)
        frame_limit = self.max_length * FRAMES_PER_SECOND
        quiet = 0
        recorder = recording.recorder

        def on_frame(frame: bytes) -> None:
            nonlocal quiet
            samples = np.frombuffer(frame, dtype="<i2").astype(np.float32)
            quiet = 0 if float(np.sqrt(np.mean(samples * samples))) >= SILENCE_RMS else quiet + 1
            if not limit.done() and ((quiet_limit and quiet >= quiet_limit) or recorder.frames >= frame_limit):
                limit.set_result(None)

        recorder.on_frame = on_frame
        key = asyncio.ensure_future(self._finish_key(call))
        try:
            await asyncio.wait({limit, key}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            key.cancel()
            limit.cancel()
        if key.done() and not key.cancelled():
            return key.result()
        return ""

    async def _finish_key(self, call: LamlCall) -> str:
        if not self.finish_on_key:
            await asyncio.Event().wait()
        while True:
            digit = await call.media.next_digit()
            if digit is not None and digit in self.finish_on_key:
                return digit

    def _fields(self, finished: Finished, digits: str) -> dict[str, str]:
        return {"RecordingUrl": finished.url, "RecordingSid": finished.sid,
                "RecordingDuration": finished.duration, "Digits": digits}

    async def _after_hangup(self, call: LamlCall, recording: ActiveRecording) -> None:
        """The caller hung up while recording: finish it and tell the action (Digits=hangup);
        what it answers is ignored, the call is over."""
        finished = await recording.finish()
        if finished.status in ("absent", "failed"):
            return
        params = call.params({**self._fields(finished, "hangup"), "CallStatus": st.COMPLETED})
        with contextlib.suppress(DocumentError, LamlError):
            target = call.resolve(self.action) if self.action else call.document_url
            if target:
                await call.services.documents.fetch(target, self.method, params, call.auth_token)
