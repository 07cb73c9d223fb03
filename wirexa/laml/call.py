"""LamlCall: one live call as the verbs see it — its media, the document being run (the base
for relative URLs), the parameters every request carries, and the services verbs use."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urljoin, urlsplit

from wirexa.api.call_json import API_VERSION
from wirexa.calls.runner import LiveCall
from wirexa.laml.nodes import LamlError
from wirexa.media.session import MediaSession

if TYPE_CHECKING:
    from wirexa.laml.services import LamlServices

log = logging.getLogger(__name__)


class Dialer(Protocol):
    """Places the second leg of a <Dial> (the call engine's runner)."""

    async def dial_child(self, parent: LiveCall, to: str, caller_id: str, timeout: int, time_limit: int) -> LiveCall:
        ...


@dataclass
class LamlCall:
    live: LiveCall
    services: LamlServices
    auth_token: str
    # The URL of the document being run; None for inline Twiml given without a Url.
    document_url: str | None

    @property
    def media(self) -> MediaSession:
        assert self.live.media is not None, "LaML runs only on calls with media"
        return self.live.media

    def resolve(self, url: str) -> str:
        """`url` (from an action, <Play> or <Redirect>) made absolute against the document's URL."""
        url = url.strip()
        if urlsplit(url).scheme in ("http", "https"):
            return url
        base = self.document_url or self.live.call.get("url")
        if not base:
            raise LamlError(f"relative URL {url!r} in a document that has no URL to resolve it against")
        return urljoin(base, url)

    def params(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """What every LaML request carries (semantics.md), plus the verb's own fields."""
        call = self.live.call
        out = {
            "CallSid": self.live.sid,
            "AccountSid": self.live.account_sid,
            "From": call.get("from_number") or "",
            "To": call.get("to_number") or "",
            "Caller": call.get("from_number") or "",
            "Called": call.get("to_number") or "",
            "CallStatus": call.get("status") or "",
            "Direction": self.live.direction,
            "ApiVersion": API_VERSION,
        }
        if call.get("parent_call_sid"):
            out["ParentCallSid"] = call["parent_call_sid"]
        if call.get("amd"):  # this call's detection: AnsweredBy, MachineDetectionDuration...
            out.update(call["amd"])
        elif call.get("answered_by"):
            out["AnsweredBy"] = call["answered_by"]
        if extra:
            out.update(extra)
        return out

    def report(self, code: int, message: str) -> None:
        """A problem the call goes on after (or ends with): kept on the call record, where the
        API shows it as error_code / error_message, and logged."""
        log.warning("call %s: %s (%d)", self.live.sid, message, code)
        self.services.report_error(self.live.sid, code, message)
