"""<Say>: text to speech. voice (woman), language (en-US), loop (1; 0 = until interrupted).
Speech starts playing while later sentences are still rendering."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from wirexa.laml.call import LamlCall
from wirexa.laml.nodes import LamlError, Node
from wirexa.laml.steps import Step
from wirexa.tts.base import TtsError

# SSML elements Twilio accepts inside <Say>; their text is spoken, the markup itself is not.
SSML = frozenset({"break", "emphasis", "lang", "p", "phoneme", "prosody", "s", "say-as", "sub", "w", "amazon:effect"})
TTS_FAILED = 13520  # Twilio: <Say> invalid text / could not be rendered


@dataclass(frozen=True)
class Say:
    text: str
    voice: str
    language: str
    loop: int

    @classmethod
    def parse(cls, node: Node) -> Say:
        for child in node.children:
            if child.name not in SSML:
                raise LamlError(f"<{child.name}> cannot be nested in <Say>")
        return cls(" ".join(node.text.split()), node.get("voice") or "woman",
                   node.get("language") or "en-US", node.integer("loop", 1))

    async def run(self, call: LamlCall) -> Step:
        if not self.text:
            return None
        rendered: list[bytes] = []

        async def first_pass() -> AsyncIterator[bytes]:
            async for pcm in call.speech(self.text, self.voice, self.language):
                rendered.append(pcm)
                yield pcm

        try:
            if not await call.media.play_stream(first_pass()):
                return None  # interrupted
        except TtsError as exc:
            call.report(TTS_FAILED, f"<Say> could not be spoken: {exc}")
            return None
        pcm = b"".join(rendered)
        if self.loop == 0:
            await call.media.play(pcm, loop=True)
            return None
        for _ in range(self.loop - 1):
            if not await call.media.play(pcm):
                break
        return None
