"""What every request Wirexa makes to users' servers has in common (LaML documents, webhooks)."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

USER_AGENT = "Wirexa/0.1 (TwilioProxy/1.1 compatible)"
JSON = "application/json"


def with_query(url: str, params: dict[str, str]) -> str:
    """`url` with `params` appended to its query string (a GET request's parameters)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))
