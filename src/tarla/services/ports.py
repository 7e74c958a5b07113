"""Ports of the service layer: the repositories and the unit of work, as Protocols.

Two implementations: :mod:`tarla.adapters.uow` (SQLAlchemy, SQLite or PostgreSQL) and
:mod:`tarla.services.fakes` (in memory, for unit tests). Both raise the service errors
(:mod:`tarla.services.errors`), never a driver exception.

Updates are optimistic: ``update(record)`` writes only if the stored ``version`` still equals
``record.version`` (the version the caller read) and returns the record with the new version;
otherwise it raises :class:`~tarla.services.errors.Conflict`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, Self

from tarla.domain import course as core
from tarla.services.capacity_ports import CapacityRepository
from tarla.services.labs_in_ports import LabsInRepository

if TYPE_CHECKING:  # signatures.py imports PasswordCheck from here
    from tarla.services.signatures import SignatureRepository
from tarla.services.records import (
    AdministrationRecord,
    AdverseEventRecord,
    AlertRecord,
    AssessmentRecord,
    AuditRecord,
    BillingCodeRecord,
    ChargeReviewRecord,
    CourseRecord,
    DischargeRecord,
    DoseReleaseRecord,
    DueCourse,
    ExcursionRecord,
    LabelRuleRecord,
    LabelVersionRecord,
    LabRecord,
    MedicationEntryRecord,
    OrderSetRecord,
    PatientRecord,
    PreparationEventRecord,
    PreparationRecord,
    PreparationStepRecord,
    ScanRecord,
    SignoffRecord,
    SiteLabelRecord,
    SiteRecord,
    UserRecord,
    VialRecord,
    VitalSignsRecord,
)

__all__ = ["SiteRepository", "UserRepository", "PatientRepository", "CourseRepository",
           "AdministrationRepository", "EventRepository", "LabRepository",
           "PreparationRepository", "InventoryRepository", "ReleaseRepository",
           "LabelRepository", "PasswordCheck", "MonitoringRepository",
           "OrderSetRepository", "CareRepository", "ChargeRepository",
           "AuditRepository", "WorklistReads", "UnitOfWork"]


class SiteRepository(Protocol):
    def add(self, site: SiteRecord) -> SiteRecord: ...
    def get(self, site_id: int) -> SiteRecord | None: ...
    def by_code(self, code: str) -> SiteRecord | None: ...
    def list(self) -> list[SiteRecord]: ...


class UserRepository(Protocol):
    def add(self, user: UserRecord) -> UserRecord: ...
    def get(self, user_id: int) -> UserRecord | None: ...
    def by_username(self, username: str) -> UserRecord | None: ...


class PatientRepository(Protocol):
    def add(self, patient: PatientRecord) -> PatientRecord: ...
    def get(self, patient_id: int) -> PatientRecord | None: ...
    def by_mrn(self, site_id: int, mrn: str) -> PatientRecord | None: ...
    def update(self, patient: PatientRecord) -> PatientRecord: ...
    def many(self, patient_ids: Iterable[int]) -> dict[int, PatientRecord]: ...


class CourseRepository(Protocol):
    def add(self, course: CourseRecord) -> CourseRecord: ...
    def get(self, course_id: int) -> CourseRecord | None: ...
    def for_patient(self, patient_id: int) -> list[CourseRecord]: ...
    def update(self, course: CourseRecord) -> CourseRecord: ...
    def due(self, site_id: int, on: date) -> list[CourseRecord]:
        """Courses not discontinued whose ``next_due_date`` is on or before ``on``."""
        ...


class AdministrationRepository(Protocol):
    def add(self, administration: AdministrationRecord) -> AdministrationRecord: ...
    def for_course(self, course_id: int) -> list[AdministrationRecord]:
        """Ordered by ``slot_seq``."""
        ...
    def by_key(self, idempotency_key: str) -> AdministrationRecord | None: ...
    def set_ended(self, administration_id: int, ended_at: datetime) -> AdministrationRecord:
        """Record the end of the infusion (the only change an administration takes)."""
        ...
    def for_courses(self, course_ids: Sequence[int]) -> dict[int, list[AdministrationRecord]]: ...
    def started_at_site(self, site_id: int, since: datetime) -> list[AdministrationRecord]:
        """Doses of the site's courses started at or after ``since``, by start."""
        ...


