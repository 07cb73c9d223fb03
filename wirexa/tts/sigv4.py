"""AWS Signature Version 4 for one HTTP request (what Polly requires).

Hand-written rather than botocore (~100 MB) for one header; checked against AWS's published
SigV4 test-suite vectors in tests/tts/test_tts_polly.py.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timezone
from urllib.parse import quote

import httpx

ALGORITHM = "AWS4-HMAC-SHA256"


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def _encode(text: str) -> str:
    return quote(text, safe="-_.~")


def signature(*, secret_access_key: str, region: str, service: str, amz_date: str,
              method: str, url: httpx.URL, headers: dict[str, str], body: bytes) -> str:
    """The hex signature of a request; `headers` are exactly the signed ones (lower-case names).
    Also what a server computes to check a request, so tests verify it the same way AWS does."""
    query = "&".join(f"{k}={v}" for k, v in sorted(
        (_encode(k), _encode(v)) for k, v in url.params.multi_items()))
    names = sorted(headers)
    canonical = "\n".join([
        method.upper(),
        # Non-S3 services sign the path as sent, URI-encoded once more.
        quote(url.raw_path.split(b"?", 1)[0].decode() or "/", safe="/-_.~"),
        query,
        "".join(f"{n}:{' '.join(headers[n].split())}\n" for n in names),
        ";".join(names),
        hashlib.sha256(body).hexdigest(),
    ])
    day = amz_date[:8]
    string_to_sign = "\n".join([
        ALGORITHM, amz_date, f"{day}/{region}/{service}/aws4_request",
        hashlib.sha256(canonical.encode()).hexdigest(),
    ])
    key = _hmac(("AWS4" + secret_access_key).encode(), day)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def sign(*, access_key_id: str, secret_access_key: str, region: str, service: str,
         method: str, url: httpx.URL, headers: dict[str, str], body: bytes,
         session_token: str = "", now: datetime | None = None) -> dict[str, str]:
    """The headers to send: `headers` plus x-amz-date, x-amz-security-token (temporary
    credentials) and Authorization, all of them (and Host) signed."""
    amz_date = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    signed = {k.lower(): v for k, v in headers.items()}
    signed["host"] = url.netloc.decode()  # what httpx sends: the port only when not the default
    signed["x-amz-date"] = amz_date
    if session_token:
        signed["x-amz-security-token"] = session_token
    sig = signature(secret_access_key=secret_access_key, region=region, service=service,
                    amz_date=amz_date, method=method, url=url, headers=signed, body=body)
    out = {k: v for k, v in signed.items() if k != "host"}
    out["authorization"] = (
        f"{ALGORITHM} Credential={access_key_id}/{amz_date[:8]}/{region}/{service}/aws4_request, "
        f"SignedHeaders={';'.join(sorted(signed))}, Signature={sig}")
    return out
