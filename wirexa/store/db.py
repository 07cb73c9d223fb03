"""Database engine creation and schema migration (Alembic) for SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def make_engine(url: str, sqlite_synchronous: str = "FULL", background_checkpoints: bool = False) -> Engine:
    """An Engine with the pragmas Wirexa relies on (SQLite: WAL, foreign keys, busy wait).
    `background_checkpoints`: SQLite leaves WAL checkpoints to a `checkpoint.WalCheckpointer`."""
    if url.startswith("sqlite"):
        engine = create_engine(url, pool_size=8, max_overflow=8)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA synchronous={sqlite_synchronous}")
            cur.execute("PRAGMA foreign_keys=ON")
            # Other processes (admin commands, a second node) may hold the write lock briefly.
            cur.execute("PRAGMA busy_timeout=5000")
            if background_checkpoints:
                cur.execute("PRAGMA wal_autocheckpoint=0")
            cur.close()

        return engine
    return create_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)


@contextmanager
def transaction(engine: Engine, conn: Connection | None) -> Iterator[Connection]:
    """The caller's connection (its transaction goes on), or a new transaction of our own."""
    if conn is not None:
        yield conn
        return
    with engine.begin() as own:
        yield own


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (creates it on an empty database)."""
    command.upgrade(alembic_config(engine), "head")
