"""<Dial> (and the seeds' alias <Transfer>): call a number or SIP URI and bridge it to this
call. Nouns <Number>/<Sip>, or the number as bare text; several ring at once and the first to
answer wins. timeout (30 s of ringing), callerId (this call's From), timeLimit (14400 s),
hangupOnStar. With an `action`, its document gets DialCallStatus, DialCallSid and
DialCallDuration; without one the next verb runs once the bridge ends.

record (do-not-record): record-from-answer records the bridged conversation, both parties mixed;
record-from-ringing starts as the dialing starts; -dual puts the caller left and the dialed
party right. The recording belongs to this (the parent) call; the action also gets
RecordingUrl, RecordingSid and RecordingDuration; recordingStatusCallback (+Method, +Event) and
trim (do-not-trim) as for <Record>."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from wirexa.calls import status as st
from wirexa.calls.addresses import InvalidAddress, normalize
from wirexa.calls.runner import LiveCall
from wirexa.laml.call import LamlCall
from wirexa.laml.nodes import LamlError, Node
from wirexa.laml.steps import Fetch, Step
from wirexa.recordings.service import DIAL_VERB, EVENTS, ActiveRecording

INVALID_NUMBER = 13223  # Twilio: Dial: invalid phone number format
# Which child outcome describes a Dial nobody answered, most telling first.
_UNANSWERED_ORDER = (st.BUSY, st.NO_ANSWER, st.FAILED, st.CANCELED)
RECORD_VALUES = ("do-not-record", "record-from-answer", "record-from-ringing",
                 "record-from-answer-dual", "record-from-ringing-dual")


@dataclass(frozen=True)
class Target:
    to: str
    send_digits: str


@dataclass(frozen=True)
class Dial:
    targets: tuple[Target, ...]
    action: str
    method: str
    timeout: int
    caller_id: str
    time_limit: int
    hangup_on_star: bool
    record: str
    trim: bool = False
    recording_callback: str = ""
    recording_callback_method: str = "POST"
    recording_callback_events: str = ""

    @classmethod
    def parse(cls, node: Node) -> Dial:
        targets: list[Target] = []
        for child in node.children:
            if child.name not in ("Number", "Sip"):
                raise LamlError(f"<{child.name}> cannot be nested in <{node.name}> (use <Number> or <Sip>)")
            child.no_children()
            if not child.text:
                raise LamlError(f"<{child.name}> in <{node.name}> is empty")
            targets.append(Target(child.text, child.get("sendDigits") or ""))
        if not targets:
            if not node.text:
                raise LamlError(f"<{node.name}> needs a number, <Number> or <Sip>")
            targets.append(Target(node.text, ""))
        record = (node.get("record") or "do-not-record").lower()
        if record not in RECORD_VALUES:
            raise LamlError(f"<{node.name} record=\"{record}\">: one of {', '.join(RECORD_VALUES)}")
        trim = (node.get("trim") or "do-not-trim").lower()
        if trim not in ("trim-silence", "do-not-trim"):
            raise LamlError(f"<{node.name} trim=\"{trim}\">: trim-silence or do-not-trim")
        events = node.get("recordingStatusCallbackEvent") or ""
        if set(events.replace(",", " ").lower().split()) - set(EVENTS):
            raise LamlError(f"<{node.name} recordingStatusCallbackEvent=\"{events}\">: "
                            f"in-progress, completed and/or absent")
        return cls(tuple(targets), node.get("action") or "", node.method(),
                   node.integer("timeout", 30, minimum=1, maximum=600), node.get("callerId") or "",
                   node.integer("timeLimit", 14400, minimum=1), node.boolean("hangupOnStar", False), record,
                   trim == "trim-silence", node.get("recordingStatusCallback") or "",
                   node.method("recordingStatusCallbackMethod"), events)

    async def run(self, call: LamlCall) -> Step:
        recording: list[ActiveRecording] = []  # at most one: from ringing (here) or answer (_connect)
        if self.record != "do-not-record" and call.services.recordings is None:
            call.report(13000, f"<Dial record=\"{self.record}\">: recording is not available on this engine")
        elif self.record.startswith("record-from-ringing"):
            recording.append(await self._start_recording(call))
        caller_id = self.caller_id or call.live.call.get("from_number") or ""
        children: list[tuple[LiveCall, Target]] = []
        try:
            for target in self.targets:
                try:
                    to = normalize(target.to)
                except InvalidAddress as exc:
                    call.report(INVALID_NUMBER, f"<Dial> {target.to!r}: {exc}")
                    continue
                child = await call.services.dialer.dial_child(call.live, to, caller_id, self.timeout, self.time_limit)
                children.append((child, target))
            status, sid, duration = await self._connect(call, children, recording)
        finally:
            for child, _ in children:  # the caller hung up, or the call was redirected
                if not child.done.done():
                    child.request_end(st.COMPLETED if child.answered.is_set() else st.CANCELED,
                                      "the <Dial>ing call moved on")
            for active in recording:
                active.end()  # the recording covers the <Dial> only
        fields: dict[str, str] = {}
        if recording:
            finished = await recording[0].finish()
            if finished.status == "processing":
                fields = {"RecordingUrl": finished.url, "RecordingSid": finished.sid,
                          "RecordingDuration": finished.duration}
        if not self.action:
            return None
        params = {"DialCallStatus": status, **fields}
        if sid:
            params.update(DialCallSid=sid, DialCallDuration=str(duration))
        return Fetch(call.resolve(self.action), self.method, params)

    async def _start_recording(self, call: LamlCall) -> ActiveRecording:
        assert call.services.recordings is not None
        return await call.services.recordings.start(
            call.live, source=DIAL_VERB, track="both", channels=2 if self.record.endswith("-dual") else 1,
            trim=self.trim, callback=call.resolve(self.recording_callback) if self.recording_callback else None,
            callback_method=self.recording_callback_method, callback_events=self.recording_callback_events)

    async def _connect(self, call: LamlCall, children: list[tuple[LiveCall, Target]],
                       recording: list[ActiveRecording]) -> tuple[str, str, int]:
        """Ring every child; bridge the first to answer until either side ends (recording it
        from answer when asked: the recording is added to `recording`).
        Returns (DialCallStatus, DialCallSid, seconds bridged)."""
        if not children:
            return st.FAILED, "", 0
        winner = await _first_answered([child for child, _ in children])
        if winner is None:
            outcomes = {child.final_status for child, _ in children}
            status = next((s for s in _UNANSWERED_ORDER if s in outcomes), st.FAILED)
            return status, children[0][0].sid, 0
        for child, target in children:
            if child is not winner:
                child.request_end(st.CANCELED, "another <Dial> target answered first")
            elif target.send_digits and child.media is not None:
                await child.media.send_digits(target.send_digits)
        assert winner.media is not None
        loop = asyncio.get_running_loop()
        started = loop.time()
        call.media.bridge(winner.media)
        try:
            if self.record.startswith("record-from-answer") and call.services.recordings is not None:
                recording.append(await self._start_recording(call))  # records from now on
            await self._bridged(call, winner)
        finally:
            call.media.unbridge()
        return st.COMPLETED, winner.sid, int(round(loop.time() - started))

    async def _bridged(self, call: LamlCall, winner: LiveCall) -> None:
        """Until the dialed party hangs up (its own timeLimit included) or the caller presses *
        with hangupOnStar."""
        waits: set[asyncio.Future[Any]] = {winner.done}
        star = asyncio.ensure_future(_until_star(call)) if self.hangup_on_star else None
        if star is not None:
            waits.add(star)
            call.media.listen_for_tones(True)
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if star is not None:
                star.cancel()
                call.media.listen_for_tones(False)
        if not winner.done.done():
            winner.request_end(st.COMPLETED, "the caller pressed * (hangupOnStar)")


async def _until_star(call: LamlCall) -> None:
    call.media.clear_digits()
    while await call.media.next_digit() != "*":
        pass


async def _first_answered(children: list[LiveCall]) -> LiveCall | None:
    """The first child to answer, or None once all ended unanswered."""
    answers = {asyncio.ensure_future(child.answered.wait()): child for child in children}
    try:
        while True:
            for waiter, child in answers.items():
                if waiter.done():
                    return child
            pending = [child.done for child in children if not child.done.done()]
            if not pending:
                return None
            waiting: list[asyncio.Future[Any]] = [*answers, *pending]
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in answers:
            waiter.cancel()
