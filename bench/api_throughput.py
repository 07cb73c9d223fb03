"""Requests/s and latency of `POST Calls.json` and `GET Calls/{sid}.json` at 50 concurrent clients.

Starts `wirexa up` (SQLite unless WIREXA_DATABASE_URL is set) on loopback with a fresh data dir,
its sandbox carrier as the trunk. The bench project's calls-per-second limit is set to 1 so the
dialer's work (measured by bench/call_setup_rate.py) does not mix into the API's figures; the
created calls wait in the outbound queue, as calls above a project's limit do.
then loads it with Debian's `wrk` (a second process, one thread) in two ways:
- saturation: 50 connections each sending its next request as soon as the last is answered
  (the most requests/s the engine serves; latency there is queueing: 50 / throughput);
- paced: the same 50 clients, each waiting between requests so that together they offer the
  target rate (create 500/s, fetch 1,500/s): the latency a client sees at that load.

    .venv/bin/python bench/api_throughput.py [--seconds 10] [--connections 50]
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

WRK_POST = """
wrk.method = "POST"
wrk.body = "To=%2B15005550003&From=%2B18005550100&Url=https%3A%2F%2Fbackend.example%2Fvoice&StatusCallback=https%3A%2F%2Fbackend.example%2Fstatus"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "{auth}"
"""
WRK_GET = """
wrk.method = "GET"
wrk.headers["Authorization"] = "{auth}"
"""
# Per-connection pause (ms) before its next request: paces the clients to a target rate.
# Random (uniform, mean delay_ms) so the 50 clients do not fire in lockstep bursts.
WRK_DELAY = """
function delay() return math.random(0, 2 * {delay_ms}) end
"""
TARGETS = {"POST Calls.json": 500, "GET Calls/{sid}.json": 1500}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parse_wrk(out: str) -> dict[str, float]:
    def ms(text: str) -> float:
        num, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
        return float(num) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    pct = {p: ms(v) for p, v in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", out, re.M)}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50": pct["50"], "p99": pct["99"], "non2xx": float(errors.group(1)) if errors else 0.0}


def run_wrk(url: str, script: str, seconds: int, connections: int) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    try:
        out = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", f.name, url],
            check=True, capture_output=True, text=True, timeout=seconds + 30,
        ).stdout
    finally:
        os.unlink(f.name)
    return parse_wrk(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=50)
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")

    data = Path(tempfile.mkdtemp(prefix="wirexa-bench-"))
    port = free_port()
    project, token = str(uuid.uuid4()), "PT" + uuid.uuid4().hex
    env = {**os.environ, "WIREXA_DATA_DIR": str(data), "WIREXA_PORT": str(port),
           "WIREXA_PROJECT_ID": project, "WIREXA_API_TOKEN": token}
    wirexa = Path(sys.executable).with_name("wirexa")
    proc = subprocess.Popen([str(wirexa), "up"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                sys.exit("wirexa did not start")
            time.sleep(0.1)
        subprocess.run([str(wirexa), "projects", "set", project, "--cps", "1"], env=env, check=True,
                       capture_output=True, timeout=60)
        auth = "Basic " + base64.b64encode(f"{project}:{token}".encode()).decode()
        calls = f"{base}/2010-04-01/Accounts/{project}/Calls"
        sid = httpx.post(f"{calls}.json", auth=(project, token), data={
            "To": "+15005550003", "From": "+18005550100", "Url": "https://backend.example/voice"}).json()["sid"]
        backend = os.environ.get("WIREXA_DATABASE_URL", "").split(":")[0] or "sqlite"
        print(f"wirexa up on {base} ({backend}), wrk -t1 -c{args.connections} -d{args.seconds}s")
        for name, url, script in (
            ("POST Calls.json", f"{calls}.json", WRK_POST),
            ("GET Calls/{sid}.json", f"{calls}/{sid}.json", WRK_GET),
        ):
            script = script.format(auth=auth)
            r = run_wrk(url, script, args.seconds, args.connections)
            print(f"{name:22s} saturation  {r['rps']:7.0f} req/s   p50 {r['p50']:7.2f} ms   "
                  f"p99 {r['p99']:7.2f} ms   non-2xx {int(r['non2xx'])}")
            target = TARGETS[name]
            # Each client's cycle is its pause plus the response time (about 3 ms here).
            delay_ms = max(0, round(1000 * args.connections / target) - 3)
            r = run_wrk(url, script + WRK_DELAY.format(delay_ms=delay_ms), args.seconds, args.connections)
            print(f"{name:22s} paced {target:>5}/s {r['rps']:7.0f} req/s   p50 {r['p50']:7.2f} ms   "
                  f"p99 {r['p99']:7.2f} ms   non-2xx {int(r['non2xx'])}")
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=15)
        shutil.rmtree(data, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
