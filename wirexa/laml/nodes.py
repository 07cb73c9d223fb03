"""A LaML element as the verbs read it, with typed attribute access that reports bad values
by verb and attribute name."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any


class LamlError(ValueError):
    """A document that cannot run: not XML, unknown or misplaced verb, bad attribute value.
    `code` is Twilio's error code for it (12100 parse failure, 12200 schema)."""

    def __init__(self, message: str, code: int = 12200) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Node:
    name: str
    attrs: dict[str, str]  # keys lower-cased: LaML written by hand mixes numDigits / numdigits
    text: str
    children: tuple[Node, ...]

    def get(self, name: str, default: str | None = None) -> str | None:
        value = self.attrs.get(name.lower())
        return default if value is None else value.strip()

    def integer(self, name: str, default: int, *, minimum: int = 0, maximum: int | None = None) -> int:
        raw = self.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(float(raw))
        except ValueError:
            raise LamlError(f"<{self.name} {name}=\"{raw}\">: not a number") from None
        if value < minimum or (maximum is not None and value > maximum):
            bounds = f"{minimum}..{maximum}" if maximum is not None else f">= {minimum}"
            raise LamlError(f"<{self.name} {name}=\"{raw}\">: must be {bounds}")
        return value

    def number(self, name: str, default: float, *, minimum: float = 0.0) -> float:
        raw = self.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = float(raw)
        except ValueError:
            raise LamlError(f"<{self.name} {name}=\"{raw}\">: not a number") from None
        if value < minimum:
            raise LamlError(f"<{self.name} {name}=\"{raw}\">: must be >= {minimum}")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        raw = self.get(name)
        if raw is None or raw == "":
            return default
        if raw.lower() in ("true", "1", "yes"):
            return True
        if raw.lower() in ("false", "0", "no"):
            return False
        raise LamlError(f"<{self.name} {name}=\"{raw}\">: must be true or false")

    def method(self, name: str = "method", default: str = "POST") -> str:
        value = (self.get(name) or default).upper()
        if value not in ("GET", "POST"):
            raise LamlError(f"<{self.name} {name}=\"{value}\">: must be GET or POST")
        return value

    def no_children(self) -> None:
        if self.children:
            raise LamlError(f"<{self.children[0].name}> cannot be nested in <{self.name}>")


# Twilio verbs and nouns Wirexa does not run: named in the error instead of "unknown".
UNSUPPORTED = frozenset({"Enqueue", "Leave", "Conference", "Sms", "Message", "Queue",
                         "Client", "Echo", "Refer", "Pay", "Prompt", "Siprec"})


def parse_children(nodes: tuple[Node, ...], allowed: Mapping[str, Any], where: str,
                   known: Collection[str] = ()) -> list[Any]:
    """Each node parsed by the verb class `allowed` names for it (`cls.parse(node)`); names in
    `known` that are not allowed here are reported as misplaced, the rest as unknown."""
    out = []
    for node in nodes:
        factory = allowed.get(node.name)
        if factory is None:
            if node.name in known:
                raise LamlError(f"<{node.name}> cannot be used in {where}")
            if node.name in UNSUPPORTED:
                raise LamlError(f"<{node.name}> (in {where}) is not supported by Wirexa")
            raise LamlError(f"unknown verb <{node.name}> in {where}")
        out.append(factory.parse(node))
    return out
