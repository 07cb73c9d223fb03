"""The call flow with the Calling API in mind: calls with instructions (Url, Twiml) run LaML;
a call dialed through the Calling API without a `url` stays up, silent, for the commands sent
to it, until it is given instructions (`update` with a url, `calling.transfer`) or ends."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from wirexa.calls.runner import CallFlow, LiveCall
from wirexa.store.calls import CallRow

INSTRUCTIONS = ("url", "method", "twiml", "fallback_url", "fallback_method")


class CallingFlow:
    def __init__(self, inner: CallFlow, load_call: Callable[[str], Awaitable[CallRow | None]]) -> None:
        self.inner = inner
        self.load_call = load_call

    async def prepare(self, live: LiveCall) -> str | None:
        return await self.inner.prepare(live)

    async def run(self, live: LiveCall) -> None:
        while not (live.call.get("url") or live.call.get("twiml")):
            if live.direction != "outbound-api":
                break  # only Calling API dials come without instructions: LaML reports the rest
            await live.redirected.wait()
            live.redirected.clear()
            stored = await self.load_call(live.sid)
            if stored is not None:
                live.call = {**live.call, **{k: stored[k] for k in INSTRUCTIONS}}
        await self.inner.run(live)
