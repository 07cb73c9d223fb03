"""<Record>: parsed so documents using it are valid; recording comes with the recordings
issue. Until then the call goes on with the next verb and the call record says why."""

from __future__ import annotations

from dataclasses import dataclass

from wirexa.laml.call import LamlCall
from wirexa.laml.nodes import Node
from wirexa.laml.steps import Step


@dataclass(frozen=True)
class Record:
    @classmethod
    def parse(cls, node: Node) -> Record:
        node.no_children()
        return cls()

    async def run(self, call: LamlCall) -> Step:
        call.report(13000, "<Record> is not available yet in this Wirexa version; skipped")
        return None
