"""Call legs: one SIP dialog each, driven from asyncio, living on the sippy thread.

Public methods are safe from any thread and never block: they queue work onto the sippy thread.
Everything that ends in the sippy UA (`self._ua`) runs there; methods that run there are marked.
Outcomes arrive as `events` (see events.py) on the asyncio loop that created the leg.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Callable

from sippy.CCEvents import (CCEventConnect, CCEventDisconnect, CCEventFail, CCEventRedirect,
                            CCEventRing, CCEventTry, CCEventUpdate)
from sippy.MsgBody import MsgBody
from sippy.SipHeader import SipHeader
from sippy.SipReferTo import SipReferTo
from sippy.SipReferredBy import SipReferredBy
from sippy.SipWWWAuthenticate import SipWWWAuthenticate
from sippy.SipAddress import SipAddress
from sippy.SipTo import SipTo
from sippy.SipURL import SipURL
from sippy.UA import UA
from sippy.UacStateCancelling import UacStateCancelling
from sippy.UacStateTrying import UacStateTrying
from sippy.UasStateTrying import UasStateTrying
from sippy.UasStateRinging import UasStateRinging

from . import sdp
from .bridge import deliver, sippy_thread
from .events import Answered, Canceled, Disconnected, Failed, LegEvent, Ringing, Updated

if TYPE_CHECKING:
    from .engine import SipEngine, Trunk

SdpLike = str | sdp.Session

REASONS: dict[int, str] = {
    403: "Forbidden", 404: "Not Found", 480: "Temporarily Unavailable", 486: "Busy Here",
    487: "Request Terminated", 488: "Not Acceptable Here", 500: "Server Internal Error",
    503: "Service Unavailable", 603: "Decline",
}


def sdp_pair(value: SdpLike) -> tuple[str, sdp.Session]:
    """(text to send, parsed model). A string is sent verbatim; SdpError if it does not parse."""
    if isinstance(value, sdp.Session):
        return str(value), value
    return value, sdp.parse(value)


class _UA(UA):
    """sippy's UA with two fixes: digest retries go out after the ACK of the challenge, and the
    final INVITE response after our CANCEL is reported (sippy drops it)."""

    on_cancel_done: Callable[[int, str], None] | None = None

    def recvResponse(self, resp: Any, tr: Any, deferred: bool = False) -> None:
        code, reason = resp.getSCode()
        is_invite = resp.getHFBody("cseq").getCSeq()[1] == "INVITE"
        if code in (401, 407) and is_invite and not deferred:
            # sippy sends the authenticated INVITE from inside this callback, i.e. before the
            # transaction ACKs the challenge; strict peers (SIPp) fail the call on that order.
            sippy_thread.call(self.recvResponse, resp, tr, True)
            return
        cancelling = isinstance(self.state, UacStateCancelling)
        super().recvResponse(resp, tr)
        if cancelling and code >= 200 and is_invite and self.on_cancel_done is not None:
            self.on_cancel_done(code, reason)
            self.on_cancel_done = None


class _Invite(CCEventTry):
    """sippy builds To/Request-URI as user@next-hop; for a sip: URI target use the URI itself."""

    def __init__(self, uri: SipURL | None, data: tuple[Any, ...]) -> None:
        super().__init__(data)
        self.uri = uri

    def onUacSetupComplete(self, uac: UA) -> None:
        if self.uri is not None:
            uac.rTarget = self.uri.getCopy()
            uac.rUri = SipTo(address=SipAddress(url=self.uri.getCopy(), hadbrace=True))


class CallLeg:
    def __init__(self, engine: SipEngine, loop: asyncio.AbstractEventLoop) -> None:
        self.call_id = ""
        self.events: asyncio.Queue[LegEvent] = asyncio.Queue()
        self._engine = engine
        self._loop = loop
        self._ua: _UA | None = None
        self._local: sdp.Session | None = None  # the last SDP we sent (its o= line is reused)

    def hangup(self) -> None:
        """End the call: BYE when answered (else see the subclass)."""
        sippy_thread.call(self._hangup)

    async def next_event(self, timeout: float | None = None) -> LegEvent:
        return await asyncio.wait_for(self.events.get(), timeout)

    def refer(self, target: str) -> asyncio.Future[tuple[int, str]]:
        """Ask the far end to call `target` itself (SIP REFER, RFC 3515, a blind transfer).
        Resolves with its final answer: 202 Accepted when it takes the transfer."""
        answered: asyncio.Future[tuple[int, str]] = self._loop.create_future()
        sippy_thread.call(self._refer, target, answered)
        return answered

    def _settle(self, future: asyncio.Future[tuple[int, str]], code: int, reason: str) -> None:
        def settle() -> None:
            if not future.done():
                future.set_result((code, reason))

        deliver(self._loop, settle)

    # --- sippy thread below ---

    def _alive(self) -> bool:
        return self._ua is not None and not self._ua.isDead() and self._engine.running

    def _emit(self, event: LegEvent) -> None:
        deliver(self._loop, self.events.put_nowait, event)

    def _refer(self, target: str, answered: asyncio.Future[tuple[int, str]]) -> None:
        if not (self._alive() and self._ua.isConnected()):
            self._settle(answered, 481, "Call/Transaction Does Not Exist")
            return
        req = self._ua.genRequest("REFER")
        req.appendHeader(SipHeader(name="refer-to", body=SipReferTo(address=SipAddress(url=SipURL(url=target)))))
        req.appendHeader(SipHeader(name="referred-by",
                                   body=SipReferredBy(address=SipAddress(url=self._ua.lUri.getUrl()))))

        def on_response(resp: Any) -> None:
            code, reason = resp.getSCode()
            if code >= 200:  # provisional answers are not the outcome
                self._settle(answered, code, reason)

        self._ua.newTransaction(req, resp_cb=on_response)

    def _hangup(self) -> None:
        if self._alive() and self._ua.isConnected():
            self._ua.recvEvent(CCEventDisconnect())
            self._emit(Disconnected("local"))

    def _on_ua_event(self, event: Any, _ua: UA) -> None:
        if isinstance(event, CCEventUpdate):
            self._answer_reinvite(event.getData())
        elif isinstance(event, CCEventDisconnect):
            self._emit(Disconnected("remote"))
        else:
            self._on_event(event)

    def _on_event(self, event: Any) -> None:
        pass

    def _answer_reinvite(self, body: Any) -> None:
        offer = str(body)
        try:
            if self._local is None:
                raise sdp.SdpError("re-INVITE before we sent any SDP")
            # Same address and port as before, any codec the engine supports.
            ours = sdp.offer(self._local.address, self._local.audio.port, self._engine.codecs,
                             self._local.audio.ptime)
            reply = sdp.answer(sdp.parse(offer), ours, self._local)
        except sdp.SdpError:
            self._ua.recvEvent(CCEventFail((488, REASONS[488])))
            return
        self._local = reply
        self._ua.recvEvent(CCEventConnect((200, "OK", MsgBody(str(reply)))))
        self._emit(Updated(offer, str(reply)))


class OutboundLeg(CallLeg):
    """A call we place (UAC). Create with `await SipEngine.dial(...)`."""

    def __init__(self, engine: SipEngine, loop: asyncio.AbstractEventLoop, offer: sdp.Session) -> None:
        super().__init__(engine, loop)
        self._local = offer

    def cancel(self) -> None:
        """CANCEL if not answered yet (→ Canceled(487)); no-op once answered (use hangup)."""
        sippy_thread.call(self._cancel)

    def hangup(self) -> None:
        """BYE when answered, CANCEL before."""
        sippy_thread.call(self._hangup_or_cancel)

    # --- sippy thread below ---

    def _start(self, trunk: Trunk, to: str, caller_id: str, display_name: str | None,
               offer: str) -> None:
        ua = _UA(self._engine.global_config, self._on_ua_event, trunk.username, trunk.password,
                 nh_address=(trunk.host, trunk.port))
        ua.local_ua = self._engine.user_agent
        ua.on_cancel_done = self._on_cancel_done
        uri = SipURL(url=to) if to.startswith(("sip:", "sips:")) else None
        self._ua = ua
        ua.recvEvent(_Invite(uri, (None, caller_id, uri.username if uri else to, MsgBody(offer),
                                   None, display_name)))
        self.call_id = str(ua.cId)

    def _cancel(self) -> None:
        if self._alive() and isinstance(self._ua.state, UacStateTrying):  # or UacStateRinging
            self._ua.pass_auth = True  # a 401/407 arriving now must not start a new INVITE
            self._ua.recvEvent(CCEventDisconnect())

    def _hangup_or_cancel(self) -> None:
        self._cancel()
        self._hangup()

    def _on_cancel_done(self, code: int, reason: str) -> None:
        self._emit(Canceled(code, reason))

    def _on_event(self, event: Any) -> None:
        if isinstance(event, CCEventRing):
            code, reason, body = event.getData()
            if code != 100:
                self._emit(Ringing(code, reason, str(body) if body is not None else None))
        elif isinstance(event, CCEventConnect):
            body = event.getData()[2]
            self._emit(Answered(str(body) if body is not None else None))
        elif isinstance(event, (CCEventFail, CCEventRedirect)):
            code, reason = event.getData()[:2]
            self._emit(Failed(code, reason))


class InboundLeg(CallLeg):
    """A call we receive (UAS). Handed to the engine's `on_invite` coroutine, which must call
    reject(), or ring() and/or answer(); 100 Trying is already sent. hangup() before answer
    rejects with 480."""

    def __init__(self, engine: SipEngine, loop: asyncio.AbstractEventLoop, req: Any) -> None:
        super().__init__(engine, loop)
        frm, ruri, body = req.getHFBody("from"), req.getRURI(), req.getBody()
        self.call_id = str(req.getHFBody("call-id"))
        self.from_user: str = frm.getUrl().username or ""
        self.display_name: str | None = frm.getUri().name
        self.from_uri = str(frm.getUrl())
        self.to_uri = str(req.getHFBody("to").getUrl())
        self.request_uri = str(ruri)
        self.to_user: str = ruri.username or ""
        self.offer: str | None = str(body) if body is not None else None
        self.source: tuple[str, int] = tuple(req.getSource())  # type: ignore[assignment]
        self._authorization = req.getHFBody("authorization") if req.countHFs("authorization") else None
        self._ua = _UA(engine.global_config, self._on_ua_event)
        self._ua.local_ua = engine.user_agent

    def reject(self, code: int = 486, reason: str | None = None) -> None:
        sippy_thread.call(self._final, CCEventFail((code, reason or REASONS.get(code, "Rejected"))))

    def authorized(self, username: str, password: str) -> bool | None:
        """Whether the INVITE's digest credentials are `username`/`password` (answering a
        challenge of ours: sippy's stateless nonces expire); None when it carried none."""
        auth = self._authorization
        if auth is None:
            return None
        valid = bool(auth.verify(password, "INVITE"))  # parses the header too
        return valid and auth.username == username

    def challenge(self, realm: str) -> None:
        """401 Unauthorized with a digest challenge; the caller retries with credentials."""
        sippy_thread.call(self._challenge, realm)

    def ring(self, early_sdp: SdpLike | None = None) -> None:
        """180 Ringing, or 183 Session Progress with an SDP answer for early media."""
        if early_sdp is None:
            sippy_thread.call(self._progress, 180, "Ringing", None)
        else:
            sippy_thread.call(self._progress, 183, "Session Progress", sdp_pair(early_sdp))

    def answer(self, answer_sdp: SdpLike) -> None:
        """200 OK with our SDP answer (use sdp.answer(sdp.parse(leg.offer), ...) to build it)."""
        text, session = sdp_pair(answer_sdp)
        sippy_thread.call(self._final, CCEventConnect((200, "OK", MsgBody(text))), session)

    # --- sippy thread below ---

    def _ringing(self) -> bool:
        return self._alive() and isinstance(self._ua.state, (UasStateTrying, UasStateRinging))

    def _challenge(self, realm: str) -> None:
        event = CCEventFail((401, "Unauthorized"))
        event.challenges = [SipHeader(body=SipWWWAuthenticate(realm=realm, algorithm="MD5"))]
        self._final(event)

    def _progress(self, code: int, reason: str, early: tuple[str, sdp.Session] | None) -> None:
        if self._ringing():
            if early is not None:
                self._local = early[1]
            self._ua.recvEvent(CCEventRing((code, reason, MsgBody(early[0]) if early else None)))

    def _final(self, event: Any, session: sdp.Session | None = None) -> None:
        if not self._ringing():
            return  # the caller hung up meanwhile: Disconnected is already on its way
        if session is not None:
            self._local = session
        self._ua.recvEvent(event)
        if isinstance(event, CCEventConnect):
            self._emit(Answered(self.offer))

    def _hangup(self) -> None:
        if self._ringing():
            self._final(CCEventFail((480, REASONS[480])))
        else:
            super()._hangup()
