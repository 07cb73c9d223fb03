"""The ASGI application: the API under both prefixes, and /health.

Starlette's Request/Response under our own small router (routing.py) rather than FastAPI:
measured here with wrk (50 connections), a trivial route served 6,500 req/s on Starlette and
4,000 on FastAPI; we parse Twilio's forms ourselves, so FastAPI's request models would add cost
and nothing else.
"""

from __future__ import annotations

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import Response

from wirexa import __version__
from wirexa.api.calling import calling_routes
from wirexa.api.calls import calls_routes, json_response
from wirexa.api.context import ApiContext
from wirexa.api.numbers import numbers_routes
from wirexa.api.recordings import public_recording_routes, recordings_routes
from wirexa.api.routing import ApiRouter
from wirexa.api.webhooks import webhooks_routes

# The classic SignalWire SDK uses the bare prefix; the seeds document /api/laml.
API_PREFIXES = ("/2010-04-01", "/api/laml/2010-04-01")


def create_app(ctx: ApiContext) -> ApiRouter:
    async def health(_request: Request) -> Response:
        try:
            with ctx.calls.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            database = "ok"
        except Exception as exc:  # report, don't crash: /health is how operators find out
            database = f"error: {exc}"
        sip = ctx.sip_status()
        ok = database == "ok" and sip in ("ok", "off")
        body = {
            "status": "ok" if ok else "degraded",
            "version": __version__,
            "node_id": ctx.settings.node_id,
            "database": database,
            "database_backend": ctx.calls.engine.dialect.name,
            "sip": sip,
        }
        return json_response(body, 200 if ok else 503)

    return ApiRouter(API_PREFIXES, [*calls_routes(ctx), *numbers_routes(ctx), *webhooks_routes(ctx),
                                    *recordings_routes(ctx)],
                     {"/health": {"GET": health}, **calling_routes(ctx)}, public_recording_routes(ctx))
