"""Call records: create, fetch, filtered cursor listing, state transitions, the outbound queue."""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, Update, bindparam, delete, func, insert, select, update

from wirexa.calls import status as st
from wirexa.clock import utcnow
from wirexa.store.db import transaction
from wirexa.store.paging import cursor_page
from wirexa.store.tables import calls, inserted_id, new_row, projects

CallRow = dict[str, Any]

# Hot statements built once with bound parameters (no per-request statement construction).
_INSERT = insert(calls)
_GET = select(calls).where(calls.c.sid == bindparam("sid"), calls.c.account_sid == bindparam("account_sid"))
_GET_BY_SID = select(calls).where(calls.c.sid == bindparam("sid"))
_FINISH_READ = (
    select(calls, projects.c.billing_enabled, projects.c.price_per_minute)
    .join(projects, projects.c.sid == calls.c.account_sid)
    .where(calls.c.sid == bindparam("b_sid"))
)
_FINISH_COLUMNS = ("status", "end_time", "date_updated", "duration", "price", "price_unit",
                   "sip_response_code", "sip_reason", "error_code", "error_message")
_FINISH = (
    update(calls)
    .where(calls.c.sid == bindparam("b_sid"), calls.c.status == bindparam("b_status"))
    .values({col: bindparam(col) for col in _FINISH_COLUMNS})
    .returning(*calls.c)
)
_FINISH_UNCLAIMED = _FINISH.where(calls.c.node_id.is_(None))

# The projects with calls waiting for a node, one index probe each (a skip scan of
# ix_calls_queue): DISTINCT would read every waiting call, thousands while a campaign queues.
_WAITING = select(func.min(calls.c.account_sid)).where(calls.c.status == bindparam("b_status"),
                                                        calls.c.node_id.is_(None))
_first_waiting = select(_WAITING.scalar_subquery().label("account_sid")).cte("waiting", recursive=True)
_each_waiting = _first_waiting.union_all(  # the next project after the one found last, until none
    select(_WAITING.where(calls.c.account_sid > _first_waiting.c.account_sid).scalar_subquery())
    .where(_first_waiting.c.account_sid.is_not(None))
)
_PROJECTS_WAITING = select(_each_waiting.c.account_sid)

# A project's oldest waiting calls, claimed for a node in one statement. A CTE, not
# `IN (subquery)`: PostgreSQL may re-run such a subquery, and with SKIP LOCKED each run can
# pick other rows, claiming more than the limit.
_picked = (
    select(calls.c.id)
    .where(calls.c.account_sid == bindparam("b_account"), calls.c.status == bindparam("b_status"),
           calls.c.node_id.is_(None))
    .order_by(calls.c.id)
    .limit(bindparam("b_limit"))
    .with_for_update(skip_locked=True)
    .cte("picked")
)
_CLAIM = (
    update(calls)
    .where(calls.c.id == _picked.c.id, calls.c.node_id.is_(None))
    .values(node_id=bindparam("node_id"), dispatched_at=bindparam("dispatched_at"))
    .returning(*calls.c)
)
_DEBIT = (
    update(projects)
    .where(projects.c.sid == bindparam("b_account"))
    .values(balance=projects.c.balance + bindparam("b_amount"))
)


@functools.lru_cache(maxsize=64)
def _transition_statement(columns: tuple[str, ...], from_count: int, returning: bool) -> Update:
    """One UPDATE per set of changed columns, built once: values travel as bound parameters
    (`b_from_0`... for the statuses it may leave: an expanding IN would be re-rendered on
    every execution)."""
    stmt = (
        update(calls)
        .where(calls.c.sid == bindparam("b_sid"),
               calls.c.status.in_([bindparam(f"b_from_{i}") for i in range(from_count)]))
        .values({col: bindparam(col) for col in (*columns, "date_updated")})
    )
    return stmt.returning(*calls.c) if returning else stmt


