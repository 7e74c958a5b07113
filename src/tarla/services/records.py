"""What the records hold, as plain frozen values: what repositories return and accept.

Neither the core's inputs (``tarla.domain.course``) nor the tables (``tarla.adapters.orm``):
the service layer translates between them. Field names match the table columns one for one,
so the SQL repositories copy them generically. ``id`` is ``None`` until stored; ``version``
is the optimistic-lock counter of mutable rows (the value the caller last read).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple

__all__ = ["SiteRecord", "UserRecord", "PatientRecord", "CourseRecord", "AdministrationRecord",
           "AssessmentRecord", "AdverseEventRecord", "LabRecord", "PreparationRecord",
           "PreparationEventRecord", "ScanRecord", "PreparationStepRecord", "DoseReleaseRecord",
           "VialRecord", "ExcursionRecord",
           "SignoffRecord", "LabelVersionRecord", "LabelRuleRecord", "SiteLabelRecord",
           "AuditRecord", "CourseHistory", "DueCourse",
           "VitalSignsRecord", "AlertRecord", "OrderSetRecord",
           "MedicationEntryRecord", "DischargeRecord", "BillingCodeRecord", "ChargeReviewRecord"]


@dataclass(frozen=True, slots=True)
class SiteRecord:
    code: str
    name: str
    timezone: str
    created_at: datetime
    policy: dict[str, Any] = field(default_factory=dict)
    id: int | None = None


@dataclass(frozen=True, slots=True)
class UserRecord:
    username: str
    display_name: str
    created_at: datetime
    roles: frozenset[str] = frozenset()
    site_id: int | None = None
    password_hash: str | None = None
    active: bool = True
    id: int | None = None


@dataclass(frozen=True, slots=True)
class PatientRecord:
    site_id: int
    mrn: str
    family_name: str
    given_name: str
    birth_date: date
    diagnosis: str
    progressed_after_platinum: bool
    created_at: datetime
    updated_at: datetime
    off_label_reason: str | None = None
    version: int = 1
    id: int | None = None
    # Of reproductive potential (contraception counselling at discharge); None: not recorded.
    reproductive_potential: bool | None = None


@dataclass(frozen=True, slots=True)
class CourseRecord:
    patient_id: int
    site_id: int
    label_version: str
    status: str
    start_date: date
    created_at: datetime
    updated_at: datetime
    policy: dict[str, Any] = field(default_factory=dict)
    next_due_date: date | None = None
    last_dose_at: datetime | None = None
    doses_given: int = 0
    # The core's derivation of the last dose given: where the worklist resumes (_common.py).
    last_slot_index: int | None = None
    last_restart_step: int | None = None
    last_kind: str | None = None
    last_dose_mg: int | None = None
    version: int = 1
    id: int | None = None


@dataclass(frozen=True, slots=True)
class AdministrationRecord:
    course_id: int
    slot_seq: int
    slot: str
    cycle: int
    day: int
    dose_mg: int
    kind: str
    started_at: datetime
    nurse_id: int
    recorded_at: datetime
    ended_at: datetime | None = None
    infusion_site: str | None = None
    preparation_id: int | None = None
    idempotency_key: str | None = None
    # Bedside identification: the raw texts scanned, or the documented exception (no bag scan:
    # a reason and a second nurse who confirmed it).
    patient_scan: str | None = None
    bag_scan: str | None = None
    scan_exception_reason: str | None = None
    witness_id: int | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True)
class AssessmentRecord:
    course_id: int
    kind: str
    inputs: dict[str, Any]
    grade: int
    system: str
    drivers: list[Any]
    assessed_at: datetime
    charted_by: int
    charted_at: datetime
    id: int | None = None


@dataclass(frozen=True, slots=True)
class AdverseEventRecord:
    course_id: int
    type: str
    grade: int
    onset: datetime
    charted_by: int
    charted_at: datetime
    resolved_at: datetime | None = None
    assessment_id: int | None = None
    # Ending an event that holds a dose is a physician's act: ``resolved_by`` is the physician
    # (who resolved it or confirmed a nurse's entry); a nurse's entry waits as a proposal.
    resolved_by: int | None = None
    resolution_proposed_at: datetime | None = None
    resolution_proposed_by: int | None = None
    version: int = 1
    id: int | None = None


@dataclass(frozen=True, slots=True)
class LabRecord:
    patient_id: int
    test: str
    value: float
    unit: str
    collected_at: datetime
    charted_by: int
    charted_at: datetime
    uln: float | None = None
    lln: float | None = None
    baseline: float | None = None
    ctcae_grade: int | None = None
    ctcae_term: str | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True)
class PreparationRecord:
    course_id: int
    site_id: int
    dose_mg: int
    status: str
    prepared_by: int
    created_at: datetime
    updated_at: datetime
    checked_by: int | None = None
    # The dose slot the engine gave when the preparation started, frozen (reprints keep it).
    slot: str | None = None
    version: int = 1
    id: int | None = None


@dataclass(frozen=True, slots=True)
class PreparationEventRecord:
    preparation_id: int
    event: str
    at: datetime
    recorded_by: int
    recorded_at: datetime
    id: int | None = None


@dataclass(frozen=True, slots=True)
class ScanRecord:
    preparation_id: int
    gtin: str
    component: str
    verdict: str
    reasons: list[Any]
    scanned_by: int
    scanned_at: datetime
    lot: str | None = None
    expiry: date | None = None
    serial: str | None = None
    raw: str | None = None  # the text the scanner sent, as received
    id: int | None = None


@dataclass(frozen=True, slots=True)
class PreparationStepRecord:
    """One bench step of the recipe confirmed by a pharmacist (with the measured volume)."""

    preparation_id: int
    step: str
    confirmed_by: int
    confirmed_at: datetime
    measured_ml: float | None = None
    note: str | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True)
class DoseReleaseRecord:
    """A physician's release of one due dose despite a HOLD or missing labs, for one day:
    exactly the hold rules and missing labs it covers (a new reason needs a new release)."""

    course_id: int
    for_date: date
    slot: str
    reason: str
    covers_rules: list[str]
    covers_labs: list[str]
    decided_by: int
    decided_at: datetime
    id: int | None = None


@dataclass(frozen=True, slots=True)
class VialRecord:
    site_id: int
    gtin: str
    lot: str
    serial: str
    expiry: date
    component: str
    status: str
    received_at: datetime
    strength_mg: int | None = None
    location: str | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True)
class ExcursionRecord:
    vial_id: int
    started_at: datetime
    recorded_by: int
    recorded_at: datetime
    ended_at: datetime | None = None
    min_c: float | None = None
    max_c: float | None = None
    note: str | None = None
    frozen: bool = False  # found frozen, or logged below 0 °C: the carton is discarded
    id: int | None = None


@dataclass(frozen=True, slots=True)
class LabelVersionRecord:
    id: str  # the version id, e.g. US-PI-2025-11
    source: str
    registered_at: datetime
    drug: str = "tarlatamab"
    content_hash: str | None = None  # None: registered before content hashes were kept
    base_version: str | None = None
    registered_by: int | None = None  # None: the built-in version, registered by the system


@dataclass(frozen=True, slots=True)
class LabelRuleRecord:
    label_version: str
    rule_id: str
    tag: str
    text: str
    label_table: str | None = None
    fields_json: str | None = None


@dataclass(frozen=True, slots=True)
class SignoffRecord:
    """An e-signature of rule rows of one version and content hash, for a site."""

    site_id: int
    label_version: str
    signed_by: int
    signed_at: datetime
    rule_ids: tuple[str, ...]
    comments: str | None = None
    drug: str = "tarlatamab"
    content_hash: str | None = None  # None: signed before e-signatures (does not count)
    revoked_at: datetime | None = None
    revoked_by: int | None = None
    revoke_reason: str | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True)
class SiteLabelRecord:
    """The label version a site's new courses start on."""

    site_id: int
    drug: str
    label_version: str
    set_by: int
    set_at: datetime


