"""<Reject reason="rejected|busy">: refuse an inbound call without answering it. Only the
first verb of an inbound call's first document can do that (the interpreter checks it before
answering); anywhere else the call is hung up, as Twilio does."""

from __future__ import annotations

from dataclasses import dataclass

from wirexa.laml.call import LamlCall
from wirexa.laml.nodes import LamlError, Node
from wirexa.laml.steps import Hangup, Step

REASONS = ("rejected", "busy")


@dataclass(frozen=True)
class Reject:
    reason: str

    @classmethod
    def parse(cls, node: Node) -> Reject:
        node.no_children()
        reason = (node.get("reason") or "rejected").lower()
        if reason not in REASONS:
            raise LamlError(f"<Reject reason=\"{reason}\">: must be rejected or busy")
        return cls(reason)

    async def run(self, call: LamlCall) -> Step:
        call.report(13000, "<Reject> after the call was answered: hung up instead")
        return Hangup("<Reject> after answer")
