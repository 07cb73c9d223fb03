"""Twilio's per-URL webhook options, written in the URL's fragment (never sent):
`#ct=` connect timeout ms, `#rt=` read timeout ms, `#tt=` total timeout ms, `#rc=` retries,
`#rp=` which failures to retry (comma list of `ct`, `rt`, `4xx`, `5xx`, `all`)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl

RETRY_KINDS = frozenset({"ct", "rt", "4xx", "5xx"})


@dataclass(frozen=True)
class DeliveryOptions:
    url: str  # without the fragment
    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    total_timeout: float = 15.0
    retries: int | None = None  # None: the configured schedule's length
    # Failures worth another attempt: ct (could not connect), rt (timed out or cut off), 4xx, 5xx.
    retry_on: frozenset[str] = frozenset()


def parse_options(url: str, default_retry_on: frozenset[str]) -> DeliveryOptions:
    base, _, fragment = url.partition("#")
    values = dict(parse_qsl(fragment, keep_blank_values=True)) if fragment else {}

    def ms(name: str, default: float, limit: float) -> float:
        raw = values.get(name, "")
        return min(int(raw), limit) / 1000 if raw.isdigit() and int(raw) > 0 else default

    retry_on = default_retry_on
    if "rp" in values:
        kinds = {k.strip().lower() for k in values["rp"].split(",") if k.strip()}
        retry_on = RETRY_KINDS if "all" in kinds else frozenset(kinds & RETRY_KINDS)
    rc = values.get("rc", "")
    return DeliveryOptions(
        url=base,
        connect_timeout=ms("ct", 5.0, 10_000),
        read_timeout=ms("rt", 15.0, 15_000),
        total_timeout=ms("tt", 15.0, 15_000),
        retries=min(int(rc), 5) if rc.isdigit() else None,
        retry_on=retry_on,
    )