@dataclass(frozen=True, slots=True)
class AuditRecord:
    id: int
    at: datetime
    actor: str
    action: str
    entity_type: str
    entity_id: str
    before: Any
    after: Any
    prev_hash: str
    hash: str
    #: Anchoring (issue 13): SHA-256 of ``rows`` (the audited columns of every clinical row
    #: the entry's transaction wrote, read back after the write); None before migration 0012.
    row_hash: str | None = None
    rows: Any = None
    #: The site and patient an entry is about (access log, sign-ins), hashed with the entry.
    site_id: int | None = None
    patient_id: int | None = None


@dataclass(frozen=True, slots=True)
class CourseHistory:
    """Everything the core needs to decide one course (loaded in bulk for the worklist)."""

    course: CourseRecord
    patient: PatientRecord
    administrations: tuple[AdministrationRecord, ...]
    adverse_events: tuple[AdverseEventRecord, ...]
    labs: tuple[LabRecord, ...]
    #: The rules of the label version the course is pinned to (a ``tarla.label.rules.Rules``;
    #: None: the built-in label).
    rules: Any = None


@dataclass(frozen=True, slots=True)
class VitalSignsRecord:
    """A charted vital-signs set (issue 11): the values, the CRS grade the core proposed and
    the grade the nurse charted (a correction carries its reason)."""

    course_id: int
    taken_at: datetime
    recorded_at: datetime
    nurse_id: int
    temperature_c: float | None
    systolic_mmhg: int
    diastolic_mmhg: int
    heart_rate: int
    spo2: int
    oxygen_device: str
    proposed_crs_grade: int
    charted_crs_grade: int
    respiratory_rate: int | None = None
    oxygen_l_min: float | None = None
    hypotension: bool = False
    vasopressors: int = 0
    vasopressin: bool = False
    fever_masked: bool = False
    correction_reason: str | None = None
    administration_id: int | None = None
    assessment_id: int | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """An escalation (``kind`` crs / icans / fever) raised by a vitals set or an assessment."""

    site_id: int
    course_id: int
    patient_id: int
    kind: str
    grade: int | None
    message: str
    raised_at: datetime
    source: str
    source_id: int
    infusion_running: bool
    administration_id: int | None = None
    acknowledged_by: int | None = None
    acknowledged_at: datetime | None = None
    webhook_status: str | None = None
    webhook_attempted_at: datetime | None = None
    webhook_error: str | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True)
