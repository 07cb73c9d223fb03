"""``Client``: twilio's REST client aimed at a Wirexa space, plus ``client.calling``.

Like SignalWire's classic ``signalwire.rest.Client``, this subclasses ``twilio.rest.Client`` and
points its ``api`` domain at the space, so every resource (``calls``, ``recordings``,
``incoming_phone_numbers``...), its parameters, paging and exceptions are twilio's own.
"""

from __future__ import annotations

import os
from typing import Dict, List, Mapping, MutableMapping, Optional, Tuple
from urllib.parse import urlsplit

from twilio.base.exceptions import TwilioException
from twilio.credential.credential_provider import CredentialProvider
from twilio.http import HttpClient
from twilio.http.response import Response
from twilio.rest import Client as TwilioClient
from twilio.rest.api import Api

from wirexaapi.calling import CallingNamespace
from wirexaapi.version import __version__

__all__ = ["Client", "LAML_PREFIX", "space_base_url"]

# Wirexa serves the Twilio-compatible API under this prefix (and without it); the SDK uses it.
LAML_PREFIX = "/api/laml"
# Path endings a user may paste with the space URL: dropped so that they are not doubled.
_API_SUFFIXES = ("/api/laml/2010-04-01", "/api/laml", "/2010-04-01")
SPACE_URL_VARIABLES = ("WIREXA_URL", "SIGNALWIRE_SPACE_URL")


def space_base_url(space_url: str) -> str:
    """The space's base URL (scheme, host, port, optional path) from what a user configured.

    A bare host gets https, an explicit ``http://`` or ``https://`` is kept; a trailing slash
    and an API prefix the user may have pasted (``/api/laml``, ``/2010-04-01``) are dropped.

    >>> space_base_url("wirexaapi.com")
    'https://wirexaapi.com'
    >>> space_base_url("http://127.0.0.1:8080/")
    'http://127.0.0.1:8080'
    >>> space_base_url("https://pbx.example/wirexa/api/laml")
    'https://pbx.example/wirexa'
    """
    value = space_url.strip()
    if not value:
        raise ValueError("the Wirexa space URL is empty")
    if "://" not in value:
        value = "https://" + value.lstrip("/")
    parts = urlsplit(value)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ValueError(f"the Wirexa space URL must be http:// or https://, not {space_url!r}")
    if not parts.netloc or parts.hostname is None:
        raise ValueError(f"the Wirexa space URL has no host: {space_url!r}")
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise ValueError(f"the Wirexa space URL has a bad port: {space_url!r}") from None
    path = parts.path.rstrip("/")
    for suffix in _API_SUFFIXES:
        if path.endswith(suffix):
            path = path[: -len(suffix)]
            break
    return f"{scheme}://{parts.netloc}{path}"


class Client(TwilioClient):
    """A client for a Wirexa space, constructed like SignalWire's ``signalwire.rest.Client``.

    :param username: the project ID (positional, as with SignalWire)
    :param password: the project's API token
    :param signalwire_space_url: the space: ``"wirexaapi.com"`` (https is implied) or a full
        ``"http://127.0.0.1:8080"`` / ``"https://pbx.example:8443"``. Defaults to the
        ``WIREXA_URL`` environment variable, then ``SIGNALWIRE_SPACE_URL``.

    The other parameters are twilio's (``http_client``, ``environment``...). Requests go to
    ``{space}/api/laml/2010-04-01/Accounts/{project}/...``; errors raise twilio's
    ``TwilioRestException`` with ``status``, ``code`` and ``msg``.

    Example::

        from wirexaapi import Client

        client = Client("your_project_id", "your_api_token", signalwire_space_url="wirexaapi.com")
        call = client.calls.create(to="+15551234567", from_="+15559876543",
                                   url="https://your-backend.com/voice")
        print(call.sid, call.status)  # CA... queued
    """

    def __init__(
        self,
        username: Optional[str] = None,
        password: Optional[str] = None,
        account_sid: Optional[str] = None,
        region: Optional[str] = None,
        http_client: Optional[HttpClient] = None,
        environment: Optional[MutableMapping[str, str]] = None,
        edge: Optional[str] = None,
        user_agent_extensions: Optional[List[str]] = None,
        credential_provider: Optional[CredentialProvider] = None,
        *,
        signalwire_space_url: Optional[str] = None,
    ) -> None:
        env: Mapping[str, str] = environment if environment is not None else os.environ
        if signalwire_space_url is None:
            signalwire_space_url = next((env[k] for k in SPACE_URL_VARIABLES if env.get(k)), None)
        if signalwire_space_url is None:
            raise ValueError(
                "No Wirexa space URL: pass signalwire_space_url=\"your-space.example\" (or "
                "\"http://127.0.0.1:8080\"), or set WIREXA_URL or SIGNALWIRE_SPACE_URL"
            )
        super().__init__(username, password, account_sid, region, http_client, environment, edge,
                         [f"wirexaapi/{__version__}", *(user_agent_extensions or [])], credential_provider)
        self.space_url: str = space_base_url(signalwire_space_url)
        """The space's base URL, e.g. ``"https://wirexaapi.com"``."""
        self._api = Api(self)
        self._api.base_url = self.space_url + LAML_PREFIX
        self._calling: Optional[CallingNamespace] = None

    @property
    def calling(self) -> CallingNamespace:
        """The Calling API (``POST {space}/api/calling/calls``); see :mod:`wirexaapi.calling`.

        Example::

            result = client.calling.dial(from_="+15559876543", to="+15551234567",
                                         url="https://example.com/voice")
        """
        if self._calling is None:
            self._calling = CallingNamespace(self)
        return self._calling

    def get_hostname(self, uri: str) -> str:
        """URLs are used as built: twilio's edge/region rewriting (``TWILIO_EDGE``,
        ``TWILIO_REGION``) would mangle a Wirexa host."""
        return uri

    def _check_target(self, uri: str) -> None:
        # Only the `api` domain is Wirexa's; the others (client.messaging, client.voice...) would
        # send the project's credentials to twilio.com.
        if not (uri.startswith(self._api.base_url.rstrip("/") + "/") or uri.startswith(self.space_url + "/")):
            raise TwilioException(f"{uri} is not part of the Wirexa space {self.space_url}: Wirexa serves the "
                                  "2010-04-01 API (client.calls, client.recordings, ...) and client.calling")

    def request(
        self,
        method: str,
        uri: str,
        params: Optional[Dict[str, object]] = None,
        data: Optional[Dict[str, object]] = None,
        headers: Optional[Dict[str, str]] = None,
        auth: Optional[Tuple[str, str]] = None,
        timeout: Optional[float] = None,
        allow_redirects: bool = False,
    ) -> Response:
        self._check_target(uri)
        return super().request(method, uri, params, data, headers, auth, timeout, allow_redirects)

    async def request_async(
        self,
        method: str,
        uri: str,
        params: Optional[Dict[str, object]] = None,
        data: Optional[Dict[str, object]] = None,
        headers: Optional[Dict[str, str]] = None,
        auth: Optional[Tuple[str, str]] = None,
        timeout: Optional[float] = None,
        allow_redirects: bool = False,
    ) -> Response:
        self._check_target(uri)
        return await super().request_async(method, uri, params, data, headers, auth, timeout, allow_redirects)

    def __repr__(self) -> str:
        return f"<Wirexa {self.account_sid} at {self.space_url}>"
