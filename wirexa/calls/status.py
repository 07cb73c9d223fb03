"""Call statuses as the REST API shows them, and which of them are final."""

from __future__ import annotations

QUEUED = "queued"
RINGING = "ringing"
IN_PROGRESS = "in-progress"
COMPLETED = "completed"
BUSY = "busy"
FAILED = "failed"
NO_ANSWER = "no-answer"
CANCELED = "canceled"

ALL = (QUEUED, RINGING, IN_PROGRESS, COMPLETED, BUSY, FAILED, NO_ANSWER, CANCELED)
FINAL = frozenset({COMPLETED, BUSY, FAILED, NO_ANSWER, CANCELED})
NOT_ANSWERED = frozenset({QUEUED, RINGING})
NOT_FINAL = frozenset({QUEUED, RINGING, IN_PROGRESS})
