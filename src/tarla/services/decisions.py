"""Each course's worklist decision for its site's day, kept current (issue 14).

The worklist used to ask the core for every due course's decision on every read. Now each
decision is stored (``course_decisions``) under a key, and the worklist is a page of stored
rows, sorted and paged by the database:

- **The key.** The site's day, the course's ``inputs_version`` (bumped by database triggers
  on any write to what the decision reads: the course, its doses and adverse events, its
  patient, the patient's labs, the site's time zone), the instant it was computed, and the
  first recorded time after that instant the decision had to leave out (``valid_until``, e.g.
  an event charted as resolving at 15:00). A row is served only when all of it matches, so a
  stale row is never served; anything else is a miss.
- **On write.** :func:`keep_current` runs inside every writing transaction, just before it
  commits (the unit of work calls it with the courses and patients it wrote), and recomputes
  those courses' rows for their site's day, in a savepoint (should it fail, the write commits
  all the same and the worklist computes those rows when it reads them).
- **On a miss** (the site's day rolled over, a write from outside the application, a row
  computed by a process whose clock is ahead), :func:`fill` computes the missing rows in one
  writing transaction, under a lock per site and day: concurrent misses compute once.

Decisions for another day than the site's current one are not stored: the worklist computes
them as before (:func:`tarla.services.queries.worklist`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime

from tarla.services._common import zone_of
from tarla.services.ports import StoredDecision, UnitOfWork
from tarla.services.queries import _item, _rank, worklist_inputs
from tarla.services.records import SiteRecord

__all__ = ["keep_current", "fill", "compute", "refresh_site"]


def compute(uow: UnitOfWork, site: SiteRecord, now: datetime,
            course_ids: Iterable[int] | None = None) -> list[StoredDecision]:
    """The rows of the courses due at ``site`` on its current day (of ``course_ids`` when
    given), computed by the core as of ``now``, inside ``uow``."""
    zone = zone_of(site)
    day = now.astimezone(zone).date()
    horizon: dict[int, datetime] = {}
    ids = None if course_ids is None else sorted(set(course_ids))
    inputs = worklist_inputs(uow, site.id, zone, day, now, course_ids=ids,  # type: ignore[arg-type]
                             horizon=horizon)
    pins = uow.label.pinned_versions([due.course_id for due, _ in inputs])
    out = []
    for due, inp in inputs:
        item = _item(due, inp, pins.get(due.course_id))
        out.append(StoredDecision(
            due.course_id, site.id, day, due.inputs_version, now,  # type: ignore[arg-type]
            horizon.get(due.course_id), _rank(item.decision), item.due_date or day,
            item.name, item.decision, bool(item.unverified_rules), item.to_json()))
    return out


def keep_current(uow: UnitOfWork, courses: set[int], patients: set[int], *,
                 now: datetime) -> None:
    """Inside a writing transaction, before it commits: recompute the stored decision of every
    course it wrote (directly, or through its patient or the patient's labs) that is due at
    its site today; drop the rows of those that are not. (The unit of work runs this in a
    savepoint: a failure here never blocks the write, see ``SqlAlchemyUnitOfWork``.)"""
    ids = set(courses) | set(uow.decisions.courses_of_patients(sorted(patients)))
    if not ids:
        return
    by_site: dict[int, list[int]] = defaultdict(list)
    for cid, sid in uow.decisions.sites_of(sorted(ids)).items():
        by_site[sid].append(cid)
    for site_id, cids in by_site.items():
        site = uow.sites.get(site_id)
        if site is None:
            continue
        rows = compute(uow, site, now, cids)
        uow.decisions.store(rows)
        uow.decisions.drop(sorted(set(cids) - {r.course_id for r in rows}))


def fill(uow: UnitOfWork, site: SiteRecord, day: date, now: datetime) -> int:
    """Compute the site's missing rows for ``day`` (its current day as of ``now``) in one
    writing transaction; one caller at a time per site and day (in this process by a lock,
    across processes by the database's): the others wait, then find nothing missing. Returns
    how many rows were computed."""
    with uow.locks.hold((site.id, day)), uow:
        uow.decisions.lock_day(site.id, day)  # type: ignore[arg-type]
        stale = uow.decisions.stale(site.id, day, now)  # type: ignore[arg-type]
        if not stale:
            return 0
        rows = compute(uow, site, now, stale)
        uow.decisions.store(rows)
        uow.commit()
        return len(rows)


def refresh_site(uow: UnitOfWork, site: SiteRecord, now: datetime) -> int:
    """Compute every missing row of the site's current day (``tarla worklist refresh``: run
    it just after the site's midnight, so the first reader of the day finds them ready)."""
    return fill(uow, site, now.astimezone(zone_of(site)).date(), now)
