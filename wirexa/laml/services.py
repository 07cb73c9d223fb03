"""What the LaML interpreter needs from the rest of the engine, in one place."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from wirexa.audio.fetch import AudioFetcher
from wirexa.laml.call import Dialer
from wirexa.laml.documents import DocumentFetcher
from wirexa.store.calls import CallRow
from wirexa.tts.chain import TtsChain

if TYPE_CHECKING:
    from wirexa.recordings.service import RecordingService


@dataclass
class LamlServices:
    documents: DocumentFetcher
    tts: TtsChain
    audio: AudioFetcher
    dialer: Dialer
    # (call sid, Twilio error code, message): keep a problem on the call record.
    report_error: Callable[[str, int, str], None]
    # account sid → the project's auth token (documents are signed with it).
    auth_token: Callable[[str], Awaitable[str]]
    # call sid → the stored call (new instructions after a REST update).
    load_call: Callable[[str], Awaitable[CallRow | None]]
    # <Record> and <Dial record>; None: recording is not available.
    recordings: RecordingService | None = None
