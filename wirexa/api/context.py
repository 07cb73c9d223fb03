"""What every API route needs: stores, services, and the per-request authorization step."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from wirexa.api.auth import Authenticator
from wirexa.api.errors import RATE_LIMITED, ApiError, not_found
from wirexa.api.ratelimit import TokenBuckets
from wirexa.calls.service import CallService
from wirexa.config import Settings
from wirexa.store.calls import CallStore
from wirexa.store.numbers import NumberStore
from wirexa.store.projects import Project, ProjectStore
from wirexa.webhooks.outbox import WebhookStore

if TYPE_CHECKING:
    from wirexa.calling.service import CallingService
    from wirexa.recordings.service import RecordingService


@dataclass
class ApiContext:
    settings: Settings
    projects: ProjectStore
    calls: CallStore
    numbers: NumberStore
    call_service: CallService
    authenticator: Authenticator
    rate_limits: TokenBuckets
    webhooks: WebhookStore
    # (account sid, webhook sid) → the callback queued again (via the store thread), or None.
    resend_webhook: Callable[[str, str], Awaitable[dict[str, Any] | None]]
    # What /health reports about the call engine: "ok", "off" (API only) or what is wrong.
    sip_status: Callable[[], str] = lambda: "off"
    # Recordings: their files and URLs (the Recordings API and media downloads).
    recordings: RecordingService | None = None
    # The Calling API (POST /api/calling/calls); None: not served.
    calling: CallingService | None = None

    def authorize(self, request: Request, account_sid: str) -> Project:
        """Authenticate, check the path's account is the caller's, and apply the rate limit."""
        project = self.authenticator.authenticate(request.headers.get("authorization"))
        if account_sid != project.sid:
            # Another project's resources answer as if they did not exist.
            raise not_found(request.url.path)
        retry_after = self.rate_limits.take(project.sid)
        if retry_after:
            raise ApiError(
                429, RATE_LIMITED, "Too many requests: the project's API rate limit was exceeded",
                headers={"Retry-After": str(max(1, math.ceil(retry_after)))},
            )
        return project
