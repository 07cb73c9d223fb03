"""LaML latency on loopback: how fast a call hears its first <Say>, and how fast a pressed
digit reaches the user's backend.

    .venv/bin/python bench/laml_latency.py [--calls 20]

This process runs an Engine with the sandbox carrier (its virtual phones answer at once and
press "1" when the prompt goes quiet); a second process is the user's backend (a real HTTP
server on 127.0.0.1) serving `<Gather numDigits="1"><Say>...</Say></Gather>` with the action
document `<Hangup/>`. Both read the same system-wide monotonic clock.
Calls are made one at a time through the REST API. Measured per call:

- answer → first audio: from the moment the call flow starts (200 OK/ACK done) to the clock
  tick that sends the first non-silent frame of the <Say>: the document request, parsing, TTS
  (local espeak-ng) and the first RTP packet. "miss": a text never spoken before (the TTS cache
  cannot help); "hit": the same text again (rendered audio comes from the cache).
- digit → action: from the moment the engine decoded the digit from RTP to the moment the
  backend received the action request.

Targets (issue 4): first audio <= 150 ms on a miss, <= 30 ms on a hit; digit → action <= 20 ms
(p50). Bounded: --calls per kind, each call at most 20 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import socket
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import uvloop

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the tests' user backend (laml_backend.Backend)

from laml_backend import Backend, Received  # noqa: E402
from wirexa.calls.runner import CallFlow, LiveCall  # noqa: E402
from wirexa.config import Settings  # noqa: E402
from wirexa.engine import Engine  # noqa: E402

PHONE = "+15550309999"
WORDS = ("amber", "basil", "cedar", "delta", "ember", "fjord", "garnet", "harbor", "indigo", "juniper")


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TimedFlow:
    """The engine's LaML flow, with the two instants this benchmark needs marked on each call."""

    def __init__(self, inner: CallFlow) -> None:
        self.inner = inner
        self.answered: dict[str, float] = {}
        self.first_audio: dict[str, float] = {}
        self.digit: dict[str, float] = {}

    async def prepare(self, live: LiveCall) -> str | None:
        return await self.inner.prepare(live)

    async def run(self, live: LiveCall) -> None:
        sid = live.sid
        self.answered[sid] = time.monotonic()
        assert live.media is not None
        endpoint = live.media.endpoint

        def sent(frame: Any) -> None:
            if sid not in self.first_audio and frame is not None and any(bytes(frame)):
                self.first_audio[sid] = time.monotonic()

        endpoint.sent_audio_tap = sent
        endpoint.add_dtmf_listener(lambda _digit: self.digit.setdefault(sid, time.monotonic()))
        await self.inner.run(live)


def ms(values: list[float]) -> str:
    if not values:
        return "no samples"
    values = sorted(v * 1000 for v in values)
    p90 = values[min(len(values) - 1, int(len(values) * 0.9))]
    return f"p50 {statistics.median(values):6.1f} ms   p90 {p90:6.1f} ms   max {values[-1]:6.1f} ms   (n={len(values)})"


def document(kind: str, i: int) -> str:
    text = (f"Your code is {WORDS[i % 10]} {WORDS[(i // 10) % 10]} {i}." if kind == "miss"
            else "Thank you for calling. Press one to continue.")
    return f'<Response><Gather numDigits="1" timeout="10" action="/act"><Say>{text}</Say></Gather></Response>'


def serve_backend(calls: int, ready: Any, stop: Any) -> None:
    """The user's backend, in its own process: the documents, the action (which notes when it
    arrived), and /times to read those instants back."""
    backend = Backend()
    action_at: dict[str, float] = {}

    def act(req: Received) -> str:
        action_at.setdefault(req.form.get("CallSid", ""), req.at)
        return "<Response><Hangup/></Response>"

    for kind in ("miss", "hit"):
        for i in range(calls + 1):
            backend.route(f"/voice/{kind}/{i}", document(kind, i))
    backend.route("/act", act)
    backend.route("/times", lambda _req: (200, "application/json", json.dumps(action_at)))
    ready.put(backend.url)
    stop.wait()
    backend.close()


