"""Recording live calls: start a recording on a call's media, finish it (WAV final, optional
trim, then the MP3 made on an encoder thread), tell the user's server through the webhook
outbox, and finish what a crashed engine left behind.

Lifecycle of a recording row: in-progress (the WAV grows as the call runs) → processing (the
WAV is final and downloadable, the MP3 is being made) → completed (both files exist; only now
the `completed` status callback is enqueued, in the same transaction). A recording without
sound ends `absent` (its files are removed); one that cannot be finished ends `failed`.

Finishing runs in the service's own tasks, so a call flow that is cancelled (the caller hung
up) never leaves a recording half done; every recording also finishes by itself when its call
ends.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import Connection

from wirexa.api.call_json import account_uri
from wirexa.calls.runner import LiveCall
from wirexa.clock import rfc2822, utcnow
from wirexa.config import Settings
from wirexa.media.recorder import CallRecorder
from wirexa.recordings import files
from wirexa.recordings.storage import RecordingStorage
from wirexa.sids import new_sid
from wirexa.store import recordings as rs
from wirexa.store.batch import Batcher
from wirexa.store.recordings import RecordingRow, RecordingStore
from wirexa.webhooks import outbox

log = logging.getLogger(__name__)
T = TypeVar("T")

EVENTS = ("in-progress", "completed", "absent")
DEFAULT_EVENTS = ("completed",)
RECORD_VERB, OUTBOUND_API, DIAL_VERB = "RecordVerb", "OutboundAPI", "DialVerb"
CALLBACK_KIND = "recording-status"
FAILED_CODE = 16105  # Twilio: the recording could not be processed


def parse_events(value: str | None) -> tuple[str, ...]:
    """recordingStatusCallbackEvent ("in-progress completed", commas too); unknown names are
    dropped, nothing left means Twilio's default (completed)."""
    got = tuple(e for e in (value or "").replace(",", " ").lower().split() if e in EVENTS)
    return got or DEFAULT_EVENTS


@dataclass(frozen=True)
class Finished:
    """A recording once its WAV is final: what <Record> and <Dial> actions are told."""

    sid: str
    status: str  # processing (WAV ready, MP3 coming) | absent | failed
    seconds: float
    url: str  # append .wav / .mp3

    @property
    def duration(self) -> str:
        """RecordingDuration: whole seconds."""
        return str(duration_seconds(int(round(self.seconds * 1000))))


