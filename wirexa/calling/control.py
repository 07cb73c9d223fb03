"""What the Calling API's media commands do on a live call: play, record, collect, detect, tap,
stream and denoise, each a component named by its `control_id` and driven through the same
operations LaML uses (calls/prompts.py, calls/collect.py, calls/streams.py, the recordings
service, media/*). Results go to the command's `status_url` (else the call's) as JSON events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


from wirexa.audio.pcm import AudioError
from wirexa.calling import commands as C
from wirexa.calling.ids import call_id
from wirexa.calling.params import CommandError
from wirexa.calls.collect import NO_INPUT, TERMINATOR, DigitRules, collect_digits
from wirexa.calls.prompts import play_pcm, speak
from wirexa.calls.runner import LiveCall
from wirexa.calls.streams import RunningStream, new_stream_sid, start_stream
from wirexa.media.amd import AmdDetector, AmdParams, AmdResult, DETECT_MESSAGE_END, ENABLE, FAX, HUMAN
from wirexa.media.amd import MACHINE_START, UNKNOWN
from wirexa.media.codecs import FRAME_BYTES
from wirexa.media.playback import PlaybackControls, ringtone, silence
from wirexa.media.streams import INBOUND, OUTBOUND, StreamSpec
from wirexa.media.taps import CallAudioTap, Packetizer, RtpSender, WebSocketSender
from wirexa.media.tones import CED_HZ, CED_MIN_MS, CNG_HZ, CNG_MIN_MS, ToneDetector
from wirexa.recordings.limits import BEEP, record_until
from wirexa.tts.base import TtsError

log = logging.getLogger(__name__)

Emit = Callable[[str, dict[str, Any]], None]  # (event_type, params) → to the status_url
RECORD_SOURCE = "StartCallRecordingAPI"
STREAM_TRACKS = {"inbound_track": (INBOUND,), "outbound_track": (OUTBOUND,), "both_tracks": (INBOUND, OUTBOUND)}


@dataclass
class Services:
    """What components need from the engine."""

    tts: Any  # TtsChain
    audio: Any  # AudioFetcher
    recordings: Any  # RecordingService | None
    node_id: str


class Component:
    kind = ""

    def __init__(self, control: CallControl, control_id: str, emit: Emit) -> None:
        self.control = control
        self.control_id = control_id
        self.emit = emit
        self.task: asyncio.Future[Any] | None = None

    def base(self) -> dict[str, Any]:
        return {"control_id": self.control_id, "call_id": call_id(self.control.live.sid),
                "node_id": self.control.services.node_id}

    def event(self, event_type: str, **params: Any) -> None:
        self.emit(event_type, {**self.base(), **params})

    def start(self) -> None:
        self.task = asyncio.ensure_future(self._main())
        self.task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Future[Any]) -> None:
        self.control.forget(self)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s %s failed", self.kind, self.control_id, exc_info=task.exception())

    async def _main(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()

    def live_media(self) -> Any:
        media = self.control.live.media
        if media is None:
            raise CommandError(422, "the call has no media yet (it is not answered)")
        return media


# --- play ----------------------------------------------------------------------------------------


class PlayComponent(Component):
    kind = "play"

    def __init__(self, control: CallControl, spec: C.Play, emit: Emit) -> None:
        super().__init__(control, spec.control_id, emit)
        self.spec = spec
        self.controls = PlaybackControls(spec.volume)
        self._stopped = False

    def _targets(self) -> list[Any]:
        media = self.live_media()
        targets = []
        if self.spec.direction in ("listen", "both"):
            targets.append(media)
        if self.spec.direction in ("speak", "both") and media.peer is not None:
            targets.append(media.peer)  # what the call "says" to the party it is bridged to
        return targets or [media]

    async def _one(self, media: Any, item: C.PlayItem) -> bool:
        wrap = self.controls.wrap
        if item.type == "tts":
            return await speak(media, self.control.services.tts, item.text, item.voice, item.language, wrap=wrap)
        if item.type == "audio":
            pcm = await self.control.services.audio.get(item.url)
        elif item.type == "silence":
            pcm = silence(item.duration)
        else:
            freqs, cadence = C.RINGTONES[item.name]
            pcm = ringtone(freqs, cadence, item.duration)
        return await play_pcm(media, pcm, wrap=wrap)

    async def _items(self, media: Any) -> bool:
        rounds = 0
        while self.spec.loop == 0 or rounds < self.spec.loop:
            for item in self.spec.items:
                if not await self._one(media, item):
                    return False
            rounds += 1
        return True

    async def _main(self) -> None:
        self.event("calling.call.play", state="playing")
        try:
            results = await asyncio.gather(*(self._items(m) for m in self._targets()))
        except (TtsError, AudioError) as exc:
            self.event("calling.call.play", state="error", error=str(exc))
            return
        except asyncio.CancelledError:
            self.event("calling.call.play", state="finished")
            raise
        del results
        self.event("calling.call.play", state="finished")

    def pause(self, paused: bool) -> None:
        self.controls.paused = paused
        self.event("calling.call.play", state="paused" if paused else "playing")

    def stop(self) -> None:
        for media in self._targets_quiet():
            media.stop_playing()
        super().stop()

    def _targets_quiet(self) -> list[Any]:
        try:
            return self._targets()
        except CommandError:
            return []


# --- record --------------------------------------------------------------------------------------


class RecordComponent(Component):
    kind = "record"

    def __init__(self, control: CallControl, spec: C.Record, emit: Emit) -> None:
        super().__init__(control, spec.control_id, emit)
        self.spec = spec
        self.recording: Any = None
        self._end = asyncio.Event()

    def _record_params(self) -> dict[str, Any]:
        s = self.spec
        return {"audio": {"format": s.format, "direction": s.direction, "stereo": s.stereo, "beep": s.beep,
                          "initial_timeout": s.initial_timeout, "end_silence_timeout": s.end_silence_timeout,
                          "terminators": s.terminators}}

    async def _main(self) -> None:
        service = self.control.services.recordings
        media = self.live_media()
        s = self.spec
        if s.beep and not await media.play(BEEP):
            pass  # interrupted beep: record anyway
        track = {"speak": "inbound", "listen": "outbound", "both": "both"}[s.direction]
        self.recording = await service.start(self.control.live, source=RECORD_SOURCE, track=track,
                                             channels=2 if s.stereo else 1)
        self.event("calling.call.record", state="recording", record=self._record_params())
        try:
            await record_until(media, self.recording.recorder, keys=s.terminators, initial_silence=s.initial_timeout,
                               end_silence=s.end_silence_timeout, stop=self._end)
        finally:
            finished = await self.recording.finish()
            url = f"{finished.url}.{s.format}"
            if finished.status in ("absent",):
                self.event("calling.call.record", state="no_input", record=self._record_params())
            elif finished.status == "failed":
                self.event("calling.call.record", state="error", record=self._record_params())
            else:
                self.event("calling.call.record", state="finished", url=url, duration=round(finished.seconds, 2),
                           size=None, recording_sid=finished.sid, record=self._record_params())

    def pause(self, paused: bool) -> None:
        if self.recording is None:
            raise CommandError(422, f"recording {self.control_id} has not started yet")
        self.recording.recorder.paused = paused
        self.event("calling.call.record", state="paused" if paused else "recording", record=self._record_params())

    def stop(self) -> None:
        self._end.set()  # finishes (and reports) the recording


# --- collect -------------------------------------------------------------------------------------


class CollectComponent(Component):
    kind = "collect"

    def __init__(self, control: CallControl, spec: C.Collect, emit: Emit) -> None:
        super().__init__(control, spec.control_id, emit)
        self.spec = spec
        self.timers = asyncio.Event()
        if spec.start_input_timers:
            self.timers.set()

    def _result(self, kind: str, final: bool = True, **params: Any) -> None:
        result: dict[str, Any] = {"type": kind}
        if params:
            result["params"] = params
        extra = {"state": "collecting"} if self.spec.continuous and final else {}
        self.event("calling.call.collect", result=result, final=final, **extra)

    async def _main(self) -> None:
        media = self.live_media()
        s = self.spec
        rules = DigitRules(s.max_digits, s.terminators, s.initial_timeout, s.digit_timeout)
        media.clear_digits()
        media.listen_for_tones(True)

        def partial(digits: str) -> None:
            if s.send_start_of_input and len(digits) == 1:
                self._result("start_of_input", final=False)
            if s.partial_results:
                self._result("digit", final=False, digits=digits, terminator="")

        try:
            while True:
                got = await collect_digits(media, rules, timers=self.timers, on_digit=partial)
                if got.ended_by == NO_INPUT:
                    self._result("no_input")
                else:
                    self._result("digit", digits=got.digits,
                                 terminator=got.terminator if got.ended_by == TERMINATOR else "")
                if not s.continuous:
                    return
        except asyncio.CancelledError:
            if s.continuous:
                self.event("calling.call.collect", state="finished", final=True)
            raise
        finally:
            media.listen_for_tones(False)

    def start_timers(self) -> None:
        self.timers.set()


# --- detect --------------------------------------------------------------------------------------


_MACHINE_EVENTS = {HUMAN: "HUMAN", MACHINE_START: "MACHINE", UNKNOWN: "UNKNOWN", FAX: "FAX"}


class DetectComponent(Component):
    kind = "detect"

    def __init__(self, control: CallControl, spec: C.Detect, emit: Emit) -> None:
        super().__init__(control, spec.control_id, emit)
        self.spec = spec

    def _detect(self, event: str, **extra: Any) -> None:
        self.event("calling.call.detect", detect={"type": self.spec.type, "params": {"event": event, **extra}})

    async def _main(self) -> None:
        media = self.live_media()
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        remove: Callable[[], None]
        s = self.spec
        if s.type == "machine":
            def ms(seconds: float, low: int, high: int) -> int:
                return max(low, min(high, int(seconds * 1000)))

            detector = AmdDetector(AmdParams(
                mode=DETECT_MESSAGE_END if s.wait_for_beep else ENABLE,
                timeout_ms=ms(s.timeout, 3000, 59000),
                speech_threshold_ms=ms(s.machine_voice_threshold, 1000, 6000),
                speech_end_threshold_ms=ms(s.end_silence_timeout, 500, 5000),
                silence_timeout_ms=ms(s.initial_timeout, 2000, 10000)))

            def report(result: AmdResult) -> None:
                if result.is_machine:
                    if s.wait_for_beep:
                        self._detect("MACHINE")
                        self._detect("READY", beep=result.answered_by == "machine_end_beep")
                    else:
                        self._detect("MACHINE")
                else:
                    self._detect(_MACHINE_EVENTS.get(result.answered_by, "UNKNOWN"))
                if not done.done():
                    done.set_result(None)

            def feed(frame: bytes) -> None:
                result = detector.feed(frame)
                if result is not None:
                    report(result)
                elif s.wait_for_beep and detector.machine_start_ms is not None and not getattr(feed, "told", False):
                    feed.told = True  # type: ignore[attr-defined]
                    self._detect("MACHINE")

            remove = media.tap(feed)
            timeout_result = lambda: report(detector.timeout())  # noqa: E731
        elif s.type == "fax":
            hz, min_ms = (CED_HZ, CED_MIN_MS) if s.tone == "CED" else (CNG_HZ, CNG_MIN_MS)
            tones = ToneDetector(hz, min_ms)

            def feed_tone(frame: bytes) -> None:
                if len(frame) == FRAME_BYTES and tones.feed(frame):
                    self._detect(s.tone)
                    if not done.done():
                        done.set_result(None)

            remove = media.tap(feed_tone)
            timeout_result = None
        else:
            media.listen_for_tones(True)

            def on_digit(digit: str) -> None:
                if digit in s.digits:
                    self._detect(digit)

            media.endpoint.add_dtmf_listener(on_digit)

            def remove() -> None:
                media.endpoint.remove_dtmf_listener(on_digit)
                media.listen_for_tones(False)

            timeout_result = None
        try:
            await asyncio.wait_for(asyncio.shield(done), s.timeout)
        except TimeoutError:
            if timeout_result is not None:
                timeout_result()
        finally:
            with contextlib.suppress(ValueError):
                remove()
            self._detect("finished")


# --- tap and stream ------------------------------------------------------------------------------


class TapComponent(Component):
    kind = "tap"

    def __init__(self, control: CallControl, spec: C.Tap, emit: Emit) -> None:
        super().__init__(control, spec.control_id, emit)
        self.spec = spec
        self.sender: Any = None
        self._end = asyncio.Event()

    def describe(self) -> dict[str, Any]:
        s = self.spec
        device = ({"type": "rtp", "params": {"addr": s.addr, "port": s.port, "codec": s.codec, "ptime": s.ptime}}
                  if s.device == "rtp" else {"type": "ws", "params": {"uri": s.uri, "codec": s.codec}})
        return {"tap": {"type": "audio", "params": {"direction": s.direction}}, "device": device}

    def open(self) -> dict[str, Any]:
        """Open the sender now (the answer names our RTP source)."""
        s = self.spec
        if s.device == "rtp":
            self.sender = RtpSender(s.addr, s.port, s.codec)
            host, port = self.sender.local_address
            return {"type": "rtp", "params": {"addr": host, "port": port, "codec": s.codec, "ptime": s.ptime}}
        self.sender = WebSocketSender(s.uri)
        return {"type": "ws", "params": {"uri": s.uri, "codec": s.codec}}

    async def _main(self) -> None:
        media = self.live_media()
        s = self.spec
        tap = CallAudioTap(media, s.direction, Packetizer(s.codec, s.ptime, self.sender))
        self.event("calling.call.tap", state="tapping", **self.describe())
        try:
            waits: set[asyncio.Future[Any]] = {asyncio.ensure_future(self._end.wait())}
            if isinstance(self.sender, WebSocketSender):
                waits.add(self.sender.task)
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            tap.stop()
            self.sender.close()
            self.event("calling.call.tap", state="finished", **self.describe())

    def stop(self) -> None:
        self._end.set()


class StreamComponent(Component):
    kind = "stream"

    def __init__(self, control: CallControl, spec: C.Stream, emit: Emit) -> None:
        super().__init__(control, spec.control_id, emit)
        self.spec = spec
        self.running: RunningStream | None = None

    def start(self) -> None:
        s = self.spec
        live = self.control.live
        self.live_media()
        self.event("calling.call.stream", state="streaming", url=s.url)
        self.running = start_stream(live, StreamSpec(
            url=s.url, stream_sid=new_stream_sid(), call_sid=live.sid, account_sid=live.account_sid,
            tracks=STREAM_TRACKS[s.track], custom_parameters=s.custom_parameters, token=s.token,
            name=f"calling:{self.control_id}"), on_end=self._on_end)

    def _on_end(self, _: RunningStream, error: str | None) -> None:
        self.control.forget(self)
        if error:
            self.event("calling.call.stream", state="error", url=self.spec.url, error=error)
        self.event("calling.call.stream", state="finished", url=self.spec.url)

    def stop(self) -> None:
        if self.running is not None:
            self.running.stop()


# --- one call's controls -------------------------------------------------------------------------


class CallControl:
    """The Calling API's components running on one live call, by control_id."""

    def __init__(self, live: LiveCall, services: Services) -> None:
        self.live = live
        self.services = services
        self.components: dict[str, Component] = {}
        self.transcription: str | None = None  # control_id of the running transcription

    def add(self, component: Component) -> None:
        existing = self.components.get(component.control_id)
        if existing is not None:
            raise CommandError(409, f"control_id {component.control_id} is already in use on this call "
                                    f"(a {existing.kind})", "params.control_id", "conflict")
        self.components[component.control_id] = component
        component.start()

    def forget(self, component: Component) -> None:
        if self.components.get(component.control_id) is component:
            del self.components[component.control_id]

    def find(self, control_id: str, kind: str) -> Any:
        component = self.components.get(control_id)
        if component is None or component.kind != kind:
            raise CommandError(404, f"no {kind} with control_id {control_id} is running on this call",
                               "params.control_id")
        return component

    def stop_all(self) -> None:
        for component in list(self.components.values()):
            component.stop()
