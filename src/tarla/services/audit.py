"""The audit log: append-only and hash-chained.

Each entry stores actor, action, entity type/id, ``before`` and ``after`` (JSON), time, the
previous entry's hash and its own hash = SHA-256 over a canonical JSON of all those fields
(plus its id and the previous hash). Ids are gap-free (assigned from the chain head, under a
lock), so :func:`verify_chain` can tell an edited entry (its hash no longer matches), a deleted
one (the next entry's previous hash points past a gap), a reordered one, and a deleted tail
(the head names an entry that is gone).

Entries are written by the use cases themselves, in their own transaction: a use case that
fails writes none.

Anchoring (issue 13): each entry also commits to the clinical rows its transaction wrote —
``rows`` is ``[{table, id, state}]`` read back after the write (the repository tracks the
writes), ``row_hash`` its SHA-256, and the entry's hash covers ``row_hash`` (and the
``site_id``/``patient_id`` it is about). Entries from before migration 0012 have neither and
keep their old hash: "not anchored to a row". Reads of a patient's record and sign-ins are
entries of the same chain (:func:`record_access`, :func:`record_sign_in`,
:func:`record_sign_out`). The comparison of rows with their audited state and the signed
checkpoints outside the database are in :mod:`tarla.services.audit_anchor`.
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
from tarla.services.scope import Scope

__all__ = ["GENESIS_HASH", "jsonable", "entry_hash", "rows_digest", "append", "ChainReport",
           "check_chain", "verify_chain", "record_access", "record_sign_in", "record_sign_out",
           "AccessEntry", "access_log", "ACCESS_ACTIONS"]

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
               entity_id: str, before: Any, after: Any, prev_hash: str,
               row_hash: str | None = None, site_id: int | None = None,
               patient_id: int | None = None) -> str:
    payload = {"id": id, "at": jsonable(at), "actor": actor, "action": action,
               "entity_type": entity_type, "entity_id": entity_id, "before": before,
               "after": after, "prev_hash": prev_hash}
    if row_hash is not None:  # anchored entries (migration 0012 on); older ones hash as before
        payload.update(row_hash=row_hash, site_id=site_id, patient_id=patient_id)
    return hashlib.sha256(_canonical(payload)).hexdigest()


def rows_digest(rows: Any) -> str:
    """SHA-256 of the canonical JSON of an entry's row states."""
    return hashlib.sha256(_canonical({"rows": rows})).hexdigest()


def append(uow: UnitOfWork, *, actor: str, action: str, entity_type: str, entity_id: object,
           at: datetime, before: Any = None, after: Any = None, site_id: int | None = None,
           patient_id: int | None = None) -> AuditRecord:
    """Add one entry to the chain inside the caller's transaction, anchored to the clinical
    rows the transaction wrote so far (read back after the write)."""
    last_id, last_hash = uow.audit.head()
    rows = uow.audit.written_rows()
    row_hash = rows_digest(rows)
    before_j, after_j = jsonable(before), jsonable(after)
    at = at.astimezone(UTC)
    new_id = last_id + 1
    digest = entry_hash(id=new_id, at=at, actor=actor, action=action, entity_type=entity_type,
                        entity_id=str(entity_id), before=before_j, after=after_j,
                        prev_hash=last_hash, row_hash=row_hash, site_id=site_id,
                        patient_id=patient_id)
    entry = AuditRecord(new_id, at, actor, action, entity_type, str(entity_id), before_j,
                        after_j, last_hash, digest, row_hash, rows, site_id, patient_id)
    uow.audit.append(entry)
    return entry


@dataclass(frozen=True, slots=True)
class ChainReport:
    entries: int
    problem: str | None = None
    entry_id: int | None = None
    #: entries written before anchoring (migration 0012): "not anchored to a row"
    unanchored: int = 0

    @property
    def intact(self) -> bool:
        return self.problem is None


