"""Wirexa as a real process (`wirexa up`, the admin commands) for tests that need one: the CLI,
and durability tests that kill -9 it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from engine_support import free_port
from siptest import free_udp_port

WIREXA = str(Path(sys.executable).with_name("wirexa"))


def free_engine_ports() -> dict[str, str]:
    return {"WIREXA_SIP_PORT": str(free_udp_port()), "WIREXA_SANDBOX_SIP_PORT": str(free_udp_port()),
            "WIREXA_SANDBOX_HTTP_PORT": str(free_port())}


def run_admin(data_dir: Path, *args: str) -> str:
    out = subprocess.run([WIREXA, "--data-dir", str(data_dir), *args],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


def start_up(data_dir: Path, port: int, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], list[str]]:
    proc = subprocess.Popen(
        [WIREXA, "--data-dir", str(data_dir), "up", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, **free_engine_ports(), **(env or {})},
    )
    lines: list[str] = []
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("REST API:"):
            break
    return proc, lines


def wait_healthy(base: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError("engine never became healthy")


def stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
    out, _ = proc.communicate(timeout=20)
    return out
