"""Alembic environment. Run through :func:`tarla.adapters.migrate.upgrade` (``tarla db
upgrade``); the Config is built in code, there is no alembic.ini. The URL comes from the
config's ``sqlalchemy.url``; a caller may hand over an open connection instead
(``config.attributes["connection"]``)."""

from __future__ import annotations

from alembic import context

from tarla.adapters.db import make_engine
from tarla.adapters.orm import Base

config = context.config
target_metadata = Base.metadata


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER much
        compare_type=True,
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    # Foreign-key checks off during migrations: SQLite batch mode rebuilds tables.
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "", foreign_keys=False)
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():  # pragma: no cover - we always migrate a live database
    raise SystemExit("offline (--sql) migrations are not supported")
run_migrations_online()
