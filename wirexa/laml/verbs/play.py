"""<Play>: an audio file by URL (WAV, MP3...), loop (1; 0 = until interrupted); or `digits`
sent as DTMF (`w` pauses half a second)."""

from __future__ import annotations

from dataclasses import dataclass

from wirexa.audio.pcm import AudioError
from wirexa.calls.prompts import play_pcm
from wirexa.laml.call import LamlCall
from wirexa.laml.nodes import LamlError, Node
from wirexa.laml.steps import Step

PLAY_FAILED = 13227  # Twilio: <Play> could not retrieve or play the audio
DIGIT_CHARS = frozenset("0123456789*#ABCDabcdwW")


@dataclass(frozen=True)
class Play:
    url: str
    loop: int
    digits: str

    @classmethod
    def parse(cls, node: Node) -> Play:
        node.no_children()
        digits = node.get("digits") or ""
        if set(digits) - DIGIT_CHARS:
            raise LamlError(f"<Play digits=\"{digits}\">: only 0-9, *, #, A-D and w/W pauses")
        if not digits and not node.text:
            raise LamlError("<Play> needs an audio URL (or the digits attribute)")
        return cls(node.text, node.integer("loop", 1), digits)

    async def run(self, call: LamlCall) -> Step:
        if self.digits:
            await call.media.send_digits(self.digits)
        if not self.url:
            return None
        url = call.resolve(self.url)
        try:
            pcm = await call.services.audio.get(url)
        except AudioError as exc:
            call.report(PLAY_FAILED, f"<Play> {url}: {exc}")
            return None
        await play_pcm(call.media, pcm, loop=self.loop)
        return None
