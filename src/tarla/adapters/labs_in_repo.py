"""SQL repository of labs in by interface (issue 16): :class:`SqlLabsIn` for the unit of
work."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select

from tarla.adapters.orm_labs_in import InterfaceMessage, LabQueueItem, SiteLoinc
from tarla.adapters.repositories import _Base, _record, _row
from tarla.services.labs_in_ports import (
    InterfaceMessageRecord,
    LabQueueItemRecord,
    SiteLoincRecord,
)

__all__ = ["SqlLabsIn"]


class SqlLabsIn(_Base):
    def add_message(self, message: InterfaceMessageRecord) -> InterfaceMessageRecord:
        return _record(InterfaceMessageRecord, self._added(_row(InterfaceMessage, message)))

    def message(self, message_id: int) -> InterfaceMessageRecord | None:
        row = self.s.get(InterfaceMessage, message_id)
        return None if row is None else _record(InterfaceMessageRecord, row)

    def message_by_control_id(self, site_id: int, interface: str, control_id: str
                              ) -> InterfaceMessageRecord | None:
        t = InterfaceMessage
        row = self.s.scalars(select(t).where(t.site_id == site_id, t.interface == interface,
                                             t.control_id == control_id)).first()
        return None if row is None else _record(InterfaceMessageRecord, row)

    def set_message_outcome(self, message_id: int, *, status: str, patient_id: int | None,
                            lab_ids: list[Any]) -> None:
        row = self.s.get(InterfaceMessage, message_id)
        assert row is not None
        row.status, row.patient_id, row.lab_ids = status, patient_id, list(lab_ids)
        self.s.flush()

    def add_item(self, item: LabQueueItemRecord) -> LabQueueItemRecord:
        return _record(LabQueueItemRecord, self._added(_row(LabQueueItem, item)))

    def item(self, item_id: int) -> LabQueueItemRecord | None:
        row = self.s.get(LabQueueItem, item_id)
        return None if row is None else _record(LabQueueItemRecord, row)

    def update_item(self, item: LabQueueItemRecord) -> LabQueueItemRecord:
        return _record(LabQueueItemRecord, self._versioned_update(LabQueueItem, item, "item"))

    def items(self, site_id: int, status: str | None = None) -> list[LabQueueItemRecord]:
        t = LabQueueItem
        q = select(t).where(t.site_id == site_id)
        if status is not None:
            q = q.where(t.status == status)
        return [_record(LabQueueItemRecord, r)
                for r in self.s.scalars(q.order_by(t.id.desc()))]

    def loinc_rows(self, site_id: int) -> list[SiteLoincRecord]:
        t = SiteLoinc
        rows = self.s.scalars(select(t).where(t.site_id == site_id).order_by(t.loinc))
        return [_record(SiteLoincRecord, r) for r in rows]

    def put_loinc(self, row: SiteLoincRecord) -> SiteLoincRecord:
        existing = self.s.get(SiteLoinc, (row.site_id, row.loinc))
        if existing is None:
            existing = self._added(_row(SiteLoinc, row))
        else:
            existing.test, existing.updated_by = row.test, row.updated_by
            existing.updated_at = row.updated_at
            self.s.flush()
        return _record(SiteLoincRecord, existing)

    def remove_loinc(self, site_id: int, loinc: str) -> None:
        t = SiteLoinc
        self.s.execute(delete(t).where(t.site_id == site_id, t.loinc == loinc))
        self.s.flush()
