"""<Gather>: collect DTMF digits. Nested <Say>/<Play>/<Pause> prompt the caller and stop at
the first digit; `timeout` (5 s) counts from the end of the prompt and between digits;
`finishOnKey` (#, '' for none) ends input and is not part of Digits; `numDigits` ends input
when reached. Digits go to `action` (the current document by default); no input falls through
to the next verb unless actionOnEmptyResult is true."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from wirexa.calls.collect import DigitRules, collect_digits
from wirexa.laml.call import LamlCall
from wirexa.laml.nodes import LamlError, Node, parse_children
from wirexa.laml.steps import Fetch, Step, Verb
from wirexa.laml.verbs.pause import Pause
from wirexa.laml.verbs.play import Play
from wirexa.laml.verbs.say import Say

PROMPTS = {"Say": Say, "Play": Play, "Pause": Pause}
KEYS = frozenset("0123456789*#")
INPUTS = frozenset({"dtmf", "speech"})
NO_SPEECH = 13335  # reported once per Gather that asks for speech input


@dataclass(frozen=True)
class Gather:
    prompt: tuple[Verb, ...]
    action: str
    method: str
    timeout: float
    finish_on_key: str
    num_digits: int | None
    action_on_empty_result: bool
    inputs: frozenset[str]

    @classmethod
    def parse(cls, node: Node) -> Gather:
        from wirexa.laml.verbs import NOUNS, TOP_LEVEL  # the registry imports this module

        prompt = parse_children(node.children, PROMPTS, "<Gather>", known=set(TOP_LEVEL) | NOUNS)
        key = node.get("finishOnKey", "#") or ""
        if len(key) > 1 or (key and key not in KEYS):
            raise LamlError(f"<Gather finishOnKey=\"{key}\">: one of 0-9, *, # or empty")
        inputs = frozenset((node.get("input") or "dtmf").lower().split())
        if not inputs or inputs - INPUTS:
            raise LamlError(f"<Gather input=\"{node.get('input')}\">: dtmf, speech or \"dtmf speech\"")
        num_digits = node.integer("numDigits", 0, minimum=0)
        return cls(tuple(prompt), node.get("action") or "", node.method(), node.number("timeout", 5.0),
                   key, num_digits or None, node.boolean("actionOnEmptyResult", False), inputs)

    async def run(self, call: LamlCall) -> Step:
        if "speech" in self.inputs:
            call.report(NO_SPEECH, "<Gather input=\"speech\">: speech recognition is not available; "
                                   "only DTMF is collected")
        call.media.clear_digits()  # keys pressed before this Gather are not its input
        call.media.listen_for_tones(True)
        try:
            digits, key = await self._collect(call)
        finally:
            call.media.listen_for_tones(False)
        if not digits and not self.action_on_empty_result:
            return None
        target = call.resolve(self.action) if self.action else call.document_url
        if not target:
            raise LamlError("<Gather> has no action and its document no URL to post the digits to")
        return Fetch(target, self.method, {"Digits": digits, "FinishedOnKey": key})

    async def _collect(self, call: LamlCall) -> tuple[str, str]:
        """(digits, the finishOnKey that ended input or '')."""
        media = call.media
        prompt = asyncio.ensure_future(self._play_prompt(call))
        keyed = asyncio.ensure_future(media.wait_for_digit())  # consumes nothing: cancel-safe
        try:
            await asyncio.wait({prompt, keyed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            keyed.cancel()
            if not prompt.done():
                prompt.cancel()  # barge-in: the first digit stops the prompt
                media.stop_playing()
        if prompt.done() and not prompt.cancelled():
            prompt.result()  # a prompt that failed fails the Gather
        # Returns at once when a digit barged in; else waits `timeout` from the prompt's end.
        got = await collect_digits(media, DigitRules(self.num_digits, self.finish_on_key, self.timeout, self.timeout))
        return got.digits, got.terminator

    async def _play_prompt(self, call: LamlCall) -> None:
        for verb in self.prompt:
            await verb.run(call)
