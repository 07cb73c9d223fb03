"""SandboxCarrier: a SIP endpoint (plus a small REST API) standing in for the phone network."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import socket
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn

from wirexa.media import MediaClock, PortAllocator, RtpEndpoint, codec_by_name
from wirexa.media.codecs import DEFAULT_TELEPHONE_EVENT_PT
from wirexa.sip import (Answered, Canceled, Disconnected, Failed, InboundLeg, Ringing, SipEngine,
                        Trunk, Updated, sdp)
from wirexa.sip.leg import CallLeg

from wirexa.audio import pcm

from . import audio
from .phone import Phone, VirtualCall, prepare_script
from .rules import Action, Rule, RuleBook, load_rules_file, parse_script, ready_rules

log = logging.getLogger(__name__)

DEFAULT_SIP_PORT = 5080
DEFAULT_HTTP_PORT = 8090
DEFAULT_RTP_PORTS = (30000, 39998)  # own range (5,000 calls) when no PortAllocator is shared
USER_AGENT = "Wirexa-Sandbox"

_FAILED_STATE = {"busy": "busy", "reject": "rejected", "fail": "failed"}


def _state_for_code(code: int) -> str:
    """Outcome of a call the sandbox placed, from the far end's final response."""
    if code in (486, 600):
        return "busy"
    if code in (408, 480, 487):
        return "no-answer"
    if code == 603:
        return "rejected"
    return "failed"


def parse_target(target: str) -> tuple[str, int]:
    """"host:port" or "host" (port 5060); "[v6]:port" for IPv6."""
    target = target.strip()
    if target.startswith("sip:"):
        target = target[4:].split(";")[0].split("@")[-1]
    if target.startswith("["):
        host, _, rest = target[1:].partition("]")
        port = rest.lstrip(":") or "5060"
    else:
        host, _, port = target.partition(":")
        port = port or "5060"
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"bad target {target!r}: expected host:port")
    return host, int(port)


@dataclass
class _Live:
    """A virtual call while its dialog lives."""

    call: VirtualCall
    leg: CallLeg
    endpoint: RtpEndpoint | None = None
    answered: asyncio.Event = field(default_factory=asyncio.Event)
    over: asyncio.Event = field(default_factory=asyncio.Event)  # dialog ended, any way
    answer_sdp: str | None = None
    final: tuple[int, str] | None = None  # Failed/Canceled code and reason
    canceled_by_us: bool = False
    hangup_requested: bool = False


