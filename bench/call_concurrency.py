"""Concurrent answered calls: N calls held up at once by a real Engine, each playing a prompt in a
loop and tapping the far end's audio; the far end runs in its own process: the sandbox carrier
(default), or SIPp echoing RTP (`--far-end sipp`, cheap, so the engine's own cost shows).

    .venv/bin/python bench/call_concurrency.py [--calls 500] [--hold 20] [--cps 100]

What runs where (loopback only):
- this process = "Wirexa": an Engine (REST API, outbound queue, SIP, the shared 20 ms media
  clock) created in-process, with a call flow that plays a ~2 s spoken prompt (espeak-ng; a tone
  if espeak-ng is missing) in a loop and taps every inbound frame (counts frames, and loud ones);
- a separate process = the far end: `wirexa sandbox` with a rule (added over its REST API) that
  answers the benchmark's numbers at once, keeps talking (speech repeated) and never hangs up.

Calls are created through the REST API (POST Calls.json) and dialled by the engine's outbound
queue at `--cps` (the project's `cps`). Once every call is answered and its flow runs, the clock's
lateness stats are reset and, for `--hold` seconds, the bench measures: this process's CPU
(process time / wall), RTP send lateness (first and last frame of each tick after its deadline,
p50/p99/p99.9/max), packets sent/received/lost summed over the engine's RtpEndpoints, the
kernel's UDP error counters, and the sandbox process's CPU. Then it hangs every call up (the
flow's `live.hangup()`) and checks each call ended `completed`, and what the sandbox heard.

Recording: with --record (default) every call records both directions (MediaSession.record, a
mono WAV in the work dir, deleted afterwards).

Bounded: at most --max-seconds in all (default 600); the sandbox process is killed on exit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import httpx
import numpy as np
import uvloop

with warnings.catch_warnings():  # stdlib on 3.11-3.12 (audioop-lts on 3.13+)
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from wirexa.calls import status as st  # noqa: E402
from wirexa.calls.runner import LiveCall  # noqa: E402
from wirexa.config import Settings  # noqa: E402
from wirexa.engine import Engine  # noqa: E402
from wirexa.media.rtp_endpoint import EndpointStats  # noqa: E402
from wirexa.audio import pcm  # noqa: E402
from wirexa.sandbox import audio  # noqa: E402
from procstat import machine_cpu, proc_cpu_seconds, thread_cpu  # noqa: E402  (bench/)

PREFIX = "+1555010"  # the benchmark's numbers: +1555010NNNN
PROMPT_TEXT = "Thank you for calling. Please hold while we connect you."
PHONE_TEXT = "Hello, I am still here, and I keep talking to you."
LOUD_RMS = 300


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def udp_errors() -> dict[str, int]:
    lines = [line.split() for line in Path("/proc/net/snmp").read_text().splitlines() if line.startswith("Udp:")]
    return {k: int(v) for k, v in zip(lines[0][1:], lines[1][1:]) if "Err" in k}


def percentiles_ms(samples) -> str:  # type: ignore[no-untyped-def]
    if not samples:
        return "no ticks recorded"
    a = np.asarray(samples) * 1000
    p50, p99, p999 = np.percentile(a, [50, 99, 99.9])
    return f"p50 {p50:6.2f}  p99 {p99:6.2f}  p99.9 {p999:6.2f}  max {a.max():6.2f} ms"


def stats_sum(stats: list[EndpointStats]) -> dict[str, int]:
    keys = ("sent", "send_failed", "received", "lost", "late", "ignored")
    return {k: sum(getattr(s, k) for s in stats) for k in keys}


def prompt_pcm() -> tuple[bytes, str]:
    if audio.tts_available():
        return asyncio.run(audio.tts(PROMPT_TEXT)), "espeak-ng speech"
    return pcm.tone(440, 2.0), "440 Hz tone (espeak-ng missing)"


@dataclass
class Flows:
    """What the call flows saw: one entry per answered call."""

    prompt: bytes
    stats: dict[str, EndpointStats] = field(default_factory=dict)
    frames: dict[str, int] = field(default_factory=dict)
    loud: dict[str, int] = field(default_factory=dict)
    errors: int = 0
    up: asyncio.Event = field(default_factory=asyncio.Event)
    want: int = 0
    record_dir: Path | None = None  # record every call (both directions, mono mix) there

    async def prepare(self, live: LiveCall) -> None:
        return None  # the benchmark places outbound calls only

    async def run(self, live: LiveCall) -> None:
        assert live.media is not None
        sid = live.sid
        self.stats[sid] = live.media.endpoint.stats
        self.frames[sid] = self.loud[sid] = 0
        frames, loud = self.frames, self.loud

        def tap(pcm: bytes) -> None:
            frames[sid] += 1
            if audioop.rms(pcm, 2) >= LOUD_RMS:
                loud[sid] += 1

        live.media.tap(tap)
        live.media.listen_for_tones(False)  # as LaML does outside <Gather>
        if self.record_dir is not None:
            live.media.record(self.record_dir / f"{sid}.wav", "both")
        if len(self.stats) >= self.want:
            self.up.set()
        try:
            while True:  # loop=True only returns when interrupted (a hangup, another play)
                await live.media.play(self.prompt, loop=True)
        except asyncio.CancelledError:
            raise
        except Exception:
            self.errors += 1
            raise


class Sandbox:
    """`wirexa sandbox` in its own process, on free ports."""

    def __init__(self, workdir: Path, hold_s: float) -> None:
        self.sip_port = free_port(socket.SOCK_DGRAM)
        self.http_port = free_port()
        self.url = f"http://127.0.0.1:{self.http_port}"
        self.log_path = workdir / "sandbox.log"
        self._log = self.log_path.open("wb")
        env = {**os.environ, "WIREXA_DATA_DIR": str(workdir / "sandbox-data")}
        exe = Path(sys.executable).with_name("wirexa")
        self.proc = subprocess.Popen(
            [str(exe), "sandbox", "--sip-port", str(self.sip_port), "--http-port", str(self.http_port)],
            env=env, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.hold_s = hold_s

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"sandbox exited ({self.proc.returncode}): {self.log_path.read_text()[-2000:]}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            time.sleep(0.1)
        raise SystemExit("sandbox did not start")

    def add_rule(self, talk_seconds: float) -> None:
        repeats = max(1, math.ceil(talk_seconds / 3.0))  # the phrase lasts ~3 s with the pause
        script = [{"say": PHONE_TEXT}, {"wait": 0.3}] * repeats + [{"wait_for_hangup": True}]
        r = httpx.post(f"{self.url}/rules", json={
            "id": "bench-talker", "prefix": PREFIX, "ring": 0, "outcome": "answer",
            "description": "call_concurrency bench: answers at once, keeps talking, never hangs up",
            "script": script,
        }, timeout=10)
        r.raise_for_status()

    def calls(self, limit: int) -> list[dict]:
        r = httpx.get(f"{self.url}/calls", params={"limit": limit}, timeout=60)
        r.raise_for_status()
        body = r.json()
        return body["calls"] if isinstance(body, dict) else body

    def check(self, n: int, engine_sent: int) -> int:
        """Print what the phones saw; returns how many of them did not end `completed`."""
        phones = self.calls(n + 50)
        mine = [p for p in phones if str(p.get("to", "")).lstrip("+").startswith(PREFIX.lstrip("+"))]
        heard_frames = sum(round(p["heard"]["seconds"] * 50) for p in mine)
        loud_phones = sum(1 for p in mine if p["heard"]["loud_seconds"] >= 1.0)
        ended: dict[str, int] = {}
        for p in mine:
            key = f"{p['state']}/{p['ended_by']}"
            ended[key] = ended.get(key, 0) + 1
        print(f"sandbox: {len(mine)} calls {ended}; {loud_phones} heard >= 1 s of loud audio; "
              f"heard {heard_frames} frames in all vs {engine_sent} sent by the engine "
              f"(difference {engine_sent - heard_frames}: frames in flight at hangup or lost)")
        bad_phone = next((p for p in mine if p["state"] != "completed"), None)
        if bad_phone is not None:
            print(f"  e.g. sandbox call {bad_phone['id']}: {bad_phone['state']} {bad_phone['final_code']} "
                  f"error {bad_phone.get('error')!r} events {bad_phone.get('events', [])[-3:]}")
        return len([p for p in mine if p["state"] != "completed"])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self._log.close()


class SippEcho:
    """SIPp's built-in UAS with -rtp_echo: answers every call and sends each RTP packet back.
    A far end in C that costs little CPU, so the engine's own figures show."""

    def __init__(self, workdir: Path, calls: int) -> None:
        self.sip_port = free_port(socket.SOCK_DGRAM)
        self.log_path = workdir / "sipp.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            ["sipp", "-sn", "uas", "-rtp_echo", "-i", "127.0.0.1", "-p", str(self.sip_port),
             "-mp", str(free_port(socket.SOCK_DGRAM)), "-m", str(calls), "-nostdin",
             "-timeout", "900", "-recv_timeout", "600000"],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )

    def wait_ready(self, timeout: float = 5) -> None:
        time.sleep(0.5)
        if self.proc.poll() is not None:
            raise SystemExit(f"sipp exited ({self.proc.returncode}): {self.log_path.read_text()[-2000:]}")

    def check(self, n: int, engine_sent: int) -> int:
        print("far end: SIPp -rtp_echo (what it received is what the engine heard back)")
        return 0

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
        self._log.close()


