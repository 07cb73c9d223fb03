"""Reading a command's JSON `params` with errors that name the offending field
(`params.digits.max`), as the Calling API answers them (400 malformed, 422 invalid value)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

MISSING = object()


class CommandError(Exception):
    """A command that cannot be carried out. `attribute` names the field (dotted path) when
    one is at fault; `status`: 400 malformed, 404 unknown call, 409 conflict, 422 invalid or
    not allowed now, 501 not available on this engine."""

    def __init__(self, status: int, message: str, attribute: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.attribute = attribute
        self.code = code or {400: "bad_request", 404: "not_found", 409: "conflict",
                             422: "invalid_parameter", 501: "not_available"}.get(status, "error")


def invalid(attribute: str, message: str) -> CommandError:
    return CommandError(422, f"{attribute}: {message}", attribute)


def missing(attribute: str) -> CommandError:
    return CommandError(400, f"{attribute} is required", attribute, "missing_parameter")


def not_available(what: str, attribute: str | None = None) -> CommandError:
    return CommandError(501, f"{what} is not available on this engine", attribute)


class Params:
    """A JSON object at `path` (e.g. `params`, `params.digits`)."""

    def __init__(self, data: Any, path: str = "params") -> None:
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise invalid(path, "must be an object")
        self.data: dict[str, Any] = data
        self.path = path

    def at(self, name: str) -> str:
        return f"{self.path}.{name}"

    def __contains__(self, name: str) -> bool:
        return self.data.get(name) is not None

    def raw(self, name: str) -> Any:
        return self.data.get(name)

    def string(self, name: str, *, required: bool = False, choices: Iterable[str] | None = None,
               max_length: int = 4096, default: str | None = None) -> str | None:
        value = self.data.get(name)
        if value is None:
            if required:
                raise missing(self.at(name))
            return default
        if not isinstance(value, str):
            raise invalid(self.at(name), "must be a string")
        if required and not value.strip():
            raise missing(self.at(name))
        if len(value) > max_length:
            raise invalid(self.at(name), f"longer than {max_length} characters")
        if choices is not None:
            allowed = list(choices)
            if value not in allowed:
                raise invalid(self.at(name), f"must be one of {', '.join(allowed)}, not {value!r}")
        return value

    def number(self, name: str, *, low: float, high: float, default: float | None = None,
               required: bool = False) -> float | None:
        value = self.data.get(name)
        if value is None:
            if required:
                raise missing(self.at(name))
            return default
        if isinstance(value, str):  # "4.5" is accepted as 4.5, as JSON clients often send strings
            try:
                value = float(value)
            except ValueError:
                raise invalid(self.at(name), "must be a number") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise invalid(self.at(name), "must be a number")
        if not low <= value <= high:
            raise invalid(self.at(name), f"must be between {low:g} and {high:g}, not {value:g}")
        return float(value)

    def integer(self, name: str, *, low: int, high: int, default: int | None = None,
                required: bool = False) -> int | None:
        value = self.number(name, low=low, high=high, default=None, required=required)
        if value is None:
            return default
        if value != int(value):
            raise invalid(self.at(name), "must be a whole number")
        return int(value)

    def boolean(self, name: str, default: bool = False) -> bool:
        value = self.data.get(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise invalid(self.at(name), "must be true or false")

    def obj(self, name: str, *, required: bool = False) -> Params | None:
        value = self.data.get(name)
        if value is None:
            if required:
                raise missing(self.at(name))
            return None
        return Params(value, self.at(name))

    def array(self, name: str, *, required: bool = False) -> list[Any]:
        value = self.data.get(name)
        if value is None:
            if required:
                raise missing(self.at(name))
            return []
        if not isinstance(value, list):
            raise invalid(self.at(name), "must be an array")
        if required and not value:
            raise invalid(self.at(name), "must not be empty")
        return value

    def url(self, name: str, *, schemes: tuple[str, ...] = ("http", "https"), required: bool = False) -> str | None:
        value = self.string(name, required=required)
        if value is None:
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in schemes or not parts.hostname:
            raise invalid(self.at(name), f"must be an absolute {' or '.join(s + '://' for s in schemes)} URL")
        return value.strip()
