"""The anchored audit log's storage (issue 13): which clinical rows a transaction wrote, their
audited state, the access log's reads, and the checkpoint file outside the database.

- :class:`SqlAnchoredAudit` extends the chain's repository. It listens to its session's
  flushes and remembers every row of a clinical table (:data:`ANCHORED`) that was inserted,
  updated or deleted; :meth:`~SqlAnchoredAudit.written_rows` reads them back (the state after
  the write, as the database holds it) for the next entry to commit to, and forgets them.
- A row's audited state is its columns minus :data:`UNAUDITED` (delivery bookkeeping that is
  written outside any use case), each value made plain JSON the same way on write and on
  verify (:func:`row_state`).
- :class:`CheckpointFile` is an append-only JSON-lines file (one signed checkpoint a line),
  fsynced on each write.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Table, event, func, or_, select
from sqlalchemy.orm import Session

from tarla.adapters import orm
from tarla.adapters.repositories import SqlAudit, _record
from tarla.services.records import AuditRecord

__all__ = ["ANCHORED", "UNAUDITED", "row_state", "SqlAnchoredAudit", "CheckpointFile"]

#: The clinical tables whose rows every audit entry anchors (keep in step with 0012's list;
#: a table added later starts with no baseline, so every one of its rows must be anchored).
ANCHORED: tuple[str, ...] = (
    "patients", "treatment_courses", "administrations", "assessments", "adverse_events",
    "lab_results", "preparations", "preparation_events", "preparation_scans",
    "preparation_steps", "dose_releases", "vials", "vial_excursions", "vital_signs", "alerts",
    "order_sets", "medication_administrations", "discharges", "billing_codes",
    "charge_reviews")

#: Columns left out of a row's audited state: the alert webhook's delivery outcome is written
#: after the commit that raised the alert, by no user (``tarla.services.alerts.deliver``);
#: a course's ``inputs_version`` is a counter the database's triggers bump whenever its
#: doses, events, patient or labs change (the key of its stored worklist decision).
UNAUDITED: dict[str, frozenset[str]] = {
    "alerts": frozenset({"webhook_status", "webhook_attempted_at", "webhook_error"}),
    "treatment_courses": frozenset({"inputs_version"}),
}


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.isoformat(timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return repr(value)
    return value


def row_state(table: Table, row: Any) -> dict[str, Any]:
    """The audited columns of one row, as plain JSON values."""
    skip = UNAUDITED.get(table.name, frozenset())
    mapping = row._mapping
    return {c.name: _plain(mapping[c]) for c in table.columns if c.name not in skip}


def _table(name: str) -> Table:
    return orm.Base.metadata.tables[name]  # type: ignore[return-value]


class SqlAnchoredAudit(SqlAudit):
    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self._written: dict[tuple[str, int], None] = {}
        event.listen(session, "after_flush", self._track)

    def _track(self, session: Session, _context: Any) -> None:
        for obj in (*session.new, *session.dirty, *session.deleted):
            table = getattr(obj, "__table__", None)
            if table is None or table.name not in ANCHORED:
                continue
            ident = getattr(obj, "id", None)
            if isinstance(ident, int):
                self._written[(table.name, ident)] = None

    def written_rows(self) -> list[dict[str, Any]]:
        self.s.flush()
        keys, self._written = list(self._written), {}
        by_table: dict[str, list[int]] = {}
        for name, ident in keys:
            by_table.setdefault(name, []).append(ident)
        out: list[dict[str, Any]] = []
        for name in sorted(by_table):
            t = _table(name)
            ids = sorted(set(by_table[name]))
            found = {int(r._mapping[t.c.id]): row_state(t, r)
                     for r in self.s.execute(select(t).where(t.c.id.in_(ids)))}
            out.extend({"table": name, "id": i, "state": found.get(i)} for i in ids)
        return out

    def current_rows(self) -> Iterator[tuple[str, int, dict[str, Any]]]:
        for name in ANCHORED:
            t = _table(name)
            result = self.s.execute(select(t).order_by(t.c.id).execution_options(yield_per=2000))
            for r in result:
                yield name, int(r._mapping[t.c.id]), row_state(t, r)

    def baseline(self) -> dict[str, int]:
        b = orm.AuditBaseline.__table__
        return {str(n): int(m) for n, m in self.s.execute(select(b.c.table_name, b.c.max_id))}

    def access_entries(self, *, site_ids: Sequence[int] | None, patient_ids: Sequence[int] | None,
                       actor: str | None, start: datetime | None, end: datetime | None,
                       limit: int) -> list[AuditRecord]:
        t = orm.AuditEntry.__table__
        q = select(t).where(or_(t.c.action.like("access.%"), t.c.action.like("auth.%")))
        if site_ids is not None:
            q = q.where(t.c.site_id.in_(list(site_ids)))
        if patient_ids is not None:
            q = q.where(t.c.patient_id.in_(list(patient_ids)))
        if actor is not None:
            q = q.where(func.lower(t.c.actor) == actor.lower())
        if start is not None:
            q = q.where(t.c.at >= start)
        if end is not None:
            q = q.where(t.c.at < end)
        q = q.order_by(t.c.id.desc()).limit(limit)
        return [_record(AuditRecord, r) for r in self.s.execute(q)]


class CheckpointFile:
    """Signed checkpoints of the chain head, one JSON object a line, appended and fsynced."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def append(self, checkpoint: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(checkpoint, sort_keys=True, separators=(",", ":")) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            os.write(fd, line.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)

    def read(self) -> list[dict[str, Any] | str]:
        """Each line parsed, or the raw text of a line that is not a JSON object."""
        if not self.path.exists():
            return []
        out: list[dict[str, Any] | str] = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except ValueError:
                out.append(line)
                continue
            out.append(value if isinstance(value, dict) else line)
        return out
