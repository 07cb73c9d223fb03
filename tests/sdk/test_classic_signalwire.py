"""The classic SignalWire SDK (signalwire 2.1.1, `from signalwire.rest import Client`), unmodified,
reads calls and recordings from a live engine: it reads every recording key with payload[k],
so a key missing from Wirexa's JSON would raise KeyError in it (wire-compat.md)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from twilio.rest import Client

from engine_support import RunningEngine, wait_status
from sandbox_calls import FINAL, phone, sandbox_engine

ROOT = Path(__file__).resolve().parents[2]
CLASSIC = ROOT / ".venv-classic" / "bin" / "python"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEngine]:
    if not CLASSIC.exists():
        if os.environ.get("CI"):
            raise RuntimeError("CI must run this test: scripts/install.sh test makes .venv-classic")
        pytest.skip("no .venv-classic: run scripts/install.sh test")
    yield from sandbox_engine(tmp_path_factory.mktemp("classic"))


def test_classic_sdk_reads_a_recorded_call(server: RunningEngine, client: Client) -> None:
    number = phone(server, [{"say": "This call is being recorded by the sandbox."}, {"wait": 1}],
                   hangup_when_done=True)
    call = client.calls.create(to=number, from_="+18005550100", record=True,
                               twiml='<Response><Pause length="10"/></Response>')
    assert wait_status(client, call.sid, FINAL, timeout=30).status == "completed"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        recordings = client.recordings.list(call_sid=call.sid)
        if recordings and recordings[0].status == "completed":
            break
        time.sleep(0.2)
    out = subprocess.run([str(CLASSIC), str(Path(__file__).with_name("classic_signalwire_reads.py")),
                          server.base_url, server.project.sid, server.project.auth_token, call.sid],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert got["call"]["sid"] == call.sid and got["call"]["status"] == "completed"
    assert call.sid in got["listed"]
    assert got["recordings"] == got["under_call"] == [recordings[0].sid]
    fetched = got["fetched"]
    assert fetched["sid"] == recordings[0].sid and fetched["call_sid"] == call.sid
    assert fetched["status"] == "completed" and int(fetched["duration"]) >= 1
