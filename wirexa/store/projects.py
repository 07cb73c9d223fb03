"""Projects (accounts): credentials, limits and billing balance."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Engine, insert, select, update

from wirexa.clock import utcnow
from wirexa.sids import new_api_token, new_project_id
from wirexa.store.tables import projects


@dataclass(frozen=True)
class Project:
    sid: str
    friendly_name: str
    auth_token: str
    status: str
    cps: Decimal | None
    billing_enabled: bool
    balance: Decimal
    price_per_minute: Decimal | None
    # Recording downloads needing Basic auth: "api" (None: the API media path only), "all", "none".
    media_auth: str | None = None


MEDIA_AUTH = ("api", "all", "none")


def _project(row: object) -> Project:
    m = row._mapping  # type: ignore[attr-defined]
    return Project(
        sid=m["sid"],
        friendly_name=m["friendly_name"],
        auth_token=m["auth_token"],
        status=m["status"],
        cps=m["cps"],
        billing_enabled=m["billing_enabled"],
        balance=m["balance"],
        price_per_minute=m["price_per_minute"],
        media_auth=m["media_auth"],
    )


class ProjectStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(
        self,
        friendly_name: str,
        sid: str | None = None,
        auth_token: str | None = None,
        cps: Decimal | None = None,
        billing_enabled: bool = False,
        balance: Decimal = Decimal(0),
        price_per_minute: Decimal | None = None,
    ) -> Project:
        now = utcnow()
        project_id = sid or new_project_id()
        values = dict(
            sid=project_id,
            friendly_name=friendly_name,
            auth_token=auth_token or new_api_token(),
            status="active",
            date_created=now,
            date_updated=now,
            cps=cps,
            billing_enabled=billing_enabled,
            balance=balance,
            price_per_minute=price_per_minute,
        )
        with self.engine.begin() as conn:
            conn.execute(insert(projects).values(**values))
        got = self.get(project_id)
        assert got is not None
        return got

    def get(self, sid: str) -> Project | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(projects).where(projects.c.sid == sid)).first()
        return _project(row) if row else None

    def list(self) -> list[Project]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(projects).order_by(projects.c.date_created)).all()
        return [_project(r) for r in rows]

    def rotate_token(self, sid: str) -> Project | None:
        with self.engine.begin() as conn:
            res = conn.execute(
                update(projects)
                .where(projects.c.sid == sid)
                .values(auth_token=new_api_token(), date_updated=utcnow())
            )
        return self.get(sid) if res.rowcount else None

    def set_limits(
        self,
        sid: str,
        *,
        cps: Decimal | None = None,
        billing_enabled: bool | None = None,
        balance: Decimal | None = None,
        price_per_minute: Decimal | None = None,
        media_auth: str | None = None,
    ) -> Project | None:
        changes: dict[str, object] = {"date_updated": utcnow()}
        if media_auth is not None:
            if media_auth not in MEDIA_AUTH:
                raise ValueError(f"media_auth must be one of {', '.join(MEDIA_AUTH)}")
            changes["media_auth"] = media_auth
        if cps is not None:
            changes["cps"] = cps
        if billing_enabled is not None:
            changes["billing_enabled"] = billing_enabled
        if balance is not None:
            changes["balance"] = balance
        if price_per_minute is not None:
            changes["price_per_minute"] = price_per_minute
        with self.engine.begin() as conn:
            res = conn.execute(update(projects).where(projects.c.sid == sid).values(**changes))
        return self.get(sid) if res.rowcount else None
