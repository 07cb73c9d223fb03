"""What a verb tells the interpreter when it finishes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from wirexa.laml.call import LamlCall


@dataclass(frozen=True)
class Fetch:
    """Replace the rest of the document with the one at `url` (action, Redirect)."""

    url: str
    method: str = "POST"
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Hangup:
    """End the call now."""

    reason: str = "<Hangup>"


Step = Fetch | Hangup | None  # None: go on with the next verb


class Verb(Protocol):
    async def run(self, call: LamlCall) -> Step:
        ...
