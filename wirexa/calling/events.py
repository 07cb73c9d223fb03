"""The Calling API's asynchronous results: JSON events POSTed to a `status_url` through the
webhook outbox (durable, signed, retried, in order per call).

Each event has RELAY's envelope (`event_type`, `event_channel`, `timestamp`, `project_id`,
`space_id`, `params`) and, for readers of the REST docs, `params`' keys repeated at the top
level: a play event reads `{control_id, call_id, node_id, state}` either way.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Connection

from wirexa.calling.ids import call_id
from wirexa.calls import status as st
from wirexa.store.calls import CallRow
from wirexa.outgoing import JSON
from wirexa.webhooks import outbox

KIND = "calling-event"
STATE = "calling.call.state"
# Twilio's call status events (runner, call_status.py) → RELAY call states.
_STATES = {"initiated": ("created",), "ringing": ("ringing",), "answered": ("answered",),
           "completed": ("ending", "ended")}
# A `status_events` name → the call states it asks for.
_WANTED = {"queued": "created", "initiated": "created", "ringing": "ringing", "answered": "answered",
           "ending": "ending", "ended": "ended"}
END_REASONS = {st.COMPLETED: "hangup", st.CANCELED: "cancel", st.BUSY: "busy", st.NO_ANSWER: "noAnswer",
               st.FAILED: "error"}


def envelope(event_type: str, account_sid: str, params: dict[str, Any]) -> dict[str, Any]:
    return {**params, "event_type": event_type, "event_channel": f"project.{account_sid}",
            "timestamp": time.time(), "project_id": account_sid, "space_id": account_sid, "params": params}


def enqueue_event(conn: Connection, *, account_sid: str, call_sid: str, url: str, event_type: str,
                  params: dict[str, Any]) -> None:
    outbox.enqueue(conn, account_sid=account_sid, call_sid=call_sid, kind=KIND, url=url, method="POST",
                   params=envelope(event_type, account_sid, params), content_type=JSON)


def device(call: CallRow) -> dict[str, Any]:
    to = call.get("to_number") or ""
    if to.startswith("sip"):
        return {"type": "sip", "params": {"from": call.get("from_number"), "to": to}}
    return {"type": "phone", "params": {"from_number": call.get("from_number"), "to_number": to}}


def _epoch(value: Any) -> float | None:
    return value.timestamp() if value is not None else None


def state_params(call: CallRow, state: str, node_id: str | None) -> dict[str, Any]:
    params: dict[str, Any] = {
        "node_id": node_id or call.get("node_id"), "call_id": call_id(call["sid"]), "call_sid": call["sid"],
        "tag": None, "device": device(call), "call_state": state,
        "direction": "inbound" if call.get("direction") == "inbound" else "outbound",
    }
    if call.get("parent_call_sid"):
        params["parent"] = {"call_id": call_id(call["parent_call_sid"]), "node_id": params["node_id"]}
    if call.get("start_time") is not None:
        params["answer_time"] = _epoch(call["start_time"])
    if state in ("ending", "ended"):
        params["end_reason"] = END_REASONS.get(call.get("status") or "", "hangup")
        if call.get("end_time") is not None:
            params["end_time"] = _epoch(call["end_time"])
    return params


def wanted_states(call: CallRow) -> frozenset[str]:
    raw = (call.get("calling_status_events") or "").split()
    return frozenset(_WANTED[e] for e in raw if e in _WANTED) if raw else frozenset(_WANTED.values())


def enqueue_state(conn: Connection, call: CallRow, event: str) -> None:
    """In the transaction of a call status change (call_status.enqueue_status): the call's
    `calling.call.state` events, when it has a Calling API status_url that asked for them."""
    url = call.get("calling_status_url")
    if not url:
        return
    wanted = wanted_states(call)
    for state in _STATES.get(event, ()):
        if state in wanted:
            enqueue_event(conn, account_sid=call["account_sid"], call_sid=call["sid"], url=url,
                          event_type=STATE, params=state_params(call, state, None))