class EventRepository(Protocol):
    def add_assessment(self, assessment: AssessmentRecord) -> AssessmentRecord: ...
    def assessments(self, course_id: int, kind: str) -> list[AssessmentRecord]:
        """The course's CRS or ICANS assessments, by time assessed."""
        ...
    def add(self, event: AdverseEventRecord) -> AdverseEventRecord: ...
    def get(self, event_id: int) -> AdverseEventRecord | None: ...
    def update(self, event: AdverseEventRecord) -> AdverseEventRecord: ...
    def for_course(self, course_id: int) -> list[AdverseEventRecord]: ...
    def for_courses(self, course_ids: Sequence[int]) -> dict[int, list[AdverseEventRecord]]: ...
    def ongoing_at_site(self, site_id: int, types: Sequence[str], now: datetime,
                        ) -> list[AdverseEventRecord]:
        """Events of those types of the site's courses with onset at or before ``now`` and not
        resolved by then, by onset."""
        ...


class LabRepository(Protocol):
    def add(self, lab: LabRecord) -> LabRecord: ...
    def for_patient(self, patient_id: int, since: datetime | None = None) -> list[LabRecord]: ...
    def for_patients(self, since: Mapping[int, datetime | None]) -> dict[int, list[LabRecord]]:
        """Labs of each patient collected after ``since[patient_id]`` (all when None)."""
        ...


class PreparationRepository(Protocol):
    def add(self, preparation: PreparationRecord) -> PreparationRecord: ...
    def get(self, preparation_id: int) -> PreparationRecord | None: ...
    def update(self, preparation: PreparationRecord) -> PreparationRecord: ...
    def add_event(self, event: PreparationEventRecord) -> PreparationEventRecord: ...
    def events(self, preparation_id: int) -> list[PreparationEventRecord]: ...
    def add_scan(self, scan: ScanRecord) -> ScanRecord: ...
    def scans(self, preparation_id: int) -> list[ScanRecord]:
        """In the order scanned."""
        ...
    def scans_of_serial(self, gtin: str, serial: str) -> list[ScanRecord]:
        """Every scan of that kit serial, on any preparation (a kit fills one bag)."""
        ...
    def for_course(self, course_id: int) -> list[PreparationRecord]:
        """By id."""
        ...
    def add_step(self, step: PreparationStepRecord) -> PreparationStepRecord: ...
    def steps(self, preparation_id: int) -> list[PreparationStepRecord]:
        """In the order confirmed."""
        ...


class InventoryRepository(Protocol):
    def add_vial(self, vial: VialRecord) -> VialRecord: ...
    def add_excursion(self, excursion: ExcursionRecord) -> ExcursionRecord: ...
    def vials(self, site_id: int) -> list[VialRecord]: ...
    def vial(self, vial_id: int) -> VialRecord | None: ...
    def by_serial(self, site_id: int, gtin: str, serial: str) -> list[VialRecord]:
        """The stock records of one kit serial at a site (drug and IVSS of one carton)."""
        ...
    def excursions(self, vial_ids: Sequence[int]) -> list[ExcursionRecord]:
        """Every excursion of those vials, by start."""
        ...


class ReleaseRepository(Protocol):
    def add(self, release: DoseReleaseRecord) -> DoseReleaseRecord: ...
    def on(self, course_id: int, for_date: date) -> list[DoseReleaseRecord]:
        """The releases of the course for that site-local day, newest first."""
        ...


