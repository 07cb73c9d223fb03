"""Where users see their callbacks: Twilio's Call Events (`Calls/{CallSid}/Events.json`: each
request Wirexa made for the call and what came back), and Wirexa's delivery log
(`Webhooks.json`: every callback with its status, attempts and next retry; `Resend.json`)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from wirexa.api.call_json import account_uri
from wirexa.api.calls import json_response
from wirexa.api.context import ApiContext
from wirexa.api.errors import INVALID_PARAMETER, bad_request, not_found
from wirexa.api.forms import Params
from wirexa.api.paging import PageRequest, list_page
from wirexa.api.routing import Resource, resource
from wirexa.clock import rfc2822
from wirexa.webhooks.outbox import DELIVERED, FAILED, PENDING, SENDING

STATUSES = (PENDING, SENDING, DELIVERED, FAILED)
MAX_EVENTS = 1000


def webhook_json(row: dict[str, Any]) -> dict[str, Any]:
    final = row["status"] in (DELIVERED, FAILED)
    return {
        "sid": row["sid"],
        "account_sid": row["account_sid"],
        "call_sid": row["call_sid"],
        "kind": row["kind"],
        "url": row["url"],
        "method": row["method"],
        "params": row["params"],
        "status": row["status"],
        "attempts": row["attempts"],
        "next_attempt_at": None if final else rfc2822(row["next_attempt_at"]),
        "last_status_code": row["last_status_code"],
        "last_error": row["last_error"],
        "date_created": rfc2822(row["date_created"]),
        "date_updated": rfc2822(row["date_updated"]),
        "attempts_log": [{
            "attempted_at": rfc2822(a["attempted_at"]),
            "status_code": a["status_code"],
            "error": a["error"],
            "latency_ms": a["latency_ms"],
            "next_attempt_at": rfc2822(a["next_attempt_at"]),
        } for a in row["attempts_log"]],
        "uri": f"{account_uri(row['account_sid'])}/Webhooks/{row['sid']}.json",
    }


def call_events(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Twilio's Call Events: one request/response pair per attempt, oldest first; a callback
    not attempted yet shows its request with a null response."""
    events: list[dict[str, Any]] = []
    for row in sorted(rows, key=lambda r: r["id"]):
        request = {"method": row["method"], "url": row["url"], "parameters": row["params"]}
        for a in row["attempts_log"]:
            events.append({"request": request, "response": {
                "request_duration": a["latency_ms"],
                "response_code": a["status_code"],
                "response_body": a["response_body"] if a["error"] is None else a["error"],
                "content_type": a["content_type"],
                "date_created": rfc2822(a["attempted_at"]),
            }})
        if not row["attempts_log"]:
            events.append({"request": request, "response": None})
    return events


def webhooks_routes(ctx: ApiContext) -> list[Resource]:
    async def list_events(request: Request) -> Response:
        account_sid, call_sid = request.path_params["account_sid"], request.path_params["call_sid"]
        project = ctx.authorize(request, account_sid)
        if ctx.calls.get(project.sid, call_sid) is None:
            raise not_found(request.url.path)
        rows = ctx.webhooks.page(project.sid, MAX_EVENTS, call_sid=call_sid)
        url = f"{account_uri(project.sid)}/Calls/{call_sid}/Events.json"
        events = call_events(rows)
        return json_response({"events": events, "meta": {
            "page": 0, "page_size": len(events), "first_page_url": url, "previous_page_url": None,
            "url": url, "next_page_url": None, "key": "events",
        }})

    async def list_webhooks(request: Request) -> Response:
        account_sid = request.path_params["account_sid"]
        project = ctx.authorize(request, account_sid)
        params = Params.from_query(request.url.query)
        status = params.get("Status")
        if status is not None and status not in STATUSES:
            raise bad_request(INVALID_PARAMETER, f"Status must be one of {', '.join(STATUSES)}")
        req = PageRequest.parse(params)
        page = list_page(
            "webhooks", f"{account_uri(project.sid)}/Webhooks.json", params, req,
            lambda limit: ctx.webhooks.page(project.sid, limit, call_sid=params.get("CallSid"), status=status,
                                            before_id=req.before_id, after_id=req.after_id, offset=req.offset),
            webhook_json,
        )
        return json_response(page)

    async def resend(request: Request) -> Response:
        account_sid, sid = request.path_params["account_sid"], request.path_params["webhook_sid"]
        project = ctx.authorize(request, account_sid)
        row = await ctx.resend_webhook(project.sid, sid)
        if row is None:
            raise not_found(request.url.path)
        return json_response({"sid": row["sid"], "status": row["status"]})

    return [
        resource("/Accounts/{account_sid}/Calls/{call_sid}/Events.json", {"GET": list_events}),
        resource("/Accounts/{account_sid}/Webhooks.json", {"GET": list_webhooks}),
        resource("/Accounts/{account_sid}/Webhooks/{webhook_sid}/Resend.json", {"POST": resend}),
    ]
