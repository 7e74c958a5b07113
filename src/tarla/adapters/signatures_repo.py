"""E-signatures over SQLAlchemy (table ``esignatures``, :mod:`tarla.adapters.orm_signatures`)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from tarla.adapters.orm_signatures import ESignature
from tarla.services.signatures import SignatureRecord

__all__ = ["SqlSignatures"]

_FIELDS = ("signer_id", "signer_name", "meaning", "entity_type", "entity_id", "content_hash",
           "method", "signed_at")


def _record(row: ESignature) -> SignatureRecord:
    return SignatureRecord(**{f: getattr(row, f) for f in _FIELDS}, id=row.id)


class SqlSignatures:
    def __init__(self, session: Session) -> None:
        self.s = session

    def add(self, record: SignatureRecord) -> SignatureRecord:
        row = ESignature(**{f: getattr(record, f) for f in _FIELDS})
        self.s.add(row)
        self.s.flush()
        return _record(row)

    def of(self, entity_type: str, entity_ids: list[int]) -> list[SignatureRecord]:
        if not entity_ids:
            return []
        rows = self.s.scalars(select(ESignature).where(
            ESignature.entity_type == entity_type, ESignature.entity_id.in_(entity_ids))
            .order_by(ESignature.signed_at, ESignature.id))
        return [_record(r) for r in rows]
