"""The FastAPI application: routes under both API prefixes, errors in Twilio's shape, /health."""

from __future__ import annotations

import logging

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from sqlalchemy import text
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from wirexa import __version__
from wirexa.api import errors as E
from wirexa.api.calls import calls_router, json_response
from wirexa.api.context import ApiContext
from wirexa.api.errors import ApiError

log = logging.getLogger(__name__)

# The classic SignalWire SDK uses the bare prefix; the seeds document /api/laml.
API_PREFIXES = ("/2010-04-01", "/api/laml/2010-04-01")


def create_app(ctx: ApiContext) -> FastAPI:
    app = FastAPI(title="Wirexa", version=__version__, docs_url="/docs", redoc_url=None)
    router = calls_router(ctx)
    for prefix in API_PREFIXES:
        app.include_router(router, prefix=prefix)

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> Response:
        return exc.response()

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> Response:
        if exc.status_code == 404:
            return E.not_found(request.url.path).response()
        if exc.status_code == 405:
            return ApiError(405, E.METHOD_NOT_ALLOWED, f"Method {request.method} not allowed on {request.url.path}").response()
        return ApiError(exc.status_code, exc.status_code, str(exc.detail)).response()

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> Response:
        return ApiError(400, E.INVALID_PARAMETER, f"Invalid request: {exc.errors()}").response()

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return ApiError(500, 20500, "Internal server error").response()

    @app.get("/health")
    async def health() -> Response:
        try:
            with ctx.calls.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            database = "ok"
        except Exception as exc:  # report, don't crash: /health is how operators find out
            database = f"error: {exc}"
        ok = database == "ok"
        body = {
            "status": "ok" if ok else "degraded",
            "version": __version__,
            "node_id": ctx.settings.node_id,
            "database": database,
            "database_backend": ctx.calls.engine.dialect.name,
        }
        return json_response(body, 200 if ok else 503)

    return app
