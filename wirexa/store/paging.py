"""Newest-first pages over a table with an integer `id`, by cursor or by offset."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, Select, Table


def cursor_page(
    engine: Engine,
    table: Table,
    query: Select[Any],
    limit: int,
    *,
    before_id: int | None = None,
    after_id: int | None = None,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """`before_id`/`after_id` are cursors, so pages stay stable while rows are inserted."""
    id_col = table.c.id
    if after_id is not None:
        # The page just before a cursor: the `limit` oldest rows newer than it, newest first.
        q = query.where(id_col > after_id).order_by(id_col.asc()).limit(limit)
        with engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)][::-1]
    if before_id is not None:
        query = query.where(id_col < before_id)
    q = query.order_by(id_col.desc()).limit(limit).offset(offset)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(q)]
