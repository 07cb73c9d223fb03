"""Call status callbacks: which events a call's StatusCallback wants, and their fields
(semantics.md). Enqueued in the transaction of the status change itself."""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import Connection

from wirexa.api.call_json import API_VERSION
from wirexa.calls import status as st
from wirexa.clock import rfc2822, utcnow
from wirexa.store.calls import CallRow
from wirexa.webhooks import outbox

EVENTS = ("initiated", "ringing", "answered", "completed")
KIND = "call-status"
# The CallStatus each event reports (completed reports the call's final status).
_EVENT_STATUS = {"initiated": "initiated", "ringing": st.RINGING, "answered": st.IN_PROGRESS}


def wanted_events(call: CallRow) -> frozenset[str]:
    """StatusCallbackEvent as stored (space or comma separated); none listed means completed."""
    raw = (call.get("status_callback_event") or "").replace(",", " ").lower().split()
    return frozenset(raw) if raw else frozenset({"completed"})


def status_params(call: CallRow, event: str, sequence: int) -> dict[str, str]:
    status = call["status"] if event == "completed" else _EVENT_STATUS[event]
    params: dict[str, Any] = {
        "CallSid": call["sid"], "AccountSid": call["account_sid"], "From": call["from_number"],
        "To": call["to_number"], "Caller": call["from_number"], "Called": call["to_number"],
        "Direction": call["direction"], "ApiVersion": API_VERSION, "CallStatus": status,
        "SequenceNumber": sequence, "Timestamp": rfc2822(utcnow()),
        "CallbackSource": "call-progress-events",
    }
    if call.get("parent_call_sid"):
        params["ParentCallSid"] = call["parent_call_sid"]
    if call.get("answered_by"):
        params["AnsweredBy"] = call["answered_by"]
    if event == "completed":
        seconds = int(call.get("duration") or 0)
        params.update(CallDuration=seconds, Duration=math.ceil(seconds / 60))
        if call.get("sip_response_code"):
            params["SipResponseCode"] = call["sip_response_code"]
    return {k: str(v) for k, v in params.items()}


def enqueue_status(conn: Connection, call: CallRow, event: str) -> None:
    """The call's status callback for `event`, if its StatusCallback asked for it (and its
    Calling API state events, if it has a Calling API status_url)."""
    if call.get("calling_status_url"):
        from wirexa.calling.events import enqueue_state  # the Calling API's JSON shape

        enqueue_state(conn, call, event)
    url = call.get("status_callback")
    if not url or event not in wanted_events(call):
        return
    sequence = outbox.count(conn, call["sid"], KIND)
    outbox.enqueue(conn, account_sid=call["account_sid"], call_sid=call["sid"], kind=KIND, url=url,
                   method=call.get("status_callback_method") or "POST",
                   params=status_params(call, event, sequence))
