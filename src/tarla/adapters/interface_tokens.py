"""Interface credentials (issue 16): API tokens of the systems that talk to Tarla (the EHR's
FHIR client and CDS Hooks caller, the laboratory system), table ``interface_tokens``
(migration ``0010_interop_tokens``), on :class:`tarla.adapters.orm.Base` (imported by
:mod:`tarla.adapters.orm` so the metadata is complete).

Only the SHA-256 of a token is stored (``token_hash``): the token itself is shown once, when
it is created, and a copy of the database hands out no live credential. A token belongs to one
site and carries its scopes (``read``, ``lab-write``); revoking keeps the row (who, when).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from tarla.adapters.orm import Base
from tarla.services.interfaces import InterfaceTokenRecord

__all__ = ["InterfaceToken", "SqlInterfaceTokens"]


class InterfaceToken(Base):
    __tablename__ = "interface_tokens"
    __table_args__ = (
        CheckConstraint("revoked_at IS NULL OR revoked_by IS NOT NULL", name="revocation"),
        Index("ix_interface_tokens_site_id_name", "site_id", "name"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    name: Mapped[str] = mapped_column(String(100))
    scopes: Mapped[str] = mapped_column(String(64))  # space-separated, e.g. "read lab-write"
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_prefix: Mapped[str] = mapped_column(String(12))  # shown in lists, to tell tokens apart
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(64))
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(64))


def _record(row: InterfaceToken) -> InterfaceTokenRecord:
    return InterfaceTokenRecord(
        id=row.id, site_id=row.site_id, name=row.name,
        scopes=frozenset(row.scopes.split()), token_hash=row.token_hash,
        token_prefix=row.token_prefix, created_at=row.created_at, created_by=row.created_by,
        last_used_at=row.last_used_at, revoked_at=row.revoked_at, revoked_by=row.revoked_by)


class SqlInterfaceTokens:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, token: InterfaceTokenRecord) -> InterfaceTokenRecord:
        row = InterfaceToken(site_id=token.site_id, name=token.name,
                             scopes=" ".join(sorted(token.scopes)), token_hash=token.token_hash,
                             token_prefix=token.token_prefix, created_at=token.created_at,
                             created_by=token.created_by)
        self.session.add(row)
        self.session.flush()
        return _record(row)

    def get(self, token_id: int) -> InterfaceTokenRecord | None:
        row = self.session.get(InterfaceToken, token_id)
        return None if row is None else _record(row)

    def by_hash(self, token_hash: str) -> InterfaceTokenRecord | None:
        row = self.session.scalars(select(InterfaceToken)
                                   .where(InterfaceToken.token_hash == token_hash)).first()
        return None if row is None else _record(row)

    def for_site(self, site_id: int | None) -> list[InterfaceTokenRecord]:
        q = select(InterfaceToken).order_by(InterfaceToken.id)
        if site_id is not None:
            q = q.where(InterfaceToken.site_id == site_id)
        return [_record(r) for r in self.session.scalars(q)]

    def revoke(self, token_id: int, at: datetime, by: str) -> None:
        self.session.execute(update(InterfaceToken).where(InterfaceToken.id == token_id)
                             .values(revoked_at=at, revoked_by=by))

    def touch(self, token_id: int, at: datetime) -> None:
        self.session.execute(update(InterfaceToken).where(InterfaceToken.id == token_id)
                             .values(last_used_at=at))
