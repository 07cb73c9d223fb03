"""The interface between the REST side and the engine that runs live calls (the SIP engine)."""

from __future__ import annotations

from typing import Protocol

from wirexa.store.calls import CallRow


class LiveCalls(Protocol):
    def dial(self, call: CallRow) -> None:
        """Start placing a call that the outbound queue claimed for this node; returns at once."""

    async def end(self, call_sid: str, status: str) -> None:
        """Cancel (status `canceled`) or hang up (`completed`) a call this node owns."""

    async def redirect(self, call_sid: str) -> None:
        """Make an answered call fetch its (just updated) Url or Twiml now."""
