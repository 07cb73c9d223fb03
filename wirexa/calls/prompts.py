"""Playing prompts to a live call: speech (TTS) and audio. One implementation for both front
doors: LaML's <Say>/<Play> (and <Gather>'s prompts) and the Calling API's `calling.play`.

Each returns True when it played to the end, False when it was interrupted (another play, a
stop, a barge-in, the call ending). `wrap` puts playback controls (pause, volume) around what
plays; `loop` 0 repeats until interrupted."""

from __future__ import annotations

from collections.abc import AsyncIterator

from wirexa.media.session import MediaSession, Wrap
from wirexa.tts.chain import TtsChain


async def speak(media: MediaSession, tts: TtsChain, text: str, voice: str, language: str, *,
                loop: int = 1, wrap: Wrap | None = None) -> bool:
    """Speech starts playing while later sentences are still rendering; repeats replay the
    rendered audio. Raises TtsError when no provider could render it."""
    rendered: list[bytes] = []

    async def first_pass() -> AsyncIterator[bytes]:
        async for pcm in tts.speak(text, voice, language):
            rendered.append(pcm)
            yield pcm

    if not await media.play_stream(first_pass(), wrap=wrap):
        return False
    if loop == 1:
        return True
    return await play_pcm(media, b"".join(rendered), loop=loop - 1 if loop else 0, wrap=wrap)


async def play_pcm(media: MediaSession, pcm: bytes, *, loop: int = 1, wrap: Wrap | None = None) -> bool:
    """8 kHz PCM, `loop` times (0: until interrupted)."""
    if loop == 0:
        return await media.play(pcm, loop=True, wrap=wrap)
    for _ in range(loop):
        if not await media.play(pcm, wrap=wrap):
            return False
    return True
