"""In-memory stored decisions for the service tests (:class:`tarla.services.ports.DecisionStore`).

The fake has no triggers: a course's ``inputs_version`` is a fingerprint of everything its
decision reads (the course, its patient, its doses and events, the patient's labs, the site's
time zone), worked out when read, so it changes exactly when one of them does."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

from tarla.services.ports import DecisionPage, StoredDecision

__all__ = ["FakeDecisions", "FakeLocks", "fingerprint"]


def fingerprint(u: Any, course: Any) -> int:
    """The fake's ``inputs_version`` of ``course`` in unit of work ``u``."""
    tables = u.state.tables
    site = tables["sites"].rows.get(course.site_id)
    parts = (course, tables["patients"].rows.get(course.patient_id),
             sorted(repr(a) for a in tables["administrations"].rows.values()
                     if a.course_id == course.id),
             sorted(repr(e) for e in tables["events"].rows.values()
                     if e.course_id == course.id),
             sorted(repr(x) for x in tables["labs"].rows.values()
                     if x.patient_id == course.patient_id),
             None if site is None else site.timezone)
    return hash(repr(parts)) & 0x7FFFFFFF


class FakeLocks:
    def __init__(self) -> None:
        self._lock = threading.RLock()

    @contextmanager
    def hold(self, key: Any) -> Iterator[None]:
        with self._lock:
            yield


class FakeDecisions:
    def __init__(self, uow: Any) -> None:
        self.u = uow

    def _rows(self) -> dict[int, StoredDecision]:
        tables = self.u.state.tables
        if "decisions" not in tables:
            from tarla.services.fakes import _Table

            tables["decisions"] = _Table()
        return tables["decisions"].rows  # type: ignore[no-any-return]

    def _current(self, site_id: int, day: date, now: datetime,
                 ) -> tuple[list[StoredDecision], list[int]]:
        rows, current, stale = self._rows(), [], []
        for due in self.u.worklist.due(site_id, day):
            row = rows.get(due.course_id)
            if (row is None or row.day != day or row.inputs_version != due.inputs_version
                    or row.as_of > now or (row.valid_until is not None
                                           and row.valid_until <= now)):
                stale.append(due.course_id)
            else:
                current.append(row)
        return current, sorted(stale)

    def page(self, site_id: int, day: date, now: datetime, offset: int,
             limit: int | None) -> DecisionPage:
        current, stale = self._current(site_id, day, now)
        counts: dict[str, int] = {}
        for r in current:
            counts[r.decision] = counts.get(r.decision, 0) + 1
        if stale:
            return DecisionPage([], len(current), counts, stale)
        current.sort(key=lambda r: (r.rank, r.due_date or day, r.sort_name, r.course_id))
        shown = current[offset:] if limit is None else current[offset:offset + limit]
        return DecisionPage([json.dumps(r.item) for r in shown], len(current), counts, [],
                            [r.item["label_version"] if r.relies_on_unverified else None
                             for r in shown])

    def lock_day(self, site_id: int, day: date) -> None:
        pass  # one process

    def stale(self, site_id: int, day: date, now: datetime) -> list[int]:
        return self._current(site_id, day, now)[1]

    def store(self, rows: Sequence[StoredDecision]) -> None:
        mine = self._rows()
        for r in rows:
            mine[r.course_id] = r

    def drop(self, course_ids: Sequence[int]) -> None:
        mine = self._rows()
        for cid in course_ids:
            mine.pop(cid, None)

    def courses_of_patients(self, patient_ids: Sequence[int]) -> list[int]:
        wanted = set(patient_ids)
        return [c.id for c in self.u.state.tables["courses"].rows.values()
                if c.patient_id in wanted]

    def sites_of(self, course_ids: Sequence[int]) -> dict[int, int]:
        rows = self.u.state.tables["courses"].rows
        return {cid: rows[cid].site_id for cid in course_ids if cid in rows}
