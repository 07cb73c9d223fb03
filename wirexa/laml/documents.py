"""Fetching LaML documents from users' servers: the standard parameters as a form POST (or a
query string for GET), signed like Twilio, with limits on time and size; failures carry
Twilio's error codes so users can look them up."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import httpx

from wirexa.outgoing import USER_AGENT, with_query
from wirexa.webhooks.signing import signature_headers

MAX_DOCUMENT_BYTES = 1024 * 1024
TOTAL_TIMEOUT = 15.0  # seconds for the whole request, however slowly a server drips its answer


class DocumentError(Exception):
    """The document could not be retrieved. `code`: 11200 HTTP retrieval failure (non-2xx,
    too large), 11205 connection failure or timeout, 11210 bad host name."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class DocumentFetcher:
    def __init__(self, http: httpx.AsyncClient, max_bytes: int = MAX_DOCUMENT_BYTES,
                 total_timeout: float = TOTAL_TIMEOUT) -> None:
        self.http = http
        self.max_bytes = max_bytes
        self.total_timeout = total_timeout

    async def fetch(self, url: str, method: str, params: dict[str, str], auth_token: str) -> str:
        """The document's text; raises DocumentError."""
        url = url.split("#", 1)[0]  # fragments hold Twilio's per-URL options, never sent
        if urlsplit(url).scheme not in ("http", "https"):
            raise DocumentError(11200, f"not an http(s) URL: {url!r}")
        if method == "GET":
            target, form = with_query(url, params), None
            headers = signature_headers(auth_token, target)
        else:
            target, form = url, params
            headers = signature_headers(auth_token, url, params)
        headers["User-Agent"] = USER_AGENT
        try:
            async with asyncio.timeout(self.total_timeout), \
                    self.http.stream(method, target, data=form, headers=headers) as response:
                if not response.is_success:
                    raise DocumentError(11200, f"{method} {url} answered HTTP {response.status_code}")
                length = response.headers.get("content-length")
                if length is not None and length.isdigit() and int(length) > self.max_bytes:
                    raise DocumentError(11200, f"{method} {url}: document of {length} bytes is over the "
                                               f"{self.max_bytes} byte limit")
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > self.max_bytes:
                        raise DocumentError(11200, f"{method} {url}: document over the {self.max_bytes} byte limit")
                return body.decode(response.encoding or "utf-8", errors="replace")
        except (httpx.TimeoutException, TimeoutError):
            raise DocumentError(11205, f"{method} {url} timed out") from None
        except httpx.ConnectError as exc:
            code = 11210 if "name" in str(exc).lower() and "resolution" in str(exc).lower() else 11205
            raise DocumentError(code, f"{method} {url}: cannot connect ({exc})") from None
        except httpx.HTTPError as exc:
            raise DocumentError(11200, f"{method} {url} failed: {exc}") from None
