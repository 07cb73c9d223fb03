"""`wirexa up` and the admin commands, run as real processes."""

from __future__ import annotations

import os
import re
import subprocess
import uuid
from pathlib import Path

import httpx
import pytest

from engine_support import free_port
from process_support import WIREXA, free_engine_ports, run_admin, start_up, stop, wait_healthy

def test_up_creates_a_project_prints_credentials_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    proc, lines = start_up(tmp_path / "data", port)
    try:
        text = "".join(lines)
        project = re.search(r"Project ID: (\S+)", text)
        token = re.search(r"API token:\s+(PT[0-9a-f]+)", text)
        assert project and token, text
        base = f"http://127.0.0.1:{port}"
        wait_healthy(base)
        r = httpx.post(f"{base}/api/laml/2010-04-01/Accounts/{project[1]}/Calls.json",
                       auth=(project[1], token[1]),
                       data={"To": "+13125551234", "From": "+18005550100", "Url": "https://b.example/v"})
        assert r.status_code == 201
    finally:
        out = stop(proc)
    assert proc.returncode == 0
    assert "Wirexa stopped." in out
    assert (tmp_path / "data" / "wirexa.db").exists()

    # A second start keeps the project and its call.
    proc, lines = start_up(tmp_path / "data", port)
    try:
        assert f"Project ID: {project[1]}" in "".join(lines)
        assert "Created the default project" not in "".join(lines)
        wait_healthy(f"http://127.0.0.1:{port}")
        listed = httpx.get(f"http://127.0.0.1:{port}/2010-04-01/Accounts/{project[1]}/Calls.json",
                           auth=(project[1], token[1])).json()
        assert len(listed["calls"]) == 1
    finally:
        stop(proc)


def test_up_takes_credentials_from_the_environment(tmp_path: Path) -> None:
    pid, token = str(uuid.uuid4()), "PT" + uuid.uuid4().hex
    port = free_port()
    proc, lines = start_up(tmp_path, port, {"WIREXA_PROJECT_ID": pid, "WIREXA_API_TOKEN": token})
    try:
        assert f"Project ID: {pid}" in "".join(lines) and token in "".join(lines)
        wait_healthy(f"http://127.0.0.1:{port}")
        r = httpx.get(f"http://127.0.0.1:{port}/2010-04-01/Accounts/{pid}/Calls.json", auth=(pid, token))
        assert r.status_code == 200
    finally:
        stop(proc)


def test_up_refuses_a_port_in_use_with_a_clear_message(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        out = subprocess.run([WIREXA, "--data-dir", str(tmp_path), "up", "--port", str(port)],
                             capture_output=True, text=True, timeout=60, env={**os.environ, **free_engine_ports()})
    assert out.returncode != 0
    assert str(port) in out.stdout + out.stderr


def test_admin_commands_create_list_rotate(tmp_path: Path) -> None:
    created = run_admin(tmp_path, "projects", "create", "Acme", "--cps", "3", "--billing", "--balance", "12.5")
    pid = re.search(r"Project ID: (\S+)", created)[1]  # type: ignore[index]
    old = re.search(r"API token:\s+(\S+)", created)[1]  # type: ignore[index]
    listed = run_admin(tmp_path, "projects", "list")
    assert pid in listed and "'Acme'" in listed and "cps=3" in listed and "balance 12.5" in listed
    rotated = run_admin(tmp_path, "projects", "rotate-token", pid)
    new = re.search(r"API token:\s+(\S+)", rotated)[1]  # type: ignore[index]
    assert new != old

    port = free_port()
    proc, _ = start_up(tmp_path, port)
    try:
        base = f"http://127.0.0.1:{port}/2010-04-01/Accounts/{pid}/Calls.json"
        wait_healthy(f"http://127.0.0.1:{port}")
        assert httpx.get(base, auth=(pid, new)).status_code == 200
        assert httpx.get(base, auth=(pid, old)).status_code == 401
    finally:
        stop(proc)
    out = subprocess.run([WIREXA, "--data-dir", str(tmp_path), "projects", "rotate-token", "nope"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "no project nope" in out.stderr


def test_settings_file_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from wirexa.config import load_settings

    cfg = tmp_path / "wirexa.toml"
    cfg.write_text('port = 9000\ndefault_cps = 2.5\nhost = "127.0.0.2"\n')
    monkeypatch.setenv("WIREXA_PORT", "9100")
    s = load_settings(cfg)
    assert s.port == 9100  # the environment wins over the file
    assert s.default_cps == 2.5 and s.host == "127.0.0.2"


def test_up_refuses_a_sip_port_in_use(tmp_path: Path) -> None:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)  # as another engine's would
        busy.bind(("127.0.0.1", 0))
        sip_port = busy.getsockname()[1]
        out = subprocess.run([WIREXA, "--data-dir", str(tmp_path), "up", "--port", str(free_port())],
                             capture_output=True, text=True, timeout=60,
                             env={**os.environ, **free_engine_ports(), "WIREXA_SIP_PORT": str(sip_port)})
    assert out.returncode == 1
    assert f"SIP port 127.0.0.1:{sip_port} is in use" in out.stderr
