"""Assembles one engine process: store, services, API, outbound queue and the call engine
(SIP, the media clock, live calls); runs and stops them.

The media clock shares the event loop with the HTTP API for now; the API does no blocking work
(store reads are short, call-state writes go through the runner's thread).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import sys
from collections.abc import Awaitable
from functools import partial

import httpx
import uvicorn

from wirexa.api.app import create_app
from wirexa.api.auth import Authenticator
from wirexa.api.context import ApiContext
from wirexa.api.ratelimit import TokenBuckets
from wirexa.audio.fetch import AudioFetcher
from wirexa.calls import status as st
from wirexa.calls.live import LiveCalls
from wirexa.calls.queue import OutboundQueue
from wirexa.calling.control import Services as CallingServices
from wirexa.calling.flow import CallingFlow
from wirexa.calling.service import CallingService
from wirexa.calls.runner import CallFlow, CallRunner
from wirexa.calls.service import CallService
from wirexa.config import Settings
from wirexa.laml.documents import DocumentFetcher
from wirexa.laml.interpreter import LamlFlow
from wirexa.laml.services import LamlServices
from wirexa.media.clock import MediaClock
from wirexa.media.ports import PortAllocator
from wirexa.sandbox import SandboxCarrier
from wirexa.sip.engine import SipEngine, Trunk
from wirexa.sip.leg import InboundLeg
from wirexa.store.batch import Batcher
from wirexa.store.calls import CallRow, CallStore
from wirexa.store.checkpoint import WalCheckpointer
from wirexa.store.db import make_engine, migrate
from wirexa.store.numbers import NumberStore
from wirexa.store.projects import Project, ProjectStore
from wirexa.tts.chain import TtsChain
from wirexa.recordings.service import RecordingService
from wirexa.recordings.storage import LocalStorage
from wirexa.store.recordings import RecordingStore
from wirexa.webhooks.delivery import WebhookDelivery
from wirexa.webhooks.outbox import WebhookStore, subscribe
from wirexa.webhooks.sender_process import SenderProcess

log = logging.getLogger(__name__)


def tune_interpreter() -> None:
    """Once everything is set up:
    - fewer, cheaper garbage collections: start-up objects are frozen out of them, and young
      objects are collected in larger batches. Measured with bench/call_setup_rate.py at 100
      calls/s: the media clock's worst lateness fell from 358 ms (126 skipped ticks) to 80 ms.
    - the GIL handed between threads every 1 ms instead of 5: a store commit or a SIP message
      waiting behind the event loop (or the other way round) waits less. Measured with
      bench/webhook_throughput.py at 1,000/s: delay p50 12-22 ms -> 8-10 ms, p99 35-62 -> 29-41."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    sys.setswitchinterval(0.001)


