"""The IncomingPhoneNumbers resource: numbers that route inbound calls to a project."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from wirexa.api import errors as E
from wirexa.api.call_json import API_VERSION, account_uri
from wirexa.api.calls import json_response
from wirexa.api.context import ApiContext
from wirexa.api.errors import ApiError, bad_request, not_found
from wirexa.api.forms import Params, require
from wirexa.api.paging import PageRequest, list_page
from wirexa.api.routing import Resource, resource
from wirexa.calls.addresses import InvalidAddress, normalize
from wirexa.clock import rfc2822
from wirexa.store.numbers import NumberRow, NumberTaken

INVALID_NUMBER = 21421
NUMBER_NOT_AVAILABLE = 21422


def number_json(row: NumberRow) -> dict[str, Any]:
    return {
        "sid": row["sid"],
        "account_sid": row["account_sid"],
        "phone_number": row["phone_number"],
        "friendly_name": row["friendly_name"],
        "voice_url": row["voice_url"],
        "voice_method": row["voice_method"],
        "voice_fallback_url": row["voice_fallback_url"],
        "voice_fallback_method": row["voice_fallback_method"],
        "voice_caller_id_lookup": False,
        "voice_application_sid": None,
        "voice_receive_mode": "voice",
        "status_callback": row["status_callback"],
        "status_callback_method": row["status_callback_method"],
        "date_created": rfc2822(row["date_created"]),
        "date_updated": rfc2822(row["date_updated"]),
        "api_version": API_VERSION,
        "capabilities": {"voice": True, "sms": False, "mms": False, "fax": False},
        "origin": "wirexa",
        "status": "in-use",
        "beta": False,
        "trunk_sid": None,
        "address_sid": None,
        "address_requirements": "none",
        "identity_sid": None,
        "bundle_sid": None,
        "emergency_status": "Inactive",
        "emergency_address_sid": None,
        "emergency_address_status": "unregistered",
        "sms_application_sid": None,
        "sms_fallback_method": "POST",
        "sms_fallback_url": None,
        "sms_method": "POST",
        "sms_url": None,
        "uri": f"{account_uri(row['account_sid'])}/IncomingPhoneNumbers/{row['sid']}.json",
        "subresource_uris": {
            "assigned_add_ons": f"{account_uri(row['account_sid'])}/IncomingPhoneNumbers/{row['sid']}/AssignedAddOns.json",
        },
    }


def _settings(params: Params) -> dict[str, Any]:
    """The routing settings present in the request (absent ones are left as they are)."""
    out: dict[str, Any] = {}
    for name, column in (("VoiceUrl", "voice_url"), ("VoiceFallbackUrl", "voice_fallback_url"),
                         ("StatusCallback", "status_callback")):
        if name in params:
            out[column] = params.url(name, E.INVALID_URL)
    for name, column in (("VoiceMethod", "voice_method"), ("VoiceFallbackMethod", "voice_fallback_method"),
                         ("StatusCallbackMethod", "status_callback_method")):
        if name in params:
            out[column] = params.method(name, E.INVALID_METHOD)
    if "FriendlyName" in params:
        out["friendly_name"] = params.text("FriendlyName", 64) or None
    return out


def numbers_routes(ctx: ApiContext) -> list[Resource]:
    def load(request: Request, account_sid: str) -> NumberRow:
        row = ctx.numbers.get(account_sid, request.path_params["number_sid"])
        if row is None:
            raise not_found(request.url.path)
        return row

    async def create(request: Request) -> Response:
        project = ctx.authorize(request, request.path_params["account_sid"])
        params = Params.from_body(await request.body())
        raw = require(params.get("PhoneNumber"), INVALID_NUMBER, "A 'PhoneNumber' is required.")
        try:
            number = normalize(raw)
        except InvalidAddress as exc:
            raise bad_request(INVALID_NUMBER, f"Invalid 'PhoneNumber': {exc}") from None
        if number.startswith("sip"):
            raise bad_request(INVALID_NUMBER, "PhoneNumber must be an E.164 number, not a SIP URI")
        try:
            row = ctx.numbers.create(project.sid, number, _settings(params))
        except NumberTaken:
            raise ApiError(400, NUMBER_NOT_AVAILABLE, f"PhoneNumber {number} is already provisioned") from None
        return json_response(number_json(row), 201)

    async def list_numbers(request: Request) -> Response:
        project = ctx.authorize(request, request.path_params["account_sid"])
        params = Params.from_query(request.url.query)
        req = PageRequest.parse(params)
        wanted = params.get("PhoneNumber")
        if wanted:
            try:
                wanted = normalize(wanted)
            except InvalidAddress:
                pass  # matches nothing
        page = list_page(
            "incoming_phone_numbers",
            f"{account_uri(project.sid)}/IncomingPhoneNumbers.json",
            params, req,
            lambda limit: ctx.numbers.page(
                project.sid, limit, phone_number=wanted or None,
                friendly_name=params.get("FriendlyName") or None,
                before_id=req.before_id, after_id=req.after_id, offset=req.offset,
            ),
            number_json,
        )
        return json_response(page)

    async def fetch(request: Request) -> Response:
        project = ctx.authorize(request, request.path_params["account_sid"])
        return json_response(number_json(load(request, project.sid)))

    async def update(request: Request) -> Response:
        project = ctx.authorize(request, request.path_params["account_sid"])
        load(request, project.sid)
        changes = _settings(Params.from_body(await request.body()))
        row = ctx.numbers.update(project.sid, request.path_params["number_sid"], changes) if changes else None
        return json_response(number_json(row or load(request, project.sid)))

    async def remove(request: Request) -> Response:
        project = ctx.authorize(request, request.path_params["account_sid"])
        if not ctx.numbers.delete(project.sid, request.path_params["number_sid"]):
            raise not_found(request.url.path)
        return Response(status_code=204)

    return [
        resource("/Accounts/{account_sid}/IncomingPhoneNumbers.json", {"GET": list_numbers, "POST": create}),
        resource(
            "/Accounts/{account_sid}/IncomingPhoneNumbers/{number_sid}.json",
            {"GET": fetch, "POST": update, "DELETE": remove},
        ),
    ]
