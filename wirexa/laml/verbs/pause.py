"""<Pause>: silence for `length` seconds (1)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from wirexa.laml.call import LamlCall
from wirexa.laml.nodes import Node
from wirexa.laml.steps import Step


@dataclass(frozen=True)
class Pause:
    length: float

    @classmethod
    def parse(cls, node: Node) -> Pause:
        node.no_children()
        return cls(node.number("length", 1.0))

    async def run(self, call: LamlCall) -> Step:
        await asyncio.sleep(self.length)
        return None
