"""Speech from the best provider that works: Polly → Google → ElevenLabs → Azure → espeak-ng.

`voice` follows LaML's <Say>: "polly.Joanna", "google.en-US-Standard-C", "elevenlabs.Rachel"
(or "eleven.Rachel"), "azure.en-US-JennyNeural" ask for that provider first; "woman", "man",
"alice" (or nothing) take the chain in order. Providers without credentials are skipped; one
that fails (HTTP error, timeout, bad audio) is skipped for this sentence and rested for
`retry_after` seconds, and the next one speaks with its own voice for the same gender.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

from wirexa.tts.azure import AzureProvider
from wirexa.tts.base import TtsError, TtsProvider
from wirexa.tts.cache import TtsCache, cache_key
from wirexa.tts.elevenlabs import ElevenLabsProvider
from wirexa.tts.espeak import EspeakProvider
from wirexa.tts.google import GoogleProvider
from wirexa.tts.polly import PollyProvider
from wirexa.tts.sentences import split_sentences

if TYPE_CHECKING:
    from wirexa.config import Settings

log = logging.getLogger(__name__)

_ALIASES = {"eleven": "elevenlabs"}  # the seed's LaML docs write "eleven.Rachel"
_GENDERS = {"": "woman", "woman": "woman", "alice": "woman", "man": "man"}


@dataclass(frozen=True)
class Rendering:
    """One rendered piece of speech and who rendered it."""
    pcm: bytes  # 8 kHz 16-bit mono
    provider: str
    voice: str
    cached: bool


class TtsChain:
    def __init__(self, cloud: Sequence[TtsProvider], local: TtsProvider, cache: TtsCache, *,
                 timeout: float = 5.0, retry_after: float = 30.0) -> None:
        self.cloud = list(cloud)  # in fallback order
        self.local = local  # the last resort: no timeout, never rested
        self.cache = cache
        self.timeout = timeout
        self.retry_after = retry_after
        self._resting_until: dict[str, float] = {}

    @classmethod
    def from_settings(cls, settings: Settings, http: httpx.AsyncClient) -> TtsChain:
        s = settings
        cloud: list[TtsProvider] = [
            PollyProvider(http, access_key_id=s.polly_access_key_id,
                          secret_access_key=s.polly_secret_access_key, region=s.polly_region,
                          session_token=s.polly_session_token, endpoint=s.polly_endpoint,
                          engine=s.polly_engine),
            GoogleProvider(http, api_key=s.google_tts_api_key, endpoint=s.google_tts_endpoint),
            ElevenLabsProvider(http, api_key=s.elevenlabs_api_key, endpoint=s.elevenlabs_endpoint,
                               model=s.elevenlabs_model),
            AzureProvider(http, key=s.azure_speech_key, region=s.azure_speech_region,
                          endpoint=s.azure_speech_endpoint),
        ]
        return cls(cloud, EspeakProvider(), TtsCache(s.data_dir / "tts-cache"),
                   timeout=s.tts_timeout, retry_after=s.tts_retry_after)

    async def speak(self, text: str, voice: str = "woman", language: str = "en-US") -> AsyncIterator[bytes]:
        """`text` as 8 kHz PCM, one sentence (or clause of a long one) at a time; the next piece
        renders while the caller plays this one. Raises TtsError if a piece cannot be rendered."""
        async with aclosing(self.renderings(text, voice, language)) as pieces:
            async for rendering in pieces:
                yield rendering.pcm

    async def renderings(self, text: str, voice: str = "woman",
                         language: str = "en-US") -> AsyncGenerator[Rendering, None]:
        """Like `speak`, with who rendered each piece."""
        pieces = split_sentences(text)
        ahead: list[asyncio.Task[Rendering]] = []
        try:
            for i, piece in enumerate(pieces):
                if not ahead:
                    ahead.append(asyncio.create_task(self.render(piece, voice, language)))
                if i + 1 < len(pieces):  # one piece ahead: rendering overlaps playing
                    ahead.append(asyncio.create_task(self.render(pieces[i + 1], voice, language)))
                yield await ahead.pop(0)
        finally:  # the caller stopped listening (hangup, barge-in) or a piece failed
            for task in ahead:
                if task.done() and not task.cancelled():
                    task.exception()  # retrieved, so asyncio does not log it as lost
                task.cancel()

    async def render(self, text: str, voice: str = "woman", language: str = "en-US") -> Rendering:
        """All of `text` as one piece, from the cache or the first provider that manages."""
        failures: list[str] = []
        plan, explicit = self._plan(voice, language)
        for index, (provider, name) in enumerate(plan):
            if not provider.configured:
                failures.append(f"{provider.name}: not configured")
                if explicit and index == 0:
                    log.warning("tts: voice %r asks for %s, which is not configured; falling back",
                                voice, provider.name)
                continue
            key = cache_key(provider.name, name, language, text)
            pcm = await self.cache.get(key)
            if pcm is not None:
                return Rendering(pcm, provider.name, name, cached=True)
            if self._resting_until.get(provider.name, 0.0) > time.monotonic():
                failures.append(f"{provider.name}: failed recently")
                continue
            try:
                pcm = await self._synthesize(provider, text, name, language)
            except Exception as exc:  # any failure of one provider is a reason to try the next
                reason = "timed out" if isinstance(exc, TimeoutError) else str(exc) or repr(exc)
                failures.append(f"{provider.name}: {reason}")
                log.warning("tts: %s (voice %s) failed, falling back: %s", provider.name, name, reason,
                            exc_info=not isinstance(exc, (TtsError, TimeoutError)))
                if provider is not self.local:
                    self._resting_until[provider.name] = time.monotonic() + self.retry_after
                continue
            await self.cache.put(key, pcm)
            return Rendering(pcm, provider.name, name, cached=False)
        raise TtsError("no TTS provider could speak: " + "; ".join(failures))

    def _plan(self, voice: str, language: str) -> tuple[list[tuple[TtsProvider, str]], bool]:
        """(provider, voice name) pairs in the order to try them, and whether the first one
        was asked for by name."""
        providers = [*self.cloud, self.local]
        prefix, _, name = voice.strip().partition(".")
        gender = _GENDERS.get(voice.strip().lower())
        first: TtsProvider | None = None
        if name:
            wanted = _ALIASES.get(prefix.lower(), prefix.lower())
            first = next((p for p in providers if p.name == wanted), None)
        if first is not None:
            # Fall back to the same gender when the named voice is one we know as a man's.
            gender = "man" if name == first.default_voice("man", language) else "woman"
        elif gender is None:
            log.warning("tts: unknown voice %r, using the default chain", voice)
            gender = "woman"
        plan = [(first, name)] if first is not None else []
        plan += [(p, p.default_voice(gender, language)) for p in providers if p is not first]
        return plan, first is not None

    async def _synthesize(self, provider: TtsProvider, text: str, voice: str, language: str) -> bytes:
        if provider is self.local:
            pcm = await provider.synthesize(text, voice, language)
        else:
            async with asyncio.timeout(self.timeout):  # the whole request, however slow the bytes
                pcm = await provider.synthesize(text, voice, language)
        if not pcm or len(pcm) % 2:
            raise TtsError(f"{provider.name} returned no usable audio ({len(pcm)} bytes)")
        return pcm
