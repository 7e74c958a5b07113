"""The database tables, as SQLAlchemy 2 declarative models.

These classes are the *storage* shape only: repositories copy them into the plain records of
:mod:`tarla.services.records`; the domain never imports this module. Clinical rules do not
live here; the CHECK constraints only guard codes and invariants the database can see
(a dose slot is given at most once, the checker of a preparation is not its preparer).

Timestamps are stored as UTC and always come back timezone-aware (:class:`UtcDateTime`), on
SQLite as well. Mutable rows (patients, courses, adverse events, preparations) carry an
optimistic ``version`` column: a stale update raises ``StaleDataError``, which the unit of
work turns into :class:`tarla.services.errors.Conflict`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from tarla.domain.course import DoseKind
from tarla.label.toxicity import EventType
from tarla.services.vocab import (
    AssessmentKind,
    CourseStatus,
    PreparationEvent,
    PreparationStatus,
    Role,
    VialStatus,
    values,
)

__all__ = ["Base", "UtcDateTime", "as_utc", "RAW_TIMESTAMP", "UtcMemo", "Site", "User",
           "UserRole", "Patient", "LabelVersion", "LabelRule", "LabelSignoff",
           "LabelSignoffRule", "SiteLabelVersion", "TreatmentCourse", "Administration",
           "Assessment", "AdverseEvent", "LabResult", "Preparation", "PreparationEventRow",
           "PreparationScan", "PreparationStep", "DoseRelease", "Vial", "VialExcursion",
           "AuditEntry", "AuditHead", "AuditBaseline", "VitalSigns", "Alert", "OrderSet",
           "MedicationAdministration", "Discharge",
           "GENESIS_HASH", "UNIQUE_MESSAGES", "CHECK_MESSAGES"]

GENESIS_HASH = "0" * 64

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that refuses naive values, stores UTC and returns aware UTC.

    SQLite has no time zone type: the value is stored as a UTC string and re-tagged on read."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive or non-datetime timestamp {value!r} refused")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)


def as_utc(value: datetime) -> datetime:
    """A stored timestamp as aware UTC (SQLite hands back the naive UTC it stored)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


#: What :class:`UtcDateTime` stores, read without its per-value processing: bulk reads that
#: tag many equal timestamps once (:class:`UtcMemo`) select through this.
RAW_TIMESTAMP = DateTime(timezone=True)


class UtcMemo:
    """:func:`as_utc` with a memory, for one bulk read: a lab panel's rows share one timestamp,
    so most values are converted once instead of once per row."""

    __slots__ = ("seen",)

    def __init__(self) -> None:
        self.seen: dict[datetime, datetime] = {}

    def __call__(self, value: datetime) -> datetime:
        out = self.seen.get(value)
        if out is None:
            out = self.seen[value] = as_utc(value)
        return out

    def maybe(self, value: datetime | None) -> datetime | None:
        return None if value is None else self(value)


DOSE_KINDS = values(DoseKind)


def _in(column: str, allowed: tuple[str, ...] | tuple[int, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in allowed)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UtcDateTime(), dict[str, Any]: JSON(),
                           list[Any]: JSON()}


class Site(Base):
    __tablename__ = "sites"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))  # IANA name, e.g. America/New_York
    policy: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(255))  # argon2, set by the web app
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime]


class UserRole(Base):
    __tablename__ = "user_roles"
    __table_args__ = (CheckConstraint(_in("role", values(Role)), name="role"),)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True)
    role: Mapped[str] = mapped_column(String(16), primary_key=True)


