"""Support for Calling API tests: signalwire-sdk's RestClient aimed at a live engine, and the
JSON events a status_url receives (phones and the engine: tests/sandbox_calls.py)."""

from __future__ import annotations

import time
from typing import Any

import httpx

from engine_support import RunningEngine
from laml_backend import Backend, Received

def rest_client(server: RunningEngine) -> Any:
    from signalwire.rest import RestClient

    return RestClient(project=server.project.sid, token=server.project.auth_token,
                      host=f"127.0.0.1:{server.settings.port}")


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
