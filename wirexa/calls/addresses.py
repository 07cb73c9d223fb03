"""Call endpoints: E.164 phone numbers (via `phonenumbers`) and SIP URIs."""

from __future__ import annotations

import functools
import re

import phonenumbers

# sip:user@host[:port][;params] with a user part; Twilio accepts `sip:` and `sips:`.
SIP_URI_RE = re.compile(r"^sips?:[^@\s:;]+@[A-Za-z0-9.\-\[\]:]+(;[^\s]*)?$", re.IGNORECASE)


class InvalidAddress(ValueError):
    pass


def is_sip_uri(value: str) -> bool:
    return SIP_URI_RE.match(value) is not None


def normalize(value: str) -> str:
    """E.164 for phone numbers (`+1 (312) 555-1234` → `+13125551234`); SIP URIs as given.

    Numbers must be possible numbers with a country code. Numbers that no operator has
    assigned (the 555 test numbers in the docs) are accepted: validity by numbering plan
    is the carrier's call, not ours.
    """
    if value[:1] == " " and value.strip()[:1].isdigit():
        # `curl -d "To=+1555..."` (as the docs show) sends a raw `+`, which form decoding turns
        # into a space: that space was the plus sign.
        value = "+" + value.strip()
    value = value.strip()
    if value.lower().startswith(("sip:", "sips:")):
        if not is_sip_uri(value):
            raise InvalidAddress(f"'{value}' is not a valid SIP URI (expected sip:user@host)")
        return value
    if not value.startswith("+"):
        raise InvalidAddress(f"'{value}' is not an E.164 number (it must start with + and a country code)")
    try:
        parsed = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException as exc:
        raise InvalidAddress(f"'{value}' is not a valid phone number: {exc}") from None
    if not phonenumbers.is_possible_number(parsed):
        raise InvalidAddress(f"'{value}' is not a valid phone number (wrong length for its country)")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


@functools.lru_cache(maxsize=4096)
def formatted(value: str) -> str:
    """Human form for `to_formatted`/`from_formatted`: national format for numbers."""
    if not value.startswith("+"):
        return value
    try:
        parsed = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return value
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
