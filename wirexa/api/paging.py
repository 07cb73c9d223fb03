"""Twilio-style list pages with cursor tokens, so paging stays correct while rows are inserted."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from wirexa.api.errors import INVALID_PARAMETER, bad_request
from wirexa.api.forms import Params

PAGING_PARAMS = ("Page", "PageSize", "PageToken")
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


@dataclass(frozen=True)
class PageRequest:
    page: int
    page_size: int
    before_id: int | None  # PageToken PA<id>: rows older than id (the next page)
    after_id: int | None  # PageToken PB<id>: rows newer than id (the previous page)

    @classmethod
    def parse(cls, params: Params) -> PageRequest:
        size = params.integer("PageSize", INVALID_PARAMETER, 1, MAX_PAGE_SIZE, default=DEFAULT_PAGE_SIZE)
        page = params.integer("Page", INVALID_PARAMETER, 0, 10**9, default=0)
        assert size is not None and page is not None
        token = params.get("PageToken") or ""
        before = after = None
        if token:
            kind, digits = token[:2], token[2:]
            if kind not in ("PA", "PB") or not digits.isdigit():
                raise bad_request(INVALID_PARAMETER, f"PageToken '{token}' is not a valid page token")
            if kind == "PA":
                before = int(digits)
            else:
                after = int(digits)
        return cls(page=page, page_size=size, before_id=before, after_id=after)

    @property
    def offset(self) -> int:
        """Without a token, `Page` counts pages from the newest call."""
        if self.before_id is None and self.after_id is None:
            return self.page * self.page_size
        return 0


def list_page(
    key: str,
    base_uri: str,
    params: Params,
    req: PageRequest,
    fetch: Callable[[int], list[dict[str, Any]]],
    render: Callable[[dict[str, Any]], dict[str, Any]],
) -> dict[str, Any]:
    """One page: `fetch(limit)` returns rows newest first; one extra row tells if more exist."""
    rows = fetch(req.page_size + 1)
    has_more = len(rows) > req.page_size or req.after_id is not None
    if req.after_id is None:
        rows = rows[: req.page_size]
    else:
        rows = rows[-req.page_size:]
    filters = [(k, v) for k, v in params.items() if k not in PAGING_PARAMS]

    def uri(page: int, token: str | None) -> str:
        q = [*filters, ("PageSize", str(req.page_size)), ("Page", str(page))]
        if token:
            q.append(("PageToken", token))
        return f"{base_uri}?{urlencode(q)}"

    current_token = params.get("PageToken")
    start = req.page * req.page_size
    return {
        key: [render(r) for r in rows],
        "uri": uri(req.page, current_token),
        "first_page_uri": uri(0, None),
        "next_page_uri": uri(req.page + 1, f"PA{rows[-1]['id']}") if rows and has_more else None,
        "previous_page_uri": uri(req.page - 1, f"PB{rows[0]['id']}") if rows and req.page > 0 else None,
        "page": req.page,
        "page_size": req.page_size,
        "start": start,
        "end": start + max(len(rows), 1) - 1,
    }