class LabelRepository(Protocol):
    def has_version(self, label_version: str) -> bool: ...
    def version(self, label_version: str) -> LabelVersionRecord | None: ...
    def versions(self) -> list[LabelVersionRecord]:
        """Every registered version, in the order registered."""
        ...
    def add_version(self, version: LabelVersionRecord, rules: Sequence[LabelRuleRecord]) -> None:
        """Register a label version with its rows (``AlreadyRecorded`` if the id is taken)."""
        ...
    def complete_version(self, version: LabelVersionRecord,
                         rules: Sequence[LabelRuleRecord]) -> None:
        """Fill in a version registered before content hashes: its drug and hash, and each
        row's table and fields (the rows themselves are unchanged)."""
        ...
    def rules(self, label_version: str) -> list[LabelRuleRecord]:
        """The version's rows, by rule id."""
        ...
    def rule_ids(self, label_version: str) -> set[str]: ...
    def add_signoff(self, signoff: SignoffRecord) -> SignoffRecord: ...
    def signoff(self, signoff_id: int) -> SignoffRecord | None: ...
    def revoke_signoff(self, signoff: SignoffRecord) -> SignoffRecord:
        """Store the revocation of ``signoff`` (its ``revoked_*`` fields); ``Conflict`` if it
        was revoked meanwhile."""
        ...
    def signoffs(self, site_id: int, label_version: str) -> list[SignoffRecord]:
        """Every sign-off of the site for the version, revoked ones included, by id."""
        ...
    def site_version(self, site_id: int, drug: str) -> SiteLabelRecord | None: ...
    def set_site_version(self, setting: SiteLabelRecord) -> None: ...
    def pinned_courses(self, site_id: int) -> dict[str, int]:
        """How many of the site's courses started on each label version."""
        ...
    def pinned_versions(self, course_ids: Sequence[int]) -> dict[int, str]:
        """The label version each course started on."""
        ...


class MonitoringRepository(Protocol):
    """Vital-signs sets and alerts (issue 11)."""

    def add_vitals(self, vitals: VitalSignsRecord) -> VitalSignsRecord: ...
    def vitals(self, course_id: int) -> list[VitalSignsRecord]:
        """A course's sets by time taken, then id."""
        ...
    def latest_vitals(self, course_ids: Sequence[int]) -> dict[int, VitalSignsRecord]:
        """Each course's last set by time taken (courses without one are absent)."""
        ...
    def add_alert(self, alert: AlertRecord) -> AlertRecord: ...
    def alert(self, alert_id: int) -> AlertRecord | None: ...
    def alerts(self, site_id: int, *, course_id: int | None = None,
               unacknowledged: bool = False) -> list[AlertRecord]:
        """A site's alerts, newest first."""
        ...
    def update_alert(self, alert: AlertRecord) -> AlertRecord:
        """Write the acknowledgement and webhook fields of a stored alert."""
        ...
    def unacknowledged(self, site_id: int) -> int: ...
    def courses_dosed_since(self, site_id: int, since: datetime) -> list[int]:
        """Courses of a site with a dose started at or after ``since``, or still running."""
        ...


class OrderSetRepository(Protocol):
    def add(self, order_set: OrderSetRecord) -> OrderSetRecord: ...
    def get(self, order_set_id: int) -> OrderSetRecord | None: ...
    def for_site(self, site_id: int) -> list[OrderSetRecord]:
        """Every version at a site, by event, grade range, then version."""
        ...
    def update(self, order_set: OrderSetRecord) -> OrderSetRecord:
        """Write the sign-off, revocation and ``active`` fields of a stored version."""
        ...


