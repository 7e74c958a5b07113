"""Sites and users (the people who act on the records and their roles).

Two kinds of caller:

- the operator at the command line and the demo loader (:func:`create_site`,
  :func:`create_user`): they hold the database itself; ``actor`` only names them in the
  audit log.
- an administrator signed in to the web app (:func:`add_user`, :func:`managed_scope`,
  :func:`managed_user`): an active user with the admin role, who manages the users of their
  own site only. An administrator without a site manages the users of every site, and sees no
  patient (:mod:`tarla.services.scope`). A user beyond an administrator's reach is not found,
  exactly as one that does not exist.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tarla.domain.errors import InvalidInput
from tarla.schemas import load_zone
from tarla.services import audit
from tarla.services._common import actor_with, aware, record_json, site_by_code
from tarla.services.errors import NotFound
from tarla.services.ports import UnitOfWork
from tarla.services.records import SiteRecord, UserRecord
from tarla.services.vocab import Role

__all__ = ["create_site", "create_user", "add_user", "UserReach", "managed_scope",
           "managed_user", "administrator"]


def create_site(uow: UnitOfWork, *, code: str, name: str, timezone: str, now: datetime,
                actor: str = "system", policy: dict[str, Any] | None = None) -> SiteRecord:
    now = aware(now, "now")
    try:
        load_zone(timezone)
    except ValueError as exc:
        raise InvalidInput("timezone", str(exc)) from None
    if not code.strip():
        raise InvalidInput("code", "is required")
    with uow:
        site = uow.sites.add(SiteRecord(code=code.strip(), name=name, timezone=timezone,
                                        created_at=now, policy=dict(policy or {})))
        audit.append(uow, actor=actor, action="site.create", entity_type="site",
                     entity_id=site.id, at=now, after=record_json(site))
        uow.commit()
    return site


def _checked(username: str, roles: Iterable[str]) -> frozenset[str]:
    role_set = frozenset(roles)
    for role in role_set:
        if role not in {r.value for r in Role}:
            raise InvalidInput("roles", f"{role!r} is not a role "
                                        f"({', '.join(r.value for r in Role)})")
    if not username.strip():
        raise InvalidInput("username", "is required")
    return role_set


def _add(uow: UnitOfWork, *, username: str, display_name: str, roles: frozenset[str],
         site_id: int | None, now: datetime, actor: str,
         password_hash: str | None) -> UserRecord:
    user = uow.users.add(UserRecord(username=username.strip(), display_name=display_name,
                                    created_at=now, roles=roles, site_id=site_id,
                                    password_hash=password_hash))
    audit.append(uow, actor=actor, action="user.create", entity_type="user",
                 entity_id=user.id, at=now, after=record_json(user, "password_hash"))
    return user


def create_user(uow: UnitOfWork, *, username: str, display_name: str, roles: Iterable[str],
                now: datetime, site_code: str | None = None, actor: str = "system",
                password_hash: str | None = None) -> UserRecord:
    """Add a user, as the operator (command line, demo data): any site, or none. An
    administrator signed in to the web app adds users with :func:`add_user`."""
    now = aware(now, "now")
    role_set = _checked(username, roles)
    with uow:
        site_id = site_by_code(uow, site_code).id if site_code else None
        user = _add(uow, username=username, display_name=display_name, roles=role_set,
                    site_id=site_id, now=now, actor=actor, password_hash=password_hash)
        uow.commit()
    return user


def administrator(uow: UnitOfWork, actor: str) -> UserRecord:
    """The acting administrator (active, with the admin role), inside the caller's unit."""
    return actor_with(uow, actor, (Role.ADMIN,), "manage users")


@dataclass(frozen=True, slots=True)
class UserReach:
    """The users an administrator manages: one site's (``site_id``), or every site's and
    those without a site (``every_site``). Deliberately not a
    :class:`~tarla.services.scope.Scope`: it opens no patient record."""

    site_id: int | None
    every_site: bool = False

    def covers(self, site_id: int | None) -> bool:
        return self.every_site or (self.site_id is not None and site_id == self.site_id)


def _reach(admin: UserRecord) -> UserReach:
    # an administrator's own site; every site for an administrator without one
    return UserReach(None, every_site=True) if admin.site_id is None else UserReach(admin.site_id)


def managed_scope(uow: UnitOfWork, *, actor: str) -> UserReach:
    """The users ``actor`` (an administrator) manages."""
    with uow.readonly():
        return _reach(administrator(uow, actor))


def managed_user(uow: UnitOfWork, admin: UserRecord, username: str) -> UserRecord:
    """The user named, if ``admin`` manages them (inside the caller's unit of work)."""
    user = uow.users.by_username(username)
    if user is None or not _reach(admin).covers(user.site_id):
        raise NotFound("username", f"no user named {username!r}")
    return user


def add_user(uow: UnitOfWork, *, actor: str, username: str, display_name: str,
             roles: Iterable[str], now: datetime, site_code: str | None = None,
             password_hash: str | None = None) -> UserRecord:
    """An administrator adds a user. A site's administrator adds users to their own site
    (``site_code`` may name it, or be left out); an administrator without a site names the
    site (or none: another administrator of the whole installation). Another site's code is
    answered as an unknown one."""
    now = aware(now, "now")
    role_set = _checked(username, roles)
    with uow:
        admin = administrator(uow, actor)
        site_id = admin.site_id
        if site_code:  # another site's code is answered as an unknown one
            site = uow.sites.by_code(site_code)
            if site is None or not _reach(admin).covers(site.id):
                raise NotFound("site", f"no site with code {site_code!r}")
            site_id = site.id
        user = _add(uow, username=username, display_name=display_name, roles=role_set,
                    site_id=site_id, now=now, actor=admin.username,
                    password_hash=password_hash)
        uow.commit()
    return user
