"""Server-side web sessions and failed sign-in attempts (tables ``web_sessions`` and
``web_login_attempts``, created by migration ``zz_web_0001``), and the one-time passwords an
administrator issued (``web_password_resets``, migration ``0013_accounts``).

The cookie holds only a random id (256 bits); the table stores its SHA-256, so a copy of the
database does not hand out live sessions. Each session carries its own CSRF token. Sign-in
failures are counted per (username, client address) and per address over a sliding window,
in the database, so every server worker sees the same count; failures from one address never
lock the user out at another.

This is an adapter of the web entry point (SQLAlchemy Core over the project's engine); the
routes call :class:`SessionStore`, never SQL.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Engine,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    delete,
    func,
    insert,
    select,
    update,
)

from tarla.adapters import orm
from tarla.adapters.db import WRITE_OPTION
from tarla.adapters.orm import UtcDateTime

__all__ = ["metadata", "web_sessions", "web_login_attempts", "web_password_resets",
           "WebSession", "SessionUser",
           "SessionStore",
           "new_token", "token_hash"]

metadata = MetaData()

web_sessions = Table(
    "web_sessions", metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False,
           index=True),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("last_seen_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("ip", String(64)),
    Column("user_agent", String(200)),
)

web_login_attempts = Table(
    "web_login_attempts", metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(64), nullable=False),
    Column("ip", String(64), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Column("ok", Boolean, nullable=False),
    Index("ix_web_login_attempts_username_ip_at", "username", "ip", "at"),
)


web_password_resets = Table(
    "web_password_resets", metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("issued_by", String(64), nullable=False),
    Column("issued_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class WebSession:
    user_id: int
    csrf_token: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class SessionUser:
    """The signed-in user as one read gives it (every request needs it)."""

    session: WebSession
    username: str
    display_name: str
    site_id: int | None
    active: bool
    roles: frozenset[str]
    must_change: bool = False  # an administrator issued a one-time password: change it first


class SessionStore:
    def __init__(self, engine: Engine, *, idle: timedelta, absolute: timedelta) -> None:
        self._engine = engine
        self.idle = idle
        self.absolute = absolute

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        # SQLite: BEGIN IMMEDIATE, like the unit of work (see tarla.adapters.db).
        with self._engine.connect().execution_options(**{WRITE_OPTION: True}) as conn:
            with conn.begin():
                yield conn

    # ------------------------------------------------------------------ sessions

    def create(self, user_id: int, now: datetime, ip: str | None,
               user_agent: str | None) -> tuple[str, WebSession]:
        """A new session; returns the cookie value (shown once) and the session."""
        token = new_token()
        s = WebSession(user_id, new_token(), now, now, now + self.absolute)
        with self._write() as conn:
            conn.execute(insert(web_sessions).values(
                id_hash=token_hash(token), user_id=user_id, csrf_token=s.csrf_token,
                created_at=now, last_seen_at=now, expires_at=s.expires_at,
                ip=(ip or "")[:64], user_agent=(user_agent or "")[:200]))
            # Housekeeping: expired sessions of anyone go away with each sign-in.
            conn.execute(delete(web_sessions).where(web_sessions.c.expires_at < now))
        return token, s

    def get(self, token: str, now: datetime) -> WebSession | None:
        """The live session of a cookie value, or None (unknown, expired or idle too long)."""
        if not token or len(token) > 100:
            return None
        key = token_hash(token)
        with self._engine.connect() as conn:
            row = conn.execute(select(web_sessions).where(web_sessions.c.id_hash == key)).first()
        if row is None:
            return None
        if now >= row.expires_at or now - row.last_seen_at > self.idle:
            self.delete(token)
            return None
        if now - row.last_seen_at > timedelta(minutes=1):  # at most one write a minute
            with self._write() as conn:
                conn.execute(update(web_sessions).where(web_sessions.c.id_hash == key)
                             .values(last_seen_at=now))
        return WebSession(row.user_id, row.csrf_token, row.created_at, now, row.expires_at)

    def user(self, token: str, now: datetime) -> SessionUser | None:
        """The live session and its user in two small reads (no ORM session per request)."""
        session = self.get(token, now)
        if session is None:
            return None
        u, r = orm.User.__table__, orm.UserRole.__table__
        with self._engine.connect() as conn:
            row = conn.execute(select(u.c.username, u.c.display_name, u.c.site_id, u.c.active)
                               .where(u.c.id == session.user_id)).first()
            if row is None:
                return None
            roles = frozenset(x.role for x in conn.execute(
                select(r.c.role).where(r.c.user_id == session.user_id)))
            reset = conn.execute(select(web_password_resets.c.user_id).where(
                web_password_resets.c.user_id == session.user_id)).first()
        return SessionUser(session, row.username, row.display_name, row.site_id,
                           bool(row.active), roles, must_change=reset is not None)

    def delete(self, token: str) -> None:
        with self._write() as conn:
            conn.execute(delete(web_sessions).where(web_sessions.c.id_hash == token_hash(token)))

    def delete_for_user(self, user_id: int) -> None:
        with self._write() as conn:
            conn.execute(delete(web_sessions).where(web_sessions.c.user_id == user_id))

    # ------------------------------------------------------------------ sign-in attempts

    def recent_failures(self, username: str, ip: str, now: datetime,
                        window: timedelta) -> tuple[int, datetime | None]:
        """(failed attempts in the window, the oldest of them)."""
        with self._engine.connect() as conn:
            row = conn.execute(
                select(func.count(), func.min(web_login_attempts.c.at))
                .where(web_login_attempts.c.username == username.casefold()[:64],
                       web_login_attempts.c.ip == ip[:64],
                       web_login_attempts.c.ok.is_(False),
                       web_login_attempts.c.at > now - window)).one()
        return int(row[0]), row[1]

    def failures_from(self, ip: str, now: datetime, window: timedelta,
                      ) -> tuple[int, datetime | None]:
        """(failed attempts from one address in the window, whatever the usernames, the
        oldest of them): the limit on guessing many names from one place."""
        with self._engine.connect() as conn:
            row = conn.execute(
                select(func.count(), func.min(web_login_attempts.c.at))
                .where(web_login_attempts.c.ip == ip[:64],
                       web_login_attempts.c.ok.is_(False),
                       web_login_attempts.c.at > now - window)).one()
        return int(row[0]), row[1]

    def locked_addresses(self, username: str, now: datetime, window: timedelta,
                         limit: int) -> list[str]:
        """The addresses from which ``username`` may not sign in now (too many failures)."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(web_login_attempts.c.ip, func.count())
                .where(web_login_attempts.c.username == username.casefold()[:64],
                       web_login_attempts.c.ok.is_(False),
                       web_login_attempts.c.at > now - window)
                .group_by(web_login_attempts.c.ip)).all()
        return sorted(ip for ip, n in rows if n >= limit)

    def clear_failures(self, username: str) -> int:
        """Unlock: forget the user's failed sign-ins from every address; returns how many."""
        with self._write() as conn:
            done = conn.execute(delete(web_login_attempts).where(
                web_login_attempts.c.username == username.casefold()[:64],
                web_login_attempts.c.ok.is_(False)))
        return int(done.rowcount or 0)

    def reset_expired(self, user_id: int, now: datetime) -> bool:
        """Whether the user holds a one-time password that has expired."""
        with self._engine.connect() as conn:
            row = conn.execute(select(web_password_resets.c.expires_at).where(
                web_password_resets.c.user_id == user_id)).first()
        return row is not None and now >= row.expires_at

    def record_attempt(self, username: str, ip: str, now: datetime, ok: bool) -> None:
        with self._write() as conn:
            name, addr = username.casefold()[:64], ip[:64]
            if ok:  # a success clears the pair's failures
                conn.execute(delete(web_login_attempts).where(
                    web_login_attempts.c.username == name, web_login_attempts.c.ip == addr))
            conn.execute(insert(web_login_attempts).values(username=name, ip=addr, at=now,
                                                           ok=ok))
            conn.execute(delete(web_login_attempts).where(
                web_login_attempts.c.at < now - timedelta(days=1)))