class OrderSetRecord:
    """One version of a site's management steps for an event and grade range; in effect
    only while ``active`` (set by a sign-off)."""

    site_id: int
    event: str
    min_grade: int
    max_grade: int
    text: str
    tag: str
    version: int
    created_at: datetime
    created_by: int | None = None
    signed_by: int | None = None
    signed_at: datetime | None = None
    revoked_by: int | None = None
    revoked_at: datetime | None = None
    revoke_reason: str | None = None
    active: bool = False
    id: int | None = None


@dataclass(frozen=True, slots=True)
class MedicationEntryRecord:
    """A premedication or post-infusion fluid charted for one dose of a course (the label
    row it applies), or a physician's waiver of a premedication for that dose. ``slot`` names
    the dose (a premedication is charted before the dose exists, so ``administration_id`` is
    set only for entries charted after it). ``given_at``: when given, or when a fluid started."""

    course_id: int
    slot: str
    kind: str  # premedication | post_infusion
    rule_id: str
    drug: str
    dose: str
    route: str
    recorded_at: datetime
    administration_id: int | None = None
    given_at: datetime | None = None
    ended_at: datetime | None = None
    nurse_id: int | None = None
    waived_by: int | None = None
    waiver_reason: str | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True)
class DischargeRecord:
    """The discharge after one dose, with its checklist as charted (one per dose)."""

    course_id: int
    administration_id: int
    slot: str
    discharged_at: datetime
    discharged_by: int
    recorded_at: datetime
    patient_counselled_at: datetime
    caregiver_counselled_at: datetime
    no_driving_counselled: bool
    contraception_counselled: bool | None = None  # None: not of reproductive potential
    caregiver_name: str | None = None
    caregiver_phone: str | None = None
    stay_address: str | None = None
    stay_address_confirmed: bool = False
    rules: list[str] = field(default_factory=list)  # the rule ids the gate applied
    id: int | None = None


@dataclass(frozen=True, slots=True)
class BillingCodeRecord:
    """A site's administration code (issue 15): billed per encounter or per started hour."""

    site_id: int
    code: str
    description: str
    per: str
    created_by: int
    created_at: datetime
    id: int | None = None


@dataclass(frozen=True, slots=True)
class ChargeReviewRecord:
    """A biller's review of one encounter (issue 15): accepted (as computed, or corrected to
    the mg actually given, with a reason) or reopened; exported once."""

    site_id: int
    encounter_key: str  # "A<administration id>" or "P<preparation id>"
    status: str  # accepted / open
    reviewed_by: int
    reviewed_at: datetime
    corrected_mg: str | None = None
    reason: str | None = None
    exported_at: datetime | None = None
    export_batch: str | None = None
    version: int = 1
    id: int | None = None


class DueCourse(NamedTuple):
    """A course on the worklist with its patient: only the columns the worklist needs (one
    joined read), including the stored last dose it resumes from. A NamedTuple (immutable,
    built straight from a row): the worklist makes one per due course on every read."""

    course_id: int
    patient_id: int
    mrn: str
    family_name: str
    given_name: str
    birth_date: date
    diagnosis: str
    progressed_after_platinum: bool
    off_label_reason: str | None
    policy: dict[str, Any]
    next_due_date: date | None
    last_dose_at: datetime | None
    last_slot_index: int | None
    last_restart_step: int | None
    last_kind: str | None
    last_dose_mg: int | None
    start_date: date | None = None  # the planned C1D1 (first dose due then)
    #: The version of everything the decision reads (``treatment_courses.inputs_version``,
    #: bumped by the database on every change): the key of the stored decision.
    inputs_version: int = 0
