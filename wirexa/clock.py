"""Wall-clock helpers: every stored time is timezone-aware UTC."""

from __future__ import annotations

from datetime import datetime, timezone

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def rfc2822(value: datetime | None) -> str | None:
    """Twilio's date format: `Tue, 14 Jan 2025 10:00:00 +0000` (the SDKs parse nothing else)."""
    if value is None:
        return None
    # Spelled out rather than strftime: %a/%b follow the locale, and this is on every response.
    v = value.astimezone(timezone.utc)
    return (f"{_DAYS[v.weekday()]}, {v.day:02d} {_MONTHS[v.month - 1]} {v.year} "
            f"{v.hour:02d}:{v.minute:02d}:{v.second:02d} +0000")
