"""Text to speech: cloud providers (Polly, Google, ElevenLabs, Azure) with local espeak-ng as the
last resort, a disk cache, and speech handed out sentence by sentence. Start at `TtsChain`."""

from .base import TtsError, TtsProvider
from .chain import Rendering, TtsChain

__all__ = ["Rendering", "TtsChain", "TtsError", "TtsProvider"]
