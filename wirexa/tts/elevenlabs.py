"""ElevenLabs: `POST /v1/text-to-speech/{voice_id}?output_format=pcm_8000`, raw 8 kHz PCM out."""

from __future__ import annotations

from urllib.parse import quote

import httpx

from wirexa.tts.base import post, raw_pcm

# The API takes voice ids; these premade voices may also be named ("elevenlabs.Rachel").
PREMADE: dict[str, str] = {
    "rachel": "21m00Tcm4TlvDq8ikWAM",
    "domi": "AZnzlk1XvdvUeBnXmlld",
    "bella": "EXAVITQu4vr4xnSDxMaL",
    "antoni": "ErXwobaYiN019PkySvjV",
    "josh": "TxGEqnHWrfWFTfGW9XjX",
    "arnold": "VR6AewLTigWG4xSOukaG",
    "adam": "pNInz6obpgDQGcFmaJgB",
}


class ElevenLabsProvider:
    name = "elevenlabs"

    def __init__(self, http: httpx.AsyncClient, *, api_key: str, endpoint: str = "",
                 model: str = "eleven_multilingual_v2") -> None:
        self.http = http
        self.api_key = api_key
        self.model = model
        self.base = (endpoint or "https://api.elevenlabs.io").rstrip("/")

    @property
    def configured(self) -> bool:
        return bool(self.api_key)

    def default_voice(self, gender: str, language: str) -> str:
        # The multilingual model speaks the text's language with any voice.
        return "Adam" if gender == "man" else "Rachel"

    async def synthesize(self, text: str, voice: str, language: str) -> bytes:
        voice_id = PREMADE.get(voice.lower(), voice)
        response = await post(
            self.http, f"{self.base}/v1/text-to-speech/{quote(voice_id, safe='')}",
            params={"output_format": "pcm_8000"},  # telephony rate: no resampling needed
            headers={"xi-api-key": self.api_key},
            json={"text": text, "model_id": self.model})
        return raw_pcm(response)
