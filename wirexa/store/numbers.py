"""Incoming phone numbers: which project (and which LaML URL) an inbound call belongs to."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from wirexa.clock import utcnow
from wirexa.sids import new_sid
from wirexa.store.db import transaction
from wirexa.store.paging import cursor_page
from wirexa.store.tables import inserted_id, new_row, phone_numbers

NumberRow = dict[str, Any]

_BY_NUMBER = select(phone_numbers).where(phone_numbers.c.phone_number == bindparam("number"))


class NumberTaken(Exception):
    """The number is already provisioned (by this or another project)."""


class NumberStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(self, account_sid: str, phone_number: str, values: dict[str, Any]) -> NumberRow:
        row = new_row(phone_numbers, {
            "sid": new_sid("PN"), "account_sid": account_sid, "phone_number": phone_number,
            "friendly_name": phone_number, **{k: v for k, v in values.items() if v is not None},
        }, utcnow())
        try:
            with self.engine.begin() as conn:
                result = conn.execute(insert(phone_numbers), row)
        except IntegrityError:
            raise NumberTaken(phone_number) from None
        row["id"] = inserted_id(result)
        return row

    def get(self, account_sid: str, sid: str) -> NumberRow | None:
        c = phone_numbers.c
        with self.engine.connect() as conn:
            found = conn.execute(select(phone_numbers).where(c.sid == sid, c.account_sid == account_sid)).first()
        return dict(found._mapping) if found else None

    def find(self, phone_number: str, conn: Connection | None = None) -> NumberRow | None:
        """The number's record, whichever project owns it (inbound routing)."""
        with transaction(self.engine, conn) as c:
            found = c.execute(_BY_NUMBER, {"number": phone_number}).first()
        return dict(found._mapping) if found else None

    def page(
        self,
        account_sid: str,
        limit: int,
        *,
        phone_number: str | None = None,
        friendly_name: str | None = None,
        before_id: int | None = None,
        after_id: int | None = None,
        offset: int = 0,
    ) -> list[NumberRow]:
        c = phone_numbers.c
        q = select(phone_numbers).where(c.account_sid == account_sid)
        if phone_number is not None:
            q = q.where(c.phone_number == phone_number)
        if friendly_name is not None:
            q = q.where(c.friendly_name == friendly_name)
        return cursor_page(self.engine, phone_numbers, q, limit,
                           before_id=before_id, after_id=after_id, offset=offset)

    def update(self, account_sid: str, sid: str, values: dict[str, Any]) -> NumberRow | None:
        c = phone_numbers.c
        with self.engine.begin() as conn:
            res = conn.execute(
                update(phone_numbers).where(c.sid == sid, c.account_sid == account_sid)
                .values(date_updated=utcnow(), **values)
            )
        return self.get(account_sid, sid) if res.rowcount else None

    def delete(self, account_sid: str, sid: str) -> bool:
        c = phone_numbers.c
        with self.engine.begin() as conn:
            res = conn.execute(delete(phone_numbers).where(c.sid == sid, c.account_sid == account_sid))
        return bool(res.rowcount)
