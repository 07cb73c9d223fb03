"""The Calling API: `POST /api/calling/calls` with a JSON body `{command, id, params}`
(signalwire-sdk's `client.calling`). Basic auth with the project ID and API token (no account
in the path), the project's rate limit, then wirexa/calling/service.py does the work.

Errors keep Twilio's keys (code, message, more_info, status, detail) and add SignalWire's
`errors` list, whose `attribute` names the field at fault."""

from __future__ import annotations

import math

import orjson
from starlette.requests import Request
from starlette.responses import Response

from wirexa.api.calls import json_response
from wirexa.api.context import ApiContext
from wirexa.api.errors import RATE_LIMITED, ApiError
from wirexa.calling.params import CommandError

PATH = "/api/calling/calls"
MAX_BODY = 1024 * 1024
# HTTP status → the Twilio-style numeric code kept in `code`.
_CODES = {400: 20001, 404: 20404, 409: 20409, 422: 20422, 501: 20501}


def command_error(exc: CommandError) -> Response:
    body = {
        "code": _CODES.get(exc.status, 20500),
        "message": exc.message,
        "more_info": "https://www.twilio.com/docs/errors/%d" % _CODES.get(exc.status, 20500),
        "status": exc.status,
        "detail": exc.message,
        "errors": [{"type": "validation_error" if exc.status in (400, 422) else exc.code, "code": exc.code,
                    "message": exc.message, "attribute": exc.attribute,
                    "url": "https://developer.signalwire.com/rest/signalwire-rest/endpoints/calling/call-commands"}],
    }
    return Response(orjson.dumps(body), status_code=exc.status, media_type="application/json")


def calling_routes(ctx: ApiContext) -> dict[str, dict]:  # type: ignore[type-arg]
    async def commands(request: Request) -> Response:
        project = ctx.authenticator.authenticate(request.headers.get("authorization"))
        retry_after = ctx.rate_limits.take(project.sid)
        if retry_after:
            raise ApiError(429, RATE_LIMITED, "Too many requests: the project's API rate limit was exceeded",
                           headers={"Retry-After": str(max(1, math.ceil(retry_after)))})
        service = ctx.calling
        if service is None:
            raise ApiError(503, 20503, "The Calling API is not available on this node")
        raw = await request.body()
        try:
            if len(raw) > MAX_BODY:
                raise CommandError(400, f"the request body is larger than {MAX_BODY} bytes")
            try:
                body = orjson.loads(raw) if raw.strip() else None
            except orjson.JSONDecodeError as exc:
                raise CommandError(400, f"the request body is not JSON: {exc}") from None
            answer = await service.execute(project.sid, body)
        except CommandError as exc:
            return command_error(exc)
        return json_response(answer)

    return {PATH: {"POST": commands}}
