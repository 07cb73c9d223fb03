"""<Redirect>: the rest of the call comes from another document (method POST). An empty
<Redirect/> requests the current document again (the seeds' "repeat the menu")."""

from __future__ import annotations

from dataclasses import dataclass

from wirexa.laml.call import LamlCall
from wirexa.laml.nodes import LamlError, Node
from wirexa.laml.steps import Fetch, Step


@dataclass(frozen=True)
class Redirect:
    url: str
    method: str

    @classmethod
    def parse(cls, node: Node) -> Redirect:
        node.no_children()
        return cls(node.text, node.method())

    async def run(self, call: LamlCall) -> Step:
        target = call.resolve(self.url) if self.url else call.document_url
        if not target:
            raise LamlError("<Redirect/> without a URL in a document that has none (inline Twiml)")
        return Fetch(target, self.method, {})
