"""A small ASGI router for the API: a path template per resource, a handler per HTTP method,
errors in Twilio's shape.

Starlette's Router and its two exception middlewares cost about as much per request as the
work of a call fetch itself; the API needs none of what they add, so only Starlette's
Request and Response are used.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from wirexa.api import errors as E
from wirexa.api.errors import ApiError

log = logging.getLogger(__name__)

Handler = Callable[[Request], Awaitable[Response]]
Scope = dict[str, Any]


@dataclass(frozen=True)
class Resource:
    pattern: re.Pattern[str]
    handlers: dict[str, Handler]


def resource(template: str, handlers: dict[str, Handler]) -> Resource:
    """`/Accounts/{account_sid}/Calls.json` → a pattern capturing `account_sid`."""
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", re.escape(template).replace(r"\{", "{").replace(r"\}", "}"))
    return Resource(re.compile(regex), handlers)


class ApiRouter:
    """Serves `resources` under each of `prefixes`, plus `exact` paths (e.g. /health) and
    `unprefixed` resources (e.g. the short /recordings/... download URLs)."""

    def __init__(self, prefixes: tuple[str, ...], resources: list[Resource],
                 exact: dict[str, dict[str, Handler]], unprefixed: list[Resource] | None = None) -> None:
        self.prefixes = prefixes
        self.resources = resources
        self.exact = exact
        self.unprefixed = unprefixed or []

    def _match(self, path: str) -> tuple[dict[str, Handler], dict[str, str]] | None:
        handlers = self.exact.get(path)
        if handlers is not None:
            return handlers, {}
        for res in self.unprefixed:
            m = res.pattern.fullmatch(path)
            if m is not None:
                return res.handlers, m.groupdict()
        for prefix in self.prefixes:
            if path.startswith(prefix):
                rest = path[len(prefix):]
                for res in self.resources:
                    m = res.pattern.fullmatch(rest)
                    if m is not None:
                        return res.handlers, m.groupdict()
        return None

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        try:
            found = self._match(scope["path"])
            if found is None:
                raise E.not_found(scope["path"])
            handlers, scope["path_params"] = found
            handler = handlers.get(scope["method"])
            if handler is None:
                raise ApiError(405, E.METHOD_NOT_ALLOWED, f"Method {scope['method']} not allowed on {scope['path']}",
                               headers={"Allow": ", ".join(handlers)})
            response = await handler(request)
        except ApiError as exc:
            response = exc.response()
        except Exception:
            log.exception("unhandled error on %s %s", scope["method"], scope["path"])
            response = ApiError(500, 20500, "Internal server error").response()
        await response(scope, receive, send)
