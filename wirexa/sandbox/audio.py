"""Local TTS for virtual phones: the TTS package's espeak-ng engine, cached in memory."""

from __future__ import annotations

from wirexa.audio.pcm import AudioError
from wirexa.tts import TtsError, espeak

_tts_cache: dict[tuple[str, str, int | None], bytes] = {}
_TTS_CACHE_MAX = 256


def tts_available() -> bool:
    return espeak.available()


async def tts(text: str, voice: str = "en-us", speed: int | None = None) -> bytes:
    """Speak `text` with espeak-ng `voice`; 8 kHz PCM, cached per (text, voice, speed)."""
    key = (text, voice, speed)
    cached = _tts_cache.get(key)
    if cached is not None:
        return cached
    try:
        pcm = await espeak.render(text, voice, speed)
    except TtsError as exc:  # the sandbox reports every unplayable sound as an AudioError
        raise AudioError(str(exc)) from exc
    if len(_tts_cache) >= _TTS_CACHE_MAX:
        _tts_cache.pop(next(iter(_tts_cache)))
    _tts_cache[key] = pcm
    return pcm