class Patient(Base):
    __tablename__ = "patients"
    __table_args__ = (UniqueConstraint("site_id", "mrn"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    mrn: Mapped[str] = mapped_column(String(64))
    family_name: Mapped[str] = mapped_column(String(100))
    given_name: Mapped[str] = mapped_column(String(100))
    birth_date: Mapped[date] = mapped_column(Date)
    diagnosis: Mapped[str] = mapped_column(String(100))
    progressed_after_platinum: Mapped[bool] = mapped_column(Boolean)
    off_label_reason: Mapped[str | None] = mapped_column(Text)
    reproductive_potential: Mapped[bool | None] = mapped_column(Boolean)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    __mapper_args__ = {"version_id_col": version}


class LabelVersion(Base):
    """A registered label version (:class:`tarla.label.value.Label`): its rows are
    ``label_rules``; ``content_hash`` is the sha256 of those rows (NULL only for a version
    registered before hashes were kept, until it is completed from the code's rows)."""

    __tablename__ = "label_versions"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # e.g. US-PI-2025-11
    source: Mapped[str] = mapped_column(Text)
    registered_at: Mapped[datetime]
    drug: Mapped[str] = mapped_column(String(64), server_default="tarlatamab")
    content_hash: Mapped[str | None] = mapped_column(String(64))
    base_version: Mapped[str | None] = mapped_column(ForeignKey("label_versions.id"))
    registered_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # NULL: built in


class LabelRule(Base):
    __tablename__ = "label_rules"
    label_version: Mapped[str] = mapped_column(ForeignKey("label_versions.id"), primary_key=True)
    rule_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tag: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    # The table the row belongs to and its other fields, as canonical JSON text (hashed).
    label_table: Mapped[str | None] = mapped_column(String(32))
    fields_json: Mapped[str | None] = mapped_column(Text)


class LabelSignoff(Base):
    """Who signed which rules of which label version, of which content, for a site, when
    (label-facts §9): an e-signature (the signer re-entered their password). A revoked
    sign-off stays on record and no longer counts."""

    __tablename__ = "label_signoffs"
    __table_args__ = (
        CheckConstraint("revoked_at IS NULL OR (revoked_by IS NOT NULL AND "
                        "revoke_reason IS NOT NULL)", name="revocation"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    label_version: Mapped[str] = mapped_column(ForeignKey("label_versions.id"))
    signed_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    signed_at: Mapped[datetime]
    comments: Mapped[str | None] = mapped_column(Text)
    drug: Mapped[str] = mapped_column(String(64), server_default="tarlatamab")
    content_hash: Mapped[str | None] = mapped_column(String(64))  # NULL: before e-signatures
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    revoke_reason: Mapped[str | None] = mapped_column(Text)


class SiteLabelVersion(Base):
    """The label version a site's new courses start on (a course keeps the version it started
    on: ``treatment_courses.label_version``). No row: the built-in version."""

    __tablename__ = "site_label_versions"
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), primary_key=True)
    drug: Mapped[str] = mapped_column(String(64), primary_key=True)
    label_version: Mapped[str] = mapped_column(ForeignKey("label_versions.id"))
    set_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    set_at: Mapped[datetime]


class LabelSignoffRule(Base):
    __tablename__ = "label_signoff_rules"
    __table_args__ = (ForeignKeyConstraint(["label_version", "rule_id"],
                                           ["label_rules.label_version", "label_rules.rule_id"],
                                           name="fk_label_signoff_rules_rule"),)
    signoff_id: Mapped[int] = mapped_column(ForeignKey("label_signoffs.id", ondelete="CASCADE"),
                                            primary_key=True)
    label_version: Mapped[str] = mapped_column(String(32))
    rule_id: Mapped[str] = mapped_column(String(64), primary_key=True)


class TreatmentCourse(Base):
    __tablename__ = "treatment_courses"
    __table_args__ = (
        CheckConstraint(_in("status", values(CourseStatus)), name="status"),
        # The worklist reads only the courses due on a date at a site.
        Index("ix_treatment_courses_worklist", "site_id", "next_due_date"),
        CheckConstraint(f"last_kind IS NULL OR {_in('last_kind', DOSE_KINDS)}",
                        name="last_kind"),
        # The resume point is all or nothing (NULL: derive from the whole history).
        CheckConstraint("last_slot_index IS NULL OR (last_dose_at IS NOT NULL AND "
                        "last_dose_mg IS NOT NULL AND last_kind IS NOT NULL AND "
                        "last_restart_step IS NOT NULL)", name="resume_point"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    label_version: Mapped[str] = mapped_column(ForeignKey("label_versions.id"))
    policy: Mapped[dict[str, Any]] = mapped_column(default=dict)  # tarla.domain.course.Policy
    status: Mapped[str] = mapped_column(String(16))
    start_date: Mapped[date] = mapped_column(Date)
    # Denormalised from the last decision, for the worklist (null once discontinued).
    next_due_date: Mapped[date | None] = mapped_column(Date)
    last_dose_at: Mapped[datetime | None]
    doses_given: Mapped[int] = mapped_column(Integer, default=0)
    # The core's derivation of the last dose (tarla.domain.course.resume_point), kept by the
    # same write as last_dose_at: the worklist resumes from it instead of re-deriving every
    # dose of the course. NULL when no dose is on record (or it could not be derived).
    last_slot_index: Mapped[int | None] = mapped_column(Integer)
    last_restart_step: Mapped[int | None] = mapped_column(Integer)
    last_kind: Mapped[str | None] = mapped_column(String(20))
    last_dose_mg: Mapped[int | None] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    # Bumped by database triggers on any write to what the course's decision reads (migration
    # 0014_decisions): the key of its stored worklist decision (tarla.adapters.orm_decisions).
    # Not the optimistic-locking version: a lab arriving must not make an open form stale.
    inputs_version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    __mapper_args__ = {"version_id_col": version}


class Administration(Base):
    __tablename__ = "administrations"
    __table_args__ = (
        UniqueConstraint("course_id", "slot_seq"),  # a dose slot is recorded as given once
        UniqueConstraint("idempotency_key"),
        CheckConstraint(_in("dose_mg", (1, 10)), name="dose_mg"),
        CheckConstraint(_in("kind", DOSE_KINDS), name="kind"),
        CheckConstraint("slot_seq >= 0", name="slot_seq"),
        CheckConstraint("ended_at IS NULL OR ended_at >= started_at", name="ended_after_start"),
        # The worklist reads only the doses after a course's stored last dose.
        Index("ix_administrations_course_started", "course_id", "started_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("treatment_courses.id"))
    slot_seq: Mapped[int] = mapped_column(Integer)  # 0 = first dose of the course
    slot: Mapped[str] = mapped_column(String(16))  # C1D1 ...
    cycle: Mapped[int] = mapped_column(Integer)
    day: Mapped[int] = mapped_column(Integer)
    dose_mg: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    infusion_site: Mapped[str | None] = mapped_column(String(64))
    nurse_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    preparation_id: Mapped[int | None] = mapped_column(ForeignKey("preparations.id"))
    idempotency_key: Mapped[str | None] = mapped_column(String(100))
    recorded_at: Mapped[datetime]
    patient_scan: Mapped[str | None] = mapped_column(String(200))
    bag_scan: Mapped[str | None] = mapped_column(String(200))
    scan_exception_reason: Mapped[str | None] = mapped_column(Text)
    witness_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Assessment(Base):
    """A CRS or ICANS assessment: the bedside inputs and the grade computed from them."""

    __tablename__ = "assessments"
    __table_args__ = (CheckConstraint(_in("kind", values(AssessmentKind)), name="kind"),
                      CheckConstraint("grade BETWEEN 0 AND 5", name="grade"))
    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("treatment_courses.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    inputs: Mapped[dict[str, Any]]
    grade: Mapped[int] = mapped_column(Integer)
    system: Mapped[str] = mapped_column(String(32))  # ASTCT-2019
    drivers: Mapped[list[Any]]
    assessed_at: Mapped[datetime]
    charted_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    charted_at: Mapped[datetime]


class AdverseEvent(Base):
    __tablename__ = "adverse_events"
    __table_args__ = (CheckConstraint(_in("type", values(EventType)), name="type"),
                      CheckConstraint("grade BETWEEN 1 AND 5", name="grade"),
                      CheckConstraint("resolved_at IS NULL OR resolved_at >= onset",
                                      name="resolved_after_onset"))
    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("treatment_courses.id"), index=True)
    type: Mapped[str] = mapped_column(String(32))
    grade: Mapped[int] = mapped_column(Integer)
    onset: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    assessment_id: Mapped[int | None] = mapped_column(ForeignKey("assessments.id"))
    charted_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    charted_at: Mapped[datetime]
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolution_proposed_at: Mapped[datetime | None]
    resolution_proposed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    __mapper_args__ = {"version_id_col": version}


class LabResult(Base):
    __tablename__ = "lab_results"
    __table_args__ = (Index("ix_lab_results_patient_collected", "patient_id", "collected_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    test: Mapped[str] = mapped_column(String(32))
    value: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(32))
    uln: Mapped[float | None] = mapped_column(Float)
    lln: Mapped[float | None] = mapped_column(Float)
    baseline: Mapped[float | None] = mapped_column(Float)
    collected_at: Mapped[datetime]
    ctcae_grade: Mapped[int | None] = mapped_column(Integer)
    ctcae_term: Mapped[str | None] = mapped_column(String(100))
    charted_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    charted_at: Mapped[datetime]


_OPEN_PREP = text("status NOT IN ('discarded', 'administered')")
_KIT_CONSUMED = text("verdict = 'accept' AND component = 'drug' AND serial IS NOT NULL")


class Preparation(Base):
    __tablename__ = "preparations"
    __table_args__ = (
        CheckConstraint(_in("status", values(PreparationStatus)), name="status"),
        CheckConstraint(_in("dose_mg", (1, 10)), name="dose_mg"),
        CheckConstraint("checked_by IS NULL OR checked_by <> prepared_by",
                        name="checker_is_not_preparer"),
        # One open preparation per dose: a second start returns the first (services), and
        # two racing starts cannot both be written.
        Index("uq_preparations_open_slot", "course_id", "slot", unique=True,
              sqlite_where=_OPEN_PREP, postgresql_where=_OPEN_PREP),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("treatment_courses.id"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    dose_mg: Mapped[int] = mapped_column(Integer)
    slot: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(20))
    prepared_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    checked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    __mapper_args__ = {"version_id_col": version}


class PreparationEventRow(Base):
    """One event of the in-use clock (``tarla clock`` events)."""

    __tablename__ = "preparation_events"
    __table_args__ = (CheckConstraint(_in("event", values(PreparationEvent)), name="event"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    preparation_id: Mapped[int] = mapped_column(ForeignKey("preparations.id"), index=True)
    event: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime]
    recorded_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime]


class PreparationScan(Base):
    __tablename__ = "preparation_scans"
    __table_args__ = (CheckConstraint(_in("component", ("drug", "ivss")), name="component"),
                      CheckConstraint(_in("verdict", ("accept", "refuse")), name="verdict"),
                      # A kit serial fills one bag: its drug vial is accepted once, ever.
                      Index("uq_preparation_scans_kit_serial", "gtin", "serial", unique=True,
                            sqlite_where=_KIT_CONSUMED, postgresql_where=_KIT_CONSUMED),
                      Index("ix_preparation_scans_gtin_serial", "gtin", "serial"))
    id: Mapped[int] = mapped_column(primary_key=True)
    preparation_id: Mapped[int] = mapped_column(ForeignKey("preparations.id"), index=True)
    gtin: Mapped[str] = mapped_column(String(14))
    lot: Mapped[str | None] = mapped_column(String(20))
    expiry: Mapped[date | None] = mapped_column(Date)
    serial: Mapped[str | None] = mapped_column(String(20))
    component: Mapped[str] = mapped_column(String(8))
    verdict: Mapped[str] = mapped_column(String(8))
    reasons: Mapped[list[Any]]
    scanned_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    scanned_at: Mapped[datetime]
    raw: Mapped[str | None] = mapped_column(String(500))


class PreparationStep(Base):
    """A bench step of the recipe, confirmed once per preparation, with the measured volume."""

    __tablename__ = "preparation_steps"
    __table_args__ = (UniqueConstraint("preparation_id", "step"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    preparation_id: Mapped[int] = mapped_column(ForeignKey("preparations.id"), index=True)
    step: Mapped[str] = mapped_column(String(32))
    measured_ml: Mapped[float | None] = mapped_column(Float)
    note: Mapped[str | None] = mapped_column(Text)
    confirmed_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    confirmed_at: Mapped[datetime]


class DoseRelease(Base):
    """A physician's release of a held dose, or of one whose labs are missing, for one day."""

    __tablename__ = "dose_releases"
    __table_args__ = (Index("ix_dose_releases_course_id_for_date", "course_id", "for_date"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("treatment_courses.id"))
    for_date: Mapped[date] = mapped_column(Date)
    slot: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    covers_rules: Mapped[list[Any]]
    covers_labs: Mapped[list[Any]]
    decided_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime]


class Vial(Base):
    __tablename__ = "vials"
    __table_args__ = (UniqueConstraint("gtin", "lot", "serial"),
                      CheckConstraint(_in("status", values(VialStatus)), name="status"),
                      CheckConstraint(_in("component", ("drug", "ivss")), name="component"))
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    gtin: Mapped[str] = mapped_column(String(14))
    lot: Mapped[str] = mapped_column(String(20))
    serial: Mapped[str] = mapped_column(String(20))
    expiry: Mapped[date] = mapped_column(Date)
    component: Mapped[str] = mapped_column(String(8))
    strength_mg: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    location: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[datetime]


class VialExcursion(Base):
    """A stretch of time an intact vial spent outside 2-8 °C (label-facts §2)."""

    __tablename__ = "vial_excursions"
    id: Mapped[int] = mapped_column(primary_key=True)
    vial_id: Mapped[int] = mapped_column(ForeignKey("vials.id"), index=True)
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    min_c: Mapped[float | None] = mapped_column(Float)
    max_c: Mapped[float | None] = mapped_column(Float)
    note: Mapped[str | None] = mapped_column(Text)
    frozen: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    recorded_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime]


_ORDER_SET_ACTIVE = text("active")


class VitalSigns(Base):
    """A charted vital-signs set, the CRS grade proposed from it and the grade charted."""

    __tablename__ = "vital_signs"
    __table_args__ = (
        CheckConstraint("proposed_crs_grade BETWEEN 0 AND 5", name="proposed_grade"),
        CheckConstraint("charted_crs_grade BETWEEN 0 AND 5", name="charted_grade"),
        CheckConstraint("charted_crs_grade = proposed_crs_grade OR "
                        "correction_reason IS NOT NULL", name="correction_has_reason"),
        CheckConstraint("vasopressors >= 0", name="vasopressors"),
        Index("ix_vital_signs_course_taken", "course_id", "taken_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("treatment_courses.id"))
    administration_id: Mapped[int | None] = mapped_column(ForeignKey("administrations.id"))
    taken_at: Mapped[datetime]
    recorded_at: Mapped[datetime]
    nurse_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    temperature_c: Mapped[float | None] = mapped_column(Float)
    systolic_mmhg: Mapped[int] = mapped_column(Integer)
    diastolic_mmhg: Mapped[int] = mapped_column(Integer)
    heart_rate: Mapped[int] = mapped_column(Integer)
    respiratory_rate: Mapped[int | None] = mapped_column(Integer)
    spo2: Mapped[int] = mapped_column(Integer)
    oxygen_device: Mapped[str] = mapped_column(String(32))
    oxygen_l_min: Mapped[float | None] = mapped_column(Float)
    hypotension: Mapped[bool] = mapped_column(Boolean)
    vasopressors: Mapped[int] = mapped_column(Integer)
    vasopressin: Mapped[bool] = mapped_column(Boolean)
    fever_masked: Mapped[bool] = mapped_column(Boolean)
    proposed_crs_grade: Mapped[int] = mapped_column(Integer)
    charted_crs_grade: Mapped[int] = mapped_column(Integer)
    correction_reason: Mapped[str | None] = mapped_column(Text)
    assessment_id: Mapped[int | None] = mapped_column(ForeignKey("assessments.id"))


class Alert(Base):
    """An escalation, raised in the transaction of the write that caused it."""

    __tablename__ = "alerts"
    __table_args__ = (
        CheckConstraint("kind IN ('crs', 'icans', 'fever')", name="kind"),
        CheckConstraint("source IN ('vitals', 'assessment')", name="source"),
        CheckConstraint("webhook_status IS NULL OR webhook_status IN "
                        "('pending', 'delivered', 'failed')", name="webhook_status"),
        CheckConstraint("acknowledged_at IS NULL OR acknowledged_by IS NOT NULL",
                        name="acknowledgement"),
        Index("ix_alerts_site_raised", "site_id", "raised_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    course_id: Mapped[int] = mapped_column(ForeignKey("treatment_courses.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    kind: Mapped[str] = mapped_column(String(16))
    grade: Mapped[int | None] = mapped_column(Integer)
    message: Mapped[str] = mapped_column(Text)
    raised_at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(16))
    source_id: Mapped[int] = mapped_column(Integer)
    infusion_running: Mapped[bool] = mapped_column(Boolean)
    administration_id: Mapped[int | None] = mapped_column(ForeignKey("administrations.id"))
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    acknowledged_at: Mapped[datetime | None]
    webhook_status: Mapped[str | None] = mapped_column(String(16))
    webhook_attempted_at: Mapped[datetime | None]
    webhook_error: Mapped[str | None] = mapped_column(Text)


class OrderSet(Base):
    """One version of a site's management steps for an event and grade range."""

    __tablename__ = "order_sets"
    __table_args__ = (
        CheckConstraint("event IN ('crs', 'icans')", name="event"),
        CheckConstraint("min_grade BETWEEN 1 AND 5 AND max_grade BETWEEN min_grade AND 5",
                        name="grades"),
        CheckConstraint("NOT active OR signed_at IS NOT NULL OR created_by IS NULL",
                        name="active_is_signed"),  # shipped seed rows: created_by NULL
        CheckConstraint("revoked_at IS NULL OR (revoked_by IS NOT NULL AND "
                        "revoke_reason IS NOT NULL)", name="revocation"),
        UniqueConstraint("site_id", "event", "min_grade", "max_grade", "version"),
        # One version in effect per event and grade range at a site.
        Index("uq_order_sets_active", "site_id", "event", "min_grade", "max_grade",
              unique=True, sqlite_where=_ORDER_SET_ACTIVE,
              postgresql_where=_ORDER_SET_ACTIVE),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    event: Mapped[str] = mapped_column(String(16))
    min_grade: Mapped[int] = mapped_column(Integer)
    max_grade: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    tag: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    signed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    signed_at: Mapped[datetime | None]
    revoked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    revoked_at: Mapped[datetime | None]
    revoke_reason: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean)


class MedicationAdministration(Base):
    """A premedication or post-infusion fluid charted for one dose (or a physician's waiver
    of a premedication): issue 11, label-facts §3 "Before and around each dose"."""

    __tablename__ = "medication_administrations"
    __table_args__ = (
        CheckConstraint(_in("kind", ("premedication", "post_infusion")), name="kind"),
        CheckConstraint("(nurse_id IS NOT NULL AND given_at IS NOT NULL) OR "
                        "(waived_by IS NOT NULL AND waiver_reason IS NOT NULL)",
                        name="given_or_waived"),
        CheckConstraint("ended_at IS NULL OR ended_at >= given_at", name="ended_after_given"),
        Index("ix_medication_administrations_course_slot", "course_id", "slot"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("treatment_courses.id"))
    administration_id: Mapped[int | None] = mapped_column(ForeignKey("administrations.id"))
    slot: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    rule_id: Mapped[str] = mapped_column(String(64))
    drug: Mapped[str] = mapped_column(String(100))
    dose: Mapped[str] = mapped_column(String(32))
    route: Mapped[str] = mapped_column(String(16))
    given_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    nurse_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime]
    waived_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    waiver_reason: Mapped[str | None] = mapped_column(Text)


class Discharge(Base):
    """The discharge after one dose with its checklist as charted (issue 11)."""

    __tablename__ = "discharges"
    __table_args__ = (UniqueConstraint("administration_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("treatment_courses.id"), index=True)
    administration_id: Mapped[int] = mapped_column(ForeignKey("administrations.id"))
    slot: Mapped[str] = mapped_column(String(16))
    discharged_at: Mapped[datetime]
    discharged_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime]
    patient_counselled_at: Mapped[datetime]
    caregiver_counselled_at: Mapped[datetime]
    no_driving_counselled: Mapped[bool] = mapped_column(Boolean)
    contraception_counselled: Mapped[bool | None] = mapped_column(Boolean)
    caregiver_name: Mapped[str | None] = mapped_column(String(200))
    caregiver_phone: Mapped[str | None] = mapped_column(String(64))
    stay_address: Mapped[str | None] = mapped_column(Text)
    stay_address_confirmed: Mapped[bool] = mapped_column(Boolean)
    rules: Mapped[list[Any]]


class BillingCode(Base):
    """A site's administration codes (issue 15): coding is the site's decision, not code's."""

    __tablename__ = "billing_codes"
    __table_args__ = (UniqueConstraint("site_id", "code"),
                      CheckConstraint(_in("per", ("encounter", "hour")), name="per"))
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    code: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(String(200))
    per: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]


class ChargeReview(Base):
    """A biller's review of one encounter (issue 15), exported once unless reopened."""

    __tablename__ = "charge_reviews"
    __table_args__ = (UniqueConstraint("site_id", "encounter_key"),
                      CheckConstraint(_in("status", ("accepted", "open")), name="status"),
                      CheckConstraint("corrected_mg IS NULL OR reason IS NOT NULL",
                                      name="correction_has_reason"))
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    encounter_key: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    corrected_mg: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    reviewed_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime]
    exported_at: Mapped[datetime | None]
    export_batch: Mapped[str | None] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    __mapper_args__ = {"version_id_col": version}


class AuditEntry(Base):
    """Append-only, hash-chained. ``id`` is assigned gap-free from :class:`AuditHead`."""

    __tablename__ = "audit_log"
    __table_args__ = (UniqueConstraint("hash"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    entity_type: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str] = mapped_column(String(64))
    before: Mapped[Any | None] = mapped_column(JSON)  # plain JSON (not jsonb): kept verbatim
    after: Mapped[Any | None] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    # migration 0012 (issue 13): the rows the entry anchors, and whose record it is about
    row_hash: Mapped[str | None] = mapped_column(String(64))
    rows: Mapped[Any | None] = mapped_column(JSON)
    site_id: Mapped[int | None] = mapped_column(Integer, index=True)
    patient_id: Mapped[int | None] = mapped_column(Integer, index=True)


class AuditBaseline(Base):
    """Per clinical table, the highest id when anchoring began (migration 0012): rows up to
    it may have no anchored state (written before), rows above it must have one."""

    __tablename__ = "audit_baseline"
    table_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    max_id: Mapped[int] = mapped_column(Integer)


class AuditHead(Base):
    """The single row naming the last entry: serialises appends and reveals a deleted tail."""

    __tablename__ = "audit_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_id: Mapped[int] = mapped_column(Integer)
    last_hash: Mapped[str] = mapped_column(String(64))


#: Friendly words for the unique constraints a use case can run into (see uow.py).
UNIQUE_MESSAGES: dict[str, tuple[str, str, str]] = {
    # constraint name: (error class name, field, message)
    "uq_administrations_course_id_slot_seq": (
        "AlreadyRecorded", "slot", "this dose slot is already recorded as given for the course"),
    "uq_administrations_idempotency_key": (
        "AlreadyRecorded", "idempotency_key", "an administration with this key is on record"),
    "uq_patients_site_id_mrn": (
        "AlreadyRecorded", "mrn", "a patient with this MRN is already enrolled at the site"),
    "uq_sites_code": ("AlreadyRecorded", "site", "a site with this code exists"),
    "uq_users_username": ("AlreadyRecorded", "username", "a user with this name exists"),
    "uq_vials_gtin_lot_serial": ("AlreadyRecorded", "vial", "this vial is already in stock"),
    "uq_preparations_open_slot": (
        "AlreadyRecorded", "course_id", "a preparation of this dose is already open"),
    "uq_preparation_scans_kit_serial": (
        "AlreadyRecorded", "scan", "this kit serial was already used for another preparation"),
    "uq_preparation_steps_preparation_id_step": (
        "AlreadyRecorded", "step", "this step is already confirmed for the preparation"),
    "pk_user_roles": ("AlreadyRecorded", "role", "the user already has this role"),
    "uq_billing_codes_site_id_code": ("AlreadyRecorded", "code", "the site already has this "
                                                                 "code"),
    "uq_charge_reviews_site_id_encounter_key": ("Conflict", "encounter", "this encounter was "
                                                "reviewed meanwhile; reload"),
    "pk_label_signoff_rules": ("AlreadyRecorded", "rule_ids", "a rule id is listed twice"),
    "pk_label_versions": ("AlreadyRecorded", "version", "this label version is already "
                                                        "registered"),
    "pk_site_label_versions": ("Conflict", "label_version", "the site's label version was "
                                                            "set meanwhile; try again"),
    "uq_audit_log_hash": ("Conflict", "audit", "the audit chain moved on; try again"),
    "uq_discharges_administration_id": (
        "AlreadyRecorded", "administration", "this dose's discharge is already on record"),
    "uq_order_sets_active": ("Conflict", "order_set", "another version of this order set "
                                                      "took effect meanwhile; reload"),
    "uq_order_sets_site_id_event_min_grade_max_grade_version": (
        "Conflict", "order_set", "this order set was edited meanwhile; reload and retry"),
    "pk_audit_log": ("Conflict", "audit", "the audit chain moved on; try again"),
}

CHECK_MESSAGES: dict[str, tuple[str, str, str]] = {
    "ck_preparations_checker_is_not_preparer": (
        "Forbidden", "checked_by", "the second check must be done by someone other than the "
                                   "preparer"),
}

# Interface credentials (issue 16) live in their own module on this Base.
from tarla.adapters import interface_tokens as _interface_tokens  # noqa: E402, F401

# Capacity planning's tables (issue 12) live in their own module on this Base.
from tarla.adapters import orm_capacity as _orm_capacity  # noqa: E402, F401

# Stored worklist decisions (issue 14): each course's decision for its site's day, keyed.
from tarla.adapters import orm_decisions as _orm_decisions  # noqa: E402, F401

# Labs in by interface (issue 16): messages, work queue, site LOINC rows.
from tarla.adapters import orm_labs_in as _orm_labs_in  # noqa: E402, F401

# E-signatures (issue 13): who signed which record, meaning what, bound to its content hash.
from tarla.adapters import orm_signatures as _orm_signatures  # noqa: E402, F401
