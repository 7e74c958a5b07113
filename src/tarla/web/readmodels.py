"""Read-only views the screens need that the service ports do not offer (yet): preparations
of a course, physician releases of a day, assessments of a course, scans of a preparation,
patient search, users.

Reads only (cosmicpython ch. 12, "views can use plain SQL"): every change goes through a
use case in :mod:`tarla.services`. Returns plain dicts/records, never ORM objects.

Sites are walls (:mod:`tarla.services.scope`): the views that list take the site (or the
scope) to list; those by id are called with ids the caller obtained through a scoped use case
(a course, a preparation of the viewer's site), never with an id taken from the request.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import Engine, func, or_, select

from tarla.adapters import orm
from tarla.services.admin import UserReach
from tarla.web.sessions import web_sessions

__all__ = ["ReadModels"]


def _row(r: Any) -> dict[str, Any]:
    return dict(r._mapping)


class ReadModels:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @property
    def engine(self) -> Engine:
        return self._engine

    def preparations_for_courses(self, course_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
        """Preparations of each course, newest first, each with its clock events in order and
        the label version of its course (``label_version``)."""
        if not course_ids:
            return {}
        p, e = orm.Preparation.__table__, orm.PreparationEventRow.__table__
        c = orm.TreatmentCourse.__table__
        out: dict[int, list[dict[str, Any]]] = {}
        with self._engine.connect() as conn:
            preps = [_row(r) for r in conn.execute(
                select(p, c.c.label_version).join(c, c.c.id == p.c.course_id)
                .where(p.c.course_id.in_(list(course_ids))).order_by(p.c.id.desc()))]
            ids = [x["id"] for x in preps]
            events: dict[int, list[dict[str, Any]]] = {}
            if ids:
                for r in conn.execute(select(e).where(e.c.preparation_id.in_(ids))
                                      .order_by(e.c.at, e.c.id)):
                    events.setdefault(r.preparation_id, []).append(_row(r))
        for x in preps:
            x["events"] = events.get(x["id"], [])
            out.setdefault(x["course_id"], []).append(x)
        return out

    def preparations_at_site(self, site_id: int, statuses: Sequence[str]) -> list[dict[str, Any]]:
        p = orm.Preparation.__table__
        with self._engine.connect() as conn:
            rows = [_row(r) for r in conn.execute(
                select(p).where(p.c.site_id == site_id, p.c.status.in_(list(statuses)))
                .order_by(p.c.id.desc()).limit(200))]
        by_course = self.preparations_for_courses(sorted({r["course_id"] for r in rows}))
        full = {x["id"]: x for lst in by_course.values() for x in lst}
        return [full[r["id"]] for r in rows]

    def releases_on(self, course_ids: Sequence[int], day: date) -> dict[int, list[dict[str, Any]]]:
        """The physician releases (``dose_releases``) of each course for one site-local day,
        oldest first, each with the physician's display name as ``decided_by_name``."""
        if not course_ids:
            return {}
        r, u = orm.DoseRelease.__table__, orm.User.__table__
        out: dict[int, list[dict[str, Any]]] = {}
        with self._engine.connect() as conn:
            for row in conn.execute(
                    select(r, u.c.display_name.label("decided_by_name"))
                    .join(u, u.c.id == r.c.decided_by)
                    .where(r.c.course_id.in_(list(course_ids)), r.c.for_date == day)
                    .order_by(r.c.decided_at, r.c.id)):
                out.setdefault(row.course_id, []).append(_row(row))
        return out

    def scans(self, preparation_id: int) -> list[dict[str, Any]]:
        s = orm.PreparationScan.__table__
        with self._engine.connect() as conn:
            return [_row(r) for r in conn.execute(
                select(s).where(s.c.preparation_id == preparation_id).order_by(s.c.id))]

    def assessments(self, course_id: int) -> list[dict[str, Any]]:
        a = orm.Assessment.__table__
        with self._engine.connect() as conn:
            return [_row(r) for r in conn.execute(
                select(a).where(a.c.course_id == course_id).order_by(a.c.assessed_at, a.c.id))]

    def search_patients(self, site_id: int, q: str, limit: int = 50) -> list[dict[str, Any]]:
        """The site's patients whose name or MRN contains ``q``."""
        pt, c = orm.Patient.__table__, orm.TreatmentCourse.__table__
        stmt = (select(pt.c.id, pt.c.mrn, pt.c.family_name, pt.c.given_name, pt.c.birth_date,
                       pt.c.site_id, c.c.id.label("course_id"), c.c.status, c.c.next_due_date,
                       c.c.doses_given)
                .join(c, c.c.patient_id == pt.c.id, isouter=True)
                .where(pt.c.site_id == site_id)
                .order_by(pt.c.family_name, pt.c.given_name, pt.c.id).limit(limit))
        text = q.strip()
        if text:
            like = f"%{text.casefold()}%"
            stmt = stmt.where(or_(func.lower(pt.c.family_name).like(like),
                                  func.lower(pt.c.given_name).like(like),
                                  func.lower(pt.c.mrn).like(like)))
        with self._engine.connect() as conn:
            return [_row(r) for r in conn.execute(stmt)]

    def users(self, reach: UserReach) -> list[dict[str, Any]]:
        """The users an administrator manages (:func:`tarla.services.admin.managed_scope`),
        each with its site's code."""
        u, r, s = orm.User.__table__, orm.UserRole.__table__, orm.Site.__table__
        stmt = (select(u.c.id, u.c.username, u.c.display_name, u.c.site_id, u.c.active,
                       (u.c.password_hash.is_not(None)).label("has_password"),
                       u.c.created_at, s.c.code.label("site_code"))
                .join(s, s.c.id == u.c.site_id, isouter=True).order_by(u.c.username))
        if not reach.every_site:
            if reach.site_id is None:
                return []
            stmt = stmt.where(u.c.site_id == reach.site_id)
        with self._engine.connect() as conn:
            users = [_row(x) for x in conn.execute(stmt)]
            roles: dict[int, list[str]] = {}
            for x in conn.execute(select(r)):
                roles.setdefault(x.user_id, []).append(x.role)
            live = {x.user_id: x.n for x in conn.execute(
                select(web_sessions.c.user_id, func.count().label("n"))
                .group_by(web_sessions.c.user_id))}
        for x in users:
            x["roles"] = sorted(roles.get(x["id"], []))
            x["sessions"] = live.get(x["id"], 0)
        return users

    def user_names(self, ids: Sequence[int | None]) -> dict[int, str]:
        wanted = sorted({i for i in ids if i is not None})
        if not wanted:
            return {}
        u = orm.User.__table__
        with self._engine.connect() as conn:
            return {r.id: r.display_name for r in conn.execute(
                select(u.c.id, u.c.display_name).where(u.c.id.in_(wanted)))}

    def audit_for(self, actions: Sequence[str], limit: int = 50) -> list[dict[str, Any]]:
        a = orm.AuditEntry.__table__
        with self._engine.connect() as conn:
            return [_row(r) for r in conn.execute(
                select(a.c.id, a.c.at, a.c.actor, a.c.action, a.c.entity_id, a.c.after,
                       a.c.hash).where(a.c.action.in_(list(actions)))
                .order_by(a.c.id.desc()).limit(limit))]
