"""HTTP Basic `ProjectID:APIToken` authentication, compared in constant time."""

from __future__ import annotations

import base64
import binascii
import hmac
import time

from wirexa.api.errors import AUTH_FAILED, ApiError
from wirexa.store.projects import Project, ProjectStore

_CHALLENGE = {"WWW-Authenticate": 'Basic realm="Wirexa"'}
_DUMMY_TOKEN = "PT" + "0" * 48


def auth_error() -> ApiError:
    return ApiError(
        401, AUTH_FAILED, "Authenticate", headers=_CHALLENGE,
        detail="Your Project ID or API token was incorrect.",
    )


class Authenticator:
    """Resolves the Authorization header to a project.

    Projects are cached for `ttl` seconds so a request costs no database round trip; a rotated
    token therefore stops working within `ttl` on nodes other than the one that rotated it.
    """

    def __init__(self, projects: ProjectStore, ttl: float = 2.0) -> None:
        self.projects = projects
        self.ttl = ttl
        self._cache: dict[str, tuple[float, Project | None]] = {}

    def lookup(self, sid: str) -> Project | None:
        """The project (cached for `ttl` seconds), or None."""
        now = time.monotonic()
        hit = self._cache.get(sid)
        if hit and hit[0] > now:
            return hit[1]
        project = self.projects.get(sid)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[sid] = (now + self.ttl, project)
        return project

    def authenticate(self, authorization: str | None) -> Project:
        if not authorization or not authorization[:6].lower() == "basic ":
            raise auth_error()
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise auth_error() from None
        user, sep, token = decoded.partition(":")
        if not sep:
            raise auth_error()
        project = self.lookup(user)
        expected = project.auth_token if project else _DUMMY_TOKEN
        # Compare even for unknown projects so timing does not reveal which IDs exist.
        ok = hmac.compare_digest(expected.encode(), token.encode())
        if not ok or project is None or project.status != "active":
            raise auth_error()
        return project
