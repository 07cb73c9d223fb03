"""<Hangup>: end the call."""

from __future__ import annotations

from dataclasses import dataclass

from wirexa.laml.call import LamlCall
from wirexa.laml.nodes import Node
from wirexa.laml.steps import Hangup as HangupStep
from wirexa.laml.steps import Step


@dataclass(frozen=True)
class Hangup:
    @classmethod
    def parse(cls, node: Node) -> Hangup:
        node.no_children()
        return cls()

    async def run(self, call: LamlCall) -> Step:
        return HangupStep("<Hangup>")
