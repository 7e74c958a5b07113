"""Records and the repository port of labs arriving by interface (issue 16).

Every message that arrives is kept raw with the acknowledgement it got
(:class:`InterfaceMessageRecord`); what could not be applied waits in the site's work queue
(:class:`LabQueueItemRecord`) until a nurse applies or dismisses it; the site's own LOINC
rows (:class:`SiteLoincRecord`) override the seeded table of
:data:`tarla.domain.lab_interface.SEED_LOINC`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

__all__ = ["InterfaceMessageRecord", "LabQueueItemRecord", "SiteLoincRecord",
           "LabsInRepository", "MESSAGE_STATUSES", "QUEUE_KINDS", "QUEUE_STATUSES"]

#: applied: its results are on record; queued: waiting in the work queue; refused: nothing
#: applied (the ACK says why).
MESSAGE_STATUSES = ("applied", "queued", "refused")
QUEUE_KINDS = ("unmatched_patient", "unknown_code")
QUEUE_STATUSES = ("open", "applied", "dismissed")


@dataclass(frozen=True, slots=True)
class InterfaceMessageRecord:
    site_id: int
    interface: str  # "hl7v2", or the FHIR interface's name
    raw: str
    received_at: datetime
    ack_code: str  # AA, AE or AR (HL7 table 0008)
    ack: str  # the acknowledgement sent, verbatim (an HL7 ACK, or JSON for FHIR)
    status: str
    control_id: str | None = None  # MSH-10 / the resource's identifier: idempotency key
    error_field: str | None = None
    error_message: str | None = None
    patient_id: int | None = None
    lab_ids: list[Any] = field(default_factory=list)
    id: int | None = None


@dataclass(frozen=True, slots=True)
class LabQueueItemRecord:
    site_id: int
    message_id: int
    kind: str
    detail: str
    created_at: datetime
    status: str = "open"
    mrn: str | None = None
    codes: list[Any] = field(default_factory=list)  # the LOINC codes the site does not map
    patient_id: int | None = None  # the patient it was applied to
    resolved_by: int | None = None
    resolved_at: datetime | None = None
    resolution: str | None = None  # what was applied, or why it was dismissed
    version: int = 1
    id: int | None = None


@dataclass(frozen=True, slots=True)
class SiteLoincRecord:
    site_id: int
    loinc: str
    updated_at: datetime
    test: str | None = None  # None: the site ignores this code on purpose
    updated_by: int | None = None


class LabsInRepository(Protocol):
    def add_message(self, message: InterfaceMessageRecord) -> InterfaceMessageRecord: ...
    def message(self, message_id: int) -> InterfaceMessageRecord | None: ...
    def message_by_control_id(self, site_id: int, interface: str, control_id: str
                              ) -> InterfaceMessageRecord | None: ...
    def set_message_outcome(self, message_id: int, *, status: str,
                            patient_id: int | None, lab_ids: list[Any]) -> None: ...
    def add_item(self, item: LabQueueItemRecord) -> LabQueueItemRecord: ...
    def item(self, item_id: int) -> LabQueueItemRecord | None: ...
    def update_item(self, item: LabQueueItemRecord) -> LabQueueItemRecord: ...
    def items(self, site_id: int, status: str | None = None) -> list[LabQueueItemRecord]:
        """Newest first; all statuses when ``status`` is None."""
        ...
    def loinc_rows(self, site_id: int) -> list[SiteLoincRecord]: ...
    def put_loinc(self, row: SiteLoincRecord) -> SiteLoincRecord: ...
    def remove_loinc(self, site_id: int, loinc: str) -> None: ...
