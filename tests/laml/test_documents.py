"""Fetching documents: Twilio's error codes for each way a user's server can fail."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from laml_backend import Backend
from wirexa.laml.documents import DocumentError, DocumentFetcher


def fetch(url: str, method: str = "POST", **kwargs: object) -> str:
    async def go() -> str:
        async with httpx.AsyncClient(timeout=httpx.Timeout(15.0, connect=5.0)) as http:
            return await DocumentFetcher(http, **kwargs).fetch(url, method, {"CallSid": "CA1"}, "token")  # type: ignore[arg-type]
    return asyncio.run(go())


def test_a_document_and_its_failures(backend: Backend) -> None:
    backend.route("/ok", "<Response/>")
    backend.route("/500", (500, "text/plain", "no"))
    backend.route("/big", "<Response>" + "x" * 2000 + "</Response>")
    backend.route("/slow", lambda _r: (time.sleep(1.5), "<Response/>")[1])
    assert fetch(backend.url + "/ok") == "<Response/>"
    assert fetch(backend.url + "/ok#rc=1", "GET") == "<Response/>"  # the fragment is never sent
    for url, kwargs, code in [
        (backend.url + "/500", {}, 11200),
        (backend.url + "/missing", {}, 11200),
        (backend.url + "/big", {"max_bytes": 1000}, 11200),
        (backend.url + "/slow", {"total_timeout": 0.5}, 11205),
        ("http://127.0.0.1:9/nothing-listens", {}, 11205),
        ("ftp://example.com/doc.xml", {}, 11200),
    ]:
        with pytest.raises(DocumentError) as err:
            fetch(url, **kwargs)
        assert err.value.code == code, (url, err.value)
