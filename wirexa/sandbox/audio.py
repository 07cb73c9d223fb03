"""Local TTS for virtual phones: `espeak-ng --stdout` (22.05 kHz WAV) run as a subprocess,
resampled to 8 kHz, cached in memory."""

from __future__ import annotations

import asyncio
import shutil

from wirexa.audio.pcm import AudioError, decode_wav

ESPEAK = "espeak-ng"
_tts_cache: dict[tuple[str, str, int | None], bytes] = {}
_TTS_CACHE_MAX = 256


def tts_available() -> bool:
    return shutil.which(ESPEAK) is not None


async def tts(text: str, voice: str = "en-us", speed: int | None = None) -> bytes:
    """Speak `text` with espeak-ng; 8 kHz PCM, cached per (text, voice, speed)."""
    key = (text, voice, speed)
    cached = _tts_cache.get(key)
    if cached is not None:
        return cached
    if not tts_available():
        raise AudioError("espeak-ng is not installed (Debian package espeak-ng)")
    args = [ESPEAK, "--stdout", "-v", voice]
    if speed:
        args += ["-s", str(int(speed))]
    proc = await asyncio.create_subprocess_exec(
        *args, "--", text, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    if proc.returncode != 0 or not out:
        raise AudioError(f"espeak-ng failed ({proc.returncode}): {err.decode(errors='replace').strip()}")
    pcm = await asyncio.to_thread(decode_wav, out)  # resampling is CPU work: off the media loop
    if len(_tts_cache) >= _TTS_CACHE_MAX:
        _tts_cache.pop(next(iter(_tts_cache)))
    _tts_cache[key] = pcm
    return pcm
