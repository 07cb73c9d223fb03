"""Amazon Polly: `POST /v1/speech` (SynthesizeSpeech) signed with SigV4, 8 kHz PCM out."""

from __future__ import annotations

import json

import httpx

from wirexa.tts import sigv4
from wirexa.tts.base import post, raw_pcm

# Standard-engine voices per language: (woman, man).
VOICES: dict[str, tuple[str, str]] = {
    "en-US": ("Joanna", "Matthew"),
    "en-GB": ("Amy", "Brian"),
    "en-AU": ("Nicole", "Russell"),
    "es-ES": ("Lucia", "Enrique"),
    "es-US": ("Lupe", "Miguel"),
    "fr-FR": ("Celine", "Mathieu"),
    "de-DE": ("Marlene", "Hans"),
    "it-IT": ("Carla", "Giorgio"),
    "pt-BR": ("Camila", "Ricardo"),
}
# Twilio's way of asking for another engine: "Polly.Joanna-Neural".
_ENGINE_SUFFIXES = {"-neural": "neural", "-generative": "generative", "-long-form": "long-form"}


class PollyProvider:
    name = "polly"

    def __init__(self, http: httpx.AsyncClient, *, access_key_id: str, secret_access_key: str,
                 region: str, session_token: str = "", endpoint: str = "",
                 engine: str = "standard") -> None:
        self.http = http
        self.access_key_id = access_key_id
        self.secret_access_key = secret_access_key
        self.session_token = session_token
        self.region = region
        self.engine = engine
        self.url = httpx.URL((endpoint or f"https://polly.{region}.amazonaws.com").rstrip("/")
                             + "/v1/speech")

    @property
    def configured(self) -> bool:
        return bool(self.access_key_id and self.secret_access_key)

    def default_voice(self, gender: str, language: str) -> str:
        woman, man = VOICES.get(language, VOICES["en-US"])
        return man if gender == "man" else woman

    async def synthesize(self, text: str, voice: str, language: str) -> bytes:
        voice_id, engine = voice, self.engine
        for suffix, named_engine in _ENGINE_SUFFIXES.items():
            if voice.lower().endswith(suffix):
                voice_id, engine = voice[: -len(suffix)], named_engine
        request = {"Text": text, "VoiceId": voice_id, "OutputFormat": "pcm", "SampleRate": "8000",
                   "Engine": engine, "TextType": "text"}
        # LanguageCode only where we know the voice speaks it: Polly rejects a voice/language
        # mismatch, and an explicit "polly.Miguel" must not fail for the default en-US.
        if voice_id in VOICES.get(language, ()):
            request["LanguageCode"] = language
        body = json.dumps(request).encode()
        headers = sigv4.sign(
            access_key_id=self.access_key_id, secret_access_key=self.secret_access_key,
            session_token=self.session_token, region=self.region, service="polly",
            method="POST", url=self.url, headers={"content-type": "application/json"}, body=body)
        response = await post(self.http, str(self.url), content=body, headers=headers)
        return raw_pcm(response)  # Polly's "pcm" is already 8 kHz 16-bit LE mono