class Engine:
    def __init__(self, settings: Settings, live: LiveCalls | None = None, flow: CallFlow | None = None) -> None:
        """`flow` runs on every call (default: the LaML interpreter)."""
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        settings.resolve_node_id()
        sqlite = settings.sqlalchemy_url.startswith("sqlite")
        self.db = make_engine(settings.sqlalchemy_url, settings.sqlite_synchronous, background_checkpoints=sqlite)
        # Started by serve(); SQLite only (PostgreSQL checkpoints on its own).
        self.checkpoints = WalCheckpointer(self.db) if sqlite else None
        migrate(self.db)
        self.projects = ProjectStore(self.db)
        self.calls = CallStore(self.db)
        self.numbers = NumberStore(self.db)
        # `live` stands in for the call engine in API tests; otherwise serve() builds the real one.
        self.live = live
        self.flow = flow
        self.runner: CallRunner | None = None
        self.sip: SipEngine | None = None
        self.sandbox: SandboxCarrier | None = None
        # All store writes of the call engine, the queue and call creation go through one
        # batching thread.
        self.store = Batcher(self.db)
        # Requests to users' servers (LaML documents, <Play> audio) and to TTS providers;
        # Twilio's limits: 5 s to connect, 15 s to read. Webhooks have their own client.
        self.http = httpx.AsyncClient(timeout=httpx.Timeout(15.0, connect=5.0), follow_redirects=True,
                                      limits=httpx.Limits(max_connections=None, max_keepalive_connections=200))
        self.webhooks = WebhookStore(self.db)
        self.webhook_sender = SenderProcess()
        self.delivery = WebhookDelivery(
            self.webhooks, self.store, self.webhook_sender, self._auth_token, node_id=settings.node_id,
            retry_delays=settings.webhook_retry_schedule(), retry_on=settings.webhook_retry_on(),
            concurrency=settings.webhook_concurrency, per_host=settings.webhook_per_host,
            poll_interval=settings.webhook_poll_interval,
        )
        subscribe(self.db, self.delivery)
        self.recordings = RecordingService(settings, RecordingStore(self.db), LocalStorage(settings.recordings_path),
                                           self.store)
        self.queue = OutboundQueue(
            self.calls, self.projects, self._dial, self.store,
            node_id=settings.node_id,
            default_cps=settings.default_cps,
            poll_interval=settings.queue_poll_interval,
        )
        self.call_service = CallService(self.calls, settings, self.queue, self.store, live)
        self.api_context = ApiContext(
            settings=settings,
            projects=self.projects,
            calls=self.calls,
            numbers=self.numbers,
            call_service=self.call_service,
            authenticator=Authenticator(self.projects),
            rate_limits=TokenBuckets(settings.api_rate_limit, settings.api_rate_burst),
            webhooks=self.webhooks,
            resend_webhook=lambda account, sid: self.store.run(partial(self.webhooks.resend, account, sid)),
        )
        self.api_context.recordings = self.recordings
        # The Calling API (wirexa/calling): its TTS and audio are LaML's, set with the call engine.
        self.calling = CallingService(self.calls, self.call_service, self.store,
                                      CallingServices(None, None, self.recordings, settings.node_id))
        self.api_context.calling = self.calling
        self.app = create_app(self.api_context)

    def ensure_default_project(self) -> tuple[Project, bool]:
        """The project from WIREXA_PROJECT_ID/WIREXA_API_TOKEN, or the first one, or a new one.

        Returns (project, created).
        """
        s = self.settings
        if s.project_id:
            existing = self.projects.get(s.project_id)
            if existing is None:
                return self.projects.create("Default project", sid=s.project_id, auth_token=s.api_token or None), True
            if s.api_token and existing.auth_token != s.api_token:
                raise SystemExit(
                    f"WIREXA_API_TOKEN does not match the stored token of project {s.project_id}; "
                    "rotate it with `wirexa projects rotate-token` or unset the variable."
                )
            return existing, False
        found = self.projects.list()
        if found:
            return found[0], False
        return self.projects.create("Default project", auth_token=s.api_token or None), True

    def _dial(self, call: CallRow) -> None:
        assert self.live is not None
        self.live.dial(call)

    def trunk(self) -> Trunk:
        """The configured SIP trunk; without one, the sandbox carrier."""
        s = self.settings
        if s.trunk_host:
            return Trunk(s.trunk_host, s.trunk_port, s.trunk_username or None, s.trunk_password or None)
        assert self.sandbox is not None, "no trunk_host configured and the sandbox is off"
        return Trunk(self.sandbox.sip_address[0], self.sandbox.sip_port)

    async def start_call_engine(self) -> None:
        """SIP endpoint, media clock and the runner of live calls; closes out calls a crash
        left open."""
        s = self.settings
        clock = MediaClock()
        clock.start()
        ports = PortAllocator(s.rtp_port_min, s.rtp_port_max)
        if s.sandbox:
            self.sandbox = SandboxCarrier(
                "127.0.0.1", s.sandbox_sip_port, "127.0.0.1", s.sandbox_http_port,
                s.data_dir / "sandbox", clock=clock, ports=ports,
            )
            await self.sandbox.start()
        self.sip = SipEngine(s.sip_host, s.sip_port, on_invite=self._on_invite)
        self.runner = CallRunner(s, self.calls, self.numbers, self.sip, self.trunk(), clock, ports, self.store)
        self.runner.flow = self.flow or CallingFlow(self._laml_flow(self.runner), self._load_call)
        self.runner.on_answer = self.recordings.on_answer
        await self.sip.start()
        closed = await self.runner.recover()
        if closed:
            log.warning("closed out %d call(s) left unfinished by a previous run of node %s", closed, s.node_id)
        repaired = await self.recordings.recover()
        if repaired:
            log.warning("finishing %d recording(s) left unfinished by a previous run of node %s", repaired, s.node_id)
        self.live = self.call_service.live = self.runner
        self.calling.live_calls = self.runner.live
        self.api_context.sip_status = self._sip_status

    def _load_call(self, sid: str) -> Awaitable[CallRow | None]:
        return self.store.run(partial(self.calls.get_by_sid, sid))

    def _laml_flow(self, runner: CallRunner) -> LamlFlow:
        data = self.settings.data_dir
        tts = self.calling.services.tts = TtsChain.from_settings(self.settings, self.http)
        audio = self.calling.services.audio = AudioFetcher(data / "audio-cache", self.http)
        return LamlFlow(LamlServices(
            documents=DocumentFetcher(self.http),
            tts=tts,
            audio=audio,
            dialer=runner,
            report_error=self._report_call_error,
            auth_token=self._auth_token,
            load_call=lambda sid: self.store.run(partial(self.calls.get_by_sid, sid)),
            recordings=self.recordings,
        ))

    def _report_call_error(self, sid: str, code: int, message: str) -> None:
        self.store.submit(partial(self.calls.advance, sid, st.NOT_FINAL,
                                  {"error_code": code, "error_message": message}))

    async def _auth_token(self, account_sid: str) -> str:
        """The token requests to users' servers are signed with (cached like API auth)."""
        project = self.api_context.authenticator.lookup(account_sid)
        return project.auth_token if project is not None else ""

    def _sip_status(self) -> str:
        if self.sip is None or not self.sip.running:
            return "stopped"
        return "ok"

    async def _on_invite(self, leg: InboundLeg) -> None:
        assert self.runner is not None
        await self.runner.on_invite(leg)

    async def stop_call_engine(self) -> None:
        if self.runner is not None:
            await self.runner.shutdown()
        await self.recordings.close()  # recordings of the calls just ended: WAV and MP3 finished
        if self.sip is not None:
            await self.sip.stop()
        if self.sandbox is not None:
            await self.sandbox.stop()

    async def run_delivery(self) -> None:
        """The webhook delivery worker with its sender process, until cancelled."""
        await self.webhook_sender.start()
        try:
            await self.delivery.run()
        finally:
            await self.webhook_sender.close()

    async def serve(self, ready: asyncio.Event | None = None, stop: asyncio.Event | None = None) -> None:
        """Run the HTTP API, the call engine and the outbound queue.

        Stops on SIGINT/SIGTERM (uvicorn's handlers) or when `stop` is set.
        """
        if self.checkpoints is not None:
            self.checkpoints.start()
        if self.live is None:
            await self.start_call_engine()
        tune_interpreter()
        config = uvicorn.Config(
            self.app, host=self.settings.host, port=self.settings.port,
            loop="none", http="httptools", lifespan="off", access_log=False, log_level="warning",
            proxy_headers=False,
        )
        server = uvicorn.Server(config)
        queue_task = asyncio.create_task(self.queue.run())
        delivery_task = asyncio.create_task(self.run_delivery())
        server_task = asyncio.create_task(server.serve())
        stop_task = asyncio.create_task((stop or asyncio.Event()).wait())
        try:
            while not server.started:
                if server_task.done():
                    await server_task  # re-raises why it could not start
                    raise SystemExit(f"could not listen on {self.settings.host}:{self.settings.port}")
                await asyncio.sleep(0.01)
            if ready is not None:
                ready.set()
            await asyncio.wait({server_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            server.should_exit = True
            stop_task.cancel()
            queue_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await queue_task
            await server_task
            await self.stop_call_engine()
            await self.delivery.drain(timeout=2.0)
            delivery_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await delivery_task
            await self.http.aclose()
            await self.store.close()
            if self.checkpoints is not None:
                self.checkpoints.stop()
            self.db.dispose()