def check_chain(entries: Iterable[AuditRecord], head: tuple[int, str]) -> ChainReport:
    """Walk ``entries`` in id order; report the first edited, deleted or reordered entry."""
    prev_id, prev_hash = 0, GENESIS_HASH
    count = unanchored = 0
    anchored_seen = False
    for e in entries:
        count += 1
        recomputed = entry_hash(id=e.id, at=e.at, actor=e.actor, action=e.action,
                                entity_type=e.entity_type, entity_id=e.entity_id,
                                before=e.before, after=e.after, prev_hash=e.prev_hash,
                                row_hash=e.row_hash, site_id=e.site_id,
                                patient_id=e.patient_id)
        if recomputed != e.hash:
            return ChainReport(count, f"entry {e.id}: hash mismatch (edited)", e.id, unanchored)
        if e.row_hash is None:
            if anchored_seen or e.rows is not None or e.site_id is not None \
                    or e.patient_id is not None:
                return ChainReport(count, f"entry {e.id}: not anchored to a row after "
                                          "anchoring began (row hash stripped?)", e.id,
                                   unanchored)
            unanchored += 1
        else:
            anchored_seen = True
            if rows_digest(e.rows) != e.row_hash:
                return ChainReport(count, f"entry {e.id}: its row states do not match its row "
                                          "hash (edited)", e.id, unanchored)
        if e.prev_hash != prev_hash:
            what = f"entry {prev_id}" if prev_id else "the start of the chain"
            if e.id != prev_id + 1:
                why = "entry deleted?" if e.id > prev_id + 1 else "entries reordered?"
            else:
                why = "entries reordered or re-hashed?"
            return ChainReport(count, f"entry {e.id}: previous hash does not match {what} "
                                      f"({why})", e.id, unanchored)
        if e.id != prev_id + 1:
            return ChainReport(count, f"entry {e.id}: follows entry {prev_id} "
                                      "(ids must be consecutive; entry deleted?)", e.id,
                               unanchored)
        prev_id, prev_hash = e.id, e.hash
    head_id, head_hash = head
    if head_id != prev_id or head_hash != prev_hash:
        if head_id > prev_id:
            return ChainReport(count, f"entry {prev_id + 1}: missing; the chain head records "
                                      f"{head_id} entries but the log ends at entry {prev_id} "
                                      "(entries deleted at the end?)", prev_id + 1, unanchored)
        return ChainReport(count, f"entry {head_id}: the chain head does not match the last "
                                  f"entry {prev_id} (head edited?)", head_id, unanchored)
    return ChainReport(count, unanchored=unanchored)


def verify_chain(uow: UnitOfWork) -> ChainReport:
    """Use case: verify the whole audit chain (read-only)."""
    with uow.readonly():
        return check_chain(uow.audit.entries(), uow.audit.head())


# -- the access log: reads of a patient's record and sign-ins, entries of the same chain --

#: action -> what the access page says
ACCESS_ACTIONS: dict[str, str] = {
    "access.read": "read",
    "auth.sign_in": "signed in",
    "auth.sign_in_failed": "sign-in failed",
    "auth.sign_in_refused": "sign-in refused (too many failures)",
    "auth.sign_out": "signed out",
}


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def record_access(uow: UnitOfWork, *, actor: str, user_id: int | None, scope: Scope, what: str,
                  channel: str, address: str, at: datetime, patient_id: int | None = None,
                  course_id: int | None = None, preparation_id: int | None = None,
                  path: str | None = None) -> AuditRecord | None:
    """Log one read of a patient's record (one entry, one transaction). The record is named
    by the patient, a course or a preparation of theirs; one the reader's scope does not
    cover, or that does not exist, logs nothing (the read itself answered 404)."""
    with uow:
        if patient_id is None and preparation_id is not None:
            prep = uow.preparations.get(preparation_id)
            course_id = None if prep is None else prep.course_id
        if patient_id is None and course_id is not None:
            course = uow.courses.get(course_id)
            patient_id = None if course is None else course.patient_id
        patient = None if patient_id is None else uow.patients.get(patient_id)
        if patient is None or not scope.covers(patient.site_id):
            return None
        entry = append(uow, actor=_short(actor, 64), action="access.read",
                       entity_type="patient", entity_id=patient.id, at=at,
                       after={"what": what, "channel": channel, "address": _short(address, 64),
                              "user_id": user_id, "path": None if path is None
                              else _short(path, 200)},
                       site_id=patient.site_id, patient_id=patient.id)
        uow.commit()
    return entry


