"""The stored worklist decisions (issue 14), on :class:`tarla.adapters.orm.Base` (migration
``0014_decisions``).

One row per course: the core's decision for the site's current day, as the worklist shows it
(``item``, the JSON of :class:`tarla.services.queries.WorklistItem` without the site's
sign-offs, which are read when shown), with the sort keys the worklist pages by.

A row is *current*, and only then served, when all of these hold (the key):

- ``day`` is the site's local date now;
- ``inputs_version`` equals the course's ``treatment_courses.inputs_version``, which database
  triggers bump on every insert, update or delete of what the decision reads (the course, its
  doses, its adverse events, its patient, the patient's labs, the site's time zone), whoever
  writes, even outside the application;
- it was computed at or before now (``as_of``), and nothing on record becomes visible before
  now (``valid_until``: the earliest recorded time after ``as_of`` that the decision had to
  leave out, such as an event charted as resolving later today).

Anything else is a miss: computed again, never served stale.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from tarla.adapters.orm import Base

__all__ = ["CourseDecision"]


class CourseDecision(Base):
    __tablename__ = "course_decisions"
    __table_args__ = (
        # The worklist's page: a site's current rows in display order.
        Index("ix_course_decisions_page", "site_id", "day", "rank", "due_date", "sort_name",
              "course_id"),
    )
    course_id: Mapped[int] = mapped_column(
        ForeignKey("treatment_courses.id", ondelete="CASCADE"), primary_key=True,
        autoincrement=False)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    day: Mapped[date] = mapped_column(Date)
    inputs_version: Mapped[int] = mapped_column(Integer)
    as_of: Mapped[datetime]
    valid_until: Mapped[datetime | None]
    rank: Mapped[int] = mapped_column(SmallInteger)  # give, hold, error, wait, discontinue
    due_date: Mapped[date | None] = mapped_column(Date)
    sort_name: Mapped[str] = mapped_column(String(400))
    decision: Mapped[str] = mapped_column(String(16))
    #: Whether the decision relies on an UNVERIFIED rule (the site's sign-offs are then read
    #: into the item when it is shown).
    relies_on_unverified: Mapped[bool] = mapped_column(Boolean)
    item: Mapped[dict[str, Any]]
