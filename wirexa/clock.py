"""Wall-clock helpers: every stored time is timezone-aware UTC."""

from __future__ import annotations

from datetime import datetime, timezone
from email.utils import format_datetime


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def rfc2822(value: datetime | None) -> str | None:
    """Twilio's date format: `Tue, 14 Jan 2025 10:00:00 +0000` (the SDKs parse nothing else)."""
    if value is None:
        return None
    return format_datetime(value.astimezone(timezone.utc).replace(microsecond=0))
