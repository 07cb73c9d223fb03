"""A call's Calling-API `id` and its REST `CallSid` are the same 128 bits: `CA` + 32 hex digits
is shown to the Calling API as the UUID of those bits, so either API finds every call."""

from __future__ import annotations

import re
import uuid

_SID = re.compile(r"^CA[0-9a-f]{32}$")


def call_id(sid: str) -> str:
    """`CA0e9c80d7a1494917892d420043709f45` → `0e9c80d7-a149-4917-892d-420043709f45`."""
    return str(uuid.UUID(hex=sid[2:]))


def call_sid(value: str) -> str | None:
    """A call's `id` as the Calling API names it (UUID, or the CallSid itself) → its CallSid;
    None when it is neither."""
    value = value.strip()
    if _SID.match(value):
        return value
    try:
        return "CA" + uuid.UUID(value).hex
    except ValueError:
        return None
