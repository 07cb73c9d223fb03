"""Webhook signature checks, as ``signalwire.request_validator``.

Wirexa signs each webhook with ``X-SignalWire-Signature`` (and the identical
``X-Twilio-Signature``) using the project's API token, the way Twilio does.

Example::

    from wirexaapi.request_validator import RequestValidator

    validator = RequestValidator("your_api_token")
    ok = validator.validate(request.url, request.form, request.headers["X-SignalWire-Signature"])
"""

from twilio.request_validator import RequestValidator

__all__ = ["RequestValidator"]
