"""Rendered speech on disk, so a repeated prompt costs no synthesis (and no cloud bill).

One file of raw 8 kHz PCM per (provider, voice, language, text), named by its sha256. Files
appear whole or not at all (written aside, fsynced, then renamed), so a crash never leaves a
torn entry to be played later.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from pathlib import Path

from wirexa.files import write_atomically

log = logging.getLogger(__name__)


def cache_key(provider: str, voice: str, language: str, text: str) -> str:
    # JSON keeps the fields apart: ("a b", "c") and ("a", "b c") must not collide.
    return hashlib.sha256(json.dumps([provider, voice, language, text]).encode()).hexdigest()


class TtsCache:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.pcm"  # fan out: no directory of 100k files

    async def get(self, key: str) -> bytes | None:
        try:
            # Off the event loop: a long prompt is hundreds of kB and the disk may be slow.
            return await asyncio.to_thread(self._path(key).read_bytes)
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("tts cache: cannot read %s: %s", key, exc)
            return None

    async def put(self, key: str, pcm: bytes) -> None:
        try:
            await asyncio.to_thread(write_atomically, self._path(key), pcm)
        except OSError as exc:  # a full disk costs a re-render later, never the call
            log.warning("tts cache: cannot store %s: %s", key, exc)
