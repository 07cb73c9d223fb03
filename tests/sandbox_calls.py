"""End-to-end tests through the sandbox carrier share these: an engine with the sandbox on free
loopback ports, sandbox phones made from rules (each with its own number), and what a phone
heard."""

from __future__ import annotations

import io
import itertools
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from engine_support import RunningEngine, call_engine_settings, free_port
from siptest import free_udp_port
from wirexa.audio.pcm import dominant_frequency, rms

FINAL = {"completed", "failed", "busy", "no-answer", "canceled"}
_numbers = itertools.count(1)  # process-wide: numbers never repeat across test modules


def sandbox_engine(tmp: Path, **overrides: Any) -> Iterator[RunningEngine]:
    """For a module-scoped `server` fixture: `yield from sandbox_engine(tmp, ...)`."""
    running = RunningEngine(call_engine_settings(
        tmp, sandbox=True, sandbox_sip_port=free_udp_port(), sandbox_http_port=free_port(), **overrides))
    try:
        yield running
    finally:
        running.close()


def sandbox_url(server: RunningEngine) -> str:
    assert server.engine.sandbox is not None
    return server.engine.sandbox.http_url


def phone(server: RunningEngine, script: list[dict[str, Any]], **rule: Any) -> str:
    """A sandbox phone with a number of its own that answers and runs `script` (rule options,
    e.g. `outcome="busy"` or `hangup_after=7`, override the defaults)."""
    number = f"+1555{next(_numbers):07d}"
    body = {"number": number, "ring": 0.2, "outcome": "answer", "hangup_after": 60, "script": script, **rule}
    r = httpx.post(f"{sandbox_url(server)}/rules", json=body)
    assert r.status_code in (200, 201), r.text
    return number


def phone_call(server: RunningEngine, number: str) -> dict[str, Any]:
    """The sandbox's record of the latest call to `number` (what it heard, digits, ending)."""
    url = sandbox_url(server)
    listed = httpx.get(f"{url}/calls", params={"number": number, "limit": 1}).json()
    return httpx.get(f"{url}/calls/{listed[0]['id']}").json()


def heard_pcm(server: RunningEngine, number: str) -> bytes:
    """What the phone at `number` heard on its latest call, as 8 kHz PCM."""
    call = phone_call(server, number)
    blob = httpx.get(f"{sandbox_url(server)}/calls/{call['id']}/heard.wav").content
    with wave.open(io.BytesIO(blob)) as w:
        return w.readframes(w.getnframes())


def seconds_of_tone(pcm: bytes, hz: float, loudness: float = 800) -> float:
    """How long 8 kHz PCM holds a tone at `hz` with an RMS of at least `loudness` (counted in
    100 ms windows)."""
    window = 1600
    hits = sum(1 for i in range(0, len(pcm) - window + 1, window)
               if rms(pcm[i:i + window]) > loudness and abs(dominant_frequency(pcm[i:i + window]) - hz) < 30)
    return hits * 0.1
