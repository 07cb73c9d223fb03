"""<Say>: text to speech. voice (woman), language (en-US), loop (1; 0 = until interrupted).
Speech starts playing while later sentences are still rendering."""

from __future__ import annotations

from dataclasses import dataclass

from wirexa.calls.prompts import speak
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
        try:
            await speak(call.media, call.services.tts, self.text, self.voice, self.language, loop=self.loop)
        except TtsError as exc:
            call.report(TTS_FAILED, f"<Say> could not be spoken: {exc}")
        return None
