"""What every TTS provider offers the chain, and the HTTP error handling the cloud ones share."""

from __future__ import annotations

from typing import Any, Protocol

import httpx


class TtsError(Exception):
    """Speech could not be rendered (by one provider, or, from the chain, by any)."""


class TtsProvider(Protocol):
    name: str

    @property
    def configured(self) -> bool:
        """True when the provider has what it needs to be asked (credentials, a binary)."""
        ...

    async def synthesize(self, text: str, voice: str, language: str) -> bytes:
        """`text` spoken by `voice` as 8 kHz 16-bit mono PCM; raises TtsError."""
        ...

    def default_voice(self, gender: str, language: str) -> str:
        """The provider's voice for `gender` ("woman" / "man") speaking `language` (BCP-47)."""
        ...


async def post(http: httpx.AsyncClient, url: str, **kwargs: Any) -> httpx.Response:
    """POST and return a 2xx response; every transport failure or error status is a TtsError
    carrying the vendor's message, so the chain has one exception to fall back on."""
    try:
        response = await http.post(url, **kwargs)
    except httpx.HTTPError as exc:
        raise TtsError(f"{type(exc).__name__}: {exc}") from exc
    if not response.is_success:
        raise TtsError(f"HTTP {response.status_code}: {response.text[:200].strip()}")
    return response


def raw_pcm(response: httpx.Response) -> bytes:
    """The body of a response that should be raw 16-bit PCM; rejects an error page or JSON
    that a proxy or vendor returned with a 2xx status, and bodies that cannot be samples."""
    kind = response.headers.get("content-type", "")
    if kind.startswith(("application/json", "text/")):
        raise TtsError(f"expected audio, got {kind}: {response.text[:200].strip()}")
    pcm = response.content
    if not pcm or len(pcm) % 2:
        raise TtsError(f"not 16-bit PCM ({len(pcm)} bytes)")
    return pcm