def duration_seconds(ms: int | None) -> int:
    """Whole seconds, rounded; a recording with any audio lasts at least 1."""
    if not ms:
        return 0
    return max(1, int((ms + 500) // 1000))


class ActiveRecording:
    """A recording running on a live call. `finish()` stops it and finalises the WAV (once,
    however often it is called); the MP3 follows in the background."""

    def __init__(self, service: RecordingService, live: LiveCall, row: RecordingRow, recorder: CallRecorder,
                 trim: bool, empty_is_absent: bool) -> None:
        self.service = service
        self.live = live
        self.row = row
        self.recorder = recorder
        self.trim = trim
        self.empty_is_absent = empty_is_absent
        self._finishing: asyncio.Task[Finished] | None = None

    @property
    def sid(self) -> str:
        return str(self.row["sid"])

    @property
    def seconds(self) -> float:
        return self.recorder.seconds

    def end(self) -> asyncio.Task[Finished]:
        """Stop recording now; the WAV is finalised by the service (once, however often asked)."""
        if self._finishing is None:
            self.recorder.stop()
            self._finishing = self.service.spawn(self.service._finalise(self))
        return self._finishing

    def finish(self) -> Awaitable[Finished]:
        """end(), and wait for the final WAV. Awaiting it can be cancelled; the work cannot."""
        return asyncio.shield(self.end())


class RecordingService:
    def __init__(self, settings: Settings, store: RecordingStore, storage: RecordingStorage, batcher: Batcher) -> None:
        self.settings = settings
        self.store = store
        self.storage = storage
        self.batcher = batcher
        self._encoder = ThreadPoolExecutor(2, thread_name_prefix="wirexa-mp3")
        self._tasks: set[asyncio.Task[Any]] = set()

    # --- URLs --------------------------------------------------------------------------------

    def url(self, sid: str) -> str:
        """RecordingUrl (seed 001): the short public URL; append .wav or .mp3."""
        return f"{self.settings.base_url}/recordings/{sid}"

    def media_url(self, account_sid: str, sid: str) -> str:
        """Twilio's media_url: the API path (append .wav / .mp3; without, WAV)."""
        return f"{self.settings.base_url}{account_uri(account_sid)}/Recordings/{sid}"

    # --- tasks ---------------------------------------------------------------------------------

    def spawn(self, coro: Awaitable[T]) -> asyncio.Task[T]:
        """Run work that must not die with the call flow that asked for it."""
        task: asyncio.Task[T] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("recording task failed", exc_info=task.exception())

    async def close(self, timeout: float = 30.0) -> None:
        """Let recordings being finished (and MP3s being made) complete, for at most `timeout`
        seconds; what is left is finished by recover() at the next start."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self._tasks:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                break
            await asyncio.wait(set(self._tasks), timeout=left)
        for task in list(self._tasks):
            task.cancel()
        self._encoder.shutdown(wait=False, cancel_futures=True)

    # --- starting --------------------------------------------------------------------------------

    async def start(self, live: LiveCall, *, source: str, track: str = "both", channels: int = 1,
                    trim: bool = False, empty_is_absent: bool = False, callback: str | None = None,
                    callback_method: str = "POST", callback_events: str | None = None) -> ActiveRecording:
        """Start recording `live` now. `track`: inbound (what the far end says), outbound (what
        it hears) or both; `channels` 2 puts inbound left and outbound right."""
        assert live.media is not None, "recording needs the call's media"
        sid = new_sid("RE")
        path = self.storage.working_path(sid, "wav")
        recorder = live.media.record(path, track, channels)  # type: ignore[arg-type]
        values = {
            "sid": sid, "account_sid": live.account_sid,
            "call_sid": live.sid,  # for <Dial record>, the parent leg (the call recorded)
            "source": source, "track": track, "channels": channels, "status": rs.IN_PROGRESS,
            "start_time": utcnow(), "status_callback": callback, "status_callback_method": callback_method,
            "status_callback_event": " ".join(parse_events(callback_events)),
            "node_id": self.settings.node_id,
        }
        registering = self.spawn(self._register(live, values, recorder, trim, empty_is_absent))
        try:
            return await asyncio.shield(registering)
        except asyncio.CancelledError:  # the flow moved on while the row was being stored
            recorder.stop()
            registering.add_done_callback(
                lambda t: t.cancelled() or t.exception() is not None or t.result().end())
            raise

    async def _register(self, live: LiveCall, values: RecordingRow, recorder: CallRecorder, trim: bool,
                        empty_is_absent: bool) -> ActiveRecording:
        try:
            row = await self.batcher.run(partial(self._insert, values))
        except BaseException:
            recorder.stop()
            await asyncio.to_thread(self.storage.delete, values["sid"])
            raise
        recording = ActiveRecording(self, live, row, recorder, trim, empty_is_absent)
        self.spawn(self._finish_with_call(recording))
        return recording

    def _insert(self, values: RecordingRow, conn: Connection) -> RecordingRow:
        row = self.store.create(values, conn)
        self._callback(conn, row, rs.IN_PROGRESS)
        return row

    async def _finish_with_call(self, recording: ActiveRecording) -> None:
        """A recording nobody finished ends with its call (the media close stops the recorder)."""
        await asyncio.wait([recording.live.done])
        await recording.end()

    def on_answer(self, live: LiveCall) -> None:
        """CallRunner hook: a call created with Record=true records from answer, both parties,
        mono unless RecordingChannels=dual."""
        call = live.call
        if not call.get("record") or live.media is None:
            return
        self.spawn(self.start(
            live, source=OUTBOUND_API, track="both", channels=2 if call.get("recording_channels") == "dual" else 1,
            callback=call.get("recording_status_callback"),
            callback_method=call.get("recording_status_callback_method") or "POST",
            callback_events=call.get("recording_status_callback_event"),
        ))

    # --- finishing -------------------------------------------------------------------------------

    async def _finalise(self, recording: ActiveRecording) -> Finished:
        sid = recording.sid
        url = self.url(sid)
        recorder = recording.recorder
        try:
            if recorder.closed is not None:
                await asyncio.wrap_future(recorder.closed)
            if recorder.error is not None:
                raise recorder.error
            info, sound = await asyncio.to_thread(self._prepare_wav, sid, recording.trim)
        except Exception as exc:
            log.exception("recording %s could not be finished", sid)
            await self._fail(sid, f"the recording could not be written: {exc}")
            return Finished(sid, rs.FAILED, 0.0, url)
        if info.frames == 0 or (recording.empty_is_absent and not sound):
            await asyncio.to_thread(self.storage.delete, sid)
            await self.batcher.run(partial(self._set_final, sid, rs.ABSENT, {"duration_ms": 0}))
            return Finished(sid, rs.ABSENT, 0.0, url)
        duration_ms = int(round(info.seconds * 1000))
        await self.batcher.run(partial(self.store.update, sid, {"status": rs.PROCESSING, "duration_ms": duration_ms}))
        self.spawn(self._make_mp3(sid))
        return Finished(sid, rs.PROCESSING, info.seconds, url)

    def _prepare_wav(self, sid: str, trim: bool) -> tuple[files.WavInfo, bool]:
        """Disk work on a thread: trim, measure, publish the WAV. Returns (info, has sound)."""
        path = self.storage.working_path(sid, "wav")
        info = files.trim_silence(path) if trim else files.wav_info(path)
        sound = info.frames > 0 and (trim or files.has_sound(path))
        if info.frames:
            self.storage.publish(sid, "wav")
        return info, sound

    async def _make_mp3(self, sid: str) -> None:
        wav = self.storage.working_path(sid, "wav")
        mp3 = self.storage.working_path(sid, "mp3")
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._encoder, files.encode_mp3, wav, mp3)
            await loop.run_in_executor(self._encoder, self.storage.publish, sid, "mp3")
        except Exception as exc:
            log.exception("recording %s: MP3 encoding failed", sid)
            await self._fail(sid, f"the MP3 could not be made: {exc}")
            return
        await self.batcher.run(partial(self._set_final, sid, rs.COMPLETED, {}))

    async def _fail(self, sid: str, message: str) -> None:
        await self.batcher.run(partial(self._set_final, sid, rs.FAILED,
                                       {"error_code": FAILED_CODE, "error_message": message}))

    def _set_final(self, sid: str, status: str, values: dict[str, Any], conn: Connection) -> RecordingRow | None:
        """The final status and its callback, in one transaction."""
        row = self.store.update(sid, {"status": status, **values}, conn, from_statuses=rs.UNFINISHED)
        if row is not None:
            self._callback(conn, row, status)
        return row

    def _callback(self, conn: Connection, row: RecordingRow, status: str) -> None:
        """Enqueue the recording status callback for `status` if the recording asked for it
        (failed goes to those who asked for completed)."""
        if not row["status_callback"]:
            return
        wanted = parse_events(row["status_callback_event"])
        if (status if status != rs.FAILED else rs.COMPLETED) not in wanted:
            return
        params = {
            "AccountSid": row["account_sid"],
            "CallSid": row["call_sid"] or "",
            "RecordingSid": row["sid"],
            "RecordingUrl": self.url(row["sid"]),
            "RecordingStatus": status,
            "RecordingChannels": "stereo" if row["channels"] == 2 else "mono",
            "RecordingSource": row["source"],
            "RecordingTrack": row["track"],
            "RecordingStartTime": rfc2822(row["start_time"]) or "",
        }
        if status != rs.IN_PROGRESS:
            params["RecordingDuration"] = str(duration_seconds(row["duration_ms"]))
        if status == rs.FAILED:
            params["ErrorCode"] = str(row["error_code"] or FAILED_CODE)
        outbox.enqueue(conn, account_sid=row["account_sid"], call_sid=row["call_sid"], kind=CALLBACK_KIND,
                       url=row["status_callback"], method=row["status_callback_method"] or "POST", params=params)

    # --- after a crash ---------------------------------------------------------------------------

    async def recover(self) -> int:
        """Finish the recordings this node was making when it stopped: the WAV's header is made
        to match the audio on disk (all but the last second is kept), then the MP3 is made; a
        recording with no audio ends failed (its WAV still a valid, empty file). Returns how many."""
        rows = await self.batcher.run(partial(self.store.unfinished, self.settings.node_id))
        for row in rows:
            sid = row["sid"]
            try:
                info = await asyncio.to_thread(self._repair, sid, row["channels"])
            except Exception as exc:
                log.exception("recording %s could not be repaired", sid)
                await self._fail(sid, f"the engine stopped during the recording; repair failed: {exc}")
                continue
            if info.frames == 0:
                await self._fail(sid, "the engine stopped before any audio of the recording was written")
                continue
            await self.batcher.run(partial(self.store.update, sid, {
                "status": rs.PROCESSING, "duration_ms": int(round(info.seconds * 1000)),
                "error_message": "the engine stopped during the recording; kept what was written"}))
            self.spawn(self._make_mp3(sid))
        return len(rows)

    def _repair(self, sid: str, channels: int) -> files.WavInfo:
        info = files.repair_wav(self.storage.working_path(sid, "wav"), channels)
        if info.frames:
            self.storage.publish(sid, "wav")
        return info

    # --- for the API -----------------------------------------------------------------------------

    async def delete_files(self, sid: str) -> None:
        await asyncio.to_thread(self.storage.delete, sid)

