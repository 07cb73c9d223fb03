"""Fixtures for the sandbox tests: SIPp peers, always killed on teardown."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable, Iterator

import pytest

from sandboxtest import Sipp


@pytest.fixture
def sipp(tmp_path: Path) -> Iterator[Callable[..., Sipp]]:
    """sipp(scenario, remote=None, *extra, port=None): a scenario Path or a built-in name."""
    if shutil.which("sipp") is None:
        pytest.skip("sipp (Debian sip-tester) not installed")
    started: list[Sipp] = []

    def start(scenario, remote=None, *extra, port=None) -> Sipp:
        peer = Sipp(tmp_path, scenario, remote, *extra, port=port)
        started.append(peer)
        return peer

    yield start
    for peer in started:
        peer.kill()
