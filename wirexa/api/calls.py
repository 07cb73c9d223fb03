"""The Calls resource: `/2010-04-01/Accounts/{sid}/Calls` (also served under `/api/laml`)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from wirexa.api import errors as E
from wirexa.api.call_json import account_uri, call_json
from wirexa.api.call_params import parse_create, parse_list_filter, parse_update
from wirexa.api.context import ApiContext
from wirexa.api.errors import ApiError, not_found
from wirexa.api.forms import Params
from wirexa.api.paging import PageRequest, list_page
from wirexa.api.routing import Resource, resource
from wirexa.calls.service import NotModifiable


def json_response(body: dict[str, Any], status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def no_credits() -> ApiError:
    return ApiError(402, E.NO_CREDITS, "No credits remaining for this project")


def not_modifiable(exc: NotModifiable) -> ApiError:
    return ApiError(400, E.CALL_NOT_MODIFIABLE, f"Call is not in a modifiable state: {exc}")


def calls_routes(ctx: ApiContext) -> list[Resource]:
    """Routes relative to an API prefix (`/2010-04-01` or `/api/laml/2010-04-01`)."""

    def load_call(request: Request, account_sid: str, call_sid: str) -> dict[str, Any]:
        call = ctx.calls.get(account_sid, call_sid)
        if call is None:
            raise not_found(request.url.path)
        return call

    async def create_call(request: Request) -> Response:
        account_sid = request.path_params["account_sid"]
        project = ctx.authorize(request, account_sid)
        params = Params.from_body(await request.body())
        values = parse_create(params)
        if project.billing_enabled and project.balance <= 0:
            raise no_credits()
        row = await ctx.call_service.create_outbound(project.sid, values)
        return json_response(call_json(row), 201)

    async def list_calls(request: Request) -> Response:
        account_sid = request.path_params["account_sid"]
        project = ctx.authorize(request, account_sid)
        params = Params.from_query(request.url.query)
        flt = parse_list_filter(params)
        req = PageRequest.parse(params)
        page = list_page(
            "calls",
            f"{account_uri(project.sid)}/Calls.json",
            params,
            req,
            lambda limit: ctx.calls.page(
                project.sid, flt, limit,
                before_id=req.before_id, after_id=req.after_id, offset=req.offset,
            ),
            call_json,
        )
        return json_response(page)

    async def fetch_call(request: Request) -> Response:
        account_sid, call_sid = request.path_params["account_sid"], request.path_params["call_sid"]
        project = ctx.authorize(request, account_sid)
        return json_response(call_json(load_call(request, project.sid, call_sid)))

    async def update_call(request: Request) -> Response:
        account_sid, call_sid = request.path_params["account_sid"], request.path_params["call_sid"]
        project = ctx.authorize(request, account_sid)
        call = load_call(request, project.sid, call_sid)
        status, changes = parse_update(Params.from_body(await request.body()))
        try:
            if status is not None:
                call = await ctx.call_service.end(call, status)
            elif changes:
                call = await ctx.call_service.redirect(call, changes)
        except NotModifiable as exc:
            raise not_modifiable(exc) from None
        return json_response(call_json(call))

    async def delete_call(request: Request) -> Response:
        account_sid, call_sid = request.path_params["account_sid"], request.path_params["call_sid"]
        project = ctx.authorize(request, account_sid)
        call = load_call(request, project.sid, call_sid)
        try:
            await ctx.call_service.delete(call)
        except NotModifiable as exc:
            raise not_modifiable(exc) from None
        return Response(status_code=204)

    return [
        resource("/Accounts/{account_sid}/Calls.json", {"GET": list_calls, "POST": create_call}),
        resource(
            "/Accounts/{account_sid}/Calls/{call_sid}.json",
            {"GET": fetch_call, "POST": update_call, "DELETE": delete_call},
        ),
    ]
