"""Fixtures for the SIP tests: SIPp peers, always killed on teardown."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable, Iterator

import pytest

from siptest import Sipp


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