def record_sign_in(uow: UnitOfWork, *, username: str, ok: bool, address: str, channel: str,
                   at: datetime, refused: bool = False) -> AuditRecord:
    """Log a sign-in: succeeded, failed (wrong name or password) or refused (rate limit)."""
    name = _short(username.strip() or "(empty)", 64)
    action = ("auth.sign_in" if ok else
              "auth.sign_in_refused" if refused else "auth.sign_in_failed")
    with uow:
        user = uow.users.by_username(username.strip()) if username.strip() else None
        entry = append(uow, actor=name, action=action, entity_type="user",
                       entity_id=user.id if user is not None else name, at=at,
                       after={"channel": channel, "address": _short(address, 64),
                              "user_id": None if user is None else user.id},
                       site_id=None if user is None else user.site_id)
        uow.commit()
    return entry


def record_sign_out(uow: UnitOfWork, *, user_id: int, address: str, channel: str,
                    at: datetime) -> AuditRecord | None:
    with uow:
        user = uow.users.get(user_id)
        if user is None:
            return None
        entry = append(uow, actor=user.username, action="auth.sign_out", entity_type="user",
                       entity_id=user.id, at=at,
                       after={"channel": channel, "address": _short(address, 64),
                              "user_id": user.id},
                       site_id=user.site_id)
        uow.commit()
    return entry


@dataclass(frozen=True, slots=True)
class AccessEntry:
    id: int
    at: datetime
    actor: str
    action: str
    event: str
    what: str | None
    channel: str | None
    address: str | None
    site_id: int | None
    patient_id: int | None
    mrn: str | None
    patient_name: str | None

    def to_json(self) -> dict[str, Any]:
        return {k: jsonable(getattr(self, k)) for k in self.__dataclass_fields__}


def access_log(uow: UnitOfWork, *, viewer: Scope, mrn: str | None = None,
               username: str | None = None, start: datetime | None = None,
               end: datetime | None = None, site_id: int | None = None,
               limit: int = 500) -> list[AccessEntry]:
    """Who saw what, newest first. A site's viewer sees their site's entries only (sites are
    walls); the operator (``every_site``) sees every site's, or ``site_id``'s. ``mrn``
    selects the reads of that patient (at the viewer's site, or at every site for the
    operator); ``username`` one user's reads and sign-ins."""
    if not 1 <= limit <= 5000:
        raise InvalidInput("limit", "must be between 1 and 5000")
    with uow.readonly():
        if viewer.every_site:
            sites = None if site_id is None else [site_id]
        elif viewer.site_id is None:
            sites = [-1]  # a user without a site sees no site's entries
        else:
            sites = [viewer.site_id]
        patients: list[int] | None = None
        if mrn is not None and mrn.strip():
            candidates = ([s.id for s in uow.sites.list()] if sites is None
                          else [s for s in sites if s != -1])
            patients = [p.id for s in candidates
                        if (p := uow.patients.by_mrn(s, mrn.strip())) is not None
                        and p.id is not None]
            if not patients:
                return []
        rows = uow.audit.access_entries(site_ids=sites, patient_ids=patients,
                                        actor=username.strip() if username else None,
                                        start=start, end=end, limit=limit)
        names: dict[int, tuple[str, str]] = {}
        for r in rows:
            if r.patient_id is not None and r.patient_id not in names:
                p = uow.patients.get(r.patient_id)
                if p is not None:
                    names[r.patient_id] = (p.mrn, f"{p.family_name}, {p.given_name}")
    out = []
    for r in rows:
        after = r.after if isinstance(r.after, dict) else {}
        mrn_name = names.get(r.patient_id) if r.patient_id is not None else None
        out.append(AccessEntry(r.id, r.at, r.actor, r.action,
                               ACCESS_ACTIONS.get(r.action, r.action), after.get("what"),
                               after.get("channel"), after.get("address"), r.site_id,
                               r.patient_id, mrn_name[0] if mrn_name else None,
                               mrn_name[1] if mrn_name else None))
    return out
