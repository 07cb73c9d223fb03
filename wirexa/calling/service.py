"""The Calling API's commands carried out: `execute(project, body)` → the call-leg answer.

Lifecycle commands go through CallService (the REST API's operations: create, end, redirect);
media commands through the call's CallControl (control.py). The HTTP side (api/calling.py)
only authenticates and turns CommandError into an answer."""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from typing import Any
from xml.sax.saxutils import escape

from wirexa.calling import commands as C
from wirexa.calling.control import (
    CallControl, CollectComponent, DetectComponent, PlayComponent, RecordComponent, Services, StreamComponent,
    TapComponent,
)
from wirexa.calling.events import enqueue_event
from wirexa.calling.ids import call_id, call_sid
from wirexa.calling.legs import call_leg
from wirexa.calling.params import CommandError, Params, invalid, missing, not_available
from wirexa.calls import status as st
from wirexa.calls.addresses import InvalidAddress, normalize
from wirexa.calls.service import CallService, NotModifiable
from wirexa.store.batch import Batcher
from wirexa.store.calls import CallRow, CallStore

log = logging.getLogger(__name__)

REFER_TIMEOUT = 32.0  # seconds: SIP's timer F, after which a REFER counts as unanswered
LIFECYCLE = ("dial", "update", "calling.end", "calling.transfer", "calling.disconnect", "calling.refer",
             "calling.user_event")
MEDIA = ("calling.play", "calling.play.pause", "calling.play.resume", "calling.play.stop", "calling.play.volume",
         "calling.record", "calling.record.pause", "calling.record.resume", "calling.record.stop",
         "calling.collect", "calling.collect.stop", "calling.collect.start_input_timers",
         "calling.detect", "calling.detect.stop", "calling.tap", "calling.tap.stop",
         "calling.stream", "calling.stream.stop", "calling.denoise", "calling.denoise.stop",
         "calling.transcribe.stop")
COMMANDS = frozenset((*LIFECYCLE, *MEDIA, *C.NOT_AVAILABLE))


