"""Shared fixtures: databases, engines serving real HTTP, SIPp peers."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from laml_backend import Backend
from engine_support import BACKENDS, RecordingLiveCalls, RunningEngine, engine_settings, make_database
from siptest import Sipp

if TYPE_CHECKING:
    from twilio.rest import Client


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from make_database(request.param, tmp_path)


@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEngine]:
    """One engine per test module and database backend, with the SIP engine stood in for."""
    tmp = tmp_path_factory.mktemp(f"engine-{request.param}")
    for url in make_database(request.param, tmp):
        running = RunningEngine(engine_settings(url, tmp), live=RecordingLiveCalls())
        try:
            yield running
        finally:
            running.close()


@pytest.fixture
def client(server: RunningEngine) -> "Client":
    """The twilio SDK aimed at `server`, as wire-compat.md says users do."""
    from twilio.rest import Client

    c = Client(*server.auth)
    c.api.base_url = server.base_url
    return c


@pytest.fixture
def sipp(tmp_path: Path) -> Iterator[Callable[..., Sipp]]:
    """sipp(scenario, remote=None, *extra, port=None): start SIPp on a scenario file (a name in
    scenarios/ or a Path) or a built-in (a name without .xml, e.g. "uas")."""
    if shutil.which("sipp") is None:
        pytest.skip("sipp (Debian sip-tester) not installed")
    started: list[Sipp] = []

    def start(scenario: str | Path, remote: str | None = None, *extra: str,
              port: int | None = None) -> Sipp:
        peer = Sipp(tmp_path, scenario, remote, extra, port)
        started.append(peer)
        return peer

    yield start
    for peer in started:
        peer.kill()


@pytest.fixture
def backend() -> Iterator[Backend]:
    """A user's LaML backend: a real HTTP server on 127.0.0.1."""
    running = Backend()
    try:
        yield running
    finally:
        running.close()


@pytest.fixture(scope="module")
def web() -> Iterator[Backend]:
    """A user's backend shared by a module's tests (documents and callbacks on distinct paths)."""
    running = Backend()
    try:
        yield running
    finally:
        running.close()
