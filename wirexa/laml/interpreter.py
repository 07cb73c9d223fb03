"""The LaML interpreter: the call flow of every call. It loads the call's first document (Url
or inline Twiml; FallbackUrl when that fails), runs its verbs in order, follows the documents
verbs point to (Gather/Dial actions, Redirect), and starts over when the REST API gives the
call new instructions. When a document runs out the call hangs up."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from wirexa.calls.runner import LiveCall
from wirexa.laml.call import LamlCall
from wirexa.laml.documents import DocumentError
from wirexa.laml.nodes import LamlError
from wirexa.laml.parse import parse_document
from wirexa.laml.services import LamlServices
from wirexa.laml.steps import Fetch, Hangup, Verb
from wirexa.laml.verbs.reject import Reject


NO_INSTRUCTIONS = 21205  # Twilio: Url (or Twiml) is required
Loaded = tuple[list[Verb], str | None]  # a document's verbs and its URL (None: inline)


@dataclass(frozen=True)
class _Prepared:
    """An inbound call's first document, loaded before the call was answered."""

    loaded: Loaded | None


class LamlFlow:
    def __init__(self, services: LamlServices) -> None:
        self.services = services

    async def _call(self, live: LiveCall) -> LamlCall:
        token = await self.services.auth_token(live.account_sid)
        return LamlCall(live, self.services, token, None)

    async def prepare(self, live: LiveCall) -> str | None:
        call = await self._call(live)
        loaded = await self._load_first(call)
        if loaded is not None and loaded[0] and isinstance(loaded[0][0], Reject):
            return loaded[0][0].reason
        live.flow_state = _Prepared(loaded)  # run() starts with it once the call is answered
        return None

    async def run(self, live: LiveCall) -> None:
        call = await self._call(live)
        call.media.listen_for_tones(False)  # <Gather> turns tone detection on while it listens
        prepared = live.flow_state
        first = prepared.loaded if isinstance(prepared, _Prepared) else await self._load_first(call)
        while True:
            document = asyncio.ensure_future(self._run_documents(call, first))
            redirected = asyncio.ensure_future(live.redirected.wait())
            try:
                await asyncio.wait({document, redirected}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                redirected.cancel()
                if not document.done():
                    document.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await document
            if not live.redirected.is_set():
                document.result()
                return
            # New Url/Twiml from the REST API: what is playing stops, the new document runs.
            live.redirected.clear()
            call.media.stop_playing()
            stored = await self.services.load_call(live.sid)
            if stored is not None:
                live.call = {**live.call, **{k: stored[k] for k in (
                    "url", "method", "twiml", "fallback_url", "fallback_method")}}
            first = await self._load_first(call)

    async def _run_documents(self, call: LamlCall, loaded: Loaded | None) -> None:
        while loaded is not None:
            verbs, call.document_url = loaded
            step = None
            try:
                for verb in verbs:
                    step = await verb.run(call)
                    if step is not None:
                        break
            except LamlError as exc:  # e.g. a relative URL with nothing to resolve it against
                call.report(exc.code, str(exc))
                return
            if step is None:
                return  # the document ran out: the call hangs up
            if isinstance(step, Hangup):
                call.live.hangup(step.reason)
                return
            assert isinstance(step, Fetch)
            loaded = await self._load(call, step.url, step.method, step.params)

    async def _load_first(self, call: LamlCall) -> Loaded | None:
        """The call's own instructions: inline Twiml wins over Url, as in Twilio."""
        row = call.live.call
        if row.get("twiml"):
            try:
                return parse_document(row["twiml"]), None
            except LamlError as exc:
                call.report(exc.code, f"Twiml: {exc}")
                return await self._fallback(call, "", exc.code, {})
        if row.get("url"):
            return await self._load(call, row["url"], row.get("method") or "POST", {})
        call.report(NO_INSTRUCTIONS, "the call has no Url or Twiml to run")
        return None

    async def _load(self, call: LamlCall, url: str, method: str, params: dict[str, str]) -> Loaded | None:
        """Fetch and parse a document; on failure report it and try the FallbackUrl."""
        try:
            return await self._fetch(call, url, method, params), url
        except (DocumentError, LamlError) as exc:
            call.report(exc.code, f"{url}: {exc}" if isinstance(exc, LamlError) else str(exc))
            return await self._fallback(call, url, exc.code, params)

    async def _fallback(self, call: LamlCall, failed_url: str, code: int, params: dict[str, str]) -> Loaded | None:
        fallback = call.live.call.get("fallback_url")
        if not fallback or fallback == failed_url:
            return None
        extra = {**params, "ErrorCode": str(code), "ErrorUrl": failed_url}
        try:
            return await self._fetch(call, fallback, call.live.call.get("fallback_method") or "POST", extra), fallback
        except (DocumentError, LamlError) as exc:
            call.report(exc.code, f"FallbackUrl {fallback}: {exc}")
            return None

    async def _fetch(self, call: LamlCall, url: str, method: str, params: dict[str, str]) -> list[Verb]:
        text = await self.services.documents.fetch(url, method, call.params(params), call.auth_token)
        return parse_document(text)
