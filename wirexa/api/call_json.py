"""A call as the Twilio and SignalWire SDKs expect it (every key, Twilio's formats)."""

from __future__ import annotations

from typing import Any

from wirexa.calls.addresses import formatted
from wirexa.clock import rfc2822
from wirexa.store.calls import CallRow

API_VERSION = "2010-04-01"


def account_uri(account_sid: str) -> str:
    """Base of every URI we emit: never with the /api/laml prefix (the SDKs prepend their own)."""
    return f"/{API_VERSION}/Accounts/{account_sid}"


def _str(value: object) -> str | None:
    return None if value is None else str(value)


def call_json(row: CallRow) -> dict[str, Any]:
    base = f"{account_uri(row['account_sid'])}/Calls/{row['sid']}"
    queue_time = "0"
    if row["dispatched_at"] is not None:
        ms = (row["dispatched_at"] - row["date_created"]).total_seconds() * 1000
        queue_time = str(max(0, int(ms)))
    price = row["price"]
    return {
        "sid": row["sid"],
        "account_sid": row["account_sid"],
        "parent_call_sid": row["parent_call_sid"],
        "date_created": rfc2822(row["date_created"]),
        "date_updated": rfc2822(row["date_updated"]),
        "start_time": rfc2822(row["start_time"]),
        "end_time": rfc2822(row["end_time"]),
        "to": row["to_number"],
        "to_formatted": formatted(row["to_number"]),
        "from": row["from_number"],
        "from_formatted": formatted(row["from_number"]),
        "phone_number_sid": None,
        "status": row["status"],
        "duration": _str(row["duration"]),
        "price": None if price is None else f"{price:.5f}",
        "price_unit": row["price_unit"] or "USD",
        "direction": row["direction"],
        "answered_by": row["answered_by"],
        "annotation": row["annotation"],
        "api_version": API_VERSION,
        "forwarded_from": row["forwarded_from"],
        "group_sid": None,
        "caller_name": row["caller_name"],
        "queue_time": queue_time,
        "trunk_sid": None,
        "url": row["url"],
        # Wirexa's additions: why a call ended the way it did.
        "sip_response_code": row["sip_response_code"],
        "sip_reason": row["sip_reason"],
        "error_code": row["error_code"],
        "error_message": row["error_message"],
        "uri": f"{base}.json",
        "subresource_uris": {
            "recordings": f"{base}/Recordings.json",
            "events": f"{base}/Events.json",
        },
    }
