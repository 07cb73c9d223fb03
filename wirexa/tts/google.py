"""Google Cloud Text-to-Speech: `POST /v1/text:synthesize?key=...`, LINEAR16 at 8 kHz."""

from __future__ import annotations

import base64

import httpx

from wirexa.audio.pcm import AudioError, decode_wav
from wirexa.tts.base import TtsError, post

# Standard voices per language: (woman, man).
VOICES: dict[str, tuple[str, str]] = {
    "en-US": ("en-US-Standard-C", "en-US-Standard-D"),
    "en-GB": ("en-GB-Standard-A", "en-GB-Standard-B"),
    "es-ES": ("es-ES-Standard-A", "es-ES-Standard-B"),
    "es-US": ("es-US-Standard-A", "es-US-Standard-B"),
    "fr-FR": ("fr-FR-Standard-A", "fr-FR-Standard-B"),
    "de-DE": ("de-DE-Standard-A", "de-DE-Standard-B"),
    "it-IT": ("it-IT-Standard-A", "it-IT-Standard-C"),
    "pt-BR": ("pt-BR-Standard-A", "pt-BR-Standard-B"),
}


class GoogleProvider:
    name = "google"

    def __init__(self, http: httpx.AsyncClient, *, api_key: str, endpoint: str = "") -> None:
        self.http = http
        self.api_key = api_key
        self.url = (endpoint or "https://texttospeech.googleapis.com").rstrip("/") + "/v1/text:synthesize"

    @property
    def configured(self) -> bool:
        return bool(self.api_key)

    def default_voice(self, gender: str, language: str) -> str:
        woman, man = VOICES.get(language, VOICES["en-US"])
        return man if gender == "man" else woman

    async def synthesize(self, text: str, voice: str, language: str) -> bytes:
        # Google rejects a languageCode that differs from the voice's own ("en-US-Standard-C").
        parts = voice.split("-")
        voice_language = "-".join(parts[:2]) if len(parts) > 2 else language
        response = await post(self.http, self.url, params={"key": self.api_key}, json={
            "input": {"text": text},
            "voice": {"languageCode": voice_language, "name": voice},
            "audioConfig": {"audioEncoding": "LINEAR16", "sampleRateHertz": 8000},
        })
        try:
            # LINEAR16 comes as a WAV file; decode_wav also resamples should the rate differ.
            return decode_wav(base64.b64decode(response.json()["audioContent"], validate=True))
        except (ValueError, KeyError, TypeError, AudioError) as exc:
            raise TtsError(f"bad audio from Google: {exc}") from exc
