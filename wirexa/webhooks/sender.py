"""Sending webhook requests: signing each one and the HTTP exchange, with the attempt's outcome.

`CurlSender` runs many requests at once on one libcurl multi handle (pycurl), which keeps
connections alive per host. The engine runs it in a process of its own (`sender_process.py`)
so that HTTP, form encoding and signing do not compete with calls for the engine's
interpreter lock.

Why libcurl: measured on loopback with 4,000 form POSTs of 25 fields, 64 in flight, to
bench/webhook_throughput.py's receiver, the client's CPU per request was 140 µs with pycurl,
170 µs with pyreqwest and 280-340 µs with aiohttp; httpx managed only 220-300 requests/s at
16-64 in flight."""

from __future__ import annotations

from typing import Any, NamedTuple
from urllib.parse import urlencode

import certifi
import orjson
import pycurl

from wirexa.outgoing import JSON, USER_AGENT, with_query
from wirexa.webhooks.signing import json_signature_headers, signature_headers

BODY_KEPT = 1000  # characters of each response kept for the Events API
MAX_REDIRECTS = 10


class Request(NamedTuple):
    """One attempt to make: everything needed to sign and send it."""

    method: str  # GET or POST
    url: str  # without the #options fragment
    params: dict[str, Any]  # form fields, or the JSON body when content_type is JSON
    content_type: str | None
    auth_token: str
    connect_timeout: float
    read_timeout: float
    total_timeout: float


class Result(NamedTuple):
    status: int | None
    error: str | None
    body: str | None
    content_type: str | None
    failure: str | None  # None: delivered; else ct, rt, 4xx or 5xx (see options.py)


def signed(request: Request) -> tuple[str, bytes | None, list[str]]:
    """(URL to request, body or None for a GET, header lines), signed with the project's token."""
    url, params, token = request.url, request.params, request.auth_token
    if request.content_type == JSON:  # a JSON body, signed over the URL followed by the body
        json_body = orjson.dumps(params)
        body: bytes | None = json_body
        headers = json_signature_headers(token, url, json_body)
        headers["Content-Type"] = JSON
    elif request.method == "GET":
        url, body = with_query(url, params), None
        headers = signature_headers(token, url)
    else:
        body = urlencode(params).encode()
        headers = signature_headers(token, url, params)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    headers["User-Agent"] = USER_AGENT
    # No "Expect: 100-continue" round trip before bodies over 1 KB (libcurl's default).
    return url, body, [f"{name}: {value}" for name, value in headers.items()] + ["Expect:"]


class _Transfer:
    """A request on its way: which one, and the first bytes of the answer."""

    __slots__ = ("request_id", "body")

    def __init__(self, request_id: int) -> None:
        self.request_id = request_id
        self.body = bytearray()

    def write(self, chunk: bytes) -> None:
        if len(self.body) < BODY_KEPT * 4:
            self.body += chunk


class CurlSender:
    """Requests in flight on one libcurl multi handle. Not thread-safe: one loop drives it
    (`fdset`/`timeout` to wait, then `perform` for what finished)."""

    def __init__(self) -> None:
        self._multi = pycurl.CurlMulti()
        self._idle: list[pycurl.Curl] = []  # handles kept for reuse (their settings are reset)
        self._transfers: dict[pycurl.Curl, _Transfer] = {}

    def __len__(self) -> int:
        return len(self._transfers)

    def start(self, request_id: int, request: Request) -> None:
        url, body, headers = signed(request)
        curl = self._idle.pop() if self._idle else pycurl.Curl()
        transfer = self._transfers[curl] = _Transfer(request_id)
        curl.setopt(pycurl.URL, url)
        if body is None:
            curl.setopt(pycurl.HTTPGET, 1)
        else:
            curl.setopt(pycurl.POSTFIELDS, body)
        curl.setopt(pycurl.HTTPHEADER, headers)
        curl.setopt(pycurl.WRITEFUNCTION, transfer.write)
        curl.setopt(pycurl.CONNECTTIMEOUT_MS, int(request.connect_timeout * 1000))
        # libcurl has no "time to the first response byte" limit: the read timeout bounds the
        # whole exchange, connecting included (that takes well under a millisecond to a warm
        # keep-alive connection).
        curl.setopt(pycurl.TIMEOUT_MS, int(min(request.total_timeout, request.read_timeout) * 1000))
        curl.setopt(pycurl.FOLLOWLOCATION, 1)
        curl.setopt(pycurl.MAXREDIRS, MAX_REDIRECTS)
        curl.setopt(pycurl.PROXY, "")  # never through a proxy from the environment
        curl.setopt(pycurl.NOSIGNAL, 1)
        curl.setopt(pycurl.CAINFO, certifi.where())
        self._multi.add_handle(curl)

    def fdset(self) -> tuple[list[int], list[int], list[int]]:
        return self._multi.fdset()

    def timeout(self) -> float | None:
        """Seconds until libcurl needs `perform` even without socket activity (None: no limit)."""
        ms = self._multi.timeout()
        return None if ms < 0 else ms / 1000

    def perform(self) -> list[tuple[int, Result]]:
        """Move every transfer on; returns those that ended."""
        while self._multi.perform()[0] == pycurl.E_CALL_MULTI_PERFORM:
            pass
        ended: list[tuple[int, Result]] = []
        while True:
            queued, ok, failed = self._multi.info_read()
            ended += [self._finish(curl, None, "") for curl in ok]
            ended += [self._finish(curl, code, message) for curl, code, message in failed]
            if not queued:
                return ended

    def _finish(self, curl: pycurl.Curl, error_code: int | None, message: str) -> tuple[int, Result]:
        self._multi.remove_handle(curl)
        transfer = self._transfers.pop(curl)
        if error_code is not None:
            result = self._failed(curl, error_code, message)
        else:
            code = int(curl.getinfo(pycurl.RESPONSE_CODE))
            ctype = curl.getinfo(pycurl.CONTENT_TYPE)
            body = transfer.body.decode("utf-8", errors="replace")[:BODY_KEPT]
            if 200 <= code < 300:
                result = Result(code, None, body, ctype, None)
            else:
                result = Result(code, f"HTTP {code}", body, ctype, "4xx" if code < 500 else "5xx")
        curl.reset()
        self._idle.append(curl)
        return transfer.request_id, result

    @staticmethod
    def _failed(curl: pycurl.Curl, code: int, message: str) -> Result:
        connected = curl.getinfo(pycurl.REQUEST_SIZE) > 0  # the request went out (a reused connection too)
        if code == pycurl.E_OPERATION_TIMEDOUT:
            return Result(None, "timed out" if connected else "timed out connecting", None, None,
                          "rt" if connected else "ct")
        if code in (pycurl.E_COULDNT_CONNECT, pycurl.E_COULDNT_RESOLVE_HOST) or not connected:
            return Result(None, f"cannot connect: {message}", None, None, "ct")
        return Result(None, message, None, None, "rt")

    def close(self) -> None:
        for curl in list(self._transfers):
            self._multi.remove_handle(curl)
            curl.close()
        for curl in self._idle:
            curl.close()
        self._multi.close()
