"""Exceptions raised by the SDK.

REST resources (`client.calls`, `client.recordings`, ...) raise twilio's own
:class:`~twilio.base.exceptions.TwilioRestException`, exactly as the SignalWire and Twilio SDKs
do. The Calling API (`client.calling`) raises :class:`WirexaRestError`, a subclass of it that
also carries the raw response, so one ``except TwilioRestException`` catches both.
"""

from __future__ import annotations

from typing import Any, Optional

from twilio.base.exceptions import TwilioException, TwilioRestException

__all__ = ["SignalWireRestError", "TwilioException", "TwilioRestException", "WirexaRestError"]


class WirexaRestError(TwilioRestException):
    """A non-2xx answer from the Calling API (``POST /api/calling/calls``).

    Attributes (``signalwire-sdk``'s ``SignalWireRestError`` names, plus twilio's):

    - ``status_code`` / ``status``: the HTTP status;
    - ``body``: the decoded JSON body (usually a dict), or the raw text when it is not JSON;
    - ``url`` / ``uri`` and ``method``: the request that failed;
    - ``code`` and ``msg``: the Wirexa error code and message when the body carries them
      (e.g. ``code=20404`` for an unknown route), else ``None`` and the body as text.

    Example::

        try:
            client.calling.end(call_id, reason="hangup")
        except WirexaRestError as err:
            print(err.status_code, err.code, err.body)
    """

    def __init__(self, status_code: int, body: Any, url: str, method: str = "POST") -> None:
        code: Optional[int] = None
        message = body if isinstance(body, str) else repr(body)
        if isinstance(body, dict):
            raw_code = body.get("code")
            if isinstance(raw_code, int) and not isinstance(raw_code, bool):
                code = raw_code
            for key in ("message", "detail", "error"):
                if isinstance(body.get(key), str) and body[key]:
                    message = body[key]
                    break
        super().__init__(status_code, url, message, code, method, body if isinstance(body, dict) else None)
        Exception.__init__(self, status_code, body, url, method)
        self.status_code = status_code
        self.body = body
        self.url = url

    def __reduce__(self) -> Any:
        return (type(self), (self.status_code, self.body, self.url, self.method))

    def __str__(self) -> str:
        code = f" (code {self.code})" if self.code is not None else ""
        return f"{self.method} {self.url} returned {self.status_code}{code}: {self.msg}"


# The name signalwire-sdk uses for the same error, so `except SignalWireRestError` keeps working.
SignalWireRestError = WirexaRestError
