"""Engines and sessions: SQLite (WAL, foreign keys on every connection) or PostgreSQL (psycopg 3).

Nothing is built at import time; :mod:`tarla.bootstrap` calls :func:`make_engine` once.

SQLite notes. pysqlite's own transaction handling is switched off and we emit ``BEGIN``
ourselves, so reads run inside the same transaction as writes (consistent snapshot) and a unit
of work that writes starts with ``BEGIN IMMEDIATE`` (takes the write lock up front instead of
failing half-way with "database is locked" when another writer committed in between).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

__all__ = ["make_engine", "make_session_factory", "normalise_url", "WRITE_OPTION"]

#: Connection execution option a writing unit of work sets; SQLite then begins IMMEDIATE.
WRITE_OPTION = "tarla_write"
_BUSY_TIMEOUT_MS = 10_000


def normalise_url(url: str | URL) -> URL:
    """``postgresql://`` -> ``postgresql+psycopg://``; relative SQLite paths stay relative."""
    parsed = make_url(url)
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _sqlite_file(url: URL) -> Path | None:
    db = url.database
    if not db or db == ":memory:" or db.startswith("file:"):
        return None
    return Path(db)


def make_engine(url: str | URL, *, echo: bool = False, foreign_keys: bool = True,
                **kwargs: Any) -> Engine:
    """An engine for ``url``. SQLite: creates the database's folder; WAL; FK checks on.

    ``foreign_keys=False`` is only for migrations (SQLite batch table rebuilds)."""
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = _sqlite_file(parsed)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, echo=echo, **kwargs)
        _configure_sqlite(engine, foreign_keys=foreign_keys)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(parsed, echo=echo, **kwargs)


def _configure_sqlite(engine: Engine, *, foreign_keys: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: object) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (see module docstring)
        cur = dbapi_conn.cursor()
        try:
            cur.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
            cur.execute(f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}")
            if engine.url.database not in (None, "", ":memory:"):
                cur.execute("PRAGMA journal_mode = WAL")
                cur.execute("PRAGMA synchronous = NORMAL")
        finally:
            cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        write = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    # expire_on_commit=False: records are copied out before commit; nothing lazy-loads later.
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)
