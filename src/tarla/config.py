"""Typed settings, read once from the environment by :func:`load_settings`.

Nothing here runs at import time; :mod:`tarla.bootstrap` calls :func:`load_settings` once.

    TARLA_DATABASE_URL   database URL (default ``sqlite:///var/tarla.sqlite3``, relative to the
                         working directory). ``postgresql://...`` uses psycopg 3.
    TARLA_SITE           code of the default site for the CLI (default: the only site)
    TARLA_SQL_ECHO       ``1`` to log SQL statements
    TARLA_AUDIT_CHECKPOINTS  the audit checkpoint log, outside the database (default
                         ``var/audit-checkpoints.jsonl``)
    TARLA_AUDIT_CHECKPOINT_MINUTES  the web app writes a checkpoint every N minutes (default 0:
                         off; use cron / a systemd timer running ``tarla audit checkpoint``)
    TARLA_AUDIT_KEY / TARLA_AUDIT_KEY_FILE  the checkpoints' HMAC key (read by
                         :func:`load_audit_key`, never kept on :class:`Settings`)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Settings", "load_settings", "DEFAULT_DATABASE_URL", "load_audit_key",
           "DEFAULT_AUDIT_CHECKPOINTS"]

DEFAULT_DATABASE_URL = "sqlite:///var/tarla.sqlite3"
DEFAULT_AUDIT_CHECKPOINTS = "var/audit-checkpoints.jsonl"


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    default_site: str | None = None
    sql_echo: bool = False
    audit_checkpoints: str = DEFAULT_AUDIT_CHECKPOINTS
    audit_checkpoint_minutes: int = 0


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    return Settings(
        database_url=env.get("TARLA_DATABASE_URL", "").strip() or DEFAULT_DATABASE_URL,
        default_site=env.get("TARLA_SITE", "").strip() or None,
        sql_echo=env.get("TARLA_SQL_ECHO", "").strip().lower() in {"1", "true", "yes"},
        audit_checkpoints=env.get("TARLA_AUDIT_CHECKPOINTS", "").strip()
        or DEFAULT_AUDIT_CHECKPOINTS,
        audit_checkpoint_minutes=_minutes(env.get("TARLA_AUDIT_CHECKPOINT_MINUTES", "")),
    )


def _minutes(text: str) -> int:
    text = text.strip() or "0"
    if not text.isdigit() or int(text) > 24 * 60:
        raise ValueError("TARLA_AUDIT_CHECKPOINT_MINUTES: a whole number of minutes, 0 to 1440")
    return int(text)


def load_audit_key(environ: Mapping[str, str] | None = None) -> bytes | None:
    """The audit checkpoints' HMAC key: ``TARLA_AUDIT_KEY`` (text) or the bytes of
    ``TARLA_AUDIT_KEY_FILE`` (surrounding whitespace stripped); None when neither is set."""
    env = os.environ if environ is None else environ
    text = env.get("TARLA_AUDIT_KEY", "").strip()
    if text:
        return text.encode("utf-8")
    path = env.get("TARLA_AUDIT_KEY_FILE", "").strip()
    if not path:
        return None
    try:
        with open(path, "rb") as handle:
            return handle.read().strip() or None
    except OSError as exc:
        raise ValueError(f"TARLA_AUDIT_KEY_FILE: cannot read {path}: {exc.strerror}") from None
