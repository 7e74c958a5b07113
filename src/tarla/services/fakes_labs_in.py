"""The in-memory repository of labs in by interface (issue 16) of
:class:`tarla.services.fakes.FakeUnitOfWork`."""

from __future__ import annotations

import dataclasses
from typing import Any

from tarla.services.labs_in_ports import (
    InterfaceMessageRecord,
    LabQueueItemRecord,
    SiteLoincRecord,
)

__all__ = ["FakeLabsIn"]

_TABLES = ("interface_messages", "lab_queue_items", "site_loinc_codes")


class FakeLabsIn:
    def __init__(self, uow: Any) -> None:
        self.u = uow

    def t(self, name: str) -> Any:
        from tarla.services.fakes import _Table

        tables = self.u.state.tables
        if name not in tables:  # created on first use, kept by commit with the others
            tables.setdefault("interface_messages", _Table([
                (("site_id", "interface", "control_id"), "control_id",
                 "a message with this control id is on record")]))
            tables.setdefault("lab_queue_items", _Table())
            tables.setdefault("site_loinc_codes", _Table())
        return tables[name]

    def add_message(self, message: InterfaceMessageRecord) -> InterfaceMessageRecord:
        return self.t("interface_messages").add(message)  # type: ignore[no-any-return]

    def message(self, message_id: int) -> InterfaceMessageRecord | None:
        return self.t("interface_messages").rows.get(message_id)  # type: ignore[no-any-return]

    def message_by_control_id(self, site_id: int, interface: str, control_id: str
                              ) -> InterfaceMessageRecord | None:
        found = self.t("interface_messages").where(site_id=site_id, interface=interface,
                                                   control_id=control_id)
        return found[0] if found else None

    def set_message_outcome(self, message_id: int, *, status: str, patient_id: int | None,
                            lab_ids: list[Any]) -> None:
        rows = self.t("interface_messages").rows
        rows[message_id] = dataclasses.replace(rows[message_id], status=status,
                                               patient_id=patient_id, lab_ids=list(lab_ids))

    def add_item(self, item: LabQueueItemRecord) -> LabQueueItemRecord:
        return self.t("lab_queue_items").add(item)  # type: ignore[no-any-return]

    def item(self, item_id: int) -> LabQueueItemRecord | None:
        return self.t("lab_queue_items").rows.get(item_id)  # type: ignore[no-any-return]

    def update_item(self, item: LabQueueItemRecord) -> LabQueueItemRecord:
        return self.t("lab_queue_items").update(item, "item")  # type: ignore[no-any-return]

    def items(self, site_id: int, status: str | None = None) -> list[LabQueueItemRecord]:
        match: dict[str, Any] = {"site_id": site_id}
        if status is not None:
            match["status"] = status
        return sorted(self.t("lab_queue_items").where(**match), key=lambda i: -i.id)

    def loinc_rows(self, site_id: int) -> list[SiteLoincRecord]:
        return sorted((r for r in self.t("site_loinc_codes").rows.values()
                       if r.site_id == site_id), key=lambda r: r.loinc)

    def put_loinc(self, row: SiteLoincRecord) -> SiteLoincRecord:
        table = self.t("site_loinc_codes")
        table.rows[(row.site_id, row.loinc)] = row
        return row

    def remove_loinc(self, site_id: int, loinc: str) -> None:
        self.t("site_loinc_codes").rows.pop((site_id, loinc), None)

