"""Table definitions. Migrations in migrations/versions must be kept in step with these."""

from __future__ import annotations

import functools
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    CursorResult,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    TypeDecorator,
)

metadata = MetaData()


def new_row(table: Table, values: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Every column of a new row: the table's defaults, creation times, then `values`; the
    integer `id` is left to the database."""
    row = dict(_defaults(table))
    row.update(date_created=now, date_updated=now)
    row.update(values)
    return row


@functools.lru_cache(maxsize=None)
def _defaults(table: Table) -> dict[str, Any]:
    return {c.name: getattr(c.default, "arg", None) for c in table.c if c.name != "id"}


def inserted_id(result: CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)

projects = Table(
    "projects",
    metadata,
    Column("sid", String(64), primary_key=True),
    Column("friendly_name", String(255), nullable=False),
    Column("auth_token", String(128), nullable=False),
    Column("status", String(16), nullable=False, default="active"),
    Column("date_created", UtcDateTime(), nullable=False),
    Column("date_updated", UtcDateTime(), nullable=False),
    # Outbound calls per second; NULL means the engine default.
    Column("cps", Numeric(10, 3), nullable=True),
    Column("billing_enabled", Boolean, nullable=False, default=False),
    Column("balance", Numeric(14, 5), nullable=False, default=0),
    # Price per started minute; NULL means the engine default.
    Column("price_per_minute", Numeric(10, 5), nullable=True),
    # Who must authenticate to download recordings: "api" (NULL: the /2010-04-01 media path
    # only; the short /recordings URLs rely on unguessable sids), "all", or "none".
    Column("media_auth", String(8), nullable=True),
)

calls = Table(
    "calls",
    metadata,
    # Monotonic insertion order: the list cursor and the outbound queue order.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("sid", String(34), nullable=False, unique=True),
    Column("account_sid", String(64), ForeignKey("projects.sid"), nullable=False),
    Column("parent_call_sid", String(34), nullable=True),
    Column("direction", String(16), nullable=False),
    Column("to_number", String(255), nullable=False),
    Column("from_number", String(255), nullable=False),
    Column("status", String(16), nullable=False),
    Column("date_created", UtcDateTime(), nullable=False),
    Column("date_updated", UtcDateTime(), nullable=False),
    Column("start_time", UtcDateTime(), nullable=True),
    Column("end_time", UtcDateTime(), nullable=True),
    Column("duration", Integer, nullable=True),
    Column("price", Numeric(14, 5), nullable=True),
    Column("price_unit", String(8), nullable=True),
    Column("answered_by", String(32), nullable=True),
    Column("forwarded_from", String(255), nullable=True),
    Column("caller_name", String(255), nullable=True),
    Column("annotation", Text, nullable=True),
    # Call instructions.
    Column("url", Text, nullable=True),
    Column("method", String(8), nullable=False, default="POST"),
    Column("fallback_url", Text, nullable=True),
    Column("fallback_method", String(8), nullable=False, default="POST"),
    Column("twiml", Text, nullable=True),
    Column("status_callback", Text, nullable=True),
    Column("status_callback_method", String(8), nullable=False, default="POST"),
    Column("status_callback_event", String(64), nullable=True),
    Column("timeout", Integer, nullable=False, default=60),
    Column("time_limit", Integer, nullable=False, default=14400),
    Column("send_digits", String(64), nullable=True),
    Column("caller_id", String(255), nullable=True),
    # Recording of the whole call.
    Column("record", Boolean, nullable=False, default=False),
    Column("recording_channels", String(8), nullable=True),
    Column("recording_status_callback", Text, nullable=True),
    Column("recording_status_callback_method", String(8), nullable=False, default="POST"),
    Column("recording_status_callback_event", String(64), nullable=True),
    # Answering machine detection.
    Column("machine_detection", String(32), nullable=True),
    Column("machine_detection_timeout", Integer, nullable=True),
    Column("machine_detection_speech_threshold", Integer, nullable=True),
    Column("machine_detection_speech_end_threshold", Integer, nullable=True),
    Column("machine_detection_silence_timeout", Integer, nullable=True),
    Column("async_amd", Boolean, nullable=False, default=False),
    Column("async_amd_status_callback", Text, nullable=True),
    Column("async_amd_status_callback_method", String(8), nullable=False, default="POST"),
    # Outcome details: the final SIP response and any error that ended the call.
    Column("sip_response_code", Integer, nullable=True),
    Column("sip_reason", String(255), nullable=True),
    Column("error_code", Integer, nullable=True),
    Column("error_message", Text, nullable=True),
    # The engine node that owns the live call (NULL while waiting in the outbound queue).
    Column("node_id", String(64), nullable=True),
    Column("dispatched_at", UtcDateTime(), nullable=True),
    # Calling API (wirexa/calling): where the call's JSON state and command events go.
    Column("calling_status_url", Text, nullable=True),
    Column("calling_status_events", String(128), nullable=True),  # space-separated; NULL: all
    Index("ix_calls_account_id", "account_sid", "id"),
    Index("ix_calls_account_status_id", "account_sid", "status", "id"),
    Index("ix_calls_queue", "status", "node_id", "account_sid", "id"),  # waiting calls by project
    Index("ix_calls_node", "node_id"),
)

# Recordings of calls (<Record>, Record=true, <Dial record>): the WAV is written as the call
# runs, the MP3 made from it afterwards; files live in the recordings storage by sid.
recordings = Table(
    "recordings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),  # list cursor
    Column("sid", String(34), nullable=False, unique=True),
    Column("account_sid", String(64), ForeignKey("projects.sid"), nullable=False),
    Column("call_sid", String(34), nullable=True),  # the parent leg for <Dial> recordings
    Column("conference_sid", String(34), nullable=True),
    Column("source", String(32), nullable=False),  # RecordVerb | OutboundAPI | DialVerb
    Column("track", String(16), nullable=False),  # inbound | outbound | both
    Column("channels", Integer, nullable=False, default=1),
    # in-progress → processing (WAV final, MP3 being made) → completed | absent | failed
    Column("status", String(16), nullable=False),
    Column("start_time", UtcDateTime(), nullable=False),
    Column("duration_ms", Integer, nullable=True),
    Column("error_code", Integer, nullable=True),
    Column("error_message", Text, nullable=True),
    Column("status_callback", Text, nullable=True),
    Column("status_callback_method", String(8), nullable=False, default="POST"),
    Column("status_callback_event", String(64), nullable=True),  # space-separated; NULL: completed
    Column("node_id", String(64), nullable=True),  # the engine writing it (crash recovery)
    Column("date_created", UtcDateTime(), nullable=False),
    Column("date_updated", UtcDateTime(), nullable=False),
    Index("ix_recordings_account", "account_sid", "id"),
    Index("ix_recordings_call", "call_sid", "id"),
    Index("ix_recordings_node_status", "node_id", "status"),
)

phone_numbers = Table(
    "phone_numbers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),  # list cursor
    Column("sid", String(34), nullable=False, unique=True),
    Column("account_sid", String(64), ForeignKey("projects.sid"), nullable=False),
    # One owner per number across all projects: an inbound INVITE must route to exactly one.
    Column("phone_number", String(255), nullable=False, unique=True),
    Column("friendly_name", String(255), nullable=False),
    Column("voice_url", Text, nullable=True),
    Column("voice_method", String(8), nullable=False, default="POST"),
    Column("voice_fallback_url", Text, nullable=True),
    Column("voice_fallback_method", String(8), nullable=False, default="POST"),
    Column("status_callback", Text, nullable=True),
    Column("status_callback_method", String(8), nullable=False, default="POST"),
    Column("date_created", UtcDateTime(), nullable=False),
    Column("date_updated", UtcDateTime(), nullable=False),
    Index("ix_phone_numbers_account", "account_sid", "id"),
)

# Callbacks to users' servers (an outbox): written in the transaction of the change that causes
# them, delivered by wirexa/webhooks/delivery.py, kept with every attempt for the API to show.
webhooks = Table(
    "webhooks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),  # delivery order
    Column("sid", String(34), nullable=False, unique=True),
    Column("account_sid", String(64), ForeignKey("projects.sid"), nullable=False),
    Column("call_sid", String(34), nullable=True),  # deliveries of one call go out in order
    Column("kind", String(32), nullable=False),  # call-status | recording-status | amd-status ...
    Column("url", Text, nullable=False),  # may carry Twilio's #ct/#rt/#tt/#rc/#rp options
    Column("host", String(255), nullable=False),  # a slow host is skipped while it is saturated
    Column("method", String(8), nullable=False),
    Column("params", Text, nullable=False),  # JSON object of the form fields
    # NULL: params are sent as a form; application/json: params are the JSON body (Calling API).
    Column("content_type", String(64), nullable=True),
    Column("status", String(16), nullable=False),  # pending | sending | delivered | failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UtcDateTime(), nullable=False),
    Column("lease_node", String(64), nullable=True),  # the node sending it right now
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("date_created", UtcDateTime(), nullable=False),
    Column("date_updated", UtcDateTime(), nullable=False),
    Index("ix_webhooks_due", "status", "next_attempt_at"),
    Index("ix_webhooks_call", "call_sid", "id"),
    Index("ix_webhooks_account", "account_sid", "id"),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("webhook_id", Integer, ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False),
    Column("attempted_at", UtcDateTime(), nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("error", Text, nullable=True),
    Column("latency_ms", Integer, nullable=False),
    Column("response_body", Text, nullable=True),  # the start of it, for the Events API
    Column("content_type", String(255), nullable=True),
    Column("next_attempt_at", UtcDateTime(), nullable=True),  # None: no more attempts
    Index("ix_webhook_attempts_webhook", "webhook_id", "id"),
)
