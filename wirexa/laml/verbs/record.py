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

from wirexa.calls import status as st
from wirexa.laml.call import LamlCall
from wirexa.laml.documents import DocumentError
from wirexa.laml.nodes import LamlError, Node
from wirexa.laml.steps import Fetch, Step
from wirexa.recordings.limits import BEEP, record_until
from wirexa.recordings.service import EVENTS, RECORD_VERB, ActiveRecording, Finished

KEYS = frozenset("0123456789*#")
DEFAULT_FINISH_KEYS = "1234567890*#"
TRIM_VALUES = ("trim-silence", "do-not-trim")
NOT_AVAILABLE = 13000


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
        if self.play_beep and not await media.play(BEEP):
            return None  # interrupted (the call is ending or was redirected)
        media.clear_digits()  # keys pressed before the beep do not end the recording
        recording = await service.start(
            call.live, source=RECORD_VERB, track="inbound", channels=1, trim=self.trim, empty_is_absent=True,
            callback=call.resolve(self.callback) if self.callback else None,
            callback_method=self.callback_method, callback_events=self.callback_events)
        try:
            # Twilio's timeout is silence whether or not anything was said yet.
            digits = await record_until(media, recording.recorder, keys=self.finish_on_key,
                                        initial_silence=self.timeout, end_silence=self.timeout,
                                        max_seconds=self.max_length)
        except asyncio.CancelledError:
            recording.end()  # redirected (new instructions) or hung up: the recording ends now
            if not call.live.redirected.is_set():  # hung up: Twilio still calls the action
                service.spawn(self._after_hangup(call, recording))
            raise
        finished = await recording.finish()
        if finished.status in ("absent", "failed"):
            return None  # Twilio: an empty recording requests no action; the next verb runs
        target = call.resolve(self.action) if self.action else call.document_url
        if not target:
            return None  # inline Twiml without an action: nothing to request
        return Fetch(target, self.method, self._fields(finished, digits))

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