class CareRepository(Protocol):
    """Premedication, post-infusion fluids and discharges around each dose (issue 11)."""

    def add_medication(self, entry: MedicationEntryRecord) -> MedicationEntryRecord: ...
    def medication(self, entry_id: int) -> MedicationEntryRecord | None: ...
    def medications(self, course_id: int) -> list[MedicationEntryRecord]:
        """A course's entries by id (the order charted)."""
        ...
    def end_medication(self, entry_id: int, ended_at: datetime) -> MedicationEntryRecord:
        """Record the end of a running fluid (the only change an entry takes)."""
        ...
    def add_discharge(self, discharge: DischargeRecord) -> DischargeRecord:
        """``AlreadyRecorded`` if the dose's discharge is on record."""
        ...
    def discharges(self, course_id: int) -> list[DischargeRecord]: ...
    def for_courses(self, course_ids: Sequence[int],
                    ) -> dict[int, tuple[list[MedicationEntryRecord], list[DischargeRecord]]]:
        """Each course's entries and discharges (every course named is a key)."""
        ...


class ChargeRepository(Protocol):
    """A site's administration codes and the billers' reviews of encounters (issue 15)."""

    def codes(self, site_id: int) -> list[BillingCodeRecord]: ...
    def add_code(self, code: BillingCodeRecord) -> BillingCodeRecord: ...
    def code(self, code_id: int) -> BillingCodeRecord | None: ...
    def remove_code(self, code_id: int) -> None: ...
    def reviews(self, site_id: int) -> dict[str, ChargeReviewRecord]:
        """By encounter key."""
        ...
    def add_review(self, review: ChargeReviewRecord) -> ChargeReviewRecord: ...
    def update_review(self, review: ChargeReviewRecord) -> ChargeReviewRecord:
        """Optimistic: Conflict if the stored version moved."""
        ...
    def discarded_preparations(self, site_id: int) -> list[PreparationRecord]: ...


class PasswordCheck(Protocol):
    """Whether ``password`` is the one ``stored_hash`` was made from: the sign-in's own check
    (the web app passes :func:`tarla.web.auth.verify_password`), for e-signatures."""

    def __call__(self, stored_hash: str | None, password: str) -> bool: ...


class AuditRepository(Protocol):
    def head(self) -> tuple[int, str]:
        """(last entry id, its hash), locked until the end of the transaction."""
        ...
    def append(self, entry: AuditRecord) -> None:
        """Store ``entry`` (id = head id + 1) and move the head to it."""
        ...
    def entries(self) -> Iterator[AuditRecord]:
        """Every entry in id order (streamed)."""
        ...
    def count(self) -> int: ...
    # anchoring and the access log (issue 13, tarla.adapters.audit_store)
    def written_rows(self) -> list[dict[str, Any]]:
        """``{table, id, state}`` of each clinical row written in this transaction since the
        last call (state after the write; None: deleted), by table then id."""
        ...
    def current_rows(self) -> Iterator[tuple[str, int, dict[str, Any]]]:
        """(table, id, audited state) of every clinical row (streamed)."""
        ...
    def baseline(self) -> dict[str, int]:
        """Per clinical table, the highest id when anchoring began."""
        ...
    def access_entries(self, *, site_ids: Sequence[int] | None,
                       patient_ids: Sequence[int] | None, actor: str | None,
                       start: datetime | None, end: datetime | None,
                       limit: int) -> list[AuditRecord]:
        """Access-log entries (``access.*``, ``auth.*``), newest first."""
        ...


class WorklistReads(Protocol):
    """The worklist's bulk reads: one query each over the due courses, straight into the
    core's inputs, reading only what came after each course's stored last dose (so the cost
    follows the number of due courses, not the length of their histories)."""

    def due(self, site_id: int, on: date,
            course_ids: Sequence[int] | None = None) -> list[DueCourse]:
        """Courses not discontinued whose ``next_due_date`` is on or before ``on``, with their
        patients, by due date then id (only those of ``course_ids`` when given)."""
        ...
    def doses_after_last(self, course_ids: Sequence[int]) -> dict[int, list[core.Administration]]:
        """Each course's doses started after its stored last dose, by start; every dose of a
        course with no stored last dose (``last_slot_index`` NULL)."""
        ...
    def events(self, course_ids: Sequence[int]) -> dict[int, list[core.AdverseEvent]]:
        """Every adverse event of each course (an old grade 4 still counts), by onset, id."""
        ...
    def labs_from_last_dose(self, course_ids: Sequence[int]) -> dict[int, list[core.LabResult]]:
        """Labs of each course's patient collected at or after the course's stored last dose
        (all of them with no stored last dose), by collection time then id."""
        ...


