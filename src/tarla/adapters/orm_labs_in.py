"""Tables of labs arriving by interface (issue 16), on :class:`tarla.adapters.orm.Base`
(migration ``0009_interop_labs``): every message kept raw with its acknowledgement, the work
queue of what could not be applied, and each site's own LOINC rows. Imported by
:mod:`tarla.adapters.orm` so the metadata is complete."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tarla.adapters.orm import UNIQUE_MESSAGES, Base
from tarla.services.labs_in_ports import MESSAGE_STATUSES, QUEUE_KINDS, QUEUE_STATUSES

__all__ = ["InterfaceMessage", "LabQueueItem", "SiteLoinc"]


def _in(column: str, allowed: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in allowed)})"


class InterfaceMessage(Base):
    """A message as it arrived, with the acknowledgement it got (idempotent on its control
    id per site and interface)."""

    __tablename__ = "interface_messages"
    __table_args__ = (UniqueConstraint("site_id", "interface", "control_id"),
                      CheckConstraint(_in("ack_code", ("AA", "AE", "AR")), name="ack_code"),
                      CheckConstraint(_in("status", MESSAGE_STATUSES), name="status"))
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    interface: Mapped[str] = mapped_column(String(64))
    control_id: Mapped[str | None] = mapped_column(String(64))
    raw: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime]
    ack_code: Mapped[str] = mapped_column(String(2))
    ack: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    error_field: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))
    lab_ids: Mapped[list[Any]] = mapped_column(default=list)


class LabQueueItem(Base):
    """A message that could not be applied as it came: an unmatched patient or a code the
    site does not map. A nurse applies it (to a patient, with the codes mapped) or dismisses
    it with a reason."""

    __tablename__ = "lab_queue_items"
    __table_args__ = (CheckConstraint(_in("kind", QUEUE_KINDS), name="kind"),
                      CheckConstraint(_in("status", QUEUE_STATUSES), name="status"),
                      CheckConstraint("status = 'open' OR (resolved_by IS NOT NULL AND "
                                      "resolution IS NOT NULL)", name="resolved_has_reason"),
                      Index(None, "site_id", "status"))
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    message_id: Mapped[int] = mapped_column(ForeignKey("interface_messages.id"))
    kind: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))
    mrn: Mapped[str | None] = mapped_column(String(64))
    codes: Mapped[list[Any]] = mapped_column(default=list)
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolved_at: Mapped[datetime | None]
    resolution: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    __mapper_args__ = {"version_id_col": version}


class SiteLoinc(Base):
    """A site's own LOINC row: maps a code to a test, or (``test`` NULL) ignores it."""

    __tablename__ = "site_loinc_codes"
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), primary_key=True,
                                         autoincrement=False)
    loinc: Mapped[str] = mapped_column(String(16), primary_key=True)
    test: Mapped[str | None] = mapped_column(String(32))
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime]


UNIQUE_MESSAGES["uq_interface_messages_site_id_interface_control_id"] = (
    "AlreadyRecorded", "control_id", "a message with this control id is on record")
