"""Schema migrations, run from code (``tarla db upgrade``): no alembic.ini needed."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL

from tarla.adapters.db import make_engine, normalise_url

__all__ = ["alembic_config", "upgrade", "downgrade", "current_revision", "head_revision",
           "MIGRATIONS"]

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(url: str | URL) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    # ConfigParser interpolation: a literal % in a password must be doubled.
    rendered = normalise_url(url).render_as_string(hide_password=False)
    cfg.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    return cfg


def upgrade(url: str | URL, revision: str = "head") -> str | None:
    """Migrate the database at ``url`` forward to ``revision``; returns the new revision."""
    command.upgrade(alembic_config(url), revision)
    return current_revision(url)


def downgrade(url: str | URL, revision: str) -> str | None:
    command.downgrade(alembic_config(url), revision)
    return current_revision(url)


def current_revision(url: str | URL) -> str | None:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str | None:
    return ScriptDirectory(str(MIGRATIONS)).get_current_head()
