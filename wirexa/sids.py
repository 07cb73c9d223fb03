"""Resource identifiers in Twilio's shape: a two-letter prefix and 32 lowercase hex digits."""

from __future__ import annotations

import secrets
import uuid


def new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def new_call_sid() -> str:
    return new_sid("CA")


def new_api_token() -> str:
    """Unguessable API token (192 random bits), shaped like SignalWire's `PT...` tokens."""
    return "PT" + secrets.token_hex(24)


def new_project_id() -> str:
    """Project IDs are UUIDs, as SignalWire's are; users' code treats them as opaque strings."""
    return str(uuid.uuid4())