class SandboxCarrier:
    """The virtual phone network. Point a SIP trunk at (sip_host, sip_port); every INVITE is
    answered by a virtual phone following the rule matched on the dialed number. REST API on
    (http_host, http_port). Port 0 = any free port; the bound ones are `sip_port`/`http_port`
    after `start()`. `clock`/`ports` are shared with the rest of the process when given."""

    def __init__(self, sip_host: str = "127.0.0.1", sip_port: int = DEFAULT_SIP_PORT,
                 http_host: str = "127.0.0.1", http_port: int = DEFAULT_HTTP_PORT,
                 data_dir: str | Path = "sandbox-data", rules_file: str | Path | None = None,
                 clock: MediaClock | None = None, ports: PortAllocator | None = None, *,
                 media_host: str | None = None, max_call_seconds: float = 3600,
                 max_ring_seconds: float = 300, keep_calls: int = 1000) -> None:
        self.sip_host, self._sip_port = sip_host, sip_port
        self.http_host, self._http_port = http_host, http_port
        self.data_dir = Path(data_dir)
        self.rules_file = Path(rules_file) if rules_file else None
        self.media_host = media_host or (sip_host if sip_host not in ("0.0.0.0", "::", "") else "127.0.0.1")
        self.max_call_seconds = max_call_seconds
        self.max_ring_seconds = max_ring_seconds
        self.keep_calls = keep_calls
        self.rules = RuleBook()
        self._own_clock = clock is None
        self.clock = clock or MediaClock()
        self.ports = ports or PortAllocator(*DEFAULT_RTP_PORTS)
        self.sip: SipEngine | None = None
        self._calls: OrderedDict[str, VirtualCall] = OrderedDict()
        self._live: dict[str, _Live] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._http: uvicorn.Server | None = None
        self._http_sock: socket.socket | None = None
        self._http_task: asyncio.Task[None] | None = None

    # --- lifecycle ---------------------------------------------------------------------

    @property
    def sip_port(self) -> int:
        return self.sip.port if self.sip is not None else self._sip_port

    @property
    def http_port(self) -> int:
        return self._http_sock.getsockname()[1] if self._http_sock is not None else self._http_port

    @property
    def sip_address(self) -> tuple[str, int]:
        """Where to point a trunk: Trunk(*carrier.sip_address)."""
        return (self.sip.host if self.sip else self.sip_host, self.sip_port)

    @property
    def http_url(self) -> str:
        host = f"[{self.http_host}]" if ":" in self.http_host else self.http_host
        return f"http://{host}:{self.http_port}"

    async def start(self) -> None:
        rules = ready_rules()
        if self.rules_file is not None:  # file rules go first; one with a built-in's id replaces it
            own = load_rules_file(self.rules_file)
            ids = {r.id for r in own}
            rules = own + [r for r in rules if r.id not in ids]
        self.rules = RuleBook(rules)
        (self.data_dir / "calls").mkdir(parents=True, exist_ok=True)
        if not audio.tts_available():
            log.warning("espeak-ng not found: rules that `say` text will fail their calls")
        self.clock.start()
        self.sip = SipEngine(self.sip_host, self._sip_port, on_invite=self._on_invite,
                             user_agent=USER_AGENT, codecs=(sdp.PCMU, sdp.PCMA, sdp.DTMF))
        await self.sip.start()
        try:
            await self._start_http()
        except BaseException:
            await self.sip.stop()
            raise
        log.info("sandbox carrier: SIP udp %s:%d, REST %s", self.sip.host, self.sip.port, self.http_url)

    async def stop(self) -> None:
        """Hang up live calls (BYE / CANCEL / 480), then close SIP, HTTP and our clock."""
        for live in list(self._live.values()):
            live.hangup_requested = True
            live.leg.hangup()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=2)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=2)
        if self.sip is not None:
            # give the BYEs' transactions a moment before the socket closes
            await asyncio.sleep(0.05)
            await self.sip.stop()
        await self._stop_http()
        if self._own_clock:
            self.clock.stop()

    async def __aenter__(self) -> SandboxCarrier:
        await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    async def _start_http(self) -> None:
        from .http import create_app

        family = socket.AF_INET6 if ":" in self.http_host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.http_host, self._http_port))
        except OSError:
            sock.close()
            raise
        sock.setblocking(False)
        config = uvicorn.Config(create_app(self), loop="none", lifespan="off", access_log=False,
                                log_level="warning", proxy_headers=False, timeout_graceful_shutdown=2)
        config.load()
        self._http = uvicorn.Server(config)
        self._http.lifespan = config.lifespan_class(config)  # as Server._serve() does
        self._http_sock = sock
        # startup()/main_loop()/shutdown() rather than serve(): serve() takes over SIGINT/SIGTERM,
        # which belong to whoever embeds the sandbox.
        await self._http.startup(sockets=[sock])
        self._http_task = asyncio.create_task(self._http.main_loop())

    async def _stop_http(self) -> None:
        if self._http is None:
            return
        self._http.should_exit = True
        if self._http_task is not None:
            await self._http_task
        await self._http.shutdown(sockets=[self._http_sock] if self._http_sock else None)
        self._http = self._http_task = None
        # keep _http_sock (closed) so http_port still reports the port that was bound

    # --- calls: queries ----------------------------------------------------------------

    def calls(self, number: str | None = None, call_id: str | None = None,
              from_: str | None = None, state: str | None = None) -> list[VirtualCall]:
        """Virtual calls, newest first. `number` matches the dialed number (To) of calls to the
        sandbox and either end of calls it placed; a leading "+" is ignored."""
        def same(a: str, b: str) -> bool:
            return a.lstrip("+") == b.lstrip("+")

        out = []
        for call in reversed(self._calls.values()):
            if number and not (same(call.to, number) or (call.direction == "outbound" and same(call.from_, number))):
                continue
            if call_id and call.call_id != call_id:
                continue
            if from_ and not same(call.from_, from_):
                continue
            if state and call.state != state:
                continue
            out.append(call)
        return out

    def get_call(self, key: str) -> VirtualCall | None:
        """By sandbox id or by SIP Call-ID."""
        call = self._calls.get(key)
        if call is None:
            call = next((c for c in reversed(self._calls.values()) if c.call_id == key), None)
        return call

    def hangup_call(self, key: str) -> bool:
        call = self.get_call(key)
        live = self._live.get(call.id) if call else None
        if live is None:
            return False
        live.hangup_requested = True
        live.leg.hangup()
        return True

    async def wait_call(self, key: str, timeout: float = 30) -> VirtualCall:
        """Wait for a virtual call to end (test helper). KeyError if unknown."""
        call = self.get_call(key)
        if call is None:
            raise KeyError(key)
        await asyncio.wait_for(call.done.wait(), timeout)
        return call

    def _remember(self, call: VirtualCall) -> None:
        self._calls[call.id] = call
        while len(self._calls) > self.keep_calls:
            old_id, old = next(iter(self._calls.items()))
            if old_id in self._live:
                break
            del self._calls[old_id]

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # --- calls to the sandbox (it is the callee) ---------------------------------------

    async def _on_invite(self, leg: InboundLeg) -> None:
        number = leg.to_user or leg.to_uri
        call = VirtualCall("inbound", from_=leg.from_user, to=number, call_id=leg.call_id,
                           remote=f"{leg.source[0]}:{leg.source[1]}")
        rule = self.rules.match(number)
        call.rule_id = rule.id if rule else None
        call.event("invite", rule=call.rule_id)
        self._remember(call)
        live = _Live(call, leg)
        self._live[call.id] = live
        pump = asyncio.ensure_future(self._pump(live))
        me = asyncio.current_task()
        if me is not None:  # the engine tracks this task too; stop() must be able to wait for it
            self._tasks.add(me)
        try:
            await self._inbound(live, rule)
        except asyncio.CancelledError:
            call.finish("failed", 500, "Sandbox stopped")
            raise
        except Exception as exc:  # a broken rule must not leave the caller hanging
            log.exception("sandbox call %s failed", call.id)
            call.error = f"{type(exc).__name__}: {exc}"
            leg.hangup() if call.answered else leg.reject(500)
            call.finish("failed", 500 if not call.answered else None, "Server Internal Error")
        finally:
            await self._close(live, pump)
            if me is not None:
                self._tasks.discard(me)

    async def _inbound(self, live: _Live, rule: Rule | None) -> None:
        leg, call = live.leg, live.call
        assert isinstance(leg, InboundLeg)
        if rule is None:
            leg.reject(404)
            call.event("rejected", code=404)
            call.finish("failed", 404, "Not Found")
            return
        prep = asyncio.ensure_future(prepare_script(rule.script, rule.base_dir)) if rule.outcome == "answer" else None
        try:
            ring = self.max_ring_seconds if rule.outcome == "no-answer" else rule.ring
            if ring > 0:
                leg.ring()
                call.state = "ringing"
                call.event("ringing", code=180)
                if await _wait_event(live.over, ring):  # CANCEL from the caller
                    call.event("canceled", by="remote")
                    call.finish("canceled", 487, "Request Terminated", ended_by="remote")
                    return
            if rule.outcome == "no-answer":
                leg.reject(480)
                call.event("rejected", code=480)
                call.finish("no-answer", 480, "Temporarily Unavailable")
                return
            if rule.final_code is not None:
                code = rule.final_code
                leg.reject(code, rule.reason)
                call.event("rejected", code=code)
                call.finish(_FAILED_STATE[rule.outcome], code, rule.reason)
                return
            assert prep is not None
            try:
                prepared = await prep
            except (pcm.AudioError, OSError) as exc:
                call.error = str(exc)
                leg.reject(500, "Sandbox Audio Error")
                call.event("rejected", code=500)
                call.finish("failed", 500, "Sandbox Audio Error")
                return
        finally:
            if prep is not None and not prep.done():
                prep.cancel()
        if live.over.is_set():
            call.finish("canceled", 487, "Request Terminated", ended_by="remote")
            return
        try:
            offer = sdp.parse(leg.offer or "")
            # The endpoint's codec is fixed when it opens, so the answer is computed first with a
            # placeholder port (answer() treats port 0 as a refused stream), then given the real one.
            answer = sdp.answer(offer, sdp.offer(self.media_host, 9, (sdp.PCMU, sdp.PCMA, sdp.DTMF)))
        except sdp.SdpError as exc:
            call.error = f"SDP: {exc}"
            leg.reject(488)
            call.event("rejected", code=488)
            call.finish("failed", 488, "Not Acceptable Here")
            return
        media = answer.audio
        codec = codec_by_name(next(c.name for c in media.codecs if c.name.lower() != sdp.TELEPHONE_EVENT))
        te = next((c.pt for c in media.codecs if c.name.lower() == sdp.TELEPHONE_EVENT), None)
        endpoint = await RtpEndpoint.open(self.clock, self.ports, self.media_host, codec=codec,
                                          telephone_event_pt=te)
        live.endpoint = endpoint
        media.port = endpoint.local_address[1]
        remote = next(m for m in offer.media if m.kind == "audio" and m.port)
        endpoint.set_remote(offer.rtp_address(remote))
        call.codec = codec.name
        leg.answer(answer)
        call.mark_answered()
        call.event("answered", code=200)
        await self._connected(live, rule.script, prepared, rule.hangup_after, rule.hangup_when_done,
                              rule.base_dir)

    # --- calls from the sandbox (it is the caller) -------------------------------------

    async def place_call(self, to: str, from_: str, target: str | tuple[str, int],
                         script: list[Action] | list[dict[str, Any]] | None = None, *,
                         ring_timeout: float = 60, hangup_after: float | None = None,
                         hangup_when_done: bool = False, codec: str = "PCMU",
                         base_dir: Path | None = None) -> VirtualCall:
        """Dial `to` at `target` ("host:port" of Wirexa's SIP) as `from_`; after answer run
        `script` and record. Returns at once (the INVITE is sent); the call runs on its own.
        ValueError/RuleError for bad arguments."""
        if self.sip is None:
            raise RuntimeError("sandbox not started")
        actions = [a if isinstance(a, Action) else None for a in script or []]
        if None in actions:
            actions = parse_script(script)
        host, port = target if isinstance(target, tuple) else parse_target(target)
        try:
            media_codec = codec_by_name(codec)
        except KeyError as exc:
            raise ValueError(f"codec must be PCMU or PCMA, got {codec!r}") from exc
        if ring_timeout <= 0:
            raise ValueError("ring_timeout must be > 0")
        endpoint = await RtpEndpoint.open(self.clock, self.ports, self.media_host, codec=media_codec,
                                          telephone_event_pt=DEFAULT_TELEPHONE_EVENT_PT)
        # Only the endpoint's codec is offered: an RtpEndpoint's codec is fixed when it opens.
        offer = sdp.offer(self.media_host, endpoint.local_address[1],
                          (sdp.Codec(media_codec.payload_type, media_codec.name), sdp.DTMF))
        try:
            leg = await self.sip.dial(Trunk(host, port), to, from_, offer)
        except BaseException:
            endpoint.close()
            raise
        call = VirtualCall("outbound", from_=from_, to=to, call_id=leg.call_id,
                           remote=f"{host}:{port}", codec=media_codec.name)
        call.event("invite", target=f"{host}:{port}")
        self._remember(call)
        live = _Live(call, leg, endpoint)
        self._live[call.id] = live
        self._spawn(self._outbound(live, actions, ring_timeout, hangup_after, hangup_when_done, base_dir))
        return call

    async def _outbound(self, live: _Live, script: list[Action], ring_timeout: float,
                        hangup_after: float | None, hangup_when_done: bool, base_dir: Path | None) -> None:
        call, leg = live.call, live.leg
        pump = asyncio.ensure_future(self._pump(live))
        prep = asyncio.ensure_future(prepare_script(script, base_dir))
        try:
            answered = asyncio.ensure_future(live.answered.wait())
            over = asyncio.ensure_future(live.over.wait())
            try:
                await asyncio.wait({answered, over}, timeout=ring_timeout,
                                   return_when=asyncio.FIRST_COMPLETED)
            finally:
                answered.cancel()
                over.cancel()
            if not live.answered.is_set() and not live.over.is_set():
                call.event("ring-timeout", after=ring_timeout)
                live.canceled_by_us = True
                leg.hangup()  # CANCEL
                await _wait_event(live.over, 40)
            if not live.answered.is_set():
                code, reason = live.final or (408, "Request Timeout")
                if live.hangup_requested and code == 487:
                    state = "canceled"
                else:
                    state = _state_for_code(code)
                call.finish(state, code, reason)
                return
            endpoint = live.endpoint
            assert endpoint is not None
            try:
                answer = sdp.parse(live.answer_sdp or "")
                media = answer.audio
                endpoint.set_remote(answer.rtp_address(media))
                endpoint.telephone_event_pt = next(
                    (c.pt for c in media.codecs if c.name.lower() == sdp.TELEPHONE_EVENT), None)
            except sdp.SdpError as exc:
                call.error = f"SDP answer: {exc}"
            call.mark_answered()
            try:
                prepared = await prep
            except (pcm.AudioError, OSError) as exc:
                call.error = str(exc)
                leg.hangup()
                await _wait_event(live.over, 5)
                call.finish("failed", ended_by="local")
                return
            await self._connected(live, script, prepared, hangup_after, hangup_when_done, base_dir)
        except Exception as exc:
            log.exception("sandbox call %s failed", call.id)
            call.error = f"{type(exc).__name__}: {exc}"
            leg.hangup()
            call.finish("failed")
        finally:
            if not prep.done():
                prep.cancel()
            await self._close(live, pump)

    # --- common ------------------------------------------------------------------------

    async def _pump(self, live: _Live) -> None:
        """Turn the leg's SIP events into the call's timeline and state flags."""
        call = live.call
        while True:
            event = await live.leg.events.get()
            if isinstance(event, Ringing):
                call.event("ringing", code=event.code)
                if call.state == "initiated":
                    call.state = "ringing"
            elif isinstance(event, Answered):
                if call.direction == "outbound":
                    live.answer_sdp = event.sdp
                    call.event("answered", code=200)
                live.answered.set()
            elif isinstance(event, Failed):
                live.final = (event.code, event.reason)
                call.event("failed", code=event.code, reason=event.reason)
                live.over.set()
                return
            elif isinstance(event, Canceled):
                live.final = (event.code, event.reason)
                call.event("canceled", code=event.code, by="local")
                live.over.set()
                return
            elif isinstance(event, Disconnected):
                call.ended_by = event.by
                if call.answered is not None or call.direction == "outbound":
                    call.event("bye", by=event.by)
                live.over.set()
                return
            elif isinstance(event, Updated):
                call.event("reinvite")
                with contextlib.suppress(sdp.SdpError):
                    remote = sdp.parse(event.remote_sdp)
                    address = remote.rtp_address()
                    if live.endpoint is not None and address[1] and address != live.endpoint.remote:
                        live.endpoint.set_remote(address)

    async def _connected(self, live: _Live, script: list[Action], prepared: dict[int, bytes],
                         hangup_after: float | None, hangup_when_done: bool,
                         base_dir: Path | None) -> None:
        call, endpoint = live.call, live.endpoint
        assert endpoint is not None
        phone = Phone(call, endpoint, lambda: self._phone_hangup(live), live.over, base_dir)
        limit = min(hangup_after, self.max_call_seconds) if hangup_after is not None else self.max_call_seconds
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        script_task = asyncio.ensure_future(phone.run(script, prepared))
        over = asyncio.ensure_future(live.over.wait())
        try:
            await asyncio.wait({script_task, over}, timeout=limit, return_when=asyncio.FIRST_COMPLETED)
            if script_task.done() and not script_task.cancelled() and script_task.exception():
                exc = script_task.exception()
                call.error = f"script: {type(exc).__name__}: {exc}"
                log.warning("sandbox call %s: script failed: %s", call.id, exc)
            if script_task.done() and not live.over.is_set():
                call.event("script-done")
                if hangup_when_done:
                    self._phone_hangup(live)
                else:
                    await asyncio.wait({over}, timeout=max(0.0, deadline - loop.time()))
            if not live.over.is_set():
                if not hangup_when_done:
                    call.event("hangup-timer", after=limit)
                self._phone_hangup(live)
                await asyncio.wait({over}, timeout=5)
        finally:
            script_task.cancel()
            over.cancel()
            phone.detach()
        call.finish("completed", 200, "OK")

    def _phone_hangup(self, live: _Live) -> None:
        if not live.over.is_set():
            live.leg.hangup()

    async def _close(self, live: _Live, pump: asyncio.Future[Any]) -> None:
        call = live.call
        pump.cancel()
        if live.endpoint is not None:
            live.endpoint.close()
        self._live.pop(call.id, None)
        if call.ended is None:
            call.finish("failed")
        try:
            folder = self.data_dir / "calls"
            if call.answered is not None:
                call.wav_path = folder / f"{call.id}.wav"
                await asyncio.to_thread(pcm.write_wav, call.wav_path, call.heard_pcm)
            text = json.dumps(call.to_dict(), indent=1)
            await asyncio.to_thread((folder / f"{call.id}.json").write_text, text)
        except OSError as exc:
            log.warning("sandbox call %s: could not write its record: %s", call.id, exc)
        finally:
            call.done.set()


