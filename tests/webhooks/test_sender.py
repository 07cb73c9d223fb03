"""The webhook sender on its own: how each outcome is reported (to real servers on loopback),
signatures the twilio package accepts, and the sender process being replaced when it dies."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from twilio.request_validator import RequestValidator

from laml_backend import Backend, Received
from wirexa.outgoing import JSON
from wirexa.webhooks.sender import Request, Result
from wirexa.webhooks.sender_process import SenderProcess, frame

TOKEN = "a" * 32


@pytest.fixture
def web() -> Iterator[Backend]:
    backend = Backend()
    yield backend
    backend.close()


def request(url: str, method: str = "POST", params: dict | None = None, content_type: str | None = None,
            read_timeout: float = 5.0) -> Request:
    return Request(method, url, params if params is not None else {"CallSid": "CA1", "CallStatus": "completed"},
                   content_type, TOKEN, 2.0, read_timeout, 15.0)


def send_all(*requests: Request) -> list[Result]:
    async def main() -> list[Result]:
        sender = SenderProcess()
        await sender.start()
        try:
            return list(await asyncio.gather(*(sender.send(r) for r in requests)))
        finally:
            await sender.close()
    return asyncio.run(main())


def refused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again: nothing listens there


def test_each_outcome_is_reported_as_the_retry_rules_need(web: Backend) -> None:
    ok = web.route("/ok", (204, "text/plain", ""))
    broken = web.route("/broken", (503, "text/plain", "down for maintenance"))
    missing = web.route("/missing", None)  # 404
    slow = web.route("/slow", lambda _r: (time.sleep(1.5), "")[1])
    results = send_all(request(ok), request(broken), request(missing), request(slow, read_timeout=0.3),
                       request(f"http://127.0.0.1:{refused_port()}/x"))
    assert results[0] == Result(204, None, "", "text/plain", None)
    assert results[1] == Result(503, "HTTP 503", "down for maintenance", "text/plain", "5xx")
    assert results[2][0] == 404 and results[2].failure == "4xx"
    assert results[3].failure == "rt" and results[3].error == "timed out"
    assert results[4].failure == "ct" and results[4].error.startswith("cannot connect")


def test_requests_are_signed_as_twilio_validates_them(web: Backend) -> None:
    url = web.route("/cb", "")
    params = {"CallSid": "CA1", "Note": "a&b=c ü", "Empty": ""}
    send_all(request(url, "POST", params), request(url + "?x=1", "GET", params),
             request(url, "POST", {"event_type": "calling.call.state"}, JSON))
    got: list[Received] = web.wait_for("/cb", count=3)
    validator = RequestValidator(TOKEN)
    get = next(r for r in got if r.method == "GET")
    post = next(r for r in got if r.method == "POST" and not r.body.startswith("{"))
    body = next(r for r in got if r.body.startswith("{"))
    assert post.form == params and validator.validate(post.url, post.form, post.headers["X-Twilio-Signature"])
    assert get.query == {"x": "1", **params} and validator.validate(get.url, {}, get.headers["X-SignalWire-Signature"])
    assert json.loads(body.body) == {"event_type": "calling.call.state"}
    assert body.headers["Content-Type"] == JSON and "Expect" not in body.headers


def test_a_sender_process_that_dies_is_replaced_and_nothing_is_dropped(web: Backend) -> None:
    url = web.route("/slow", lambda _r: (time.sleep(0.5), "")[1])

    async def main() -> tuple[list[Result], int | None, int | None]:
        sender = SenderProcess()
        await sender.start()
        try:
            first = sender.pid
            sending = [asyncio.ensure_future(sender.send(request(url, params={"n": str(i)}))) for i in range(5)]
            await asyncio.sleep(0.2)  # all five on their way
            assert first is not None
            os.kill(first, signal.SIGKILL)
            results = await asyncio.wait_for(asyncio.gather(*sending), 15)
            return results, first, sender.pid
        finally:
            await sender.close()

    results, first, second = asyncio.run(main())
    assert second is not None and second != first
    assert all(r.failure is None for r in results)
    # Every callback arrived; those the first process had sent before it died came twice.
    assert {r.form["n"] for r in web.requests("/slow")} == {str(i) for i in range(5)}


def test_a_sender_process_that_keeps_dying_is_restarted_ever_more_slowly() -> None:
    async def main() -> list[float]:
        sender = SenderProcess()
        await sender.start()
        gaps = []
        try:
            for _ in range(3):
                pid = sender.pid
                assert pid is not None
                os.kill(pid, signal.SIGKILL)
                killed = time.monotonic()
                while sender.pid in (pid, None):
                    await asyncio.sleep(0.02)
                    assert time.monotonic() - killed < 10
                gaps.append(time.monotonic() - killed)
        finally:
            await sender.close()
        return gaps

    gaps = asyncio.run(main())
    assert gaps[0] >= 0.5 and gaps[1] >= 1.0 and gaps[2] >= 2.0, gaps


def test_the_sender_process_exits_quietly_when_the_engine_dies_mid_exchange(web: Backend) -> None:
    url = web.route("/cb", "")
    ours, theirs = socket.socketpair()
    child = subprocess.Popen([sys.executable, "-m", "wirexa.webhooks.sender_process", "--fd", str(theirs.fileno())],
                             pass_fds=(theirs.fileno(),), stderr=subprocess.PIPE)
    theirs.close()
    try:
        ours.sendall(frame([1, *request(url)]))
        web.wait_for("/cb")
        time.sleep(0.3)  # its answer waits unread in our socket: closing it now resets the link
        ours.close()
        assert child.wait(10) == 0
        assert child.stderr is not None and child.stderr.read() == b""
    finally:
        ours.close()
        if child.poll() is None:
            child.kill()