async def create_calls(base_url: str, auth: tuple[str, str], n: int, concurrency: int = 16) -> tuple[list[str], int]:
    """POST Calls.json n times (at most `concurrency` in flight); returns (sids, failures)."""
    url = f"{base_url}/2010-04-01/Accounts/{auth[0]}/Calls.json"
    sids: list[str] = []
    failures = 0
    numbers = iter(range(n))
    async with httpx.AsyncClient(auth=auth, timeout=30) as client:
        async def worker() -> None:
            nonlocal failures
            for i in numbers:
                r = await client.post(url, data={
                    "To": f"{PREFIX}{i:04d}", "From": "+18005550100",
                    "Twiml": "<Response><Pause length=\"3600\"/></Response>",
                })
                if r.status_code == 201:
                    sids.append(r.json()["sid"])
                else:
                    failures += 1
                    if failures <= 3:
                        print(f"  create failed: {r.status_code} {r.text[:200]}")
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return sids, failures


async def bench(args: argparse.Namespace, workdir: Path, far_end: Sandbox | SippEcho) -> int:
    started = time.monotonic()
    hard_deadline = started + args.max_seconds
    n = args.calls
    rtp_low = 40000
    settings = Settings(
        data_dir=workdir / "engine", port=free_port(), node_id="bench-node",
        project_id=str(uuid.uuid4()), api_token="PT" + uuid.uuid4().hex,
        sip_port=free_port(socket.SOCK_DGRAM), sandbox=False,
        trunk_host="127.0.0.1", trunk_port=far_end.sip_port,
        rtp_port_min=rtp_low, rtp_port_max=rtp_low + 4 * n + 400,
        default_cps=args.cps, queue_poll_interval=0.05,
        sqlite_synchronous=args.sqlite_synchronous,
    )
    engine = Engine(settings)
    project, _ = engine.ensure_default_project()
    engine.projects.set_limits(project.sid, cps=Decimal(str(args.cps)))
    prompt, prompt_kind = await asyncio.to_thread(lambda: prompt_pcm())
    record_dir = workdir / "recordings" if args.record else None
    if record_dir is not None:
        record_dir.mkdir()
    flows = Flows(prompt, want=n, record_dir=record_dir)
    engine.flow = flows
    await engine.start_call_engine()
    assert engine.runner is not None
    clock = engine.runner.clock
    ready, stop = asyncio.Event(), asyncio.Event()
    serve = asyncio.create_task(engine.serve(ready, stop))
    await asyncio.wait_for(ready.wait(), 30)
    base_url = f"http://127.0.0.1:{settings.port}"
    print(f"engine: API {base_url}, SIP 127.0.0.1:{settings.sip_port}, trunk = sandbox process "
          f"pid {far_end.proc.pid} ({type(far_end).__name__}, SIP 127.0.0.1:{far_end.sip_port})")
    print(f"flow: plays a {len(prompt) / 16000:.1f} s prompt ({prompt_kind}) in a loop, taps inbound audio; "
          f"project cps {args.cps}; SQLite synchronous={args.sqlite_synchronous}")
    if record_dir is not None:
        print(f"recording: ON -- every call records both directions (MediaSession.record, mono WAV) to {record_dir}")
    else:
        print("recording: OFF (--no-record)")
    rc = 0
    try:
        t0 = time.monotonic()
        sids, create_failures = await create_calls(base_url, (project.sid, project.auth_token), n)
        t_created = time.monotonic() - t0
        print(f"created {len(sids)} calls through the REST API in {t_created:.2f} s "
              f"({create_failures} create failures)")
        ramp_limit = min(hard_deadline - time.monotonic() - args.hold - 60, n / args.cps + 60)
        try:
            await asyncio.wait_for(flows.up.wait(), max(5.0, ramp_limit))
        except TimeoutError:
            pass
        t_up = time.monotonic() - t0
        answered = len(flows.stats)
        live_now = len(engine.runner.live)
        print(f"answered {answered}/{n} calls ({live_now} live) {t_up:.2f} s after the first create")
        if answered < n:
            rc = 1

        # --- the measurement window: every call up, prompts playing both ways ---
        await asyncio.sleep(1.0)  # let the last answered streams settle
        clock.reset_stats()
        stats_list = list(flows.stats.values())
        before = stats_sum(stats_list)
        frames_before, loud_before = sum(flows.frames.values()), sum(flows.loud.values())
        udp0 = udp_errors()
        threads0 = thread_cpu()
        sand0 = proc_cpu_seconds(far_end.proc.pid)
        machine0 = machine_cpu()
        wall0, cpu0 = time.perf_counter(), time.process_time()
        await asyncio.sleep(args.hold)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        sand = proc_cpu_seconds(far_end.proc.pid) - sand0
        machine = machine_cpu() - machine0
        threads1 = thread_cpu()
        udp = {k: v - udp0[k] for k, v in udp_errors().items()}
        after = stats_sum(stats_list)
        window = {k: after[k] - before[k] for k in after}
        frames = sum(flows.frames.values()) - frames_before
        loud = sum(flows.loud.values()) - loud_before
        still_up = sum(1 for sid in flows.stats if sid in engine.runner.live)
        first, last = list(clock.first_send_lateness), list(clock.last_send_lateness)

        print(f"\n--- {args.hold:.0f} s window, {still_up} calls up throughout "
              f"({len(engine.runner.live)} live at the end) ---")
        print(f"engine process CPU: {100 * cpu / wall:.1f} % of one core "
              f"(process time {cpu:.2f} s / wall {wall:.2f} s); far end process: {100 * sand / wall:.1f} %")
        others = max(0.0, machine.busy - machine.steal - cpu - sand)
        print(f"machine: {machine.describe(wall)}; other processes "
              f"{100 * others / wall:.0f} % (load average {os.getloadavg()[0]:.2f})")
        busy = sorted(((threads1.get(k, 0) - threads0.get(k, 0), k) for k in threads1), reverse=True)
        print("  by thread: " + ", ".join(f"{k} {100 * v / wall:.1f} %" for v, k in busy if v > 0.005 * wall))
        print(f"media clock: {clock.ticks} ticks, {clock.skipped_ticks} skipped, "
              f"{clock.stream_errors} stream errors, {len(clock)} streams")
        print(f"RTP send lateness, first frame of tick: {percentiles_ms(first)}")
        print(f"RTP send lateness, last frame of tick:  {percentiles_ms(last)}")
        print(f"RTP engine endpoints: sent {window['sent']}, send failed {window['send_failed']}, "
              f"received {window['received']}, lost (seq gaps) {window['lost']}, late/dup {window['late']}, "
              f"ignored {window['ignored']}")
        expected = still_up * round(wall / 0.02)
        print(f"  expected ~{expected} each way ({still_up} calls x {wall:.1f} s / 20 ms); "
              f"tapped frames {frames}, of them loud (RMS >= {LOUD_RMS}) {loud}")
        print(f"kernel UDP errors in the window: {udp}")
        p99_first = float(np.percentile(np.asarray(first) * 1000, 99)) if first else math.inf

        # --- hang up, check the outcome of every call ---
        t_hang = time.monotonic()
        for live in list(engine.runner.live.values()):
            live.hangup("benchmark over")
        while engine.runner.live and time.monotonic() - t_hang < 60:
            await asyncio.sleep(0.1)
        total = stats_sum(list(flows.stats.values()))
        rows = await asyncio.to_thread(lambda: [engine.calls.get_by_sid(s) for s in sids])
        statuses: dict[str, int] = {}
        for row in rows:
            status = row["status"] if row else "missing"
            statuses[status] = statuses.get(status, 0) + 1
        print(f"\nhung up all calls in {time.monotonic() - t_hang:.2f} s; final statuses: {statuses}")
        bad = next((r for r in rows if r and r["status"] != st.COMPLETED), None)
        if bad is not None:
            print(f"  e.g. {bad['sid']}: {bad['status']} sip {bad['sip_response_code']} {bad['sip_reason']!r} "
                  f"error {bad['error_message']!r}")
        if record_dir is not None:
            wavs = list(record_dir.glob("*.wav"))
            print(f"recordings: {len(wavs)} files, {sum(w.stat().st_size for w in wavs) / 1e6:.0f} MB")
        far_failures = await asyncio.to_thread(far_end.check, n, total["sent"])
        failures = create_failures + (n - answered) + sum(v for k, v in statuses.items() if k != st.COMPLETED) \
            + flows.errors + far_failures
        print(f"failures: {failures} (create {create_failures}, not answered {n - answered}, "
              f"not completed {sum(v for k, v in statuses.items() if k != st.COMPLETED)}, "
              f"flow errors {flows.errors}, far end not completed {far_failures})")
        ok = (answered == n and failures == 0 and window["lost"] == 0 and window["send_failed"] == 0
              and not any(udp.values()) and p99_first <= 5.0)
        print(f"\ntarget ({n} calls, p99 first-frame lateness <= 5 ms, no packet lost): "
              f"{'MET' if ok else 'NOT MET'} (recording {'on' if record_dir else 'off'})")
        rc = rc or (0 if ok else 1)
    finally:
        for live in list(engine.runner.live.values()):
            live.hangup("benchmark over")
        stop.set()
        await asyncio.wait_for(serve, 60)
    return rc


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=500, help="concurrent calls (1-2000, default 500)")
    ap.add_argument("--hold", type=float, default=20.0, help="measurement window in seconds (1-240)")
    ap.add_argument("--cps", type=int, default=100, help="project calls per second (outbound queue)")
    ap.add_argument("--max-seconds", type=float, default=600.0, help="hard bound on the whole run")
    ap.add_argument("--sqlite-synchronous", default="FULL", choices=["FULL", "NORMAL", "OFF"])
    ap.add_argument("--far-end", choices=["sandbox", "sipp"], default="sandbox",
                    help="who answers: the sandbox in its own process (talks back), or SIPp echoing RTP")
    ap.add_argument("--record", action=argparse.BooleanOptionalAction, default=True,
                    help="record every call (both directions) while measuring (default on)")
    args = ap.parse_args()
    if not 1 <= args.calls <= 2000 or not 1 <= args.hold <= 240 or not 1 <= args.cps <= 1000:
        ap.error("--calls 1-2000, --hold 1-240, --cps 1-1000")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # inherited by the sandbox too
    workdir = Path(tempfile.mkdtemp(prefix="wirexa-bench-calls-"))
    far_end: Sandbox | SippEcho = (SippEcho(workdir, args.calls) if args.far_end == "sipp"
                                   else Sandbox(workdir, args.hold))
    signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(SystemExit("--max-seconds exceeded")))
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(SystemExit("terminated")))  # clean up
    signal.alarm(int(args.max_seconds) + 60)
    try:
        far_end.wait_ready()
        if isinstance(far_end, Sandbox):
            far_end.add_rule(talk_seconds=args.calls / args.cps + args.hold + 60)
        return uvloop.run(bench(args, workdir, far_end))
    finally:
        signal.alarm(0)
        far_end.stop()
        if isinstance(far_end, Sandbox) and far_end.proc.returncode not in (0, -signal.SIGINT, None):
            print(f"sandbox exit code {far_end.proc.returncode}; log tail:\n{far_end.log_path.read_text()[-1500:]}")
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
