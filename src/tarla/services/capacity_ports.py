"""Records and the repository port of capacity planning (issue 12).

Times of day are ``HH:MM`` text in the site's zone; instants are tz-aware (UTC when read
back). The numbers are the site's policy, never label facts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

__all__ = ["ResourcesRecord", "HoursRecord", "ShiftRecord", "PlanRecord", "AppointmentRecord",
           "CapacityRepository"]


@dataclass(frozen=True, slots=True)
class ResourcesRecord:
    site_id: int
    chairs: int
    beds: int
    compounding_per_hour: int
    patients_per_nurse: int
    labs_minutes: int
    overtime_minutes: int
    plan_time_limit_s: int
    updated_at: datetime
    updated_by: int | None = None
    version: int = 1


@dataclass(frozen=True, slots=True)
class HoursRecord:
    site_id: int
    weekday: int  # 0 Monday .. 6 Sunday
    opens: str
    closes: str


@dataclass(frozen=True, slots=True)
class ShiftRecord:
    site_id: int
    name: str
    weekdays: str  # digits, 0 Monday .. 6 Sunday
    starts: str
    ends: str
    nurses: int
    id: int | None = None


@dataclass(frozen=True, slots=True)
class PlanRecord:
    site_id: int
    start_date: date
    days: int
    status: str  # proposed / accepted / superseded
    solver_status: str
    created_by: int
    created_at: datetime
    summary: dict[str, Any] = field(default_factory=dict)
    decided_by: int | None = None
    decided_at: datetime | None = None
    version: int = 1
    id: int | None = None


@dataclass(frozen=True, slots=True)
class AppointmentRecord:
    site_id: int
    course_id: int
    status: str  # proposed / accepted / cancelled / superseded
    slot: str
    dose_mg: int
    due_date: date
    care_kind: str  # chair / bed
    start_at: datetime
    end_at: datetime
    resource: str  # "chair 3" / "bed 2"
    fingerprint: dict[str, Any]
    created_by: int
    created_at: datetime
    updated_at: datetime
    labs_at: datetime | None = None
    chair_until: datetime | None = None  # end of the chair (infusion + chair observation)
    rules: list[Any] = field(default_factory=list)
    plan_id: int | None = None
    note: str | None = None
    version: int = 1
    id: int | None = None


class CapacityRepository(Protocol):
    def resources(self, site_id: int) -> ResourcesRecord | None: ...
    def put_resources(self, record: ResourcesRecord) -> ResourcesRecord:
        """Insert, or update (optimistic: Conflict if the stored version moved)."""
        ...
    def hours(self, site_id: int) -> list[HoursRecord]:
        """By weekday."""
        ...
    def set_hours(self, site_id: int, weekday: int, opens: str | None, closes: str | None,
                  ) -> None:
        """``opens`` None: closed that weekday."""
        ...
    def shifts(self, site_id: int) -> list[ShiftRecord]:
        """By start time."""
        ...
    def put_shift(self, record: ShiftRecord) -> ShiftRecord:
        """Insert or replace the site's shift of that name."""
        ...
    def remove_shift(self, site_id: int, name: str) -> bool: ...
    def add_plan(self, plan: PlanRecord) -> PlanRecord: ...
    def plan(self, plan_id: int) -> PlanRecord | None: ...
    def plans(self, site_id: int, status: str | None = None) -> list[PlanRecord]:
        """Newest first."""
        ...
    def update_plan(self, plan: PlanRecord) -> PlanRecord: ...
    def add_appointment(self, appointment: AppointmentRecord) -> AppointmentRecord: ...
    def appointment(self, appointment_id: int) -> AppointmentRecord | None: ...
    def update_appointment(self, appointment: AppointmentRecord) -> AppointmentRecord:
        """Optimistic: Conflict if the stored version moved."""
        ...
    def appointments(self, site_id: int, *, statuses: Sequence[str],
                     since: datetime | None = None, until: datetime | None = None,
                     plan_id: int | None = None) -> list[AppointmentRecord]:
        """The site's appointments of those statuses whose stay overlaps [since, until), by
        start then id."""
        ...
