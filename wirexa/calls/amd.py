"""Answering machine detection on a live call: the callee's audio tapped into the classifier
(wirexa/media/amd.py) until it decides or MachineDetectionTimeout runs out; and what the
decision changes: AnsweredBy on the call, and the AsyncAmdStatusCallback."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from sqlalchemy import Connection

from wirexa.calls import status as st
from wirexa.media.amd import AmdDetector, AmdParams, AmdResult
from wirexa.media.session import MediaSession
from wirexa.store.calls import CallRow, CallStore
from wirexa.webhooks import outbox

KIND = "amd-status"


@dataclass(frozen=True)
class Detection:
    result: AmdResult
    elapsed_ms: int  # wall time from answer to the decision (AmdDetectionTimeMs)

    def params(self) -> dict[str, str]:
        """The fields a document request, a status callback or the AMD callback carry."""
        return {
            "AnsweredBy": self.result.answered_by,
            "MachineDetectionDuration": str(self.result.duration_ms),
            "AmdConfidence": f"{self.result.confidence:.2f}",
            "AmdDetectionTimeMs": str(self.elapsed_ms),
        }


async def detect(media: MediaSession, params: AmdParams) -> Detection:
    """Listen until the classifier decides (or the timeout, which decides `unknown` or
    `machine_end_other`). Runs in the tap on the media loop: ~20-40 us a frame."""
    detector = AmdDetector(params)
    started = time.monotonic()
    decided: asyncio.Future[AmdResult] = asyncio.get_running_loop().create_future()

    def feed(frame: bytes) -> None:
        if not decided.done():
            result = detector.feed(frame)
            if result is not None:
                decided.set_result(result)

    untap = media.tap(feed)
    try:
        result = await asyncio.wait_for(decided, params.timeout_ms / 1000)
    except TimeoutError:
        result = detector.timeout()
    finally:
        untap()
    return Detection(result, int((time.monotonic() - started) * 1000))


def record_detection(calls: CallStore, call: CallRow, detection: Detection, conn: Connection) -> None:
    """Store thread: AnsweredBy on the call and, for AsyncAmd, the AMD callback, together."""
    calls.advance(call["sid"], st.NOT_FINAL, {"answered_by": detection.result.answered_by}, conn)
    url = call.get("async_amd_status_callback")
    if call.get("async_amd") and url:
        outbox.enqueue(conn, account_sid=call["account_sid"], call_sid=call["sid"], kind=KIND, url=url,
                       method=call.get("async_amd_status_callback_method") or "POST",
                       params={"CallSid": call["sid"], "AccountSid": call["account_sid"], **detection.params()})
