"""Interface credentials: the API tokens of the systems that talk to Tarla (issue 16).

A token belongs to one interface (a name, e.g. ``epic-fhir``), one site and one or more
scopes: ``read`` (FHIR R4 reads, CDS Hooks services) and ``lab-write`` (labs sent in). Only
its SHA-256 is kept; the token is returned once, by :func:`create_token`. A revoked token
stays on record and no longer authenticates. An interface acts for its site only: every read
it makes is scoped to that site (:class:`~tarla.services.scope.Scope`), so another site's
patient is not found, exactly as a missing one.

Who manages tokens: the operator at the command line (``tarla interface``, every site) and a
signed-in administrator (their own site; an administrator without a site, every site), as for
users (:mod:`tarla.services.admin`). Creating and revoking are audited; a token is never
written to the audit log, nor its hash.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from tarla.domain.errors import InvalidInput
from tarla.services import audit
from tarla.services._common import aware, record_json
from tarla.services.errors import NotFound
from tarla.services.ports import UnitOfWork
from tarla.services.scope import Scope

__all__ = ["SCOPES", "READ", "LAB_WRITE", "InterfaceTokenRecord", "CreatedToken",
           "InterfaceCaller", "token_hash", "create_token", "list_tokens", "revoke_token",
           "authenticate"]

READ = "read"
LAB_WRITE = "lab-write"
SCOPES: tuple[str, ...] = (READ, LAB_WRITE)
#: tokens start with this, so a leaked one is recognisable (secret scanners, logs)
PREFIX = "tarla_"
_TOUCH_EVERY = timedelta(minutes=1)  # last-used time: at most one write a minute


@dataclass(frozen=True, slots=True)
class InterfaceTokenRecord:
    site_id: int
    name: str
    scopes: frozenset[str]
    token_hash: str
    token_prefix: str
    created_at: datetime
    created_by: str
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
    revoked_by: str | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True)
class CreatedToken:
    token: str  # shown once
    record: InterfaceTokenRecord
    site_code: str


@dataclass(frozen=True, slots=True)
class InterfaceCaller:
    """An authenticated interface: whose site it reads, with which scopes."""

    token_id: int
    name: str
    site_id: int
    site_code: str
    scopes: frozenset[str]

    @property
    def scope(self) -> Scope:
        return Scope(self.site_id)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _scopes(scopes: object) -> frozenset[str]:
    if not isinstance(scopes, (list, tuple, set, frozenset)) or not scopes:
        raise InvalidInput("scopes", f"name at least one of {', '.join(SCOPES)}")
    out = frozenset(str(s).strip() for s in scopes)
    for s in sorted(out):
        if s not in SCOPES:
            raise InvalidInput("scopes", f"{s!r} is not a scope ({', '.join(SCOPES)})")
    return out


def _reach(uow: UnitOfWork, actor: str, operator: bool) -> Scope:
    if operator:
        return Scope(None, every_site=True)
    from tarla.services.admin import administrator

    admin = administrator(uow, actor)
    return Scope(None, every_site=True) if admin.site_id is None else Scope(admin.site_id)


def _audit(record: InterfaceTokenRecord) -> dict[str, object]:
    return record_json(record, "token_hash")


def create_token(uow: UnitOfWork, *, actor: str, site_code: str, name: str,
                 scopes: object, now: datetime, operator: bool = False) -> CreatedToken:
    """A new token for interface ``name`` at the site; the token is in the result only."""
    now = aware(now, "now")
    name = (name or "").strip()
    if not name:
        raise InvalidInput("name", "is required")
    if len(name) > 100:
        raise InvalidInput("name", "is longer than 100 characters")
    wanted = _scopes(scopes)
    with uow:
        reach = _reach(uow, actor, operator)
        site = uow.sites.by_code((site_code or "").strip())
        if site is None or not reach.covers(site.id):
            raise NotFound("site", f"no site with code {site_code!r}")
        token = PREFIX + secrets.token_urlsafe(32)
        record = uow.interface_tokens.add(InterfaceTokenRecord(  # type: ignore[attr-defined]
            site_id=site.id, name=name, scopes=wanted, token_hash=token_hash(token),
            token_prefix=token[:12], created_at=now, created_by=actor))
        audit.append(uow, actor=actor, action="interface_token.create",
                     entity_type="interface_token", entity_id=record.id, at=now,
                     after=_audit(record))
        uow.commit()
    return CreatedToken(token, record, site.code)


def list_tokens(uow: UnitOfWork, *, actor: str, operator: bool = False,
                ) -> list[tuple[InterfaceTokenRecord, str]]:
    """The tokens the actor manages, with their site's code (hashes stay in the record)."""
    with uow.readonly():
        reach = _reach(uow, actor, operator)
        codes = {s.id: s.code for s in uow.sites.list()}
        rows = uow.interface_tokens.for_site(  # type: ignore[attr-defined]
            None if reach.every_site else reach.site_id)
    return [(r, codes.get(r.site_id, "?")) for r in rows]


def revoke_token(uow: UnitOfWork, *, actor: str, token_id: int, now: datetime,
                 operator: bool = False) -> InterfaceTokenRecord:
    """Revoke a token (once; a second revocation is refused as already done)."""
    now = aware(now, "now")
    with uow:
        reach = _reach(uow, actor, operator)
        record = uow.interface_tokens.get(token_id)  # type: ignore[attr-defined]
        if record is None or not reach.covers(record.site_id):
            raise NotFound("token_id", f"no interface token {token_id}")
        if record.revoked_at is not None:
            from tarla.services.errors import AlreadyRecorded

            raise AlreadyRecorded("token_id", f"interface token {token_id} is already revoked")
        uow.interface_tokens.revoke(token_id, now, actor)  # type: ignore[attr-defined]
        after = replace(record, revoked_at=now, revoked_by=actor)
        audit.append(uow, actor=actor, action="interface_token.revoke",
                     entity_type="interface_token", entity_id=token_id, at=now,
                     before=_audit(record), after=_audit(after))
        uow.commit()
    return after


def authenticate(uow: UnitOfWork, *, token: str, now: datetime) -> InterfaceCaller | None:
    """The live interface a bearer token names, or None (unknown, malformed or revoked).
    Records the last-used time (at most once a minute)."""
    now = aware(now, "now")
    if not token or len(token) > 200 or not token.startswith(PREFIX):
        return None
    with uow.readonly():
        record = uow.interface_tokens.by_hash(token_hash(token))  # type: ignore[attr-defined]
        if record is None or record.revoked_at is not None or record.id is None:
            return None
        site = uow.sites.get(record.site_id)
        if site is None:
            return None
    if record.last_used_at is None or now - record.last_used_at >= _TOUCH_EVERY:
        with uow:
            uow.interface_tokens.touch(record.id, now)  # type: ignore[attr-defined]
            uow.commit()
    return InterfaceCaller(record.id, record.name, record.site_id, site.code, record.scopes)
