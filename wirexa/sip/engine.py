"""SipEngine: one UDP SIP endpoint (sippy transaction manager) plus outbound and inbound legs."""

from __future__ import annotations

import asyncio
import logging
import socket
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Sequence

from . import sdp
from .bridge import deliver, sippy_thread
from .leg import REASONS, InboundLeg, OutboundLeg, SdpLike, sdp_pair
from .transport import TransactionManager, WireLog

log = logging.getLogger(__name__)

InviteHandler = Callable[[InboundLeg], Awaitable[None]]


@dataclass(frozen=True)
class Trunk:
    """Where outbound INVITEs go, and the digest credentials for its 401/407 challenges."""

    host: str
    port: int = 5060
    username: str | None = None
    password: str | None = None


class SipEngine:
    """Bind with `await start()`; `dial()` places calls; INVITEs go to `on_invite`.

    Several engines may share the process (each has its own socket and transaction manager);
    they all run on the one sippy thread.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 5060,
                 on_invite: InviteHandler | None = None, user_agent: str = "Wirexa",
                 codecs: Sequence[sdp.Codec] = (sdp.PCMU, sdp.PCMA, sdp.DTMF)) -> None:
        self.host, self.port = host, port  # port 0: any free port, known after start()
        self.user_agent = user_agent
        self.codecs = tuple(codecs)  # what the media plane handles: used to answer re-INVITEs
        self.global_config: dict[str, Any] = {}
        self._on_invite = on_invite
        self._tm: TransactionManager | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    @property
    def running(self) -> bool:
        return self._tm is not None

    async def start(self) -> None:
        """Bind the SIP socket; OSError if the port is taken."""
        if self.port:
            _check_port_free(self.host, self.port)
        self._loop = asyncio.get_running_loop()
        sippy_thread.start()
        await sippy_thread.run(self._start)

    async def stop(self) -> None:
        """Close the socket. Live dialogs are dropped without BYE: hang them up first."""
        if self._tm is not None:
            await sippy_thread.run(self._stop)
        for task in list(self._handlers):
            task.cancel()

    async def dial(self, trunk: Trunk, to: str, caller_id: str, offer: SdpLike,
                   display_name: str | None = None) -> OutboundLeg:
        """Send an INVITE via `trunk`. `to` is a number/user (Request-URI user@trunk) or a sip:
        URI; `caller_id` is the From user. Returns once the INVITE is sent; watch leg.events."""
        if self._tm is None:
            raise RuntimeError("engine not started")
        text, session = sdp_pair(offer)
        leg = OutboundLeg(self, asyncio.get_running_loop(), session)
        await sippy_thread.run(leg._start, trunk, to, caller_id, display_name, text)
        return leg

    # --- sippy thread below ---

    def _start(self) -> None:
        self.global_config.update(_sip_address=self.host, _sip_port=self.port, _sip_logger=WireLog())
        self._tm = TransactionManager(self.global_config, self._on_request)
        self.global_config["_sip_tm"] = self._tm
        self.host, self.port = self._tm.local_address

    def _stop(self) -> None:
        tm, self._tm = self._tm, None
        if tm is not None:
            tm.shutdown()

    def _on_request(self, req: Any, sip_t: Any) -> Any:
        """Out-of-dialog requests (in-dialog ones go straight to their UA)."""
        if req.getHFBody("to").getTag() is not None:
            return req.genResponse(481, "Call Leg/Transaction Does Not Exist"), None, None
        method = req.getMethod()
        if method == "OPTIONS":  # trunks ping with it
            return req.genResponse(200, "OK"), None, None
        if method != "INVITE":
            return req.genResponse(501, "Not Implemented"), None, None
        if self._on_invite is None or self._loop is None:
            return req.genResponse(480, REASONS[480]), None, None
        leg = InboundLeg(self, self._loop, req)
        result = leg._ua.recvRequest(req, sip_t)
        deliver(self._loop, self._spawn, leg)
        return result

    # --- asyncio loop below ---

    def _spawn(self, leg: InboundLeg) -> None:
        assert self._on_invite is not None
        task = asyncio.ensure_future(self._handle(self._on_invite, leg))
        self._handlers.add(task)
        task.add_done_callback(self._handlers.discard)

    @staticmethod
    async def _handle(handler: InviteHandler, leg: InboundLeg) -> None:
        try:
            await handler(leg)
        except Exception:
            log.exception("on_invite handler failed for %s", leg.call_id)
            leg.reject(500)


def _check_port_free(host: str, port: int) -> None:
    """sippy binds with SO_REUSEPORT, so a second engine on a taken port would start and share
    its traffic. A plain bind (no reuse flags) fails if any socket holds the port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise OSError(f"SIP port {host}:{port} is in use: {exc.strerror}") from None