class StoredDecision(NamedTuple):
    """A course's worklist decision as stored for its site's day (see
    :mod:`tarla.services.decisions`): the key it was computed under, and the item."""

    course_id: int
    site_id: int
    day: date
    inputs_version: int
    as_of: datetime
    valid_until: datetime | None
    rank: int
    due_date: date | None
    sort_name: str
    decision: str
    relies_on_unverified: bool
    item: dict[str, Any]


class DecisionPage(NamedTuple):
    """One page of a site's current stored decisions, in worklist order, with the counts of
    the whole list; ``stale`` lists the due courses that have no current row (then the page
    is not to be served: compute them first). ``items`` are the stored JSON texts, as stored
    (a page goes out as JSON without being decoded and encoded again)."""

    items: list[str]
    total: int
    counts: dict[str, int]
    stale: list[int]
    #: each item's label version if it relies on an UNVERIFIED rule (its course's version:
    #: the site's sign-offs of it are read into the item), else None
    signable: list[str | None] = []


class Locks(Protocol):
    """Locks by key, within this process (a site's day: concurrent misses compute once)."""

    def hold(self, key: Any) -> AbstractContextManager[None]: ...


class DecisionStore(Protocol):
    """Each course's decision for its site's day, kept current (issue 14). A row is current
    when its day is ``day``, its ``inputs_version`` is the course's, it was computed at or
    before ``now`` and nothing on record becomes visible by ``now`` (``valid_until``)."""

    def page(self, site_id: int, day: date, now: datetime, offset: int,
             limit: int | None) -> DecisionPage: ...
    def lock_day(self, site_id: int, day: date) -> None:
        """Until this transaction ends, no other process fills the site's day."""
        ...
    def stale(self, site_id: int, day: date, now: datetime) -> list[int]:
        """The due courses (as :meth:`WorklistReads.due`) without a current row."""
        ...
    def store(self, rows: Sequence[StoredDecision]) -> None:
        """Insert or replace each course's row."""
        ...
    def drop(self, course_ids: Sequence[int]) -> None: ...
    def courses_of_patients(self, patient_ids: Sequence[int]) -> list[int]: ...
    def sites_of(self, course_ids: Sequence[int]) -> dict[int, int]:
        """Each course's site id."""
        ...


class UnitOfWork(Protocol):
    """One transaction: ``with uow: ...; uow.commit()``; leaving without commit rolls back.
    ``with uow.readonly(): ...`` for use cases that only read."""

    sites: SiteRepository
    users: UserRepository
    patients: PatientRepository
    courses: CourseRepository
    administrations: AdministrationRepository
    events: EventRepository
    labs: LabRepository
    preparations: PreparationRepository
    inventory: InventoryRepository
    releases: ReleaseRepository
    label: LabelRepository
    audit: AuditRepository
    worklist: WorklistReads
    monitoring: MonitoringRepository
    order_sets: OrderSetRepository
    care: CareRepository
    charges: ChargeRepository
    capacity: CapacityRepository
    labs_in: LabsInRepository  # issue 16: labs in by interface
    signatures: SignatureRepository  # issue 13: e-signatures
    decisions: DecisionStore  # issue 14: stored worklist decisions
    locks: Locks

    def __enter__(self) -> Self: ...
    def __exit__(self, *exc: object) -> None: ...
    def readonly(self) -> Self: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
