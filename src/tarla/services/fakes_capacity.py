"""The in-memory capacity repository (issue 12) of :class:`tarla.services.fakes.FakeUnitOfWork`."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from tarla.services.capacity_ports import (
    AppointmentRecord,
    HoursRecord,
    PlanRecord,
    ResourcesRecord,
    ShiftRecord,
)
from tarla.services.errors import Conflict

__all__ = ["FakeCapacity"]

_TABLES = ("site_resources", "site_hours", "site_shifts", "capacity_plans", "appointments")


class FakeCapacity:
    def __init__(self, uow: Any) -> None:
        self.u = uow

    def t(self, name: str) -> Any:
        from tarla.services.fakes import _Table

        tables = self.u.state.tables
        if name not in tables:  # created on first use, kept by commit with the others
            for n in _TABLES:
                tables.setdefault(n, _Table())
        return tables[name]

    def resources(self, site_id: int) -> ResourcesRecord | None:
        found = self.t("site_resources").where(site_id=site_id)
        return found[0] if found else None

    def put_resources(self, record: ResourcesRecord) -> ResourcesRecord:
        rows = self.t("site_resources").rows
        old = rows.get(record.site_id)
        if old is not None and old.version != record.version:
            raise Conflict("resources", "the site's resources were changed by someone else; "
                                        "reload and retry")
        new = dataclasses.replace(record, version=1 if old is None else old.version + 1)
        rows[record.site_id] = new
        return new

    def hours(self, site_id: int) -> list[HoursRecord]:
        return sorted(self.t("site_hours").where(site_id=site_id), key=lambda h: h.weekday)

    def set_hours(self, site_id: int, weekday: int, opens: str | None, closes: str | None,
                  ) -> None:
        rows = self.t("site_hours").rows
        key = site_id * 10 + weekday
        if opens is None or closes is None:
            rows.pop(key, None)
        else:
            rows[key] = HoursRecord(site_id, weekday, opens, closes)

    def shifts(self, site_id: int) -> list[ShiftRecord]:
        return sorted(self.t("site_shifts").where(site_id=site_id),
                      key=lambda s: (s.starts, s.name))

    def put_shift(self, record: ShiftRecord) -> ShiftRecord:
        table = self.t("site_shifts")
        old = table.where(site_id=record.site_id, name=record.name)
        if old:
            new = dataclasses.replace(record, id=old[0].id)
            table.rows[new.id] = new
            return new
        return table.add(record)  # type: ignore[no-any-return]

    def remove_shift(self, site_id: int, name: str) -> bool:
        table = self.t("site_shifts")
        old = table.where(site_id=site_id, name=name)
        for s in old:
            table.rows.pop(s.id)
        return bool(old)

    def add_plan(self, plan: PlanRecord) -> PlanRecord:
        return self.t("capacity_plans").add(plan)  # type: ignore[no-any-return]

    def plan(self, plan_id: int) -> PlanRecord | None:
        return self.t("capacity_plans").rows.get(plan_id)  # type: ignore[no-any-return]

    def plans(self, site_id: int, status: str | None = None) -> list[PlanRecord]:
        found = [p for p in self.t("capacity_plans").where(site_id=site_id)
                 if status is None or p.status == status]
        return sorted(found, key=lambda p: -p.id)

    def update_plan(self, plan: PlanRecord) -> PlanRecord:
        return self.t("capacity_plans").update(plan, "plan")  # type: ignore[no-any-return]

    def add_appointment(self, appointment: AppointmentRecord) -> AppointmentRecord:
        return self.t("appointments").add(appointment)  # type: ignore[no-any-return]

    def appointment(self, appointment_id: int) -> AppointmentRecord | None:
        return self.t("appointments").rows.get(appointment_id)  # type: ignore[no-any-return]

    def update_appointment(self, appointment: AppointmentRecord) -> AppointmentRecord:
        return self.t("appointments").update(appointment, "appointment")  # type: ignore[no-any-return]

    def appointments(self, site_id: int, *, statuses: Sequence[str],
                     since: datetime | None = None, until: datetime | None = None,
                     plan_id: int | None = None) -> list[AppointmentRecord]:
        out = [a for a in self.t("appointments").where(site_id=site_id)
               if a.status in statuses and (since is None or a.end_at > since)
               and (until is None or a.start_at < until)
               and (plan_id is None or a.plan_id == plan_id)]
        return sorted(out, key=lambda a: (a.start_at, a.id))
