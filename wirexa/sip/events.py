"""What a call leg reports to asyncio. Plain immutable data: no sippy objects cross threads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Union


@dataclass(frozen=True)
class Ringing:
    """180/183 (never 100). `sdp` is set when the far end sent early media."""

    code: int
    reason: str
    sdp: str | None = None


@dataclass(frozen=True)
class Answered:
    """Outbound: 200 OK received and ACKed. Inbound: our 200 OK sent. `sdp` is the remote SDP."""

    sdp: str | None


@dataclass(frozen=True)
class Failed:
    """Final non-2xx answer to our INVITE (408 also when the trunk never answered)."""

    code: int
    reason: str


@dataclass(frozen=True)
class Canceled:
    """Our CANCEL finished; `code` is the final INVITE response (487 normally, 200 when the
    callee answered at the same moment: sippy then sends BYE by itself)."""

    code: int
    reason: str


@dataclass(frozen=True)
class Disconnected:
    """The dialog ended: BYE (either side), or for inbound legs a CANCEL from the caller."""

    by: Literal["local", "remote"]


@dataclass(frozen=True)
class Updated:
    """The far end sent a re-INVITE (hold, resume, codec change) and we answered it."""

    remote_sdp: str
    local_sdp: str


LegEvent = Union[Ringing, Answered, Failed, Canceled, Disconnected, Updated]
