"""Sites and users (the people who act on the records and their roles)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from tarla.domain.errors import InvalidInput
from tarla.schemas import load_zone
from tarla.services import audit
from tarla.services._common import aware, record_json, site_by_code
from tarla.services.ports import UnitOfWork
from tarla.services.records import SiteRecord, UserRecord
from tarla.services.vocab import Role

__all__ = ["create_site", "create_user"]


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


def create_user(uow: UnitOfWork, *, username: str, display_name: str, roles: Iterable[str],
                now: datetime, site_code: str | None = None, actor: str = "system",
                password_hash: str | None = None) -> UserRecord:
    """Add a user. (Who may create users is the web app's concern; the CLI acts as admin.)"""
    now = aware(now, "now")
    role_set = frozenset(roles)
    for role in role_set:
        if role not in {r.value for r in Role}:
            raise InvalidInput("roles", f"{role!r} is not a role "
                                        f"({', '.join(r.value for r in Role)})")
    if not username.strip():
        raise InvalidInput("username", "is required")
    with uow:
        site_id = site_by_code(uow, site_code).id if site_code else None
        user = uow.users.add(UserRecord(username=username.strip(), display_name=display_name,
                                        created_at=now, roles=role_set, site_id=site_id,
                                        password_hash=password_hash))
        audit.append(uow, actor=actor, action="user.create", entity_type="user",
                     entity_id=user.id, at=now, after=record_json(user, "password_hash"))
        uow.commit()
    return user
