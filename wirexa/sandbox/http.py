"""The sandbox's REST API (Starlette), served on its own port. See wirexa/sandbox/__init__.py."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from wirexa.audio import pcm
from .rules import READY_NUMBERS, Rule, RuleError

if TYPE_CHECKING:
    from .carrier import SandboxCarrier


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _json_body(request: Request) -> Any:
    try:
        return json.loads(await request.body() or b"null")
    except ValueError as exc:
        raise RuleError(f"body is not JSON: {exc}") from exc


def create_app(carrier: SandboxCarrier) -> Starlette:
    async def index(_: Request) -> JSONResponse:
        host, port = carrier.sip_address
        return JSONResponse({
            "service": "wirexa-sandbox", "sip": f"{host}:{port}", "transport": "udp",
            "endpoints": ["GET /numbers", "GET|POST /rules", "GET|PUT|DELETE /rules/{id}",
                          "GET|POST /calls", "GET /calls/{id}", "GET /calls/{id}/heard.wav",
                          "POST /calls/{id}/hangup"],
        })

    async def health(_: Request) -> JSONResponse:
        return JSONResponse({"ok": True, "live_calls": len(carrier._live)})

    async def numbers(_: Request) -> JSONResponse:
        return JSONResponse([{"number": r.get("number") or r.get("regex"), "id": r["id"],
                              "description": r["description"]} for r in READY_NUMBERS])

    async def list_rules(_: Request) -> JSONResponse:
        return JSONResponse([r.to_dict() for r in carrier.rules])

    async def add_rule(request: Request) -> JSONResponse:
        try:
            rule = Rule.from_dict(await _json_body(request), base_dir=carrier.data_dir)
            carrier.rules.add(rule)
        except RuleError as exc:
            status = 409 if "exists" in str(exc) else 400
            return _error(status, str(exc))
        return JSONResponse(rule.to_dict(), status_code=201)

    async def get_rule(request: Request) -> JSONResponse:
        rule = carrier.rules.get(request.path_params["rule_id"])
        return JSONResponse(rule.to_dict()) if rule else _error(404, "no such rule")

    async def put_rule(request: Request) -> JSONResponse:
        rule_id = request.path_params["rule_id"]
        try:
            body = await _json_body(request)
            if isinstance(body, dict):
                if body.setdefault("id", rule_id) != rule_id:
                    raise RuleError("the body's id differs from the URL's")
            rule = Rule.from_dict(body, base_dir=carrier.data_dir)
        except RuleError as exc:
            return _error(400, str(exc))
        replaced = carrier.rules.put(rule)
        return JSONResponse(rule.to_dict(), status_code=200 if replaced else 201)

    async def delete_rule(request: Request) -> Response:
        if carrier.rules.remove(request.path_params["rule_id"]):
            return Response(status_code=204)
        return _error(404, "no such rule")

    async def list_calls(request: Request) -> JSONResponse:
        q = request.query_params
        calls = carrier.calls(number=q.get("number") or q.get("to"), call_id=q.get("call_id"),
                              from_=q.get("from"), state=q.get("state"))
        try:
            limit = int(q.get("limit", "100"))
        except ValueError:
            return _error(400, "limit must be an integer")
        return JSONResponse([c.to_dict() for c in calls[:limit]])

    async def place_call(request: Request) -> JSONResponse:
        try:
            body = await _json_body(request)
            if not isinstance(body, dict):
                raise RuleError("body must be a JSON object")
            allowed = {"from", "to", "target", "script", "ring_timeout", "hangup_after",
                       "hangup_when_done", "codec"}
            unknown = set(body) - allowed
            if unknown:
                raise RuleError(f"unknown field(s) {', '.join(sorted(unknown))}")
            for name in ("to", "target"):
                if not isinstance(body.get(name), str) or not body[name]:
                    raise RuleError(f"{name} is required (a string)")
            call = await carrier.place_call(
                body["to"], str(body.get("from") or "+15005550000"), body["target"], body.get("script"),
                ring_timeout=float(body.get("ring_timeout", 60)),
                hangup_after=None if body.get("hangup_after") is None else float(body["hangup_after"]),
                hangup_when_done=bool(body.get("hangup_when_done", False)),
                codec=str(body.get("codec", "PCMU")), base_dir=carrier.data_dir)
        except (RuleError, ValueError, TypeError) as exc:
            return _error(400, str(exc))
        return JSONResponse(call.to_dict(), status_code=201)

    async def get_call(request: Request) -> JSONResponse:
        call = carrier.get_call(request.path_params["call"])
        return JSONResponse(call.to_dict()) if call else _error(404, "no such call")

    async def heard_wav(request: Request) -> Response:
        call = carrier.get_call(request.path_params["call"])
        if call is None:
            return _error(404, "no such call")
        if call.answered is None:
            return _error(404, "the call was never answered: nothing was heard")
        if call.wav_path is not None and call.wav_path.exists():
            body = call.wav_path.read_bytes()
        else:  # still in progress: what was heard so far
            body = pcm.wav_bytes(call.heard_pcm)
        return Response(body, media_type="audio/wav",
                        headers={"Content-Disposition": f'attachment; filename="{call.id}.wav"'})

    async def hangup(request: Request) -> JSONResponse:
        call = carrier.get_call(request.path_params["call"])
        if call is None:
            return _error(404, "no such call")
        if not carrier.hangup_call(call.id):
            return _error(409, f"the call is already over ({call.state})")
        return JSONResponse(call.to_dict(), status_code=202)

    routes = [
        Route("/", index),
        Route("/health", health),
        Route("/numbers", numbers),
        Route("/rules", list_rules, methods=["GET"]),
        Route("/rules", add_rule, methods=["POST"]),
        Route("/rules/{rule_id}", get_rule, methods=["GET"]),
        Route("/rules/{rule_id}", put_rule, methods=["PUT"]),
        Route("/rules/{rule_id}", delete_rule, methods=["DELETE"]),
        Route("/calls", list_calls, methods=["GET"]),
        Route("/calls", place_call, methods=["POST"]),
        Route("/calls/{call}", get_call, methods=["GET"]),
        Route("/calls/{call}/heard.wav", heard_wav, methods=["GET"]),
        Route("/calls/{call}/hangup", hangup, methods=["POST"]),
    ]
    return Starlette(routes=routes)
