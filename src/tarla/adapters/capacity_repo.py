"""SQL repository of capacity planning (issue 12): :class:`SqlCapacity` for the unit of work."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select

from tarla.adapters.orm_capacity import (
    Appointment,
    CapacityPlan,
    SiteHours,
    SiteResources,
    SiteShift,
)
from tarla.adapters.repositories import _apply, _Base, _record, _row
from tarla.services.capacity_ports import (
    AppointmentRecord,
    HoursRecord,
    PlanRecord,
    ResourcesRecord,
    ShiftRecord,
)
from tarla.services.errors import Conflict

__all__ = ["SqlCapacity"]


class SqlCapacity(_Base):
    def resources(self, site_id: int) -> ResourcesRecord | None:
        row = self.s.get(SiteResources, site_id)
        return None if row is None else _record(ResourcesRecord, row)

    def put_resources(self, record: ResourcesRecord) -> ResourcesRecord:
        row = self.s.get(SiteResources, record.site_id)
        if row is None:
            return _record(ResourcesRecord, self._added(_row(SiteResources, record)))
        if row.version != record.version:
            raise Conflict("resources", "the site's resources were changed by someone else; "
                                        "reload and retry")
        _apply(row, record, "site_id")
        self.s.flush()
        return _record(ResourcesRecord, row)

    def hours(self, site_id: int) -> list[HoursRecord]:
        rows = self.s.scalars(select(SiteHours).where(SiteHours.site_id == site_id)
                              .order_by(SiteHours.weekday))
        return [_record(HoursRecord, r) for r in rows]

    def set_hours(self, site_id: int, weekday: int, opens: str | None, closes: str | None,
                  ) -> None:
        row = self.s.get(SiteHours, (site_id, weekday))
        if opens is None or closes is None:
            if row is not None:
                self.s.delete(row)
        elif row is None:
            self.s.add(SiteHours(site_id=site_id, weekday=weekday, opens=opens, closes=closes))
        else:
            row.opens, row.closes = opens, closes
        self.s.flush()

    def shifts(self, site_id: int) -> list[ShiftRecord]:
        rows = self.s.scalars(select(SiteShift).where(SiteShift.site_id == site_id)
                              .order_by(SiteShift.starts, SiteShift.name))
        return [_record(ShiftRecord, r) for r in rows]

    def put_shift(self, record: ShiftRecord) -> ShiftRecord:
        row = self.s.scalar(select(SiteShift).where(SiteShift.site_id == record.site_id,
                                                    SiteShift.name == record.name))
        if row is None:
            return _record(ShiftRecord, self._added(_row(SiteShift, record)))
        _apply(row, record)
        self.s.flush()
        return _record(ShiftRecord, row)

    def remove_shift(self, site_id: int, name: str) -> bool:
        done = self.s.execute(delete(SiteShift).where(SiteShift.site_id == site_id,
                                                      SiteShift.name == name))
        return bool(done.rowcount)  # type: ignore[attr-defined]

    def add_plan(self, plan: PlanRecord) -> PlanRecord:
        return _record(PlanRecord, self._added(_row(CapacityPlan, plan)))

    def plan(self, plan_id: int) -> PlanRecord | None:
        row = self.s.get(CapacityPlan, plan_id)
        return None if row is None else _record(PlanRecord, row)

    def plans(self, site_id: int, status: str | None = None) -> list[PlanRecord]:
        q = select(CapacityPlan).where(CapacityPlan.site_id == site_id)
        if status is not None:
            q = q.where(CapacityPlan.status == status)
        return [_record(PlanRecord, r) for r in self.s.scalars(q.order_by(CapacityPlan.id.desc()))]

    def update_plan(self, plan: PlanRecord) -> PlanRecord:
        return _record(PlanRecord, self._versioned_update(CapacityPlan, plan, "plan"))

    def add_appointment(self, appointment: AppointmentRecord) -> AppointmentRecord:
        return _record(AppointmentRecord, self._added(_row(Appointment, appointment)))

    def appointment(self, appointment_id: int) -> AppointmentRecord | None:
        row = self.s.get(Appointment, appointment_id)
        return None if row is None else _record(AppointmentRecord, row)

    def update_appointment(self, appointment: AppointmentRecord) -> AppointmentRecord:
        return _record(AppointmentRecord,
                       self._versioned_update(Appointment, appointment, "appointment"))

    def appointments(self, site_id: int, *, statuses: Sequence[str],
                     since: datetime | None = None, until: datetime | None = None,
                     plan_id: int | None = None) -> list[AppointmentRecord]:
        t = Appointment
        q = select(t).where(t.site_id == site_id, t.status.in_(list(statuses)))
        if since is not None:
            q = q.where(t.end_at > since)
        if until is not None:
            q = q.where(t.start_at < until)
        if plan_id is not None:
            q = q.where(t.plan_id == plan_id)
        return [_record(AppointmentRecord, r) for r in self.s.scalars(q.order_by(t.start_at,
                                                                                 t.id))]
