"""Reading request parameters (form bodies and query strings) with typed, named errors."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta, timezone
from urllib.parse import parse_qsl, urlsplit

from wirexa.api.errors import INVALID_PARAMETER, ApiError, bad_request

TRUE = {"true", "1", "yes"}
FALSE = {"false", "0", "no"}
MAX_URL_LENGTH = 4000


class Params:
    """A multi-valued parameter set; a repeated name keeps all of its values in order."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._values: dict[str, list[str]] = {}
        for k, v in pairs:
            self._values.setdefault(k, []).append(v)

    @classmethod
    def from_body(cls, body: bytes) -> Params:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise bad_request(INVALID_PARAMETER, "Request body is not valid UTF-8") from None
        return cls(parse_qsl(text, keep_blank_values=True))

    @classmethod
    def from_query(cls, query: str) -> Params:
        return cls(parse_qsl(query, keep_blank_values=True))

    def __contains__(self, name: str) -> bool:
        return name in self._values

    def items(self) -> list[tuple[str, str]]:
        return [(k, v) for k, vs in self._values.items() for v in vs]

    def get(self, name: str) -> str | None:
        """The last value given for `name` (as Twilio does for repeated scalar parameters)."""
        vs = self._values.get(name)
        return vs[-1] if vs else None

    def get_all(self, name: str) -> list[str]:
        return list(self._values.get(name, []))

    def text(self, name: str, max_length: int = MAX_URL_LENGTH) -> str | None:
        value = self.get(name)
        if value is not None and len(value) > max_length:
            raise bad_request(INVALID_PARAMETER, f"{name} is longer than {max_length} characters")
        return value

    def boolean(self, name: str, default: bool = False) -> bool:
        value = self.get(name)
        if value is None or value == "":
            return default
        low = value.strip().lower()
        if low in TRUE:
            return True
        if low in FALSE:
            return False
        raise bad_request(INVALID_PARAMETER, f"{name} must be true or false, not '{value}'")

    def integer(
        self, name: str, code: int, low: int, high: int, default: int | None = None
    ) -> int | None:
        value = self.get(name)
        if value is None or value == "":
            return default
        try:
            n = int(value.strip())
        except ValueError:
            raise bad_request(code, f"{name} must be a whole number, not '{value}'") from None
        if not low <= n <= high:
            raise bad_request(code, f"{name} must be between {low} and {high}, not {n}")
        return n

    def method(self, name: str, code: int, default: str = "POST") -> str:
        value = self.get(name)
        if value is None or value == "":
            return default
        upper = value.strip().upper()
        if upper not in ("GET", "POST"):
            raise bad_request(code, f"{name} must be GET or POST, not '{value}'")
        return upper

    def url(self, name: str, code: int) -> str | None:
        value = self.text(name)
        if value is None or value == "":
            return None
        if not is_absolute_http_url(value):
            raise bad_request(code, f"{name} must be an absolute http(s) URL, not '{value}'")
        return value

    def choice(self, name: str, code: int, choices: Iterable[str]) -> str | None:
        """One of `choices`, matched case-insensitively and returned in its canonical spelling."""
        value = self.get(name)
        if value is None or value == "":
            return None
        by_lower = {c.lower(): c for c in choices}
        hit = by_lower.get(value.strip().lower())
        if hit is None:
            raise bad_request(code, f"{name} must be one of {', '.join(by_lower.values())}, not '{value}'")
        return hit

    def events(self, name: str, code: int, allowed: Iterable[str]) -> list[str]:
        """Events given repeated (as the SDKs send them) or space/comma separated (as curl users do)."""
        allowed_set = set(allowed)
        out: list[str] = []
        for raw in self.get_all(name):
            for event in raw.replace(",", " ").split():
                ev = event.lower()
                if ev not in allowed_set:
                    raise bad_request(code, f"{name} has an unknown event '{event}' (allowed: {' '.join(sorted(allowed_set))})")
                if ev not in out:
                    out.append(ev)
        return out

    def date_bound(self, name: str) -> tuple[datetime, datetime | None] | None:
        """A date (`2025-01-14`) or datetime (ISO 8601) filter value, as UTC.

        Returns (start, end_of_day) for a plain date, (instant, None) for a datetime.
        """
        value = self.get(name)
        if value is None or value == "":
            return None
        v = value.strip()
        try:
            if len(v) == 10:
                d = date.fromisoformat(v)
                start = datetime.combine(d, time(), tzinfo=timezone.utc)
                return start, start + timedelta(days=1)
            dt = datetime.fromisoformat(v.replace("Z", "+00:00"))
        except ValueError:
            raise bad_request(
                INVALID_PARAMETER, f"{name} must be a date (YYYY-MM-DD) or an ISO 8601 time, not '{value}'"
            ) from None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=timezone.utc)
        return dt.astimezone(timezone.utc), None


def is_absolute_http_url(value: str) -> bool:
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def require(value: str | None, code: int, message: str) -> str:
    if value is None or value.strip() == "":
        raise ApiError(400, code, message)
    return value
