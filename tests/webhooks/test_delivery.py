"""Delivery guarantees: callbacks pending when the engine is killed (-9) arrive after the
restart, each exactly once; a slow receiver does not hold up a fast one."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx

from engine_support import RunningEngine, call_engine_settings, free_port
from laml_backend import Backend
from process_support import start_up, stop, wait_healthy
from siptest import free_udp_port
from wirexa.webhooks import outbox

BUSY = "+15005550003"


def test_callbacks_pending_at_kill_9_are_all_delivered_after_restart(tmp_path: Path) -> None:
    receiver_port = free_port()  # nothing listens there yet: the receiver is down
    port = free_port()
    env = {"WIREXA_WEBHOOK_RETRY_DELAYS": "0.5,1,2,4,8,16", "WIREXA_WEBHOOK_POLL_INTERVAL": "0.2"}
    proc, lines = start_up(tmp_path / "data", port, env)
    text = "".join(lines)
    pid = re.search(r"Project ID: (\S+)", text)[1]  # type: ignore[index]
    token = re.search(r"API token:\s+(PT[0-9a-f]+)", text)[1]  # type: ignore[index]
    base = f"http://127.0.0.1:{port}/2010-04-01/Accounts/{pid}"
    sids = []
    try:
        wait_healthy(f"http://127.0.0.1:{port}")
        for _ in range(10):
            r = httpx.post(f"{base}/Calls.json", auth=(pid, token), data={
                "To": BUSY, "From": "+18005550100", "Twiml": "<Response><Hangup/></Response>",
                "StatusCallback": f"http://127.0.0.1:{receiver_port}/status"})
            assert r.status_code == 201, r.text
            sids.append(r.json()["sid"])
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            hooks = httpx.get(f"{base}/Webhooks.json", auth=(pid, token)).json()["webhooks"]
            if len(hooks) == 10 and all(h["attempts"] >= 1 for h in hooks):
                break
            time.sleep(0.1)
        assert len(hooks) == 10 and all(h["status"] in ("pending", "sending") for h in hooks), hooks
    finally:
        proc.kill()  # SIGKILL: no shutdown code runs
        proc.wait(10)
    receiver = Backend(port=receiver_port)
    receiver.route("/status", "")
    proc, _ = start_up(tmp_path / "data", port, env)
    try:
        got = receiver.wait_for("/status", count=10, timeout=20)
        time.sleep(1.0)  # and no more than that
        got = receiver.requests("/status")
        assert sorted(r.form["CallSid"] for r in got) == sorted(sids)
        assert {r.form["CallStatus"] for r in got} == {"busy"}
    finally:
        stop(proc)
        receiver.close()


def test_a_slow_receiver_does_not_delay_a_fast_one(tmp_path: Path) -> None:
    slow, fast = Backend(), Backend()
    slow.route("/cb", lambda _r: (time.sleep(2.0), "")[1])
    fast.route("/cb", "")
    server = RunningEngine(call_engine_settings(tmp_path, trunk_host="127.0.0.1", trunk_port=free_udp_port(),
                                                webhook_per_host=2, webhook_concurrency=8))
    try:
        def enqueue(url: str, n: int) -> None:
            def job(conn):  # type: ignore[no-untyped-def]
                for i in range(n):
                    outbox.enqueue(conn, account_sid=server.project.sid, call_sid=None, kind="test",
                                   url=url, method="POST", params={"n": str(i)})
            server.run(server.engine.store.run(job))

        enqueue(slow.url + "/cb", 20)  # first in line, and more than every slot
        started = time.monotonic()
        enqueue(fast.url.replace("127.0.0.1", "localhost") + "/cb", 3)
        got = fast.wait_for("/cb", count=3, timeout=5)
        assert len(got) == 3 and got[-1].at - started < 1.0
        assert len(slow.requests("/cb")) <= 2  # the slow host never had more than its share
    finally:
        server.close()
        slow.close()
        fast.close()
