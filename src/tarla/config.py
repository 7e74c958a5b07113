"""Typed settings, read once from the environment by :func:`load_settings`.

Nothing here runs at import time; :mod:`tarla.bootstrap` calls :func:`load_settings` once.

    TARLA_DATABASE_URL   database URL (default ``sqlite:///var/tarla.sqlite3``, relative to the
                         working directory). ``postgresql://...`` uses psycopg 3.
    TARLA_SITE           code of the default site for the CLI (default: the only site)
    TARLA_SQL_ECHO       ``1`` to log SQL statements
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Settings", "load_settings", "DEFAULT_DATABASE_URL"]

DEFAULT_DATABASE_URL = "sqlite:///var/tarla.sqlite3"


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    default_site: str | None = None
    sql_echo: bool = False


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    return Settings(
        database_url=env.get("TARLA_DATABASE_URL", "").strip() or DEFAULT_DATABASE_URL,
        default_site=env.get("TARLA_SITE", "").strip() or None,
        sql_echo=env.get("TARLA_SQL_ECHO", "").strip().lower() in {"1", "true", "yes"},
    )
