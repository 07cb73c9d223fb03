"""Live calls on this node: dials queued calls over SIP, answers inbound INVITEs for the
project's numbers, keeps each call's status in the store as SIP events arrive, and ends calls
when asked. It implements `LiveCalls` for the REST side."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection

from wirexa.calls import status as st
from wirexa.calls.addresses import InvalidAddress, normalize
from wirexa.calls.amd import detect, record_detection
from wirexa.calls.negotiation import MediaParams, media_params
from wirexa.clock import utcnow
from wirexa.config import Settings
from wirexa.media.amd import AmdParams
from wirexa.media.clock import MediaClock
from wirexa.media.ports import PortAllocator
from wirexa.media.rtp_endpoint import RtpEndpoint
from wirexa.media.session import MediaSession
from wirexa.sids import new_call_sid
from wirexa.sip import sdp
from wirexa.sip.engine import SipEngine, Trunk
from wirexa.sip.events import Answered, Canceled, Disconnected, Failed, Ringing, Updated
from wirexa.sip.leg import CallLeg, InboundLeg, OutboundLeg
from wirexa.store.batch import Batcher
from wirexa.store.calls import CallRow, CallStore
from wirexa.store.numbers import NumberStore
from wirexa.webhooks.call_status import enqueue_status

log = logging.getLogger(__name__)
T = TypeVar("T")

DIGEST_REALM = "wirexa"
# How long to wait for the far end to confirm a CANCEL or BYE before giving up on it.
END_GRACE = 35.0


def _as_e164(user: str) -> str | None:
    """A SIP user part as an E.164 number (carriers often drop the `+`), or None."""
    try:
        return normalize(user if user.startswith("+") else "+" + user)
    except InvalidAddress:
        return None


def status_for_sip_failure(code: int) -> str:
    """semantics.md: 486/600 busy; 408/480/487 (and our own ring timeout) no-answer; else failed."""
    if code in (486, 600):
        return st.BUSY
    if code in (408, 480, 487):
        return st.NO_ANSWER
    return st.FAILED


@dataclass(frozen=True)
class _EndRequest:
    """Put on a leg's event queue to end the call from the asyncio side (API, flow, limits)."""

    status: str  # canceled | completed
    reason: str


@dataclass
class LiveCall:
    """A call this node is running. `flow` code (LaML, Calling API) drives it through `media`
    and ends it with `hangup()`."""

    sid: str
    account_sid: str
    direction: str
    media: MediaSession | None = None
    leg: CallLeg | None = None
    call: CallRow = field(default_factory=dict)
    end_requested: _EndRequest | None = None
    answered: asyncio.Event = field(default_factory=asyncio.Event)
    # The status the call ended with (set by the store thread just before `done` resolves).
    final_status: str | None = None
    flow_state: Any = None  # the call flow's own (e.g. a document loaded before answer)
    # Set when the REST API gave the call new instructions (Url/Twiml); the flow clears it.
    redirected: asyncio.Event = field(default_factory=asyncio.Event)
    done: asyncio.Future[str] = field(default_factory=lambda: asyncio.get_running_loop().create_future())

    def request_end(self, status: str, reason: str) -> None:
        if self.end_requested is None:
            self.end_requested = _EndRequest(status, reason)
            if self.leg is not None:
                # Joins the leg's SIP events, so the runner waits on one queue for either.
                self.leg.events.put_nowait(self.end_requested)  # type: ignore[arg-type]

    def hangup(self, reason: str = "hung up by the call flow") -> None:
        self.request_end(st.COMPLETED, reason)


class CallFlow(Protocol):
    """What runs on calls (the LaML interpreter): decides about inbound calls before they are
    answered, then drives each answered call until it is done."""

    async def prepare(self, live: LiveCall) -> str | None:
        """Before an inbound call is answered: a rejection reason (`busy`, `rejected`) to
        refuse it, or None to answer it."""

    async def run(self, live: LiveCall) -> None:
        """The answered call's flow; the call hangs up when this returns."""


# Outbound legs placed by a call flow (<Dial>): bridged by that flow, running none of their own.
CHILD_DIRECTION = "outbound-dial"


