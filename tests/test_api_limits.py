"""Per-project API rate limit (429 with Retry-After) on a real server."""

from __future__ import annotations

from pathlib import Path

import httpx
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from engine_support import RunningEngine, engine_settings


def test_rate_limit_answers_429_with_retry_after_per_project(tmp_path: Path) -> None:
    server = RunningEngine(engine_settings(f"sqlite:///{tmp_path / 'w.db'}", tmp_path,
                                           api_rate_limit=0.1, api_rate_burst=5))
    try:
        codes = [httpx.get(server.calls_url, auth=server.auth).status_code for _ in range(6)]
        assert codes[:5] == [200] * 5 and codes[5] == 429
        r = httpx.get(server.calls_url, auth=server.auth)
        assert r.status_code == 429 and r.json()["code"] == 20429
        assert 1 <= int(r.headers["retry-after"]) <= 10
        client = Client(*server.auth)
        client.api.base_url = server.base_url
        try:
            client.calls.create(to="+13125551234", from_="+18005550100", url="https://b.example/v")
            raise AssertionError("expected 429")
        except TwilioRestException as exc:
            assert exc.status == 429 and exc.code == 20429
        # Another project has its own budget.
        other = server.engine.projects.create("Other")
        r = httpx.get(f"{server.base_url}/2010-04-01/Accounts/{other.sid}/Calls.json",
                      auth=(other.sid, other.auth_token))
        assert r.status_code == 200
    finally:
        server.close()
