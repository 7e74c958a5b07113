"""Stored worklist decisions over SQLAlchemy (table ``course_decisions``,
:mod:`tarla.adapters.orm_decisions`), and the session hook that notes which courses a
transaction touched, so the unit of work can recompute their decisions before it commits.

The worklist's page is two indexed queries: the due courses joined to their rows, grouped
into counts (and the courses without a current row: the misses), then the page itself in
display order with ``LIMIT``/``OFFSET``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Date,
    Integer,
    Table,
    Text,
    and_,
    bindparam,
    case,
    cast,
    func,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, UOWTransaction

from tarla.adapters import orm
from tarla.adapters.orm_decisions import CourseDecision
from tarla.adapters.repositories import due_at
from tarla.services.ports import DecisionPage, StoredDecision

__all__ = ["SqlDecisions", "KeyedLocks", "track_touched", "TOUCHED"]

#: ``session.info`` key: the (courses, patients) this transaction wrote.
TOUCHED = "tarla.decisions.touched"


def _collect(session: Session, _ctx: UOWTransaction) -> None:
    """``after_flush``: the courses and patients whose decision inputs were just written
    (the new, changed and deleted objects are still listed at this point)."""
    courses, patients = session.info.setdefault(TOUCHED, (set(), set()))
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, orm.TreatmentCourse):
            courses.add(obj.id)
        elif isinstance(obj, (orm.Administration, orm.AdverseEvent)):
            courses.add(obj.course_id)
        elif isinstance(obj, orm.LabResult):
            patients.add(obj.patient_id)
        elif isinstance(obj, orm.Patient):
            patients.add(obj.id)


def track_touched(session: Session) -> None:
    from sqlalchemy import event

    if not event.contains(session, "after_flush", _collect):
        event.listen(session, "after_flush", _collect)


class KeyedLocks:
    """One lock per key, for this process: concurrent misses of one site's day compute once
    (the others wait, then find the rows current)."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[Any, threading.Lock] = {}

    @contextmanager
    def hold(self, key: Any) -> Iterator[None]:
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            yield


#: Advisory lock keys of the worklist's fill, away from any other use of advisory locks.
_LOCK_SPACE = 0x7A_0000_0000_0000


#: The page's statements per dialect (SqlDecisions._statements): immutable once built.
_STATEMENTS: dict[str, dict[str, Any]] = {}


