"""Errors in Twilio's JSON shape, which the Twilio and SignalWire SDKs turn into exceptions."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

# Twilio error codes used by the API.
AUTH_FAILED = 20003
INVALID_PARAMETER = 20001
NOT_FOUND = 20404
METHOD_NOT_ALLOWED = 20004
RATE_LIMITED = 20429
NO_CREDITS = 20005
CALLS_RESOURCE = 21200
NO_TO = 21201
INVALID_URL = 21205
INVALID_SEND_DIGITS = 21206
INVALID_TIMEOUT = 21208
INVALID_METHOD = 21209
INVALID_TO = 21211
INVALID_FROM = 21212
NO_FROM = 21213
CALL_NOT_MODIFIABLE = 21220
INVALID_CALLBACK_EVENT = 21626
DOCUMENT_PARSE_FAILURE = 12100


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        headers: dict[str, str] | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.detail = detail or message

    def response(self) -> Response:
        # Never all of type/title/status/code together: twilio 9 would pick another exception.
        body: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
            "status": self.status,
            "detail": self.detail,
        }
        return Response(
            orjson.dumps(body), status_code=self.status, headers=self.headers,
            media_type="application/json",
        )


def bad_request(code: int, message: str) -> ApiError:
    return ApiError(400, code, message)


def not_found(what: str) -> ApiError:
    return ApiError(404, NOT_FOUND, f"The requested resource {what} was not found")
