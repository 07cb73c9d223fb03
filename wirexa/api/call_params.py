"""Validation of the Calls resource's create, update and list parameters (Twilio's names and codes)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as parse_xml

from wirexa.api import errors as E
from wirexa.api.errors import bad_request
from wirexa.api.forms import Params, require
from wirexa.calls import status as st
from wirexa.calls.addresses import InvalidAddress, normalize
from wirexa.store.calls import CallFilter

CALL_EVENTS = ("initiated", "ringing", "answered", "completed")
RECORDING_EVENTS = ("in-progress", "completed", "absent")
MACHINE_DETECTION = ("Enable", "DetectMessageEnd")
RECORDING_CHANNELS = ("mono", "dual")
SEND_DIGITS_RE = re.compile(r"^[0-9A-Da-d*#wW]+$")
MAX_TWIML = 4000
MAX_TIMEOUT = 600
ONE_SECOND = timedelta(seconds=1)  # times are shown to the second: a named second is a range


def _address(params: Params, name: str, missing: int, invalid: int) -> str:
    value = require(params.get(name), missing, f"A '{name}' phone number is required.")
    try:
        return normalize(value)
    except InvalidAddress as exc:
        raise bad_request(invalid, f"Invalid '{name}' Phone Number: {exc}") from None


def _twiml(params: Params) -> str | None:
    value = params.get("Twiml")
    if value is None or value.strip() == "":
        return None
    if len(value) > MAX_TWIML:
        raise bad_request(E.DOCUMENT_PARSE_FAILURE, f"Twiml is longer than {MAX_TWIML} characters")
    try:
        parse_xml(value)
    except (ParseError, DefusedXmlException) as exc:
        raise bad_request(E.DOCUMENT_PARSE_FAILURE, f"Twiml is not well-formed XML: {exc}") from None
    return value


def _timeout(params: Params) -> int:
    # Twilio accepts any positive whole number and caps it at 600 seconds.
    n = params.integer("Timeout", E.INVALID_TIMEOUT, 1, 10**6, default=60)
    assert n is not None
    return min(n, MAX_TIMEOUT)


def parse_create(params: Params) -> dict[str, Any]:
    """Create parameters → call columns. Raises ApiError naming the first bad parameter."""
    to = _address(params, "To", E.NO_TO, E.INVALID_TO)
    from_ = _address(params, "From", E.NO_FROM, E.INVALID_FROM)
    url = params.url("Url", E.INVALID_URL)
    twiml = _twiml(params)
    if url is None and twiml is None:
        raise bad_request(E.INVALID_URL, "Either a 'Url' or 'Twiml' parameter is required.")
    send_digits = params.get("SendDigits")
    if send_digits is not None and send_digits != "" and not SEND_DIGITS_RE.match(send_digits):
        raise bad_request(E.INVALID_SEND_DIGITS, f"SendDigits may contain only 0-9, A-D, *, #, w and W, not '{send_digits}'")
    machine_detection = params.choice("MachineDetection", E.CALLS_RESOURCE, MACHINE_DETECTION)
    status_events = params.events("StatusCallbackEvent", E.INVALID_CALLBACK_EVENT, CALL_EVENTS)
    recording_events = params.events("RecordingStatusCallbackEvent", E.INVALID_CALLBACK_EVENT, RECORDING_EVENTS)
    return {
        "to_number": to,
        "from_number": from_,
        "url": url,
        "twiml": twiml,
        "method": params.method("Method", E.INVALID_METHOD),
        "fallback_url": params.url("FallbackUrl", E.INVALID_URL),
        "fallback_method": params.method("FallbackMethod", E.INVALID_METHOD),
        "status_callback": params.url("StatusCallback", E.INVALID_URL),
        "status_callback_method": params.method("StatusCallbackMethod", E.INVALID_METHOD),
        "status_callback_event": " ".join(status_events) or None,
        "timeout": _timeout(params),
        "time_limit": params.integer("TimeLimit", E.INVALID_PARAMETER, 1, 86400, default=14400),
        "send_digits": send_digits or None,
        "caller_id": params.text("CallerId", 255),
        "record": params.boolean("Record"),
        "recording_channels": params.choice("RecordingChannels", E.INVALID_PARAMETER, RECORDING_CHANNELS),
        "recording_status_callback": params.url("RecordingStatusCallback", E.INVALID_URL),
        "recording_status_callback_method": params.method("RecordingStatusCallbackMethod", E.INVALID_METHOD),
        "recording_status_callback_event": " ".join(recording_events) or None,
        "machine_detection": machine_detection,
        "machine_detection_timeout": params.integer("MachineDetectionTimeout", E.CALLS_RESOURCE, 3, 59),
        "machine_detection_speech_threshold": params.integer(
            "MachineDetectionSpeechThreshold", E.CALLS_RESOURCE, 1000, 6000
        ),
        "machine_detection_speech_end_threshold": params.integer(
            "MachineDetectionSpeechEndThreshold", E.CALLS_RESOURCE, 500, 5000
        ),
        "machine_detection_silence_timeout": params.integer(
            "MachineDetectionSilenceTimeout", E.CALLS_RESOURCE, 2000, 10000
        ),
        "async_amd": params.boolean("AsyncAmd"),
        "async_amd_status_callback": params.url("AsyncAmdStatusCallback", E.INVALID_URL),
        "async_amd_status_callback_method": params.method("AsyncAmdStatusCallbackMethod", E.INVALID_METHOD),
        "caller_name": params.text("CallerName", 255),
        "annotation": params.text("Annotation", 255),
    }


UPDATE_STATUSES = (st.COMPLETED, st.CANCELED)


def parse_update(params: Params) -> tuple[str | None, dict[str, Any]]:
    """Update parameters → (requested Status or None, instruction columns to change)."""
    status = params.choice("Status", E.INVALID_PARAMETER, UPDATE_STATUSES)
    changes: dict[str, Any] = {}
    url = params.url("Url", E.INVALID_URL)
    twiml = _twiml(params)
    if url is not None:
        changes.update(url=url, twiml=None)
    if twiml is not None:
        changes.update(twiml=twiml, url=None)
    if "Method" in params:
        changes["method"] = params.method("Method", E.INVALID_METHOD)
    if "FallbackUrl" in params:
        changes["fallback_url"] = params.url("FallbackUrl", E.INVALID_URL)
    if "FallbackMethod" in params:
        changes["fallback_method"] = params.method("FallbackMethod", E.INVALID_METHOD)
    if "StatusCallback" in params:
        changes["status_callback"] = params.url("StatusCallback", E.INVALID_URL)
    if "StatusCallbackMethod" in params:
        changes["status_callback_method"] = params.method("StatusCallbackMethod", E.INVALID_METHOD)
    if "TimeLimit" in params:
        changes["time_limit"] = params.integer("TimeLimit", E.INVALID_PARAMETER, 1, 86400)
    return status, changes


def _normalized_filter(params: Params, name: str) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    try:
        return normalize(value)
    except InvalidAddress:
        return value  # matches nothing, as a filter on an impossible number should


def _time_filters(params: Params, name: str) -> dict[str, Any]:
    """`Name`, `Name<`, `Name>` (and the `<=`/`>=` spellings): on that day, on or before, on or after.

    A bare date in `<` covers that whole day; a time is taken as the instant (to the second).
    """
    eq = params.date_bound(name)
    before = params.date_bound(f"{name}<") or params.date_bound(f"{name}<=")
    after = params.date_bound(f"{name}>") or params.date_bound(f"{name}>=")
    out: dict[str, Any] = {}
    if eq is not None:
        # "Started on this date": the SDKs send a date as its midnight, so use the whole day.
        day = eq[0].replace(hour=0, minute=0, second=0, microsecond=0)
        out["eq"] = (day, day + timedelta(days=1))
    if before is not None:
        start, end = before
        # "on or before": the whole named day, or up to and including the instant.
        out["before"] = end if end is not None else start + ONE_SECOND
    if after is not None:
        out["after"] = after[0]
    return out


def parse_list_filter(params: Params) -> CallFilter:
    status = params.choice("Status", E.INVALID_PARAMETER, st.ALL)
    start = _time_filters(params, "StartTime")
    end = _time_filters(params, "EndTime")
    return CallFilter(
        to=_normalized_filter(params, "To"),
        from_=_normalized_filter(params, "From"),
        parent_call_sid=params.get("ParentCallSid") or None,
        status=status,
        start_time_eq=start.get("eq"),
        start_time_after=start.get("after"),
        start_time_before=start.get("before"),
        end_time_eq=end.get("eq"),
        end_time_after=end.get("after"),
        end_time_before=end.get("before"),
    )
