"""`X-Twilio-Signature` / `X-SignalWire-Signature`: base64(HMAC-SHA1(auth token, URL + each
POST parameter's name and value, sorted by name)). Twilio's RequestValidator checks the same."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping


def signature(auth_token: str, url: str, params: Mapping[str, str] | None = None) -> str:
    """The signature of a request to `url` (with its query string) carrying POST `params`
    (None or empty for a GET, whose parameters are already in the URL)."""
    fields = params or {}
    payload = url + "".join(f"{name}{fields[name]}" for name in sorted(fields))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def signature_headers(auth_token: str, url: str, params: Mapping[str, str] | None = None) -> dict[str, str]:
    value = signature(auth_token, url, params)
    return {"X-Twilio-Signature": value, "X-SignalWire-Signature": value}


def validate(auth_token: str, url: str, params: Mapping[str, str] | None, received: str) -> bool:
    """For users' backends: whether `received` (the X-Twilio-Signature or X-SignalWire-Signature
    header) signs this request. `url` must be the URL as Wirexa called it: behind a proxy or TLS
    terminator, rebuild it from the public scheme and host (X-Forwarded-Proto/-Host), not from
    the address the app server sees. `params`: the POST form fields (None for a GET)."""
    return hmac.compare_digest(signature(auth_token, url, params), received or "")


def json_signature_headers(auth_token: str, url: str, body: bytes) -> dict[str, str]:
    """A JSON webhook (Calling API events): the same HMAC over the URL followed by the raw body."""
    digest = hmac.new(auth_token.encode(), url.encode() + body, hashlib.sha1).digest()
    value = base64.b64encode(digest).decode()
    return {"X-Twilio-Signature": value, "X-SignalWire-Signature": value}
