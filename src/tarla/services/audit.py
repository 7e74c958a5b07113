"""The audit log: append-only and hash-chained.

Each entry stores actor, action, entity type/id, ``before`` and ``after`` (JSON), time, the
previous entry's hash and its own hash = SHA-256 over a canonical JSON of all those fields
(plus its id and the previous hash). Ids are gap-free (assigned from the chain head, under a
lock), so :func:`verify_chain` can tell an edited entry (its hash no longer matches), a deleted
one (the next entry's previous hash points past a gap), a reordered one, and a deleted tail
(the head names an entry that is gone).

Entries are written by the use cases themselves, in their own transaction: a use case that
fails writes none.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from tarla.domain.errors import InvalidInput
from tarla.services.ports import UnitOfWork
from tarla.services.records import AuditRecord

__all__ = ["GENESIS_HASH", "jsonable", "entry_hash", "append", "ChainReport", "check_chain",
           "verify_chain"]

GENESIS_HASH = "0" * 64


def jsonable(value: Any) -> Any:
    """Plain JSON values (dates as ISO strings, records as objects), for before/after."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise InvalidInput("audit", f"{value!r} cannot be stored as JSON")
        return value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise InvalidInput("audit", "naive timestamp in an audit entry")
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return jsonable(value.value)
    if isinstance(value, Decimal):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [jsonable(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, set | frozenset) else items
    raise InvalidInput("audit", f"cannot store a {type(value).__name__} in an audit entry")


def _canonical(fields: dict[str, Any]) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def entry_hash(*, id: int, at: datetime, actor: str, action: str, entity_type: str,
               entity_id: str, before: Any, after: Any, prev_hash: str) -> str:
    payload = {"id": id, "at": jsonable(at), "actor": actor, "action": action,
               "entity_type": entity_type, "entity_id": entity_id, "before": before,
               "after": after, "prev_hash": prev_hash}
    return hashlib.sha256(_canonical(payload)).hexdigest()


def append(uow: UnitOfWork, *, actor: str, action: str, entity_type: str, entity_id: object,
           at: datetime, before: Any = None, after: Any = None) -> AuditRecord:
    """Add one entry to the chain inside the caller's transaction."""
    last_id, last_hash = uow.audit.head()
    before_j, after_j = jsonable(before), jsonable(after)
    at = at.astimezone(UTC)
    new_id = last_id + 1
    digest = entry_hash(id=new_id, at=at, actor=actor, action=action, entity_type=entity_type,
                        entity_id=str(entity_id), before=before_j, after=after_j,
                        prev_hash=last_hash)
    entry = AuditRecord(new_id, at, actor, action, entity_type, str(entity_id), before_j,
                        after_j, last_hash, digest)
    uow.audit.append(entry)
    return entry


@dataclass(frozen=True, slots=True)
class ChainReport:
    entries: int
    problem: str | None = None
    entry_id: int | None = None

    @property
    def intact(self) -> bool:
        return self.problem is None


def check_chain(entries: Iterable[AuditRecord], head: tuple[int, str]) -> ChainReport:
    """Walk ``entries`` in id order; report the first edited, deleted or reordered entry."""
    prev_id, prev_hash = 0, GENESIS_HASH
    count = 0
    for e in entries:
        count += 1
        recomputed = entry_hash(id=e.id, at=e.at, actor=e.actor, action=e.action,
                                entity_type=e.entity_type, entity_id=e.entity_id,
                                before=e.before, after=e.after, prev_hash=e.prev_hash)
        if recomputed != e.hash:
            return ChainReport(count, f"entry {e.id}: hash mismatch (edited)", e.id)
        if e.prev_hash != prev_hash:
            what = f"entry {prev_id}" if prev_id else "the start of the chain"
            if e.id != prev_id + 1:
                why = "entry deleted?" if e.id > prev_id + 1 else "entries reordered?"
            else:
                why = "entries reordered or re-hashed?"
            return ChainReport(count, f"entry {e.id}: previous hash does not match {what} "
                                      f"({why})", e.id)
        if e.id != prev_id + 1:
            return ChainReport(count, f"entry {e.id}: follows entry {prev_id} "
                                      "(ids must be consecutive; entry deleted?)", e.id)
        prev_id, prev_hash = e.id, e.hash
    head_id, head_hash = head
    if head_id != prev_id or head_hash != prev_hash:
        if head_id > prev_id:
            return ChainReport(count, f"entry {prev_id + 1}: missing; the chain head records "
                                      f"{head_id} entries but the log ends at entry {prev_id} "
                                      "(entries deleted at the end?)", prev_id + 1)
        return ChainReport(count, f"entry {head_id}: the chain head does not match the last "
                                  f"entry {prev_id} (head edited?)", head_id)
    return ChainReport(count)


def verify_chain(uow: UnitOfWork) -> ChainReport:
    """Use case: verify the whole audit chain (read-only)."""
    with uow.readonly():
        return check_chain(uow.audit.entries(), uow.audit.head())
