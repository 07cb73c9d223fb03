"""Local speech with `espeak-ng --stdout`: no credentials, no network, always the last resort.
The one place in Wirexa that runs espeak-ng (the sandbox's virtual phones use `render` too)."""

from __future__ import annotations

import asyncio
import shutil

from wirexa.audio.pcm import AudioError, decode_wav
from wirexa.tts.base import TtsError

ESPEAK = "espeak-ng"
# BCP-47 tags whose espeak-ng voice is not simply the lower-cased tag.
_VOICES = {"es-us": "es-419", "es-mx": "es-419", "en-au": "en-gb"}
# espeak-ng variants: a female and a male voice of the same language.
_VARIANTS = {"woman": "f3", "man": "m3"}


def available() -> bool:
    return shutil.which(ESPEAK) is not None


async def render(text: str, voice: str = "en-us", speed: int | None = None) -> bytes:
    """`text` spoken by espeak-ng `voice` (e.g. "en-us", "en-us+f3") at `speed` words per
    minute, as 8 kHz PCM; raises TtsError."""
    if not available():
        raise TtsError("espeak-ng is not installed (Debian package espeak-ng)")
    args = [ESPEAK, "--stdout", "-v", voice]
    if speed:
        args += ["-s", str(int(speed))]
    proc = await asyncio.create_subprocess_exec(
        *args, "--", text, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await proc.communicate()
    except BaseException:  # cancelled (a caller hung up): do not leave it running
        proc.kill()
        await proc.wait()
        raise
    if proc.returncode != 0 or not out:
        raise TtsError(f"espeak-ng failed ({proc.returncode}): {err.decode(errors='replace').strip()}")
    try:
        return await asyncio.to_thread(decode_wav, out)  # resampling is CPU work: off the loop
    except AudioError as exc:
        raise TtsError(f"espeak-ng output: {exc}") from exc


class EspeakProvider:
    name = "espeak"

    @property
    def configured(self) -> bool:
        return available()

    def default_voice(self, gender: str, language: str) -> str:
        # espeak-ng itself matches "de-de" to "de", "fr-ca" to "fr"...
        tag = language.lower() or "en-us"
        return f"{_VOICES.get(tag, tag)}+{_VARIANTS.get(gender, 'f3')}"

    async def synthesize(self, text: str, voice: str, language: str) -> bytes:
        return await render(text, voice)