class CallingService:
    def __init__(self, calls: CallStore, call_service: CallService, store: Batcher, services: Services) -> None:
        self.calls = calls
        self.call_service = call_service
        self.store = store
        self.services = services
        self.live_calls: dict[str, Any] | None = None  # the runner's live calls (set with the call engine)
        self._controls: dict[str, CallControl] = {}

    # --- entry --------------------------------------------------------------------------------

    async def execute(self, account_sid: str, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise CommandError(400, "the request body must be a JSON object {command, id, params}")
        command = body.get("command")
        if not isinstance(command, str) or not command:
            raise missing("command")
        if command not in COMMANDS:
            raise CommandError(400, f"unknown command {command!r}", "command", "unknown_command")
        params = Params(body.get("params"), "params")
        if command == "dial":
            return await self.dial(account_sid, params)
        if command == "update":
            return await self.update(account_sid, params)
        call = await self._call(account_sid, body.get("id"), "id")
        if command in C.NOT_AVAILABLE:
            if command == "calling.transcribe":
                self._check_transcription(call)
            C.validate_not_available(command, params)
        handler = getattr(self, "cmd_" + command.removeprefix("calling.").replace(".", "_"))
        extra = await handler(call, params)
        fresh = await self.store.run(partial(self.calls.get_by_sid, call["sid"])) or call
        return {**call_leg(fresh), **(extra or {})}

    async def _call(self, account_sid: str, raw: Any, attribute: str) -> CallRow:
        if raw is None or raw == "":
            raise missing(attribute)
        sid = call_sid(raw) if isinstance(raw, str) else None
        if sid is None:
            raise invalid(attribute, "must be a call id (UUID) or CallSid")
        call = self.calls.get(account_sid, sid)
        if call is None:
            raise CommandError(404, f"call {raw} was not found", attribute, "not_found")
        return call

    def _live(self, call: CallRow) -> Any:
        """The live call with media, or 422 (ended, not answered yet, or on another node)."""
        if call["status"] in st.FINAL:
            raise CommandError(422, f"the call has ended ({call['status']})", "id", "call_ended")
        live = (self.live_calls or {}).get(call["sid"])
        if live is None or call["status"] != st.IN_PROGRESS or live.media is None:
            raise CommandError(422, f"the call is {call['status']}: media commands need an answered call",
                               "id", "call_not_answered")
        return live

    def control(self, call: CallRow) -> CallControl:
        live = self._live(call)
        control = self._controls.get(live.sid)
        if control is None or control.live is not live:
            control = CallControl(live, self.services)
            self._controls[live.sid] = control

            def ended(_: Any, sid: str = live.sid, c: CallControl = control) -> None:
                c.stop_all()
                if self._controls.get(sid) is c:
                    del self._controls[sid]

            live.done.add_done_callback(ended)
        return control

    def emitter(self, call: CallRow, status_url: str | None):  # type: ignore[no-untyped-def]
        url = status_url or call.get("calling_status_url")

        def emit(event_type: str, params: dict[str, Any]) -> None:
            if url:
                self.store.submit(partial(enqueue_event, account_sid=call["account_sid"], call_sid=call["sid"],
                                          url=url, event_type=event_type, params=params))
        return emit

    # --- lifecycle ----------------------------------------------------------------------------

    async def dial(self, account_sid: str, p: Params) -> dict[str, Any]:
        if "swml" in p:
            raise not_available("SWML documents (use url with a LaML document)", "params.swml")
        to = self._address(p, "to")
        from_ = self._address(p, "from")
        url = p.url("url")
        method = (p.string("url_method", choices=("GET", "POST", "get", "post")) or "POST").upper()
        C.codecs(p)
        caller_id = p.string("caller_id", max_length=255)
        values = {
            "to_number": to, "from_number": from_, "url": url, "twiml": None, "method": method,
            "fallback_url": p.url("fallback_url"), "fallback_method": "POST",
            "status_callback": None, "status_callback_method": "POST", "status_callback_event": None,
            "timeout": p.integer("timeout", low=1, high=600, default=60), "time_limit": 14400,
            "caller_id": caller_id, "record": False,
            "calling_status_url": p.url("status_url"), "calling_status_events": C.state_events(p),
        }
        if caller_id:
            values["from_number"] = self._address(p, "caller_id")
        row = await self.call_service.create_outbound(account_sid, values)
        return call_leg(row)

    @staticmethod
    def _address(p: Params, name: str) -> str:
        value = p.string(name, required=True) or ""
        try:
            return normalize(value)
        except InvalidAddress as exc:
            raise invalid(p.at(name), f"not a phone number or SIP URI: {exc}") from None

    async def update(self, account_sid: str, p: Params) -> dict[str, Any]:
        call = await self._call(account_sid, p.raw("id"), "params.id")
        status = p.string("status", choices=(st.CANCELED, st.COMPLETED))
        url = p.url("url")
        if "swml" in p:
            raise not_available("SWML documents (use url with a LaML document)", "params.swml")
        current = call["status"]
        if current in st.FINAL:
            raise CommandError(422, f"the call has ended ({current}); it cannot be updated", "params.id",
                               "call_ended")
        if status == st.CANCELED and current not in (st.QUEUED, st.RINGING):
            raise CommandError(422, f"status canceled is only allowed while the call is queued or ringing "
                                    f"(it is {current})", "params.status", "not_allowed")
        if status == st.COMPLETED and current != st.IN_PROGRESS:
            raise CommandError(422, f"status completed is only allowed once the call is answered (it is {current})",
                               "params.status", "not_allowed")
        if url is not None and current != st.IN_PROGRESS:
            raise CommandError(422, f"url is only allowed once the call is answered (it is {current})",
                               "params.url", "not_allowed")
        changes: dict[str, Any] = {}
        if "status_url" in p:
            changes["calling_status_url"] = p.url("status_url")
        if "fallback_url" in p:
            changes["fallback_url"] = p.url("fallback_url")
        if changes:
            call = await self.store.run(partial(self.calls.update_fields, call["sid"], changes)) or call
            live = (self.live_calls or {}).get(call["sid"])
            if live is not None:
                live.call = {**live.call, **changes}
        try:
            if status is not None:
                call = await self.call_service.end(call, status)
            elif url is not None:
                call = await self.call_service.redirect(call, {"url": url, "twiml": None, "method": "POST"})
        except NotModifiable as exc:
            raise CommandError(422, str(exc), "params.status" if status else "params.url", "not_allowed") from None
        return call_leg(call)

    async def cmd_end(self, call: CallRow, p: Params) -> None:
        p.string("reason", choices=C.HANGUP_REASONS)
        if call["status"] in st.FINAL:
            raise CommandError(422, f"the call has already ended ({call['status']})", "id", "call_ended")
        try:
            await self.call_service.end(call, st.COMPLETED)
        except NotModifiable as exc:
            raise CommandError(422, str(exc), "id", "not_allowed") from None

    async def cmd_transfer(self, call: CallRow, p: Params) -> None:
        target = C.transfer(p)
        self._live(call)
        if target.kind == "url":
            changes = {"url": target.dest, "twiml": None, "method": "POST"}
        else:
            dest = target.dest
            if dest.startswith(("sip:", "sips:")):
                noun = f"<Sip>{escape(dest)}</Sip>"
            else:
                try:
                    noun = f"<Number>{escape(normalize(dest))}</Number>"
                except InvalidAddress as exc:
                    raise invalid("params.dest", f"not a phone number, SIP URI or URL: {exc}") from None
            changes = {"twiml": f"<Response><Dial>{noun}</Dial></Response>"}
        try:
            await self.call_service.redirect(call, changes)
        except NotModifiable as exc:
            raise CommandError(422, str(exc), "id", "not_allowed") from None

    async def cmd_disconnect(self, call: CallRow, p: Params) -> None:
        live = self._live(call)
        if live.media.peer is None:
            raise CommandError(422, "the call is not bridged to another call", "id", "not_bridged")
        live.media.unbridge()

    async def cmd_refer(self, call: CallRow, p: Params) -> dict[str, Any]:
        """A blind transfer: the far end is asked (SIP REFER) to call `device.to` itself. When
        it accepts (202), this leg is done and hangs up; the outcome goes to status_url as
        calling.call.refer."""
        to, status_url = C.refer(p)
        live = self._live(call)
        try:
            code, reason = await asyncio.wait_for(live.leg.refer(to), REFER_TIMEOUT)
        except TimeoutError:
            code, reason = 408, "Request Timeout"
        accepted = 200 <= code < 300
        refer = {"state": "success" if accepted else "error", "sip_refer_to": to,
                 "sip_refer_response_code": str(code), "sip_refer_response_reason": reason}
        self.emitter(call, status_url)("calling.call.refer", {
            "call_id": call_id(call["sid"]), "node_id": self.services.node_id, **refer})
        if accepted:
            live.hangup(f"transferred with SIP REFER to {to}")
        return {"refer": refer}

    async def cmd_user_event(self, call: CallRow, p: Params) -> None:
        event = C.user_event(p)
        url = call.get("calling_status_url")
        if not url:
            raise CommandError(422, "the call has no status_url to deliver the event to (set it with dial or "
                                    "update)", "id", "no_status_url")
        await self.store.run(partial(enqueue_event, account_sid=call["account_sid"], call_sid=call["sid"], url=url,
                                     event_type="calling.user_event",
                                     params={"call_id": call_id(call["sid"]), "node_id": self.services.node_id,
                                             "event": event}))

    # --- media ---------------------------------------------------------------------------------

    async def cmd_play(self, call: CallRow, p: Params) -> dict[str, Any]:
        spec = C.play(p)
        control = self.control(call)
        control.add(PlayComponent(control, spec, self.emitter(call, spec.status_url)))
        return {"control_id": spec.control_id}

    async def _find(self, call: CallRow, p: Params, kind: str) -> Any:
        return self.control(call).find(C.control_id(p, required=True), kind)

    async def cmd_play_pause(self, call: CallRow, p: Params) -> None:
        (await self._find(call, p, "play")).pause(True)

    async def cmd_play_resume(self, call: CallRow, p: Params) -> None:
        (await self._find(call, p, "play")).pause(False)

    async def cmd_play_stop(self, call: CallRow, p: Params) -> None:
        (await self._find(call, p, "play")).stop()

    async def cmd_play_volume(self, call: CallRow, p: Params) -> None:
        volume = p.number("volume", low=-40, high=40, required=True)
        component = await self._find(call, p, "play")
        component.controls.set_volume(volume)

    async def cmd_record(self, call: CallRow, p: Params) -> dict[str, Any]:
        spec = C.record(p)
        if self.services.recordings is None:
            raise not_available("Recording")
        control = self.control(call)
        control.add(RecordComponent(control, spec, self.emitter(call, spec.status_url)))
        return {"control_id": spec.control_id}

    async def cmd_record_pause(self, call: CallRow, p: Params) -> None:
        (await self._find(call, p, "record")).pause(True)

    async def cmd_record_resume(self, call: CallRow, p: Params) -> None:
        (await self._find(call, p, "record")).pause(False)

    async def cmd_record_stop(self, call: CallRow, p: Params) -> None:
        component = await self._find(call, p, "record")
        component.stop()
        if component.task is not None:  # answer once the recording is final (its URL is reported)
            await asyncio.wait([component.task], timeout=10)

    async def cmd_collect(self, call: CallRow, p: Params) -> dict[str, Any]:
        spec = C.collect(p)
        control = self.control(call)
        control.add(CollectComponent(control, spec, self.emitter(call, spec.status_url)))
        return {"control_id": spec.control_id}

    async def cmd_collect_stop(self, call: CallRow, p: Params) -> None:
        (await self._find(call, p, "collect")).stop()

    async def cmd_collect_start_input_timers(self, call: CallRow, p: Params) -> None:
        (await self._find(call, p, "collect")).start_timers()

    async def cmd_detect(self, call: CallRow, p: Params) -> dict[str, Any]:
        spec = C.detect(p)
        control = self.control(call)
        control.add(DetectComponent(control, spec, self.emitter(call, spec.status_url)))
        return {"control_id": spec.control_id}

    async def cmd_detect_stop(self, call: CallRow, p: Params) -> None:
        (await self._find(call, p, "detect")).stop()

    async def cmd_tap(self, call: CallRow, p: Params) -> dict[str, Any]:
        spec = C.tap(p)
        control = self.control(call)
        component = TapComponent(control, spec, self.emitter(call, spec.status_url))
        try:
            source = component.open()
        except OSError as exc:
            raise invalid("params.device.params", f"cannot send there: {exc}") from None
        try:
            control.add(component)
        except CommandError:
            component.sender.close()
            raise
        return {"control_id": spec.control_id, "source_device": source}

    async def cmd_tap_stop(self, call: CallRow, p: Params) -> None:
        (await self._find(call, p, "tap")).stop()

    async def cmd_stream(self, call: CallRow, p: Params) -> dict[str, Any]:
        spec = C.stream(p)
        control = self.control(call)
        control.add(StreamComponent(control, spec, self.emitter(call, spec.status_url)))
        return {"control_id": spec.control_id}

    async def cmd_stream_stop(self, call: CallRow, p: Params) -> None:
        (await self._find(call, p, "stream")).stop()

    async def cmd_denoise(self, call: CallRow, p: Params) -> dict[str, Any]:
        live = self._live(call)
        on = live.media.denoise(True)
        self.emitter(call, None)("calling.call.denoise", {"call_id": call_id(call["sid"]),
                                                          "node_id": self.services.node_id, "denoised": on})
        return {"denoised": on}

    async def cmd_denoise_stop(self, call: CallRow, p: Params) -> dict[str, Any]:
        live = self._live(call)
        on = live.media.denoise(False)
        self.emitter(call, None)("calling.call.denoise", {"call_id": call_id(call["sid"]),
                                                          "node_id": self.services.node_id, "denoised": on})
        return {"denoised": on}

    def _check_transcription(self, call: CallRow) -> None:
        control = self._controls.get(call["sid"])
        if control is not None and control.transcription is not None:
            raise CommandError(409, "a transcription is already running on this call", "id", "conflict")

    async def cmd_transcribe_stop(self, call: CallRow, p: Params) -> None:
        C.control_id(p, required=True)
        raise not_available(C.NOT_AVAILABLE["calling.transcribe"])
