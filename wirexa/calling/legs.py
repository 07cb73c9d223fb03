"""A call as the Calling API answers it: a call-leg object (SignalWire's `CallLeg`), plus
`call_sid` so the REST (LaML) API's name for the same call is at hand."""

from __future__ import annotations

from typing import Any

from wirexa.calling.events import END_REASONS
from wirexa.calling.ids import call_id
from wirexa.calls import status as st
from wirexa.store.calls import CallRow

# The REST API's statuses → the Calling API's (busy and no-answer are failed legs, end_reason says which).
_STATUS = {st.QUEUED: "queued", st.RINGING: "ringing", st.IN_PROGRESS: "answered", st.COMPLETED: "completed",
           st.CANCELED: "canceled", st.FAILED: "failed", st.BUSY: "failed", st.NO_ANSWER: "failed"}
_DIRECTION = {"inbound": "inbound", "outbound-api": "outbound-api"}


def _iso(value: Any) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else None


def call_leg(row: CallRow) -> dict[str, Any]:
    to = row["to_number"] or ""
    price = row.get("price")
    charge = abs(float(price)) if price is not None else 0.0
    duration = row.get("duration")
    leg: dict[str, Any] = {
        "id": call_id(row["sid"]),
        "from": row["from_number"],
        "to": to,
        "direction": _DIRECTION.get(row["direction"], "outbound"),
        "source": "realtime_api",
        "url": row.get("url"),
        "charge": charge,
        "created_at": _iso(row["date_created"]),
        "charge_details": [{"description": "Voice", "charge": charge}] if charge else [],
        "status": _STATUS.get(row["status"], row["status"]),
        "duration": duration,
        "duration_ms": duration * 1000 if duration is not None else None,
        "billing_ms": duration * 1000 if duration is not None else None,
        "type": "relay_sip_call" if to.startswith("sip") else "relay_pstn_call",
        "parent_id": call_id(row["parent_call_sid"]) if row.get("parent_call_sid") else None,
        # Wirexa's additions
        "call_sid": row["sid"],
        "answered_at": _iso(row.get("start_time")),
        "ended_at": _iso(row.get("end_time")),
    }
    if row["status"] in st.FINAL:
        leg["end_reason"] = END_REASONS.get(row["status"], "hangup")
    return leg
