"""Call operations shared by every front door (the LaML REST API now, the Calling API later).
Their store writes go through the engine's store thread, never on the event loop."""

from __future__ import annotations

from functools import partial
from typing import Any

from sqlalchemy import Connection

from wirexa.calls import status as st
from wirexa.calls.live import LiveCalls
from wirexa.calls.queue import OutboundQueue
from wirexa.config import Settings
from wirexa.sids import new_call_sid
from wirexa.store.batch import Batcher
from wirexa.store.calls import CallRow, CallStore
from wirexa.webhooks.call_status import enqueue_status


class NotModifiable(Exception):
    """The call's state does not allow the requested change (Twilio error 21220)."""


class CallService:
    def __init__(
        self,
        calls: CallStore,
        settings: Settings,
        queue: OutboundQueue,
        store: Batcher,
        live: LiveCalls | None = None,
    ) -> None:
        self.calls = calls
        self.settings = settings
        self.queue = queue
        self.live = live
        # Creates that arrive together share one commit, off the event loop.
        self.store = store

    async def create_outbound(self, account_sid: str, values: dict[str, Any]) -> CallRow:
        """Queue a new outbound call (committed when this returns); the outbound queue dials it."""
        values = {**values, "sid": new_call_sid(), "account_sid": account_sid,
                  "direction": "outbound-api", "status": st.QUEUED}
        row = await self.store.run(partial(self.calls.create, values))
        self.queue.notify(account_sid)
        return row

    async def _finish_waiting(self, call: CallRow) -> CallRow | None:
        def finish(conn: Connection) -> CallRow | None:
            row = self.calls.finish(
                call["sid"], st.CANCELED, unclaimed=True,
                default_price_per_minute=self.settings.price_per_minute,
                price_unit=self.settings.price_unit, conn=conn,
            )
            if row is not None:
                enqueue_status(conn, row, "completed")
            return row

        return await self.store.run(finish)

    async def end(self, call: CallRow, requested: str) -> CallRow:
        """`canceled`: stop a queued or ringing call. `completed`: hang up a call in any live
        state (a call that was not answered yet ends as `canceled`)."""
        status = call["status"]
        if status in st.FINAL:
            raise NotModifiable(f"Call is already {status}; a finished call cannot be modified.")
        if requested == st.CANCELED and status == st.IN_PROGRESS:
            raise NotModifiable("Call is in-progress: use Status=completed to hang it up.")
        if status == st.QUEUED:
            ended = await self._finish_waiting(call)
            if ended is not None:
                return ended
        # The call is owned by a live engine (or was claimed a moment ago).
        if self.live is None:
            raise NotModifiable("No call engine is running on this node to end the call.")
        await self.live.end(call["sid"], st.CANCELED if status in st.NOT_ANSWERED else requested)
        return await self.store.run(partial(self.calls.get_by_sid, call["sid"])) or call

    async def redirect(self, call: CallRow, changes: dict[str, Any]) -> CallRow:
        """New instructions: a live call fetches them at once, a waiting one uses them on answer."""
        updated = await self.store.run(partial(self.calls.update_fields, call["sid"], changes))
        if updated is None:
            raise NotModifiable(f"Call is already {call['status']}; a finished call cannot be modified.")
        if updated["status"] == st.IN_PROGRESS and ("url" in changes or "twiml" in changes):
            if self.live is None:
                raise NotModifiable("No call engine is running on this node to redirect the call.")
            await self.live.redirect(call["sid"])
        return updated

    async def delete(self, call: CallRow) -> None:
        """Remove a finished call."""
        if not await self.store.run(partial(self.calls.delete_finished, call["account_sid"], call["sid"])):
            raise NotModifiable(f"Call is {call['status']}; only finished calls can be deleted.")
