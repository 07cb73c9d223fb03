"""Test support: databases (SQLite and a real PostgreSQL) and engines serving real HTTP."""

from __future__ import annotations

import asyncio
import os
import random
import time
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import uvloop
from sqlalchemy.engine import make_url

from siptest import free_udp_port
from wirexa.calls import status as st
from wirexa.config import Settings
from wirexa.engine import Engine

BACKENDS = ["sqlite", "postgresql"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _postgres_server_url() -> str | None:
    url = os.environ.get("WIREXA_TEST_POSTGRES_URL")
    if not url and os.environ.get("CI"):
        raise RuntimeError("CI must run the PostgreSQL tests: use scripts/test.sh, which starts PostgreSQL")
    return url


def make_database(backend: str, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database of the given backend; yields its SQLAlchemy URL."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'wirexa.db'}"
        return
    server = _postgres_server_url()
    if server is None:
        pytest.skip("PostgreSQL not available: run the suite with scripts/test.sh")
    name = f"wirexa_test_{uuid.uuid4().hex[:12]}"
    admin_dsn = make_url(server).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class RecordingLiveCalls:
    """Stands in for the SIP engine (issue 3) at the REST boundary: records what it is asked
    to do and ends calls in the store as the real engine does."""

    def __init__(self) -> None:
        self.dialed: list[tuple[str, float]] = []
        self.ended: list[tuple[str, str]] = []
        self.redirected: list[str] = []
        self.engine: Engine | None = None

    def dial(self, call: dict[str, Any]) -> None:
        self.dialed.append((call["sid"], time.monotonic()))

    async def end(self, call_sid: str, status: str) -> None:
        self.ended.append((call_sid, status))
        assert self.engine is not None
        self.engine.calls.finish(
            call_sid, status, sip_response_code=200, sip_reason="OK",
            default_price_per_minute=self.engine.settings.price_per_minute,
            price_unit=self.engine.settings.price_unit,
        )

    async def redirect(self, call_sid: str) -> None:
        self.redirected.append(call_sid)


class RunningEngine:
    """An Engine serving real HTTP on 127.0.0.1 from a background thread with its own loop."""

    def __init__(self, settings: Settings, live: RecordingLiveCalls | None = None, start: bool = True) -> None:
        """`live=None` runs the real call engine (SIP, media); `start=False` only prepares the
        store (migrations, default project)."""
        self.settings = settings
        self.live = live
        self.engine = Engine(settings, live=live)
        if live is not None:
            live.engine = self.engine
        self.project, _ = self.engine.ensure_default_project()
        self.base_url = f"http://127.0.0.1:{settings.port}"
        if start:
            self._start()

    def _start(self) -> None:
        self._ready = threading.Event()
        self._failed: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._ready.wait(15):
            raise RuntimeError("engine did not start")
        if self._failed:
            raise self._failed

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            ready = asyncio.Event()
            serve = asyncio.create_task(self.engine.serve(ready, self._stop))
            await asyncio.wait({serve, asyncio.create_task(ready.wait())}, return_when=asyncio.FIRST_COMPLETED)
            self._ready.set()
            await serve

        try:
            uvloop.run(main())
        except BaseException as exc:  # surfaced to the test thread
            self._failed = exc
            self._ready.set()

    def run(self, coro: Any, timeout: float = 30.0) -> Any:
        """Run a coroutine on the engine's event loop (where live calls and media live)."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    @property
    def auth(self) -> tuple[str, str]:
        return (self.project.sid, self.project.auth_token)

    @property
    def calls_url(self) -> str:
        return f"{self.base_url}/2010-04-01/Accounts/{self.project.sid}/Calls.json"

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(15)


def engine_settings(database_url: str, data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = dict(
        data_dir=data_dir,
        database_url=database_url,
        port=free_port(),
        node_id="test-node",
        project_id=str(uuid.uuid4()),
        api_token="PT" + uuid.uuid4().hex,
        queue_poll_interval=0.05,
    )
    values.update(overrides)
    return Settings(**values)


def set_call_state(engine: Engine, sid: str, **values: Any) -> None:
    """Move a call as the SIP engine would (claim it, ring, answer...)."""
    engine.calls.transition(sid, st.ALL, {"node_id": engine.settings.node_id, **values})


def call_engine_settings(tmp: Path, **overrides: Any) -> Settings:
    """Settings for a real call engine (SIP, media) on free loopback ports, SQLite in `tmp`."""
    base = random.randrange(20000, 40000, 2)
    values: dict[str, Any] = dict(sip_port=free_udp_port(), sandbox=False,
                                  rtp_port_min=base, rtp_port_max=base + 400)
    values.update(overrides)
    return engine_settings(f"sqlite:///{tmp / 'w.db'}", tmp, **values)


def wait_status(client: Any, sid: str, wanted: set[str], timeout: float = 20.0) -> Any:
    """Fetch the call until its status is one of `wanted` (or the time is up): the last fetch."""
    deadline = time.monotonic() + timeout
    while True:
        call = client.calls(sid).fetch()
        if call.status in wanted or time.monotonic() > deadline:
            return call
        time.sleep(0.05)
