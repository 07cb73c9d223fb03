"""Recording records: create, fetch, filtered cursor listing, state changes, crash recovery."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, bindparam, delete, insert, select, update

from wirexa.clock import utcnow
from wirexa.store.db import transaction
from wirexa.store.paging import cursor_page
from wirexa.store.tables import inserted_id, new_row, recordings

RecordingRow = dict[str, Any]

IN_PROGRESS, PROCESSING, COMPLETED, ABSENT, FAILED = "in-progress", "processing", "completed", "absent", "failed"
UNFINISHED = (IN_PROGRESS, PROCESSING)

_INSERT = insert(recordings)
_GET = select(recordings).where(recordings.c.sid == bindparam("sid"),
                                recordings.c.account_sid == bindparam("account_sid"))
_GET_BY_SID = select(recordings).where(recordings.c.sid == bindparam("sid"))


@dataclass(frozen=True)
class RecordingFilter:
    """List filters; each `None` means no condition."""

    call_sid: str | None = None
    date_created_eq: tuple[datetime, datetime] | None = None  # [from, until)
    date_created_after: datetime | None = None  # inclusive
    date_created_before: datetime | None = None  # exclusive

    def conditions(self) -> list[ColumnElement[bool]]:
        c = recordings.c
        out: list[ColumnElement[bool]] = []
        if self.call_sid is not None:
            out.append(c.call_sid == self.call_sid)
        if self.date_created_eq is not None:
            out.extend([c.date_created >= self.date_created_eq[0], c.date_created < self.date_created_eq[1]])
        if self.date_created_after is not None:
            out.append(c.date_created >= self.date_created_after)
        if self.date_created_before is not None:
            out.append(c.date_created < self.date_created_before)
        return out


class RecordingStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(self, values: RecordingRow, conn: Connection | None = None) -> RecordingRow:
        row = new_row(recordings, values, utcnow())
        with transaction(self.engine, conn) as c:
            row["id"] = inserted_id(c.execute(_INSERT, row))
        return row

    def get(self, account_sid: str, sid: str) -> RecordingRow | None:
        with self.engine.connect() as conn:
            found = conn.execute(_GET, {"sid": sid, "account_sid": account_sid}).first()
        return dict(found._mapping) if found else None

    def get_by_sid(self, sid: str, conn: Connection | None = None) -> RecordingRow | None:
        with transaction(self.engine, conn) as c:
            found = c.execute(_GET_BY_SID, {"sid": sid}).first()
        return dict(found._mapping) if found else None

    def first_completed_for_call(self, call_sid: str) -> RecordingRow | None:
        """The call's first recording whose files are ready (seed 001: /recordings/call/...)."""
        q = (select(recordings).where(recordings.c.call_sid == call_sid, recordings.c.status == COMPLETED)
             .order_by(recordings.c.id).limit(1))
        with self.engine.connect() as conn:
            found = conn.execute(q).first()
        return dict(found._mapping) if found else None

    def first_for_call(self, call_sid: str) -> RecordingRow | None:
        """The call's first recording that has (or will have) audio."""
        q = (select(recordings).where(recordings.c.call_sid == call_sid, recordings.c.status != ABSENT)
             .order_by(recordings.c.id).limit(1))
        with self.engine.connect() as conn:
            found = conn.execute(q).first()
        return dict(found._mapping) if found else None

    def page(self, account_sid: str, flt: RecordingFilter, limit: int, *, before_id: int | None = None,
             after_id: int | None = None, offset: int = 0) -> list[RecordingRow]:
        """Newest first, by cursor (stable under inserts) or offset."""
        q = select(recordings).where(recordings.c.account_sid == account_sid, *flt.conditions())
        return cursor_page(self.engine, recordings, q, limit, before_id=before_id, after_id=after_id, offset=offset)

    def update(self, sid: str, values: RecordingRow, conn: Connection | None = None,
               from_statuses: tuple[str, ...] | None = None) -> RecordingRow | None:
        """Change a recording (only while in one of `from_statuses`, when given); the new row,
        or None when there is no such recording (or its status had moved on)."""
        stmt = update(recordings).where(recordings.c.sid == sid)
        if from_statuses is not None:
            stmt = stmt.where(recordings.c.status.in_(from_statuses))
        with transaction(self.engine, conn) as c:
            row = c.execute(stmt.values(**values, date_updated=utcnow()).returning(*recordings.c)).first()
        return dict(row._mapping) if row else None

    def unfinished(self, node_id: str, conn: Connection | None = None) -> list[RecordingRow]:
        """Recordings a node was still writing or encoding (after a crash: the ones to finish)."""
        q = (select(recordings).where(recordings.c.node_id == node_id, recordings.c.status.in_(UNFINISHED))
             .order_by(recordings.c.id))
        with transaction(self.engine, conn) as c:
            return [dict(r._mapping) for r in c.execute(q)]

    def delete(self, account_sid: str, sid: str, conn: Connection | None = None) -> bool:
        with transaction(self.engine, conn) as c:
            res = c.execute(delete(recordings).where(recordings.c.sid == sid, recordings.c.account_sid == account_sid))
        return bool(res.rowcount)
