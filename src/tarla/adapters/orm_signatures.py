"""The e-signatures table (issue 13), on :class:`tarla.adapters.orm.Base` (migration
``0013_accounts``): who signed which record, when, meaning what, and the SHA-256 of the
record's canonical content at the moment of signing. Imported by :mod:`tarla.adapters.orm` so
the metadata is complete."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from tarla.adapters.orm import Base

__all__ = ["ESignature"]


class ESignature(Base):
    """One e-signature: the signer re-entered their password (``password``) or signed within
    the site's fresh-authentication window after their own sign-in (``fresh-sign-in``)."""

    __tablename__ = "esignatures"
    __table_args__ = (
        CheckConstraint("method IN ('password', 'fresh-sign-in')", name="method"),
        Index("ix_esignatures_entity", "entity_type", "entity_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    signer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    signer_name: Mapped[str] = mapped_column(String(200))
    meaning: Mapped[str] = mapped_column(String(40))
    entity_type: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(16))
    signed_at: Mapped[datetime]
