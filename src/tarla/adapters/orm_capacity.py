"""Tables of capacity planning (issue 12), on :class:`tarla.adapters.orm.Base` (migration
``0011_capacity``): a site's resources, opening hours, nurse shifts, the planner's proposals
and the appointments. Imported by :mod:`tarla.adapters.orm` so the metadata is complete."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tarla.adapters.orm import Base

__all__ = ["SiteResources", "SiteHours", "SiteShift", "CapacityPlan", "Appointment"]


class SiteResources(Base):
    """A site's chairs, beds, compounding capacity and planning settings (site policy)."""

    __tablename__ = "site_resources"
    __table_args__ = (CheckConstraint("chairs >= 0 AND beds >= 0 AND compounding_per_hour >= 0 "
                                      "AND patients_per_nurse >= 1 AND labs_minutes >= 0 "
                                      "AND overtime_minutes >= 0 AND plan_time_limit_s > 0",
                                      name="counts"),)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), primary_key=True,
                                         autoincrement=False)
    chairs: Mapped[int] = mapped_column(Integer)
    beds: Mapped[int] = mapped_column(Integer)
    compounding_per_hour: Mapped[int] = mapped_column(Integer)
    patients_per_nurse: Mapped[int] = mapped_column(Integer)
    labs_minutes: Mapped[int] = mapped_column(Integer)
    overtime_minutes: Mapped[int] = mapped_column(Integer)
    plan_time_limit_s: Mapped[int] = mapped_column(Integer)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    __mapper_args__ = {"version_id_col": version}


class SiteHours(Base):
    """Opening hours of one weekday (0 Monday); a weekday without a row is closed."""

    __tablename__ = "site_hours"
    __table_args__ = (CheckConstraint("weekday >= 0 AND weekday <= 6", name="weekday"),)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), primary_key=True,
                                         autoincrement=False)
    weekday: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    opens: Mapped[str] = mapped_column(String(5))
    closes: Mapped[str] = mapped_column(String(5))


class SiteShift(Base):
    """A nurse shift: HH:MM to HH:MM (an end at or before the start crosses midnight)."""

    __tablename__ = "site_shifts"
    __table_args__ = (UniqueConstraint("site_id", "name"),
                      CheckConstraint("nurses >= 0", name="counts"))
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    name: Mapped[str] = mapped_column(String(32))
    weekdays: Mapped[str] = mapped_column(String(7))
    starts: Mapped[str] = mapped_column(String(5))
    ends: Mapped[str] = mapped_column(String(5))
    nurses: Mapped[int] = mapped_column(Integer)


class CapacityPlan(Base):
    """One proposal of the planner; its bookings are ``appointments`` with status proposed."""

    __tablename__ = "capacity_plans"
    __table_args__ = (CheckConstraint("status IN ('proposed', 'accepted', 'superseded')",
                                      name="status"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    start_date: Mapped[date]
    days: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    solver_status: Mapped[str] = mapped_column(String(32))
    summary: Mapped[dict[str, Any]]
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    __mapper_args__ = {"version_id_col": version}


class Appointment(Base):
    """A linked booking of one due dose: labs, the dose in a chair, then chair observation or
    a monitoring bed, with the decision fingerprint it was planned on."""

    __tablename__ = "appointments"
    __table_args__ = (
        CheckConstraint("status IN ('proposed', 'accepted', 'cancelled', 'superseded')",
                        name="status"),
        CheckConstraint("care_kind IN ('chair', 'bed')", name="care_kind"),
        CheckConstraint("end_at > start_at", name="ends_after_start"),
        Index("ix_appointments_site_id_start_at", "site_id", "start_at"),
        Index("ix_appointments_course_id", "course_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    course_id: Mapped[int] = mapped_column(ForeignKey("treatment_courses.id"))
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("capacity_plans.id"))
    status: Mapped[str] = mapped_column(String(16))
    slot: Mapped[str] = mapped_column(String(16))
    dose_mg: Mapped[int] = mapped_column(Integer)
    due_date: Mapped[date]
    care_kind: Mapped[str] = mapped_column(String(8))
    labs_at: Mapped[datetime | None]
    start_at: Mapped[datetime]
    chair_until: Mapped[datetime | None]
    end_at: Mapped[datetime]
    resource: Mapped[str] = mapped_column(String(32))
    fingerprint: Mapped[dict[str, Any]]
    rules: Mapped[list[Any]]
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    __mapper_args__ = {"version_id_col": version}
