"""Fixtures for the wirexaapi SDK tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sdk_support import RecordingServer


@pytest.fixture
def recorder() -> Iterator[RecordingServer]:
    running = RecordingServer()
    try:
        yield running
    finally:
        running.close()


@pytest.fixture(autouse=True)
def _no_space_url_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests name the space explicitly unless they set these themselves."""
    for name in ("WIREXA_URL", "SIGNALWIRE_SPACE_URL", "TWILIO_EDGE", "TWILIO_REGION"):
        monkeypatch.delenv(name, raising=False)