def _transition(sid: str, from_statuses: Iterable[str], values: CallRow,
                returning: bool) -> tuple[Update, dict[str, Any]]:
    """The statement and parameters moving call `sid` from one of `from_statuses` to `values`."""
    statuses = tuple(from_statuses)
    params = {**values, "date_updated": utcnow(), "b_sid": sid,
              **{f"b_from_{i}": status for i, status in enumerate(statuses)}}
    return _transition_statement(tuple(sorted(values)), len(statuses), returning), params


@dataclass(frozen=True)
class CallFilter:
    """List filters; each `None` means no condition."""

    to: str | None = None
    from_: str | None = None
    parent_call_sid: str | None = None
    status: str | None = None
    start_time_eq: tuple[datetime, datetime] | None = None  # [from, until) interval
    start_time_after: datetime | None = None  # inclusive
    start_time_before: datetime | None = None  # exclusive
    end_time_eq: tuple[datetime, datetime] | None = None
    end_time_after: datetime | None = None
    end_time_before: datetime | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        c = calls.c
        out: list[ColumnElement[bool]] = []
        if self.to is not None:
            out.append(c.to_number == self.to)
        if self.from_ is not None:
            out.append(c.from_number == self.from_)
        if self.parent_call_sid is not None:
            out.append(c.parent_call_sid == self.parent_call_sid)
        if self.status is not None:
            out.append(c.status == self.status)
        for col, eq, after, before in (
            (c.start_time, self.start_time_eq, self.start_time_after, self.start_time_before),
            (c.end_time, self.end_time_eq, self.end_time_after, self.end_time_before),
        ):
            if eq is not None:
                out.extend([col >= eq[0], col < eq[1]])
            if after is not None:
                out.append(col >= after)
            if before is not None:
                out.append(col < before)
        return out


class CallStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(self, values: CallRow, conn: Connection | None = None) -> CallRow:
        """Insert a new call (values hold sid, account_sid, status and the instructions); `conn`
        joins a transaction the caller holds (e.g. a Batcher's)."""
        row = new_row(calls, values, utcnow())
        with transaction(self.engine, conn) as c:
            # Parameters passed separately keep the compiled INSERT cached (values() would not).
            row["id"] = inserted_id(c.execute(_INSERT, row))
        return row

    def get(self, account_sid: str, sid: str) -> CallRow | None:
        with self.engine.connect() as conn:
            found = conn.execute(_GET, {"sid": sid, "account_sid": account_sid}).first()
        return dict(found._mapping) if found else None

    def get_by_sid(self, sid: str, conn: Connection | None = None) -> CallRow | None:
        with transaction(self.engine, conn) as c:
            found = c.execute(_GET_BY_SID, {"sid": sid}).first()
        return dict(found._mapping) if found else None

    def page(
        self,
        account_sid: str,
        flt: CallFilter,
        limit: int,
        *,
        before_id: int | None = None,
        after_id: int | None = None,
        offset: int = 0,
    ) -> list[CallRow]:
        """Newest first, by cursor (stable under inserts) or offset."""
        q = select(calls).where(calls.c.account_sid == account_sid, *flt.conditions())
        return cursor_page(self.engine, calls, q, limit, before_id=before_id, after_id=after_id, offset=offset)

    def transition(
        self, sid: str, from_statuses: Iterable[str], values: CallRow, conn: Connection | None = None
    ) -> CallRow | None:
        """Apply `values` only if the call is still in one of `from_statuses` (atomic check).
        Returns the updated call, or None if its state had moved on."""
        statement, params = _transition(sid, from_statuses, values, True)
        with transaction(self.engine, conn) as c:
            row = c.execute(statement, params).first()
        return dict(row._mapping) if row is not None else None

    def advance(
        self, sid: str, from_statuses: Iterable[str], values: CallRow, conn: Connection | None = None
    ) -> bool:
        """transition() for callers that need no row back (cheaper): True if it applied."""
        statement, params = _transition(sid, from_statuses, values, False)
        with transaction(self.engine, conn) as c:
            return c.execute(statement, params).rowcount > 0

    def update_fields(self, sid: str, values: CallRow, conn: Connection | None = None) -> CallRow | None:
        """Change instructions of a call that has not ended yet."""
        return self.transition(sid, st.NOT_FINAL, values, conn)

    def delete_finished(self, account_sid: str, sid: str, conn: Connection | None = None) -> bool:
        with transaction(self.engine, conn) as tx:
            res = tx.execute(
                delete(calls).where(
                    calls.c.sid == sid,
                    calls.c.account_sid == account_sid,
                    calls.c.status.in_(list(st.FINAL)),
                )
            )
        return bool(res.rowcount)

    # The outbound queue ------------------------------------------------------------

    def projects_with_queued(self, conn: Connection | None = None) -> list[str]:
        with transaction(self.engine, conn) as tx:
            return [sid for sid in tx.scalars(_PROJECTS_WAITING, {"b_status": st.QUEUED}) if sid is not None]

    def claim_queued(self, account_sid: str, node_id: str, limit: int,
                     conn: Connection | None = None) -> list[CallRow]:
        """Take the oldest `limit` waiting calls of a project for `node_id`, in creation order.

        One statement, so concurrent claimers (other nodes) never take the same call:
        PostgreSQL skips rows another claimer has locked, SQLite serialises writers.
        """
        params = {"b_account": account_sid, "b_status": st.QUEUED, "b_limit": limit,
                  "node_id": node_id, "dispatched_at": utcnow()}
        with transaction(self.engine, conn) as tx:
            claimed = [dict(r._mapping) for r in tx.execute(_CLAIM, params)]
        return sorted(claimed, key=lambda r: r["id"])

    def owned_unfinished(self, node_id: str, conn: Connection | None = None) -> list[CallRow]:
        """Calls a node owns that have not ended (after a crash: the ones to close out)."""
        q = select(calls).where(calls.c.node_id == node_id, calls.c.status.not_in(list(st.FINAL)))
        with transaction(self.engine, conn) as c:
            return [dict(r._mapping) for r in c.execute(q.order_by(calls.c.id))]

    # Ending a call -------------------------------------------------------------------

    def finish(
        self,
        sid: str,
        final_status: str,
        *,
        sip_response_code: int | None = None,
        sip_reason: str | None = None,
        error_code: int | None = None,
        error_message: str | None = None,
        default_price_per_minute: Decimal,
        price_unit: str,
        unclaimed: bool = False,
        conn: Connection | None = None,
    ) -> CallRow | None:
        """End a call: end time, duration, price; debit the project if it has billing on.

        `unclaimed` ends it only while it still waits in the queue (no node owns it).
        Returns None when the call had already ended (ending is idempotent) or was claimed.
        """
        assert final_status in st.FINAL
        now = utcnow()
        with transaction(self.engine, conn) as conn:
            row = conn.execute(_FINISH_READ, {"b_sid": sid}).first()
            if row is None or row.status in st.FINAL:
                return None
            if unclaimed and row.node_id is not None:
                return None
            duration = 0
            if row.start_time is not None:
                duration = max(0, round((now - row.start_time).total_seconds()))
            per_minute = row.price_per_minute or default_price_per_minute
            price = -(per_minute * math.ceil(duration / 60)) if duration else Decimal(0)
            # The status (and claim) condition makes a concurrent second ending a no-op.
            ended = conn.execute(_FINISH_UNCLAIMED if unclaimed else _FINISH, {
                "b_sid": sid, "b_status": row.status, "status": final_status, "end_time": now,
                "date_updated": now, "duration": duration, "price": price, "price_unit": price_unit,
                "sip_response_code": sip_response_code, "sip_reason": sip_reason,
                # An error the call flow reported earlier stays unless this ending has its own.
                "error_code": error_code if error_message else row.error_code,
                "error_message": error_message or row.error_message,
            }).first()
            if ended is None:
                return None
            if row.billing_enabled and price:
                conn.execute(_DEBIT, {"b_account": row.account_sid, "b_amount": price})
        return dict(ended._mapping)

