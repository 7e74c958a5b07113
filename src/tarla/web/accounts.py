"""Accounts of the web app: set a user's password, one per role demo users.

``set_password`` (the operator's) and ``change_password`` (an administrator's, within their
reach: :func:`tarla.services.admin.managed_user`) belong in :mod:`tarla.services.admin` (there
is no use case to change a stored user yet); until they land there they run here, in one unit
of work with its audit entry (the password hash itself is never audited).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update

from tarla.adapters import orm
from tarla.domain.errors import InvalidInput
from tarla.services import admin, audit
from tarla.services.errors import NotFound
from tarla.services.ports import UnitOfWork
from tarla.services.records import UserRecord
from tarla.services.vocab import Role
from tarla.web.auth import hash_password

__all__ = ["set_password", "change_password", "DemoUser", "ensure_demo_users", "MIN_PASSWORD",
           "check_password"]

MIN_PASSWORD = 10


def check_password(password: str, field: str = "password") -> str:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(field, f"must be at least {MIN_PASSWORD} characters")
    if len(password) > 1024:
        raise InvalidInput(field, "is too long (1024 characters at most)")
    return password


def set_password(uow: UnitOfWork, *, username: str, password: str, actor: str,
                 now: datetime) -> None:
    """The operator sets a password (``tarla demo-users``): any user; ``actor`` names them."""
    _set(uow, username=username, password=password, actor=actor, now=now, by_admin=False)


def change_password(uow: UnitOfWork, *, username: str, password: str, actor: str,
                    now: datetime) -> None:
    """An administrator sets a password of a user they manage (their own site's; every
    site's for an administrator without a site); anyone else's is not found."""
    _set(uow, username=username, password=password, actor=actor, now=now, by_admin=True)


def _set(uow: UnitOfWork, *, username: str, password: str, actor: str, now: datetime,
         by_admin: bool) -> None:
    check_password(password)
    digest = hash_password(password)
    with uow:
        if by_admin:
            user: UserRecord | None = admin.managed_user(uow, admin.administrator(uow, actor),
                                                         username)
        else:
            user = uow.users.by_username(username)
        if user is None:
            raise NotFound("username", f"no user named {username!r}")
        session = getattr(uow, "session", None)
        if session is None:  # pragma: no cover - the fake unit of work
            raise NotImplementedError("set_password needs the SQL unit of work")
        session.execute(update(orm.User).where(orm.User.id == user.id)
                        .values(password_hash=digest))
        audit.append(uow, actor=actor, action="user.set_password", entity_type="user",
                     entity_id=user.id, at=now, after={"username": user.username})
        uow.commit()


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


def ensure_demo_users(uow_factory: Callable[[], UnitOfWork], *, now: datetime,
                      site_code: str | None = None, password: str | None = None,
                      ) -> list[DemoUser]:
    """Give every demo user a password (printed once by the caller). Users the demo data
    created at each site (``rn.alvarez``, ``rph.okoro`` ... at DEMO, ``rn.north`` ... at
    NORTH: :func:`tarla.services.demo.demo_staff`) are reused; a role still without a user
    (or a second pharmacist, for the independent check) gets one of :data:`_FALLBACK`, at
    ``site_code`` (without one it has no clinical site and sees no patient)."""
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
        pw = check_password(password or secrets.token_urlsafe(12))
        if create:
            admin.create_user(uow_factory(), username=username, display_name=name,
                              roles=roles, now=now, site_code=site_code, actor="admin",
                              password_hash=hash_password(pw))
        else:
            set_password(uow_factory(), username=username, password=pw, actor="admin", now=now)
        out.append(DemoUser(username, name, roles, pw, create, site))

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
    return out
