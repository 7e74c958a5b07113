"""Accounts of the web app: the operator's password setting (``tarla demo-users``), an
administrator's one-time reset, deactivation and unlock, and a user's own password change.

An administrator never chooses another user's password (they could then sign in as that
user): :func:`issue_reset` gives a random one-time password, shown once to the administrator,
that expires (``TARLA_RESET_HOURS``, default 24) and opens a session that can only choose a
new password (:func:`change_own_password`). A reset, a password change and a deactivation end
every session of the user, in the same transaction as the change and its audit entry (the
password and its hash are never audited). These use cases belong in
:mod:`tarla.services.admin`; they run here, on the SQL unit of work, because the sessions and
resets are tables of the web entry point (:mod:`tarla.web.sessions`).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, update

from tarla.adapters import orm
from tarla.domain.errors import InvalidInput
from tarla.services import admin, audit
from tarla.services.errors import Forbidden, NotFound
from tarla.services.ports import UnitOfWork
from tarla.services.records import UserRecord
from tarla.services.vocab import Role
from tarla.web.auth import hash_password, verify_password
from tarla.web.sessions import web_login_attempts, web_password_resets, web_sessions

__all__ = ["set_password", "issue_reset", "require_change", "change_own_password",
           "set_active", "unlock",
           "DemoUser", "ensure_demo_users", "MIN_PASSWORD", "check_password", "demo_database"]

MIN_PASSWORD = 10


def check_password(password: str, field: str = "password") -> str:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(field, f"must be at least {MIN_PASSWORD} characters")
    if len(password) > 1024:
        raise InvalidInput(field, "is too long (1024 characters at most)")
    return password


def _sql(uow: UnitOfWork) -> Any:
    session = getattr(uow, "session", None)
    if session is None:  # pragma: no cover - the fake unit of work
        raise NotImplementedError("accounts need the SQL unit of work")
    return session


def _end_sessions(session: Any, user_id: int) -> None:
    session.execute(delete(web_sessions).where(web_sessions.c.user_id == user_id))


def set_password(uow: UnitOfWork, *, username: str, password: str, actor: str,
                 now: datetime) -> None:
    """The operator sets a password (``tarla demo-users``, on a demo database only)."""
    check_password(password)
    digest = hash_password(password)
    with uow:
        user = uow.users.by_username(username)
        if user is None:
            raise NotFound("username", f"no user named {username!r}")
        session = _sql(uow)
        session.execute(update(orm.User).where(orm.User.id == user.id)
                        .values(password_hash=digest))
        _end_sessions(session, user.id)  # type: ignore[arg-type]
        audit.append(uow, actor=actor, action="user.set_password", entity_type="user",
                     entity_id=user.id, at=now, after={"username": user.username})
        uow.commit()


def _managed(uow: UnitOfWork, actor: str, username: str) -> tuple[UserRecord, UserRecord]:
    boss = admin.administrator(uow, actor)
    return boss, admin.managed_user(uow, boss, username)


def issue_reset(uow: UnitOfWork, *, username: str, actor: str, now: datetime,
                valid_for: timedelta = timedelta(hours=24)) -> str:
    """An administrator issues a one-time password to a user they manage (never their own:
    they change it themselves). Returns it, to be shown once. Every session of the user ends."""
    temporary = secrets.token_urlsafe(12)
    digest = hash_password(temporary)
    with uow:
        boss, user = _managed(uow, actor, username)
        if user.id == boss.id:
            raise Forbidden("username", "change your own password yourself (Account)")
        session = _sql(uow)
        session.execute(update(orm.User).where(orm.User.id == user.id)
                        .values(password_hash=digest))
        session.execute(delete(web_password_resets)
                        .where(web_password_resets.c.user_id == user.id))
        session.execute(insert(web_password_resets).values(
            user_id=user.id, issued_by=boss.username[:64], issued_at=now,
            expires_at=now + valid_for))
        _end_sessions(session, user.id)  # type: ignore[arg-type]
        audit.append(uow, actor=boss.username, action="user.password_reset_issued",
                     entity_type="user", entity_id=user.id, at=now,
                     after={"username": user.username,
                            "expires_at": (now + valid_for).isoformat()})
        uow.commit()
    return temporary


def require_change(uow: UnitOfWork, *, username: str, actor: str, now: datetime,
                   valid_for: timedelta = timedelta(hours=24)) -> None:
    """The initial password an administrator typed for a new user is one-time too: the user
    chooses their own at the first sign-in (before it expires)."""
    with uow:
        boss, user = _managed(uow, actor, username)
        session = _sql(uow)
        session.execute(delete(web_password_resets)
                        .where(web_password_resets.c.user_id == user.id))
        session.execute(insert(web_password_resets).values(
            user_id=user.id, issued_by=boss.username[:64], issued_at=now,
            expires_at=now + valid_for))
        uow.commit()


def change_own_password(uow: UnitOfWork, *, username: str, current: str, new: str,
                        now: datetime) -> None:
    """A user changes their own password, re-entering the current one (or the one-time
    password they were given). Every session of theirs ends, this one included."""
    check_password(new, "new_password")
    if new == current:
        raise InvalidInput("new_password", "must differ from the current password")
    digest = hash_password(new)
    with uow:
        user = uow.users.by_username(username)
        if user is None or not user.active:
            raise NotFound("username", f"no user named {username!r}")
        if not verify_password(user.password_hash, current):
            raise InvalidInput("current_password", "is not your current password: nothing "
                                                   "was changed")
        session = _sql(uow)
        session.execute(update(orm.User).where(orm.User.id == user.id)
                        .values(password_hash=digest))
        session.execute(delete(web_password_resets)
                        .where(web_password_resets.c.user_id == user.id))
        _end_sessions(session, user.id)  # type: ignore[arg-type]
        audit.append(uow, actor=user.username, action="user.password_changed",
                     entity_type="user", entity_id=user.id, at=now,
                     after={"username": user.username})
        uow.commit()


def set_active(uow: UnitOfWork, *, username: str, active: bool, actor: str,
               now: datetime) -> None:
    """An administrator deactivates (every session ends; sign-in refused) or reactivates a
    user they manage; never themselves."""
    with uow:
        boss, user = _managed(uow, actor, username)
        if user.id == boss.id:
            raise Forbidden("username", "an administrator cannot deactivate themselves")
        if user.active == active:
            return
        session = _sql(uow)
        session.execute(update(orm.User).where(orm.User.id == user.id).values(active=active))
        if not active:
            _end_sessions(session, user.id)  # type: ignore[arg-type]
        audit.append(uow, actor=boss.username,
                     action="user.reactivated" if active else "user.deactivated",
                     entity_type="user", entity_id=user.id, at=now,
                     before={"active": user.active}, after={"active": active})
        uow.commit()


def unlock(uow: UnitOfWork, *, username: str, actor: str, now: datetime) -> int:
    """An administrator forgets a user's failed sign-ins from every address (audited);
    returns how many there were."""
    with uow:
        boss, user = _managed(uow, actor, username)
        done = _sql(uow).execute(delete(web_login_attempts).where(
            web_login_attempts.c.username == user.username.casefold()[:64],
            web_login_attempts.c.ok.is_(False)))
        cleared = int(done.rowcount or 0)
        audit.append(uow, actor=boss.username, action="user.unlocked", entity_type="user",
                     entity_id=user.id, at=now, after={"failed_sign_ins_cleared": cleared})
        uow.commit()
    return cleared


@dataclass(frozen=True, slots=True)
class DemoUser:
    username: str
    display_name: str
    roles: tuple[str, ...]
    password: str
    created: bool
    site: str | None = None  # the user's site code (None: no site)


#: One per role, plus a second pharmacist for the independent check (four eyes).
_FALLBACK = (("nurse", "Demo Nurse, RN", ("nurse",)),
             ("pharmacist", "Demo Pharmacist, PharmD", ("pharmacist",)),
             ("pharmacist2", "Second Pharmacist, PharmD", ("pharmacist",)),
             ("physician", "Dr Demo Physician", ("physician",)),
             ("scheduler", "Demo Scheduler", ("scheduler",)),
             ("admin", "Demo Administrator", ("admin",)))


def demo_database(uow_factory: Callable[[], UnitOfWork]) -> str | None:
    """None when the database holds a demo site (``tarla demo-data``) and no user but the
    demo ones; otherwise why ``tarla demo-users`` must not touch it (it sets passwords)."""
    from sqlalchemy import select

    from tarla.services.demo import demo_staff

    uow = uow_factory()
    with uow.readonly():
        sites = {site.id: site.code for site in uow.sites.list()}
        rows = _sql(uow).execute(select(orm.User.username, orm.User.site_id)).all()
        # interface accounts (no role: they cannot sign in to a screen) are not people
        people = {r[0] for r in _sql(uow).execute(
            select(orm.User.username).join(orm.UserRole, orm.UserRole.user_id == orm.User.id))}
    if not sites:
        return "the database holds no site: load the demo site first (tarla demo-data)"
    demo = {name for code in sites.values() for name, _, _ in demo_staff(code)}
    fallback = {name for name, _, _ in _FALLBACK}
    real = sorted(name for name, _ in rows if name not in demo | fallback and name in people)
    if real:
        shown = ", ".join(real[:3]) + (" ..." if len(real) > 3 else "")
        return (f"the database holds {len(real)} user{'s' if len(real) != 1 else ''} who "
                f"{'are' if len(real) != 1 else 'is'} not a demo user ({shown}): demo-users "
                "sets passwords and runs on a demo database only; manage real users on "
                "/admin/users")
    staffed = {code for site_id, code in sites.items()
               if any(n in {x for x, _, _ in demo_staff(code)} and s == site_id
                      for n, s in rows)}
    if not staffed:
        return "no site holds the demo staff: load the demo site first (tarla demo-data)"
    return None


def ensure_demo_users(uow_factory: Callable[[], UnitOfWork], *, now: datetime,
                      site_code: str | None = None, password: str | None = None,
                      only_new: bool = False) -> list[DemoUser]:
    """Give every demo user a password (printed once by the caller). Users the demo data
    created at each site (``rn.alvarez``, ``rph.okoro`` ... at DEMO, ``rn.north`` ... at
    NORTH: :func:`tarla.services.demo.demo_staff`) are reused; a role still without a user
    (or a second pharmacist, for the independent check) gets one of :data:`_FALLBACK`, at
    ``site_code`` (without one it has no clinical site and sees no patient). ``only_new``:
    a user who already has a password keeps it and is not listed (``make run`` on restart)."""
    from tarla.services.demo import demo_staff

    out: list[DemoUser] = []

    def covered(role: str) -> int:
        return sum(role in d.roles for d in out)

    probe = uow_factory()
    with probe.readonly():
        sites = sorted(probe.sites.list(), key=lambda x: x.id or 0)
    codes = {site.id: site.code for site in sites}

    def give(username: str, name: str, roles: tuple[str, ...], create: bool,
             site: str | None) -> None:
        if only_new and not create and has_password(username):
            out.append(DemoUser(username, name, roles, "", False, site))  # kept, not shown
            return
        pw = check_password(password or secrets.token_urlsafe(12))
        if create:
            admin.create_user(uow_factory(), username=username, display_name=name,
                              roles=roles, now=now, site_code=site_code, actor="admin",
                              password_hash=hash_password(pw))
        else:
            set_password(uow_factory(), username=username, password=pw, actor="admin", now=now)
        out.append(DemoUser(username, name, roles, pw, create, site))

    def has_password(username: str) -> bool:
        probe = uow_factory()
        with probe.readonly():
            user = probe.users.by_username(username)
        return user is not None and user.password_hash is not None

    def existing(username: str) -> tuple[str, tuple[str, ...], str | None] | None:
        probe = uow_factory()
        with probe.readonly():
            user = probe.users.by_username(username)
        return None if user is None else (user.display_name, tuple(sorted(user.roles)),
                                          codes.get(user.site_id))

    for site in sites:
        for username, _, _ in demo_staff(site.code):
            found = existing(username)
            if found is not None and found[2] == site.code:
                give(username, found[0], found[1], create=False, site=site.code)
    for username, name, roles in _FALLBACK:
        role = roles[0]
        if covered(role) >= (2 if role == Role.PHARMACIST.value else 1):
            continue
        found = existing(username)
        give(username, found[0] if found else name, found[1] if found else roles,
             create=found is None, site=found[2] if found else site_code)
    return [u for u in out if u.password]
