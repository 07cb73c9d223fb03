"""Azure AI Speech: `POST /cognitiveservices/v1` with an SSML body, raw 8 kHz PCM out."""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

import httpx

from wirexa.tts.base import post, raw_pcm

# Neural voices per language: (woman, man).
VOICES: dict[str, tuple[str, str]] = {
    "en-US": ("en-US-JennyNeural", "en-US-GuyNeural"),
    "en-GB": ("en-GB-SoniaNeural", "en-GB-RyanNeural"),
    "es-ES": ("es-ES-ElviraNeural", "es-ES-AlvaroNeural"),
    "es-MX": ("es-MX-DaliaNeural", "es-MX-JorgeNeural"),
    "fr-FR": ("fr-FR-DeniseNeural", "fr-FR-HenriNeural"),
    "de-DE": ("de-DE-KatjaNeural", "de-DE-ConradNeural"),
    "it-IT": ("it-IT-ElsaNeural", "it-IT-DiegoNeural"),
    "pt-BR": ("pt-BR-FranciscaNeural", "pt-BR-AntonioNeural"),
}
USER_AGENT = "wirexa"


def ssml(text: str, voice: str, language: str) -> str:
    """The SSML document Azure wants; the text is escaped so "<", "&" are spoken, not parsed."""
    return (f"<speak version='1.0' xmlns='http://www.w3.org/2001/10/synthesis' "
            f"xml:lang={quoteattr(language)}><voice name={quoteattr(voice)}>{escape(text)}</voice></speak>")


class AzureProvider:
    name = "azure"

    def __init__(self, http: httpx.AsyncClient, *, key: str, region: str, endpoint: str = "") -> None:
        self.http = http
        self.key = key
        self.region = region
        base = endpoint or f"https://{region}.tts.speech.microsoft.com"
        self.url = base.rstrip("/") + "/cognitiveservices/v1"

    @property
    def configured(self) -> bool:
        return bool(self.key and self.region)

    def default_voice(self, gender: str, language: str) -> str:
        woman, man = VOICES.get(language, VOICES["en-US"])
        return man if gender == "man" else woman

    async def synthesize(self, text: str, voice: str, language: str) -> bytes:
        response = await post(self.http, self.url, content=ssml(text, voice, language).encode(), headers={
            "Ocp-Apim-Subscription-Key": self.key,
            "Content-Type": "application/ssml+xml",
            "X-Microsoft-OutputFormat": "raw-8khz-16bit-mono-pcm",
            "User-Agent": USER_AGENT,
        })
        return raw_pcm(response)