class CallRunner:
    def __init__(
        self,
        settings: Settings,
        calls: CallStore,
        numbers: NumberStore,
        sip: SipEngine,
        trunk: Trunk,
        clock: MediaClock,
        ports: PortAllocator,
        store: Batcher,
    ) -> None:
        self.settings = settings
        self.calls = calls
        self.numbers = numbers
        self.sip = sip
        self.trunk = trunk
        self.clock = clock
        self.ports = ports
        # What runs on calls; the engine sets it (the LaML interpreter, or a test's own).
        self.flow: CallFlow | None = None
        # Called as each call is answered, before SendDigits and the flow (Record=true starts
        # the whole-call recording); must not block.
        self.on_answer: Callable[[LiveCall], None] | None = None
        self.live: dict[str, LiveCall] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        # Store work leaves the media loop; one thread keeps each call's updates in order, and
        # updates of many calls share commits.
        self.store = store
        self._allowed = [ipaddress.ip_network(n.strip(), strict=False)
                         for n in settings.inbound_allow.split(",") if n.strip()]

    async def _store(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`fn(*args, conn, **kwargs)` on the store thread, inside a shared transaction."""
        return await self.store.run(partial(fn, *args, **kwargs))

    def _store_later(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """A store write whose result nobody waits for (it still runs in order)."""
        self.store.submit(partial(fn, *args, **kwargs))

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- LiveCalls (the REST side) ---------------------------------------------------------

    def dial(self, call: CallRow) -> None:
        live = LiveCall(call["sid"], call["account_sid"], "outbound-api", call=call)
        self.live[live.sid] = live  # registered now, so an end request never misses it
        self._spawn(self._run(live, self._outbound(live)))

    async def dial_child(self, parent: LiveCall, to: str, caller_id: str, timeout: int, time_limit: int) -> LiveCall:
        """Place a call for `parent`'s flow (<Dial>) at once, past the outbound queue: the
        caller is waiting. The flow bridges it once `answered` is set."""
        row = await self._store(self._create, {
            "sid": new_call_sid(), "account_sid": parent.account_sid, "parent_call_sid": parent.sid,
            "direction": CHILD_DIRECTION, "status": st.QUEUED, "to_number": to, "from_number": caller_id,
            "timeout": timeout, "time_limit": time_limit, "node_id": self.settings.node_id,
            "dispatched_at": utcnow(),
        }, None)
        live = LiveCall(row["sid"], row["account_sid"], CHILD_DIRECTION, call=row)
        self.live[live.sid] = live
        self._spawn(self._run(live, self._outbound(live)))
        return live

    async def end(self, call_sid: str, status: str) -> None:
        live = self.live.get(call_sid)
        if live is None:
            return
        live.request_end(status, "ended through the REST API")
        await asyncio.wait([live.done], timeout=END_GRACE)

    async def redirect(self, call_sid: str) -> None:
        """New instructions are in the store; the call flow (LaML) picks them up."""
        live = self.live.get(call_sid)
        if live is not None:
            live.redirected.set()

    # --- lifecycle -------------------------------------------------------------------------

    async def recover(self) -> int:
        """Close out calls this node owned when it stopped without ending them (a crash):
        answered ones as completed, the rest as failed. Returns how many."""
        rows = await self._store(self.calls.owned_unfinished, self.settings.node_id)
        for row in rows:
            answered = row["status"] == st.IN_PROGRESS
            await self._store(
                self._finish, row["sid"], st.COMPLETED if answered else st.FAILED,
                error_message="the engine stopped while running this call; closed out on restart",
            )
        return len(rows)

    async def shutdown(self) -> None:
        """Hang up every live call and wait (bounded) for them to end."""
        for live in list(self.live.values()):
            live.request_end(st.COMPLETED if live.call.get("status") == st.IN_PROGRESS else st.CANCELED,
                             "engine shutting down")
        pending = [live.done for live in self.live.values()]
        if pending:
            await asyncio.wait(pending, timeout=5)
        for task in list(self._tasks):
            task.cancel()
        # Calls that did not end in time are closed out now rather than at the next start.
        for live in list(self.live.values()):
            answered = live.call.get("status") == st.IN_PROGRESS
            self._store_later(self._finish, live.sid, st.COMPLETED if answered else st.FAILED,
                              error_message="the engine stopped while running this call")

    # --- one call --------------------------------------------------------------------------

    def _finish(self, sid: str, status: str, conn: Connection, **details: Any) -> CallRow | None:
        """Store thread: end the call and enqueue its `completed` status callback."""
        row = self.calls.finish(
            sid, status, default_price_per_minute=self.settings.price_per_minute,
            price_unit=self.settings.price_unit, conn=conn, **details,
        )
        if row is not None:
            enqueue_status(conn, row, "completed")
            live = self.live.get(sid)
            if live is not None:
                live.final_status = status  # read on the loop only after `done` resolves
        return row

    def _advance(self, call: CallRow, from_statuses: list[str], values: CallRow, event: str,
                 conn: Connection) -> bool:
        """Store thread: a status change and its callback (`event`), together or not at all."""
        if not self.calls.advance(call["sid"], from_statuses, values, conn):
            return False
        enqueue_status(conn, {**call, **values}, event)
        return True

    @staticmethod
    def _initiated(call: CallRow, conn: Connection) -> None:
        enqueue_status(conn, call, "initiated")

    def _create(self, values: CallRow, event: str | None, conn: Connection) -> CallRow:
        row = self.calls.create(values, conn)
        if event is not None:
            enqueue_status(conn, row, event)
        return row

    async def _run(self, live: LiveCall, body: Awaitable[None]) -> None:
        """Run a call to its end, whatever happens: the call always ends up in a final state."""
        try:
            await body
        except Exception as exc:
            log.exception("call %s failed inside the engine", live.sid)
            if live.leg is not None:
                live.leg.hangup()
            await self._store(self._finish, live.sid, st.FAILED, error_message=f"engine error: {exc}")
        finally:
            if live.media is not None:
                live.media.close()
            self.live.pop(live.sid, None)
            if not live.done.done():
                live.done.set_result(live.sid)

    async def _open_media(self, live: LiveCall) -> RtpEndpoint:
        endpoint = await RtpEndpoint.open(self.clock, self.ports, host=self.settings.rtp_host)
        live.media = MediaSession(endpoint)
        return endpoint

    @staticmethod
    def _apply(endpoint: RtpEndpoint, params: MediaParams) -> None:
        endpoint.set_codec(params.codec, params.telephone_event_pt)
        endpoint.set_remote(params.remote)

    async def _outbound(self, live: LiveCall) -> None:
        call = live.call
        if call["status"] != st.QUEUED or live.end_requested is not None:
            await self._store(self._finish, live.sid, st.CANCELED)
            return
        endpoint = await self._open_media(live)
        offer = sdp.offer(self.settings.rtp_host, endpoint.local_address[1])
        to = call["to_number"]
        try:
            leg = await self.sip.dial(self.trunk, to, caller_id=call["from_number"], offer=offer)
        except Exception as exc:  # e.g. an unresolvable SIP URI host
            await self._store(self._finish, live.sid, st.FAILED, error_message=f"could not send INVITE: {exc}")
            return
        live.leg = leg
        self._store_later(self._initiated, dict(call))
        if live.end_requested is not None:
            leg.events.put_nowait(live.end_requested)
        if not await self._ring(live, leg, call["timeout"]):
            return
        await self._connected(live)

    async def _ring(self, live: LiveCall, leg: OutboundLeg, timeout: float) -> bool:
        """Until answered (True) or ended (False, with the final status stored)."""
        loop = asyncio.get_running_loop()
        give_up_at = loop.time() + timeout
        timed_out = False
        while True:
            remaining = give_up_at - loop.time() if not (timed_out or live.end_requested) else END_GRACE
            try:
                event = await leg.next_event(max(0.0, remaining))
            except TimeoutError:
                if timed_out or live.end_requested:
                    await self._store(self._finish, live.sid, st.FAILED,
                                      error_message="the trunk did not confirm the CANCEL")
                    return False
                timed_out = True
                leg.cancel()
                continue
            if isinstance(event, Ringing):
                if live.call["status"] == st.QUEUED:
                    # Not awaited: the store thread keeps this call's writes in order.
                    live.call = {**live.call, "status": st.RINGING}
                    self._store_later(self._advance, dict(live.call), [st.QUEUED], {"status": st.RINGING}, "ringing")
            elif isinstance(event, Answered):
                if live.end_requested is not None or timed_out:
                    leg.hangup()  # answered just as we gave up
                    continue
                self._apply(live.media.endpoint, media_params(sdp.parse(event.sdp or "")))  # type: ignore[union-attr]
                answered = {"status": st.IN_PROGRESS, "start_time": utcnow()}
                if await self._store(self._advance, dict(live.call), [st.QUEUED, st.RINGING], answered, "answered"):
                    live.call = {**live.call, **answered}
                live.answered.set()
                return True
            elif isinstance(event, Failed):
                await self._store(self._finish, live.sid, status_for_sip_failure(event.code),
                                  sip_response_code=event.code, sip_reason=event.reason)
                return False
            elif isinstance(event, Canceled):
                status = st.NO_ANSWER if timed_out else st.CANCELED
                await self._store(self._finish, live.sid, status, sip_response_code=event.code,
                                  sip_reason=event.reason,
                                  error_message="no answer within Timeout" if timed_out else None)
                return False
            elif isinstance(event, Disconnected):  # answered and hung up at once (see Answered)
                await self._store(self._finish, live.sid, st.CANCELED if not timed_out else st.NO_ANSWER)
                return False
            elif isinstance(event, _EndRequest):
                leg.cancel()

    async def _connected(self, live: LiveCall) -> None:
        """From answer to hangup; SendDigits, then the call flow, run meanwhile."""
        assert live.leg is not None
        leg = live.leg
        flow = asyncio.ensure_future(self._after_answer(live))
        loop = asyncio.get_running_loop()
        hang_up_at = loop.time() + live.call["time_limit"]
        reason, hung_up, flow_seen = "", False, False
        try:
            while True:
                if flow.done() and not flow_seen:
                    flow_seen = True
                    if not flow.cancelled() and flow.exception() is not None:
                        log.error("call flow of %s failed", live.sid, exc_info=flow.exception())
                    if not hung_up:  # the document ran out: hang up, as LaML does
                        reason, hung_up = "the call flow ended", True
                        leg.hangup()
                getter = asyncio.ensure_future(leg.events.get())
                waits: set[asyncio.Future[Any]] = {getter}
                if not flow.done():
                    waits.add(flow)
                timeout = END_GRACE if hung_up else max(0.0, hang_up_at - loop.time())
                done, _ = await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
                if getter not in done:
                    getter.cancel()
                    if done:  # the flow ended: handled at the top of the loop
                        continue
                    if hung_up:  # our BYE was never confirmed
                        break
                    reason, hung_up = "TimeLimit reached", True
                    leg.hangup()
                    continue
                event = getter.result()
                if isinstance(event, Disconnected):
                    if event.by == "remote":
                        reason = "hung up by the far end"
                    break
                if isinstance(event, Updated):
                    self._apply(live.media.endpoint, media_params(sdp.parse(event.remote_sdp)))  # type: ignore[union-attr]
                elif isinstance(event, _EndRequest) and not hung_up:
                    reason, hung_up = event.reason, True
                    leg.hangup()
        finally:
            if not flow.done():
                flow.cancel()
        await self._store(self._finish, live.sid, st.COMPLETED, sip_reason=reason)

    async def _after_answer(self, live: LiveCall) -> None:
        """Answering machine detection starts (synchronous AMD holds the flow until it
        decides), SendDigits (create parameter) go out, then the call flow runs. Without a
        flow the call stays up until either side hangs up."""
        if self.on_answer is not None:
            self.on_answer(live)
        amd = AmdParams.from_call(live.call) if live.media is not None else None
        detection = asyncio.ensure_future(self._detect(live, amd)) if amd is not None else None
        try:
            if detection is not None and not live.call.get("async_amd"):
                await detection
            digits = live.call.get("send_digits")
            if digits and live.media is not None:
                await live.media.send_digits(digits)
            if self.flow is not None and live.direction != CHILD_DIRECTION:
                await self.flow.run(live)
            else:
                await asyncio.Event().wait()
        finally:
            if detection is not None:
                detection.cancel()

    async def _detect(self, live: LiveCall, params: AmdParams) -> None:
        assert live.media is not None
        detection = await detect(live.media, params)
        live.call = {**live.call, "answered_by": detection.result.answered_by, "amd": detection.params()}
        await self._store(record_detection, self.calls, dict(live.call), detection)

    # --- inbound ---------------------------------------------------------------------------

    def _source_allowed(self, host: str) -> bool:
        try:
            addr = ipaddress.ip_address(host)
        except ValueError:
            return False
        if host == self.trunk.host:
            return True
        return any(addr in net for net in self._allowed)

    def _refusal(self, leg: InboundLeg) -> int | None:
        """None to take the INVITE; else 401 (send a digest challenge) or 403. Sources in
        inbound_allow (and the trunk) are taken as they are; others must authenticate with
        inbound_username/inbound_password when those are set."""
        if self._source_allowed(leg.source[0]):
            return None
        s = self.settings
        if not s.inbound_username:
            return 403
        verdict = leg.authorized(s.inbound_username, s.inbound_password)
        if verdict is None:
            return 401
        return None if verdict else 403

    async def on_invite(self, leg: InboundLeg) -> None:
        """An INVITE for one of our numbers: create the inbound call and answer it."""
        refusal = self._refusal(leg)
        if refusal == 401:
            leg.challenge(DIGEST_REALM)
            return
        if refusal is not None:
            log.warning("INVITE from %s refused: not in inbound_allow and no valid credentials", leg.source[0])
            leg.reject(refusal)
            return
        to = _as_e164(leg.to_user) or leg.to_user
        number = await self._store(self.numbers.find, to)
        if number is None:
            leg.reject(404)
            return
        caller = _as_e164(leg.from_user) or leg.from_uri
        sid = new_call_sid()
        live = LiveCall(sid, number["account_sid"], "inbound", leg=leg)
        self.live[sid] = live
        self._spawn(self._run(live, self._inbound(live, leg, number, caller, to)))

    async def _inbound(self, live: LiveCall, leg: InboundLeg, number: dict[str, Any], caller: str, to: str) -> None:
        live.call = await self._store(self._create, {
            "sid": live.sid, "account_sid": number["account_sid"], "direction": "inbound",
            "status": st.RINGING, "to_number": to, "from_number": caller,
            "url": number["voice_url"], "method": number["voice_method"],
            "fallback_url": number["voice_fallback_url"], "fallback_method": number["voice_fallback_method"],
            "status_callback": number["status_callback"],
            "status_callback_method": number["status_callback_method"],
            "node_id": self.settings.node_id,
        }, "ringing")
        if self.flow is not None:
            leg.ring()  # the caller hears ringing while the first document loads
            rejection = await self.flow.prepare(live)
            if rejection is not None:
                code = 486 if rejection == "busy" else 603
                leg.reject(code)
                await self._store(self._finish, live.sid, st.BUSY if rejection == "busy" else st.NO_ANSWER,
                                  sip_response_code=code, sip_reason=f"<Reject reason=\"{rejection}\">")
                return
        endpoint = await self._open_media(live)
        try:
            remote = sdp.parse(leg.offer or "")
            local = sdp.offer(self.settings.rtp_host, endpoint.local_address[1], self.sip.codecs)
            answer = sdp.answer(remote, local)
            params = media_params(answer)
        except sdp.SdpError as exc:
            leg.reject(488)
            await self._store(self._finish, live.sid, st.FAILED, sip_response_code=488,
                              sip_reason="Not Acceptable Here", error_message=f"unusable SDP offer: {exc}")
            return
        self._apply(endpoint, MediaParams(remote.rtp_address(), params.codec, params.telephone_event_pt,
                                          params.on_hold))
        leg.answer(answer)
        event = await leg.next_event(END_GRACE)
        if not isinstance(event, Answered):
            await self._store(self._finish, live.sid, st.CANCELED, sip_reason="caller hung up before answer")
            return
        answered = {"status": st.IN_PROGRESS, "start_time": utcnow()}
        if await self._store(self._advance, dict(live.call), [st.RINGING], answered, "answered"):
            live.call = {**live.call, **answered}
        live.answered.set()
        await self._connected(live)

