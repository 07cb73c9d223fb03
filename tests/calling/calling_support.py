"""Support for Calling API tests: signalwire-sdk's RestClient aimed at a live engine with the
sandbox carrier, sandbox phones, and the JSON events a status_url receives."""

from __future__ import annotations

import io
import itertools
import time
import wave
from typing import Any

import httpx

from engine_support import RunningEngine
from laml_backend import Backend, Received

_numbers = itertools.count(1)


def rest_client(server: RunningEngine) -> Any:
    from signalwire.rest import RestClient

    return RestClient(project=server.project.sid, token=server.project.auth_token,
                      host=f"127.0.0.1:{server.settings.port}")


def phone(server: RunningEngine, script: list[dict[str, Any]], **rule: Any) -> str:
    """A sandbox phone with its own number that answers and runs `script`."""
    number = f"+1555030{next(_numbers):04d}"
    body = {"number": number, "ring": 0.2, "outcome": "answer", "hangup_after": 60, "script": script, **rule}
    assert server.engine.sandbox is not None
    r = httpx.post(f"{server.engine.sandbox.http_url}/rules", json=body)
    assert r.status_code in (200, 201), r.text
    return number


def phone_call(server: RunningEngine, number: str) -> dict[str, Any]:
    assert server.engine.sandbox is not None
    url = server.engine.sandbox.http_url
    listed = httpx.get(f"{url}/calls", params={"number": number, "limit": 1}).json()
    return httpx.get(f"{url}/calls/{listed[0]['id']}").json()


def heard_pcm(server: RunningEngine, number: str) -> bytes:
    assert server.engine.sandbox is not None
    call = phone_call(server, number)
    blob = httpx.get(f"{server.engine.sandbox.http_url}/calls/{call['id']}/heard.wav").content
    with wave.open(io.BytesIO(blob)) as w:
        return w.readframes(w.getnframes())


def events(web: Backend, path: str) -> list[dict[str, Any]]:
    return [r.json() for r in web.requests(path)]


def wait_event(web: Backend, path: str, match: Any, timeout: float = 15.0) -> dict[str, Any]:
    """The first JSON event posted to `path` for which `match(event)` is true."""
    deadline = time.monotonic() + timeout
    while True:
        for got in events(web, path):
            if match(got):
                return got
        if time.monotonic() > deadline:
            raise AssertionError(f"no matching event on {path}; got {events(web, path)}")
        time.sleep(0.05)


def wait_answered(client: Any, server: RunningEngine, call_id: str, timeout: float = 15.0) -> dict[str, Any]:
    """Poll through the REST API (the same call by its CallSid) until answered."""
    from wirexa.calling.ids import call_sid

    deadline = time.monotonic() + timeout
    sid = call_sid(call_id)
    while True:
        r = httpx.get(f"{server.base_url}/2010-04-01/Accounts/{server.project.sid}/Calls/{sid}.json",
                      auth=server.auth)
        status = r.json()["status"]
        if status == "in-progress" or time.monotonic() > deadline:
            return r.json()
        time.sleep(0.05)


def status_route(web: Backend, name: str) -> str:
    return web.route(f"/status/{name}", (200, "text/plain", "ok"))


def received_json(web: Backend, name: str) -> list[Received]:
    return web.requests(f"/status/{name}")