async def _wait_event(event: asyncio.Event, timeout: float) -> bool:
    """True if `event` got set within `timeout` seconds."""
    try:
        await asyncio.wait_for(event.wait(), timeout)
        return True
    except asyncio.TimeoutError:
        return False


async def serve_sandbox(sip_host: str = "127.0.0.1", sip_port: int = DEFAULT_SIP_PORT,
                        http_host: str = "127.0.0.1", http_port: int = DEFAULT_HTTP_PORT,
                        data_dir: str | Path = "sandbox-data", rules_file: str | Path | None = None,
                        *, ready: asyncio.Event | None = None, stop: asyncio.Event | None = None,
                        media_host: str | None = None) -> None:
    """Run a standalone sandbox until SIGINT/SIGTERM (or `stop` is set). `ready` is set once
    SIP and HTTP listen. Prints where it listens."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
            pass
    carrier = SandboxCarrier(sip_host, sip_port, http_host, http_port, data_dir, rules_file,
                             media_host=media_host)
    try:
        await carrier.start()
        print(f"Wirexa sandbox carrier: SIP udp {carrier.sip_address[0]}:{carrier.sip_port}  "
              f"REST {carrier.http_url}  (data: {Path(data_dir).resolve()})", flush=True)
        if ready is not None:
            ready.set()
        await stop.wait()
    finally:
        await carrier.stop()
        for sig in installed:
            loop.remove_signal_handler(sig)