class SqlDecisions:
    _C = orm.TreatmentCourse.__table__
    _D: Table = CourseDecision.__table__  # type: ignore[assignment]

    def __init__(self, session: Session) -> None:
        self.s = session

    def _current(self, day: Any, now: Any) -> Any:
        c, d = self._C, self._D
        return and_(d.c.day == day, d.c.inputs_version == c.c.inputs_version,
                    d.c.as_of <= now, or_(d.c.valid_until.is_(None), d.c.valid_until > now))

    def _statements(self) -> dict[str, Any]:
        """The page's statements with bound parameters (``site``, ``day``, ``now``, ``skip``,
        ``take``), built once per dialect: building a SELECT costs more than running it on a
        small site."""
        dialect = self.s.get_bind().dialect.name
        found = _STATEMENTS.get(dialect)
        if found is not None:
            return found
        c, d = self._C, self._D
        site, day = bindparam("site", type_=Integer()), bindparam("day", type_=Date())
        now = bindparam("now", type_=orm.UtcDateTime())
        current, due = self._current(day, now), due_at(site, day)
        joined = c.outerjoin(d, d.c.course_id == c.c.id)
        name = d.c.sort_name.collate("C") if dialect == "postgresql" else d.c.sort_name
        # (names in code-point order, as the worklist computed in memory sorts them: SQLite's
        # BINARY collation is that; PostgreSQL's default follows the locale)
        order = (d.c.rank, d.c.due_date, name, c.c.id)
        signable = case((d.c.relies_on_unverified, c.c.label_version), else_=None)
        whole_decision = case((current, d.c.decision), else_=None)
        found = _STATEMENTS[dialect] = {
            # the whole list: one query, each due course with its row if current
            "whole": select(c.c.id, case((current, 1), else_=0), d.c.decision,
                            cast(d.c.item, Text), signable)
            .select_from(joined).where(due).order_by(*order),
            # a page: the whole list's counts (and misses), then the page
            "counts": select(whole_decision, func.count()).select_from(joined).where(due)
            .group_by(whole_decision),
            "page": select(cast(d.c.item, Text), signable)
            .select_from(c.join(d, d.c.course_id == c.c.id)).where(due, current)
            .order_by(*order).offset(bindparam("skip", type_=Integer()))
            .limit(bindparam("take", type_=Integer())),
            "stale": select(c.c.id).select_from(joined)
            .where(due, or_(d.c.course_id.is_(None), ~current)).order_by(c.c.id),
        }
        return found

    def page(self, site_id: int, day: date, now: datetime, offset: int,
             limit: int | None) -> DecisionPage:
        sql = self._statements()
        params = {"site": site_id, "day": day, "now": now}
        if limit is None and offset == 0:
            got = self.s.execute(sql["whole"], params).all()
            stale = sorted(r[0] for r in got if not r[1])
            counts: dict[str, int] = {}
            for r in got:
                if r[1]:
                    counts[r[2]] = counts.get(r[2], 0) + 1
            if stale:
                return DecisionPage([], len(got) - len(stale), counts, stale)
            return DecisionPage([r[3] for r in got], len(got), counts, [],
                                [r[4] for r in got])
        groups = self.s.execute(sql["counts"], params).all()
        counts = {g[0]: int(g[1]) for g in groups if g[0] is not None}
        if any(g[0] is None for g in groups):
            return DecisionPage([], sum(counts.values()), counts, self.stale(site_id, day, now))
        if limit is None:  # to the end: LIMIT NULL on PostgreSQL, a negative one on SQLite
            limit = None if self.s.get_bind().dialect.name == "postgresql" else -1
        got = self.s.execute(sql["page"], {**params, "skip": offset, "take": limit}).all()
        return DecisionPage([r[0] for r in got], sum(counts.values()), counts, [],
                            [r[1] for r in got])

    def lock_day(self, site_id: int, day: date) -> None:
        """Within this transaction, one writer at a time fills a site's day across processes:
        PostgreSQL's transaction-scoped advisory lock (SQLite's writing transaction already
        is one at a time: ``BEGIN IMMEDIATE``)."""
        if self.s.get_bind().dialect.name == "postgresql":
            self.s.execute(select(func.pg_advisory_xact_lock(
                _LOCK_SPACE + site_id * 1_000_000 + day.toordinal())))

    def stale(self, site_id: int, day: date, now: datetime) -> list[int]:
        return list(self.s.scalars(self._statements()["stale"],
                                   {"site": site_id, "day": day, "now": now}))

    def store(self, rows: Sequence[StoredDecision]) -> None:
        if not rows:
            return
        values = [r._asdict() for r in rows]
        dialect = self.s.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        for i in range(0, len(values), 2000):
            stmt = insert(self._D).values(values[i:i + 2000])
            self.s.execute(stmt.on_conflict_do_update(
                index_elements=[self._D.c.course_id],
                set_={k: stmt.excluded[k] for k in values[0] if k != "course_id"}))

    def drop(self, course_ids: Sequence[int]) -> None:
        ids = sorted(set(course_ids))
        for i in range(0, len(ids), 5000):
            self.s.execute(self._D.delete().where(self._D.c.course_id.in_(ids[i:i + 5000])))

    def courses_of_patients(self, patient_ids: Sequence[int]) -> list[int]:
        c, ids = self._C, sorted(set(patient_ids))
        return [cid for i in range(0, len(ids), 5000) for cid in self.s.scalars(
            select(c.c.id).where(c.c.patient_id.in_(ids[i:i + 5000])))]

    def sites_of(self, course_ids: Sequence[int]) -> dict[int, int]:
        c, ids = self._C, sorted(set(course_ids))
        return {cid: sid for i in range(0, len(ids), 5000) for cid, sid in self.s.execute(
            select(c.c.id, c.c.site_id).where(c.c.id.in_(ids[i:i + 5000])))}