async def place(client: httpx.AsyncClient, calls_url: str, url: str) -> str:
    r = await client.post(calls_url, data={"To": PHONE, "From": "+18005550100", "Url": url})
    r.raise_for_status()
    return str(r.json()["sid"])


async def wait_done(client: httpx.AsyncClient, calls_url: str, sid: str) -> str:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        status = (await client.get(calls_url.replace(".json", f"/{sid}.json"))).json()["status"]
        if status in ("completed", "failed", "busy", "no-answer", "canceled"):
            return str(status)
        await asyncio.sleep(0.05)
    return "timeout"


async def bench(args: argparse.Namespace, workdir: Path) -> int:
    settings = Settings(
        data_dir=workdir, port=free_port(), node_id="bench-node", project_id=str(uuid.uuid4()),
        api_token="PT" + uuid.uuid4().hex, sip_port=free_port(socket.SOCK_DGRAM),
        sandbox=True, sandbox_sip_port=free_port(socket.SOCK_DGRAM), sandbox_http_port=free_port(),
    )
    engine = Engine(settings)
    project, _ = engine.ensure_default_project()
    ctx = multiprocessing.get_context("spawn")
    backend_ready, backend_stop = ctx.Queue(), ctx.Event()
    backend = ctx.Process(target=serve_backend, args=(args.calls, backend_ready, backend_stop), daemon=True)
    backend.start()
    backend_url = await asyncio.to_thread(backend_ready.get, True, 30)
    ready, stop = asyncio.Event(), asyncio.Event()
    serving = asyncio.create_task(engine.serve(ready, stop))
    await ready.wait()
    assert engine.runner is not None and engine.runner.flow is not None and engine.sandbox is not None
    timed = TimedFlow(engine.runner.flow)
    engine.runner.flow = timed
    async with httpx.AsyncClient(timeout=10) as sandbox:
        r = await sandbox.post(f"{engine.sandbox.http_url}/rules", json={
            "number": PHONE, "ring": 0, "outcome": "answer", "hangup_after": 30,
            "script": [{"dtmf": "1", "when": "quiet", "quiet_ms": 300, "timeout": 15}, {"wait_for_hangup": True}]})
        r.raise_for_status()
    calls_url = f"http://127.0.0.1:{settings.port}/2010-04-01/Accounts/{project.sid}/Calls.json"
    results: dict[str, list[str]] = {"miss": [], "hit": []}
    failures = 0
    try:
        async with httpx.AsyncClient(auth=(project.sid, project.auth_token), timeout=10) as client:
            for kind in ("miss", "hit"):
                for i in range(args.calls + (1 if kind == "hit" else 0)):
                    sid = await place(client, calls_url, f"{backend_url}/voice/{kind}/{i}")
                    status = await wait_done(client, calls_url, sid)
                    if status != "completed":
                        failures += 1
                        print(f"  call {sid}: {status}")
                    if kind == "hit" and i == 0:
                        continue  # warms the cache
                    results[kind].append(sid)
            action_at = (await client.get(f"{backend_url}/times")).json()
    finally:
        stop.set()
        await serving
        backend_stop.set()
        backend.join(10)

    def deltas(sids: list[str], start: dict[str, float], end: dict[str, float]) -> list[float]:
        return [end[s] - start[s] for s in sids if s in start and s in end]

    print(f"answer -> first audio, TTS cache miss (espeak-ng): {ms(deltas(results['miss'], timed.answered, timed.first_audio))}")
    print(f"answer -> first audio, TTS cache hit:              {ms(deltas(results['hit'], timed.answered, timed.first_audio))}")
    everything = results["miss"] + results["hit"]
    print(f"digit received -> action request at the backend:   {ms(deltas(everything, timed.digit, action_at))}")
    missing = sum(1 for sid in everything if sid not in action_at)
    print(f"calls not completed: {failures}; actions missing: {missing}")
    failures += missing
    return 1 if failures else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=20, help="calls per kind (miss, hit)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wirexa-laml-bench-") as tmp:
        return uvloop.run(bench(args, Path(tmp)))


if __name__ == "__main__":
    raise SystemExit(main())
