"""SQLAlchemy repositories: copy table rows into the service records and back.

Record fields and columns share their names, so :func:`_record` / :func:`_apply` copy them
generically. The worklist's reads (:class:`SqlWorklist`) are Core selects of only the columns
the core needs, over all due courses at once (one query per table), each reading only what
came after a course's stored last dose, and build the core's inputs straight from the rows.
"""

from __future__ import annotations

import dataclasses
import json
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from sqlalchemy import (
    Select,
    Text,
    and_,
    case,
    cast,
    func,
    literal,
    or_,
    select,
    true,
    type_coerce,
    update,
)
from sqlalchemy.orm import Session

from tarla.adapters import orm
from tarla.adapters.orm import UtcMemo
from tarla.domain import course as core
from tarla.label.toxicity import EventType
from tarla.services.errors import Conflict
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
from tarla.services.vocab import CourseStatus

__all__ = ["SqlSites", "SqlUsers", "SqlPatients", "SqlCourses", "SqlAdministrations",
           "SqlEvents", "SqlLabs", "SqlPreparations", "SqlInventory", "SqlLabel", "SqlAudit",
           "SqlWorklist", "SqlReleases", "SqlCare", "SqlMonitoring", "SqlOrderSets",
           "SqlCharges"]

R = TypeVar("R")
_FIELDS: dict[type, tuple[str, ...]] = {}


def _names(cls: type) -> tuple[str, ...]:
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]
    return names


def _record(cls: type[R], row: Any, **extra: Any) -> R:
    values = {n: getattr(row, n) for n in _names(cls) if n not in extra}
    return cls(**values, **extra)


def _cols(cls: type, table: Any) -> list[Any]:
    """The table's columns in the record's field order (for positional construction)."""
    return [table.c[n] for n in _names(cls)]


def _fast(cls: type[R], result: Any) -> list[R]:
    """Records straight from result tuples: the bulk reads of the worklist are hot."""
    return [cls(*row) for row in result]


def _row(model: type[Any], record: Any, *skip: str) -> Any:
    columns = set(model.__table__.columns.keys())
    return model(**{n: getattr(record, n) for n in _names(type(record))
                    if n in columns and n not in skip and not (n == "id" and record.id is None)})


def _apply(row: Any, record: Any, *skip: str) -> None:
    columns = set(type(row).__table__.columns.keys())
    for n in _names(type(record)):
        if n in columns and n not in ("id", "version", *skip):
            setattr(row, n, getattr(record, n))


class _Base:
    def __init__(self, session: Session) -> None:
        self.s = session

    def _added(self, row: Any) -> Any:
        self.s.add(row)
        self.s.flush()
        return row

    def _versioned_update(self, model: type[Any], record: Any, what: str) -> Any:
        row = self.s.get(model, record.id)
        if row is None:
            raise Conflict(what, f"{what} {record.id} no longer exists")
        if row.version != record.version:
            raise Conflict(what, f"{what} {record.id} was changed by someone else (version "
                                 f"{row.version}, you had {record.version}); reload and retry")
        _apply(row, record)
        self.s.flush()  # UPDATE ... WHERE version = :read; StaleDataError if it moved
        return row


class SqlSites(_Base):
    def add(self, site: SiteRecord) -> SiteRecord:
        return _record(SiteRecord, self._added(_row(orm.Site, site)))

    def get(self, site_id: int) -> SiteRecord | None:
        row = self.s.get(orm.Site, site_id)
        return None if row is None else _record(SiteRecord, row)

    def by_code(self, code: str) -> SiteRecord | None:
        row = self.s.scalar(select(orm.Site).where(orm.Site.code == code))
        return None if row is None else _record(SiteRecord, row)

    def list(self) -> list[SiteRecord]:
        return [_record(SiteRecord, r) for r in self.s.scalars(select(orm.Site).order_by("id"))]


class SqlUsers(_Base):
    def _roles(self, user_id: int) -> frozenset[str]:
        return frozenset(self.s.scalars(select(orm.UserRole.role)
                                        .where(orm.UserRole.user_id == user_id)))

    def add(self, user: UserRecord) -> UserRecord:
        row = self._added(_row(orm.User, user))
        for role in sorted(user.roles):
            self.s.add(orm.UserRole(user_id=row.id, role=role))
        self.s.flush()
        return _record(UserRecord, row, roles=frozenset(user.roles))

    def get(self, user_id: int) -> UserRecord | None:
        row = self.s.get(orm.User, user_id)
        return None if row is None else _record(UserRecord, row, roles=self._roles(row.id))

    def by_username(self, username: str) -> UserRecord | None:
        row = self.s.scalar(select(orm.User).where(orm.User.username == username))
        return None if row is None else _record(UserRecord, row, roles=self._roles(row.id))


class SqlPatients(_Base):
    def add(self, patient: PatientRecord) -> PatientRecord:
        return _record(PatientRecord, self._added(_row(orm.Patient, patient, "version")))

    def get(self, patient_id: int) -> PatientRecord | None:
        row = self.s.get(orm.Patient, patient_id)
        return None if row is None else _record(PatientRecord, row)

    def by_mrn(self, site_id: int, mrn: str) -> PatientRecord | None:
        row = self.s.scalar(select(orm.Patient).where(orm.Patient.site_id == site_id,
                                                      orm.Patient.mrn == mrn))
        return None if row is None else _record(PatientRecord, row)

    def update(self, patient: PatientRecord) -> PatientRecord:
        return _record(PatientRecord, self._versioned_update(orm.Patient, patient, "patient"))

    def many(self, patient_ids: Any) -> dict[int, PatientRecord]:
        ids = list(patient_ids)
        if not ids:
            return {}
        t = orm.Patient.__table__
        rows = self.s.execute(select(*_cols(PatientRecord, t)).where(t.c.id.in_(ids)))
        return {r.id: r for r in _fast(PatientRecord, rows)}


class SqlCourses(_Base):
    def add(self, course: CourseRecord) -> CourseRecord:
        return _record(CourseRecord, self._added(_row(orm.TreatmentCourse, course, "version")))

    def get(self, course_id: int) -> CourseRecord | None:
        row = self.s.get(orm.TreatmentCourse, course_id)
        return None if row is None else _record(CourseRecord, row)

    def for_patient(self, patient_id: int) -> list[CourseRecord]:
        rows = self.s.scalars(select(orm.TreatmentCourse)
                              .where(orm.TreatmentCourse.patient_id == patient_id)
                              .order_by(orm.TreatmentCourse.id))
        return [_record(CourseRecord, r) for r in rows]

    def update(self, course: CourseRecord) -> CourseRecord:
        return _record(CourseRecord,
                       self._versioned_update(orm.TreatmentCourse, course, "course"))

    def due(self, site_id: int, on: date) -> list[CourseRecord]:
        t = orm.TreatmentCourse.__table__
        rows = self.s.execute(select(*_cols(CourseRecord, t)).where(
            t.c.site_id == site_id, t.c.next_due_date <= on,
            t.c.status != CourseStatus.DISCONTINUED.value).order_by(t.c.next_due_date, t.c.id))
        return _fast(CourseRecord, rows)


class SqlAdministrations(_Base):
    def add(self, administration: AdministrationRecord) -> AdministrationRecord:
        return _record(AdministrationRecord,
                       self._added(_row(orm.Administration, administration)))

    def for_course(self, course_id: int) -> list[AdministrationRecord]:
        return self.for_courses([course_id]).get(course_id, [])

    def set_ended(self, administration_id: int, ended_at: datetime) -> AdministrationRecord:
        row = self.s.get(orm.Administration, administration_id)
        if row is None:
            raise Conflict("administration", f"administration {administration_id} no longer "
                                             "exists")
        row.ended_at = ended_at
        self.s.flush()
        return _record(AdministrationRecord, row)

    def by_key(self, idempotency_key: str) -> AdministrationRecord | None:
        t = orm.Administration.__table__
        row = self.s.execute(select(t).where(t.c.idempotency_key == idempotency_key)).first()
        return None if row is None else _record(AdministrationRecord, row)

    def started_at_site(self, site_id: int, since: datetime) -> list[AdministrationRecord]:
        t, c = orm.Administration.__table__, orm.TreatmentCourse.__table__
        rows = self.s.execute(select(*_cols(AdministrationRecord, t))
                              .join(c, c.c.id == t.c.course_id)
                              .where(c.c.site_id == site_id, t.c.started_at >= since)
                              .order_by(t.c.started_at, t.c.id))
        return list(_fast(AdministrationRecord, rows))

    def for_courses(self, course_ids: Sequence[int]) -> dict[int, list[AdministrationRecord]]:
        out: dict[int, list[AdministrationRecord]] = defaultdict(list)
        if not course_ids:
            return out
        t = orm.Administration.__table__
        for chunk in _chunks(course_ids):
            rows = self.s.execute(select(*_cols(AdministrationRecord, t))
                                  .where(t.c.course_id.in_(chunk))
                                  .order_by(t.c.course_id, t.c.slot_seq))
            for r in _fast(AdministrationRecord, rows):
                out[r.course_id].append(r)
        return out


def _chunks(ids: Sequence[int], size: int = 5000) -> Iterator[list[int]]:
    items = list(ids)
    for i in range(0, len(items), size):
        yield items[i:i + size]


class SqlEvents(_Base):
    def add_assessment(self, assessment: AssessmentRecord) -> AssessmentRecord:
        return _record(AssessmentRecord, self._added(_row(orm.Assessment, assessment)))

    def assessments(self, course_id: int, kind: str) -> list[AssessmentRecord]:
        t = orm.Assessment
        return [_record(AssessmentRecord, r) for r in self.s.scalars(
            select(t).where(t.course_id == course_id, t.kind == kind)
            .order_by(t.assessed_at, t.id))]

    def add(self, event: AdverseEventRecord) -> AdverseEventRecord:
        return _record(AdverseEventRecord, self._added(_row(orm.AdverseEvent, event, "version")))

    def get(self, event_id: int) -> AdverseEventRecord | None:
        row = self.s.get(orm.AdverseEvent, event_id)
        return None if row is None else _record(AdverseEventRecord, row)

    def update(self, event: AdverseEventRecord) -> AdverseEventRecord:
        return _record(AdverseEventRecord,
                       self._versioned_update(orm.AdverseEvent, event, "adverse event"))

    def for_course(self, course_id: int) -> list[AdverseEventRecord]:
        return self.for_courses([course_id]).get(course_id, [])

    def ongoing_at_site(self, site_id: int, types: Sequence[str], now: datetime,
                        ) -> list[AdverseEventRecord]:
        e, c = orm.AdverseEvent, orm.TreatmentCourse.__table__
        rows = self.s.scalars(select(e).join(c, c.c.id == e.course_id)
                              .where(c.c.site_id == site_id, e.type.in_(list(types)),
                                     e.onset <= now,
                                     or_(e.resolved_at.is_(None), e.resolved_at > now))
                              .order_by(e.onset, e.id))
        return [_record(AdverseEventRecord, r) for r in rows]

    def for_courses(self, course_ids: Sequence[int]) -> dict[int, list[AdverseEventRecord]]:
        out: dict[int, list[AdverseEventRecord]] = defaultdict(list)
        t = orm.AdverseEvent.__table__
        for chunk in _chunks(course_ids):
            rows = self.s.execute(select(*_cols(AdverseEventRecord, t))
                                  .where(t.c.course_id.in_(chunk))
                                  .order_by(t.c.course_id, t.c.onset, t.c.id))
            for r in _fast(AdverseEventRecord, rows):
                out[r.course_id].append(r)
        return out


class SqlLabs(_Base):
    def add(self, lab: LabRecord) -> LabRecord:
        return _record(LabRecord, self._added(_row(orm.LabResult, lab)))

    def for_patient(self, patient_id: int, since: datetime | None = None) -> list[LabRecord]:
        return self.for_patients({patient_id: since}).get(patient_id, [])

    def for_patients(self, since: Mapping[int, datetime | None]) -> dict[int, list[LabRecord]]:
        out: dict[int, list[LabRecord]] = defaultdict(list)
        if not since:
            return out
        t = orm.LabResult.__table__
        every = [p for p, s in since.items() if s is None]
        after = [p for p, s in since.items() if s is not None]
        conds = []
        for chunk in _chunks(every):
            conds.append(t.c.patient_id.in_(chunk))
        if after:
            # One range read per patient on the (patient_id, collected_at) index, from the
            # earliest cut-off; each patient's own cut-off is applied below.
            oldest = min(since[p] for p in after)  # type: ignore[type-var]
            for chunk in _chunks(after):
                conds.append(and_(t.c.patient_id.in_(chunk), t.c.collected_at > oldest))
        for cond in conds:
            rows = self.s.execute(select(*_cols(LabRecord, t)).where(cond)
                                  .order_by(t.c.patient_id, t.c.collected_at, t.c.id))
            for r in _fast(LabRecord, rows):
                cut = since[r.patient_id]
                if cut is None or r.collected_at > cut:
                    out[r.patient_id].append(r)
        return out


class SqlPreparations(_Base):
    def add(self, preparation: PreparationRecord) -> PreparationRecord:
        return _record(PreparationRecord,
                       self._added(_row(orm.Preparation, preparation, "version")))

    def get(self, preparation_id: int) -> PreparationRecord | None:
        row = self.s.get(orm.Preparation, preparation_id)
        return None if row is None else _record(PreparationRecord, row)

    def update(self, preparation: PreparationRecord) -> PreparationRecord:
        return _record(PreparationRecord,
                       self._versioned_update(orm.Preparation, preparation, "preparation"))

    def add_event(self, event: PreparationEventRecord) -> PreparationEventRecord:
        return _record(PreparationEventRecord, self._added(_row(orm.PreparationEventRow, event)))

    def events(self, preparation_id: int) -> list[PreparationEventRecord]:
        rows = self.s.scalars(select(orm.PreparationEventRow)
                              .where(orm.PreparationEventRow.preparation_id == preparation_id)
                              .order_by(orm.PreparationEventRow.at, orm.PreparationEventRow.id))
        return [_record(PreparationEventRecord, r) for r in rows]

    def add_scan(self, scan: ScanRecord) -> ScanRecord:
        return _record(ScanRecord, self._added(_row(orm.PreparationScan, scan)))

    def scans(self, preparation_id: int) -> list[ScanRecord]:
        t = orm.PreparationScan
        rows = self.s.scalars(select(t).where(t.preparation_id == preparation_id)
                              .order_by(t.scanned_at, t.id))
        return [_record(ScanRecord, r) for r in rows]

    def scans_of_serial(self, gtin: str, serial: str) -> list[ScanRecord]:
        t = orm.PreparationScan
        rows = self.s.scalars(select(t).where(t.gtin == gtin, t.serial == serial)
                              .order_by(t.scanned_at, t.id))
        return [_record(ScanRecord, r) for r in rows]

    def for_course(self, course_id: int) -> list[PreparationRecord]:
        t = orm.Preparation
        rows = self.s.scalars(select(t).where(t.course_id == course_id).order_by(t.id))
        return [_record(PreparationRecord, r) for r in rows]

    def add_step(self, step: PreparationStepRecord) -> PreparationStepRecord:
        return _record(PreparationStepRecord, self._added(_row(orm.PreparationStep, step)))

    def steps(self, preparation_id: int) -> list[PreparationStepRecord]:
        t = orm.PreparationStep
        rows = self.s.scalars(select(t).where(t.preparation_id == preparation_id)
                              .order_by(t.confirmed_at, t.id))
        return [_record(PreparationStepRecord, r) for r in rows]


class SqlInventory(_Base):
    def add_vial(self, vial: VialRecord) -> VialRecord:
        return _record(VialRecord, self._added(_row(orm.Vial, vial)))

    def add_excursion(self, excursion: ExcursionRecord) -> ExcursionRecord:
        return _record(ExcursionRecord, self._added(_row(orm.VialExcursion, excursion)))

    def vials(self, site_id: int) -> list[VialRecord]:
        rows = self.s.scalars(select(orm.Vial).where(orm.Vial.site_id == site_id)
                              .order_by(orm.Vial.id))
        return [_record(VialRecord, r) for r in rows]

    def vial(self, vial_id: int) -> VialRecord | None:
        row = self.s.get(orm.Vial, vial_id)
        return None if row is None else _record(VialRecord, row)

    def by_serial(self, site_id: int, gtin: str, serial: str) -> list[VialRecord]:
        t = orm.Vial
        rows = self.s.scalars(select(t).where(t.site_id == site_id, t.gtin == gtin,
                                              t.serial == serial).order_by(t.id))
        return [_record(VialRecord, r) for r in rows]

    def excursions(self, vial_ids: Sequence[int]) -> list[ExcursionRecord]:
        if not vial_ids:
            return []
        t = orm.VialExcursion
        rows = self.s.scalars(select(t).where(t.vial_id.in_(list(vial_ids)))
                              .order_by(t.started_at, t.id))
        return [_record(ExcursionRecord, r) for r in rows]


class SqlReleases(_Base):
    def add(self, release: DoseReleaseRecord) -> DoseReleaseRecord:
        return _record(DoseReleaseRecord, self._added(_row(orm.DoseRelease, release)))

    def on(self, course_id: int, for_date: date) -> list[DoseReleaseRecord]:
        t = orm.DoseRelease
        rows = self.s.scalars(select(t).where(t.course_id == course_id, t.for_date == for_date)
                              .order_by(t.id.desc()))
        return [_record(DoseReleaseRecord, r) for r in rows]


class SqlLabel(_Base):
    def has_version(self, label_version: str) -> bool:
        return self.s.get(orm.LabelVersion, label_version) is not None

    def version(self, label_version: str) -> LabelVersionRecord | None:
        row = self.s.get(orm.LabelVersion, label_version)
        return None if row is None else _record(LabelVersionRecord, row)

    def versions(self) -> list[LabelVersionRecord]:
        t = orm.LabelVersion
        return [_record(LabelVersionRecord, r)
                for r in self.s.scalars(select(t).order_by(t.registered_at, t.id))]

    def add_version(self, version: LabelVersionRecord, rules: Sequence[LabelRuleRecord]) -> None:
        self.s.add(_row(orm.LabelVersion, version))
        self.s.flush()
        self.s.add_all(_row(orm.LabelRule, r) for r in rules)
        self.s.flush()

    def complete_version(self, version: LabelVersionRecord,
                         rules: Sequence[LabelRuleRecord]) -> None:
        t, r = orm.LabelVersion, orm.LabelRule
        self.s.execute(update(t).where(t.id == version.id)
                       .values(drug=version.drug, content_hash=version.content_hash))
        for rule in rules:
            self.s.execute(update(r).where(r.label_version == version.id,
                                           r.rule_id == rule.rule_id)
                           .values(label_table=rule.label_table, fields_json=rule.fields_json))
        self.s.flush()

    def rules(self, label_version: str) -> list[LabelRuleRecord]:
        t = orm.LabelRule
        return [_record(LabelRuleRecord, r) for r in self.s.scalars(
            select(t).where(t.label_version == label_version).order_by(t.rule_id))]

    def rule_ids(self, label_version: str) -> set[str]:
        return set(self.s.scalars(select(orm.LabelRule.rule_id)
                                  .where(orm.LabelRule.label_version == label_version)))

    def add_signoff(self, signoff: SignoffRecord) -> SignoffRecord:
        row = self._added(_row(orm.LabelSignoff, signoff))
        self.s.add_all(orm.LabelSignoffRule(signoff_id=row.id, label_version=signoff.label_version,
                                            rule_id=r) for r in signoff.rule_ids)
        self.s.flush()
        return dataclasses.replace(signoff, id=row.id)

    def _rules_of(self, ids: Sequence[int]) -> dict[int, list[str]]:
        rules: dict[int, list[str]] = defaultdict(list)
        if ids:
            for sid, rid in self.s.execute(
                    select(orm.LabelSignoffRule.signoff_id, orm.LabelSignoffRule.rule_id)
                    .where(orm.LabelSignoffRule.signoff_id.in_(list(ids)))
                    .order_by(orm.LabelSignoffRule.rule_id)):
                rules[sid].append(rid)
        return rules

    def signoff(self, signoff_id: int) -> SignoffRecord | None:
        row = self.s.get(orm.LabelSignoff, signoff_id)
        if row is None:
            return None
        return _record(SignoffRecord, row, rule_ids=tuple(self._rules_of([row.id])[row.id]))

    def revoke_signoff(self, signoff: SignoffRecord) -> SignoffRecord:
        t = orm.LabelSignoff
        done = self.s.execute(update(t).where(t.id == signoff.id, t.revoked_at.is_(None))
                              .values(revoked_at=signoff.revoked_at,
                                      revoked_by=signoff.revoked_by,
                                      revoke_reason=signoff.revoke_reason)
                              .execution_options(synchronize_session="fetch"))
        if done.rowcount != 1:  # type: ignore[attr-defined]
            raise Conflict("signoff_id", f"sign-off {signoff.id} was revoked meanwhile")
        return signoff

    def signoffs(self, site_id: int, label_version: str) -> list[SignoffRecord]:
        rows = self.s.scalars(select(orm.LabelSignoff)
                              .where(orm.LabelSignoff.site_id == site_id,
                                     orm.LabelSignoff.label_version == label_version)
                              .order_by(orm.LabelSignoff.id)).all()
        rules = self._rules_of([r.id for r in rows])
        return [_record(SignoffRecord, r, rule_ids=tuple(rules[r.id])) for r in rows]

    def site_version(self, site_id: int, drug: str) -> SiteLabelRecord | None:
        row = self.s.get(orm.SiteLabelVersion, (site_id, drug))
        return None if row is None else _record(SiteLabelRecord, row)

    def set_site_version(self, setting: SiteLabelRecord) -> None:
        row = self.s.get(orm.SiteLabelVersion, (setting.site_id, setting.drug))
        if row is None:
            self.s.add(_row(orm.SiteLabelVersion, setting))
        else:
            _apply(row, setting)
        self.s.flush()

    def pinned_courses(self, site_id: int) -> dict[str, int]:
        c = orm.TreatmentCourse.__table__
        return {v: int(n) for v, n in self.s.execute(
            select(c.c.label_version, func.count()).where(c.c.site_id == site_id)
            .group_by(c.c.label_version))}

    def pinned_versions(self, course_ids: Sequence[int]) -> dict[int, str]:
        if not course_ids:
            return {}
        c = orm.TreatmentCourse.__table__
        return {i: v for i, v in self.s.execute(
            select(c.c.id, c.c.label_version).where(c.c.id.in_(list(course_ids))))}


class SqlAudit(_Base):
    def head(self) -> tuple[int, str]:
        h = orm.AuditHead.__table__
        row = self.s.execute(select(h.c.last_id, h.c.last_hash).where(h.c.id == 1)
                             .with_for_update()).one()
        return int(row.last_id), str(row.last_hash)

    def append(self, entry: AuditRecord) -> None:
        t = orm.AuditEntry.__table__
        h = orm.AuditHead.__table__
        self.s.execute(t.insert().values(**{n: getattr(entry, n) for n in _names(AuditRecord)}))
        moved = self.s.execute(update(h).where(h.c.id == 1, h.c.last_id == entry.id - 1)
                               .values(last_id=entry.id, last_hash=entry.hash))
        if moved.rowcount != 1:  # type: ignore[attr-defined]
            raise Conflict("audit", "the audit chain moved on during this transaction; "
                                    "try again")

    def entries(self) -> Iterator[AuditRecord]:
        t = orm.AuditEntry.__table__
        result = self.s.execute(select(t).order_by(t.c.id).execution_options(yield_per=2000))
        for r in result:
            yield _record(AuditRecord, r)

    def count(self) -> int:
        return int(self.s.scalar(select(func.count()).select_from(orm.AuditEntry)) or 0)



def _raw(column: Any) -> Any:
    return type_coerce(column, orm.RAW_TIMESTAMP).label(column.name)


#: Before any dose: the cut-off of a course with no stored last dose (read everything).
_EPOCH = datetime(1900, 1, 1, tzinfo=UTC)


def due_at(site_id: Any, on: Any) -> Any:
    """The courses on a site's worklist for ``on``: not discontinued, next dose due on or
    before it (``ix_treatment_courses_worklist``)."""
    c = orm.TreatmentCourse.__table__
    return and_(c.c.site_id == site_id, c.c.next_due_date <= on,
                c.c.status != CourseStatus.DISCONTINUED.value)


class SqlWorklist(_Base):
    """The worklist's reads (see :class:`tarla.services.ports.WorklistReads`).

    Each course's cut-off is its stored ``last_dose_at``, joined in by primary key, so the
    doses and labs read are ranges on ``(course_id, started_at)`` and ``(patient_id,
    collected_at)``. A read-only unit of work is one snapshot (SQLite's read transaction,
    PostgreSQL's REPEATABLE READ), so the cut-offs are those of the courses just read.
    Rows are fetched whole (``.all()``: iterating a result fetches one row per call), and
    timestamps are read raw and tagged UTC through a memo (:class:`~tarla.adapters.orm.UtcMemo`):
    a lab panel's six rows, or a day's doses, share one value."""

    _C = orm.TreatmentCourse.__table__
    _CUT = case((_C.c.last_slot_index.is_(None), literal(_EPOCH, orm.UtcDateTime())),
                else_=_C.c.last_dose_at)

    def due(self, site_id: int, on: date,
            course_ids: Sequence[int] | None = None) -> list[DueCourse]:
        c, p = self._C, orm.Patient.__table__
        query = (
            select(c.c.id, c.c.patient_id, p.c.mrn, p.c.family_name, p.c.given_name,
                   p.c.birth_date, p.c.diagnosis, p.c.progressed_after_platinum,
                   p.c.off_label_reason, cast(c.c.policy, Text), c.c.next_due_date,
                   c.c.last_dose_at,
                   c.c.last_slot_index, c.c.last_restart_step, c.c.last_kind, c.c.last_dose_mg,
                   c.c.start_date, c.c.inputs_version)
            .join(p, p.c.id == c.c.patient_id)
            .where(due_at(site_id, on))
            .order_by(c.c.next_due_date, c.c.id))
        if course_ids is None:
            rows = self.s.execute(query).all()
        else:
            rows = [r for chunk in _chunks(sorted(set(course_ids)))
                    for r in self.s.execute(query.where(c.c.id.in_(chunk))).all()]
            rows.sort(key=lambda r: (r[10], r[0]))
        policies: dict[str, dict[str, Any]] = {}  # a site's courses share a few policies
        out = []
        for r in rows:
            policy = policies.get(r[9])
            if policy is None:
                policy = policies[r[9]] = json.loads(r[9])
            out.append(DueCourse(*r[:9], policy, *r[10:]))  # type: ignore[call-arg, misc]
        return out

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        # PostgreSQL plans the join to the cut-offs as a hash join over the whole table (it
        # cannot estimate the cut-off): a LATERAL subquery makes it one index range per
        # course, as SQLite's nested loop does by itself (SQLite has no LATERAL).
        self._lateral = session.get_bind().dialect.name == "postgresql"

    def _per_course(self, rows: Select[Any], key: Any, at: Any) -> Select[Any]:
        """``rows`` (correlated to the course table) for each course, with the course id
        first; ordered by course, then ``at``, then ``key``."""
        c = self._C
        if self._lateral:
            # OFFSET 0: keeps PostgreSQL from flattening the subquery back into a join.
            sub = rows.add_columns(key.label("_key"), at.label("_at")).offset(0).lateral("r")
            cols = [sub.c[n] for n in sub.c.keys() if n not in ("_key", "_at")]
            return (select(c.c.id, *cols).select_from(c.join(sub, true()))
                    .order_by(c.c.id, sub.c._at, sub.c._key))
        return rows.with_only_columns(c.c.id, *rows.selected_columns).order_by(c.c.id, at, key)

    def doses_after_last(self, course_ids: Sequence[int]) -> dict[int, list[core.Administration]]:
        out: dict[int, list[core.Administration]] = defaultdict(list)
        a, c, adm, utc = orm.Administration.__table__, self._C, core.Administration, UtcMemo()
        rows_ = select(_raw(a.c.started_at), a.c.dose_mg, _raw(a.c.ended_at)).where(
            a.c.course_id == c.c.id, a.c.started_at > self._CUT)
        query = self._per_course(rows_, a.c.id, a.c.started_at)
        for chunk in _chunks(course_ids):
            for cid, started, dose, ended in self.s.execute(query.where(c.c.id.in_(chunk))).all():
                out[cid].append(adm(utc(started), dose, utc.maybe(ended)))
        return out

    def events(self, course_ids: Sequence[int]) -> dict[int, list[core.AdverseEvent]]:
        out: dict[int, list[core.AdverseEvent]] = defaultdict(list)
        e, ae, utc = orm.AdverseEvent.__table__, core.AdverseEvent, UtcMemo()
        for chunk in _chunks(course_ids):
            rows = self.s.execute(
                select(e.c.course_id, e.c.type, e.c.grade, _raw(e.c.onset),
                       _raw(e.c.resolved_at))
                .where(e.c.course_id.in_(chunk)).order_by(e.c.course_id, e.c.onset, e.c.id)).all()
            for cid, type_, grade, onset, resolved in rows:
                out[cid].append(ae(EventType(type_), grade, utc(onset), utc.maybe(resolved)))
        return out

    def labs_from_last_dose(self, course_ids: Sequence[int]) -> dict[int, list[core.LabResult]]:
        out: dict[int, list[core.LabResult]] = defaultdict(list)
        x, c, lab, utc = orm.LabResult.__table__, self._C, core.LabResult, UtcMemo()
        rows_ = select(x.c.test, x.c.value, x.c.unit, _raw(x.c.collected_at), x.c.uln, x.c.lln,
                       x.c.baseline).where(x.c.patient_id == c.c.patient_id,
                                           x.c.collected_at >= self._CUT)
        query = self._per_course(rows_, x.c.id, x.c.collected_at)
        for chunk in _chunks(course_ids):
            rows = self.s.execute(query.where(c.c.id.in_(chunk))).all()
            for cid, test, value, unit, collected, uln, lln, baseline in rows:
                out[cid].append(lab(test, value, unit, utc(collected), uln, lln, baseline))
        return out


class SqlMonitoring(_Base):
    """Vital-signs sets and alerts (issue 11)."""

    def add_vitals(self, vitals: VitalSignsRecord) -> VitalSignsRecord:
        return _record(VitalSignsRecord, self._added(_row(orm.VitalSigns, vitals)))

    def vitals(self, course_id: int) -> list[VitalSignsRecord]:
        t = orm.VitalSigns
        rows = self.s.scalars(select(t).where(t.course_id == course_id)
                              .order_by(t.taken_at, t.id))
        return [_record(VitalSignsRecord, r) for r in rows]

    def latest_vitals(self, course_ids: Sequence[int]) -> dict[int, VitalSignsRecord]:
        if not course_ids:
            return {}
        t = orm.VitalSigns
        rows = self.s.scalars(select(t).where(t.course_id.in_(list(course_ids)))
                              .order_by(t.course_id, t.taken_at, t.id))
        return {r.course_id: _record(VitalSignsRecord, r) for r in rows}

    def add_alert(self, alert: AlertRecord) -> AlertRecord:
        return _record(AlertRecord, self._added(_row(orm.Alert, alert)))

    def alert(self, alert_id: int) -> AlertRecord | None:
        row = self.s.get(orm.Alert, alert_id)
        return None if row is None else _record(AlertRecord, row)

    def alerts(self, site_id: int, *, course_id: int | None = None,
               unacknowledged: bool = False) -> list[AlertRecord]:
        t = orm.Alert
        query = select(t).where(t.site_id == site_id)
        if course_id is not None:
            query = query.where(t.course_id == course_id)
        if unacknowledged:
            query = query.where(t.acknowledged_at.is_(None))
        rows = self.s.scalars(query.order_by(t.raised_at.desc(), t.id.desc()))
        return [_record(AlertRecord, r) for r in rows]

    def update_alert(self, alert: AlertRecord) -> AlertRecord:
        row = self.s.get(orm.Alert, alert.id)
        if row is None:
            raise Conflict("alert", f"alert {alert.id} no longer exists")
        for name in ("acknowledged_by", "acknowledged_at", "webhook_status",
                     "webhook_attempted_at", "webhook_error"):
            setattr(row, name, getattr(alert, name))
        self.s.flush()
        return _record(AlertRecord, row)

    def unacknowledged(self, site_id: int) -> int:
        t = orm.Alert
        return int(self.s.scalar(select(func.count()).select_from(t).where(
            t.site_id == site_id, t.acknowledged_at.is_(None))) or 0)

    def courses_dosed_since(self, site_id: int, since: datetime) -> list[int]:
        a, c = orm.Administration, orm.TreatmentCourse
        rows = self.s.scalars(select(a.course_id).join(c, c.id == a.course_id)
                              .where(c.site_id == site_id,
                                     or_(a.started_at >= since, a.ended_at.is_(None)))
                              .distinct().order_by(a.course_id))
        return list(rows)


class SqlOrderSets(_Base):
    def add(self, order_set: OrderSetRecord) -> OrderSetRecord:
        return _record(OrderSetRecord, self._added(_row(orm.OrderSet, order_set)))

    def get(self, order_set_id: int) -> OrderSetRecord | None:
        row = self.s.get(orm.OrderSet, order_set_id)
        return None if row is None else _record(OrderSetRecord, row)

    def for_site(self, site_id: int) -> list[OrderSetRecord]:
        t = orm.OrderSet
        rows = self.s.scalars(select(t).where(t.site_id == site_id)
                              .order_by(t.event, t.min_grade, t.max_grade, t.version))
        return [_record(OrderSetRecord, r) for r in rows]

    def update(self, order_set: OrderSetRecord) -> OrderSetRecord:
        row = self.s.get(orm.OrderSet, order_set.id)
        if row is None:
            raise Conflict("order_set", f"order set {order_set.id} no longer exists")
        for name in ("signed_by", "signed_at", "revoked_by", "revoked_at", "revoke_reason",
                     "active"):
            setattr(row, name, getattr(order_set, name))
        self.s.flush()
        return _record(OrderSetRecord, row)


class SqlCare(_Base):
    """Premedication, post-infusion fluids and discharges (issue 11)."""

    def add_medication(self, entry: MedicationEntryRecord) -> MedicationEntryRecord:
        return _record(MedicationEntryRecord,
                       self._added(_row(orm.MedicationAdministration, entry)))

    def medication(self, entry_id: int) -> MedicationEntryRecord | None:
        row = self.s.get(orm.MedicationAdministration, entry_id)
        return None if row is None else _record(MedicationEntryRecord, row)

    def medications(self, course_id: int) -> list[MedicationEntryRecord]:
        t = orm.MedicationAdministration
        rows = self.s.scalars(select(t).where(t.course_id == course_id).order_by(t.id))
        return [_record(MedicationEntryRecord, r) for r in rows]

    def end_medication(self, entry_id: int, ended_at: datetime) -> MedicationEntryRecord:
        row = self.s.get(orm.MedicationAdministration, entry_id)
        if row is None:
            raise Conflict("entry_id", f"medication entry {entry_id} no longer exists")
        row.ended_at = ended_at
        self.s.flush()
        return _record(MedicationEntryRecord, row)

    def add_discharge(self, discharge: DischargeRecord) -> DischargeRecord:
        return _record(DischargeRecord, self._added(_row(orm.Discharge, discharge)))

    def discharges(self, course_id: int) -> list[DischargeRecord]:
        t = orm.Discharge
        rows = self.s.scalars(select(t).where(t.course_id == course_id).order_by(t.id))
        return [_record(DischargeRecord, r) for r in rows]

    def for_courses(self, course_ids: Sequence[int],
                    ) -> dict[int, tuple[list[MedicationEntryRecord], list[DischargeRecord]]]:
        out: dict[int, tuple[list[MedicationEntryRecord], list[DischargeRecord]]] = {
            c: ([], []) for c in course_ids}
        m, d = orm.MedicationAdministration, orm.Discharge
        for chunk in _chunks(list(course_ids)):
            for r in self.s.scalars(select(m).where(m.course_id.in_(chunk)).order_by(m.id)):
                out[r.course_id][0].append(_record(MedicationEntryRecord, r))
            for r in self.s.scalars(select(d).where(d.course_id.in_(chunk)).order_by(d.id)):
                out[r.course_id][1].append(_record(DischargeRecord, r))
        return out


class SqlCharges(_Base):
    """A site's administration codes and the billers' reviews (issue 15)."""

    def codes(self, site_id: int) -> list[BillingCodeRecord]:
        t = orm.BillingCode
        rows = self.s.scalars(select(t).where(t.site_id == site_id).order_by(t.code))
        return [_record(BillingCodeRecord, r) for r in rows]

    def add_code(self, code: BillingCodeRecord) -> BillingCodeRecord:
        return _record(BillingCodeRecord, self._added(_row(orm.BillingCode, code)))

    def code(self, code_id: int) -> BillingCodeRecord | None:
        row = self.s.get(orm.BillingCode, code_id)
        return None if row is None else _record(BillingCodeRecord, row)

    def remove_code(self, code_id: int) -> None:
        row = self.s.get(orm.BillingCode, code_id)
        if row is not None:
            self.s.delete(row)
            self.s.flush()

    def reviews(self, site_id: int) -> dict[str, ChargeReviewRecord]:
        t = orm.ChargeReview
        rows = self.s.scalars(select(t).where(t.site_id == site_id))
        return {r.encounter_key: _record(ChargeReviewRecord, r) for r in rows}

    def add_review(self, review: ChargeReviewRecord) -> ChargeReviewRecord:
        return _record(ChargeReviewRecord, self._added(_row(orm.ChargeReview, review)))

    def update_review(self, review: ChargeReviewRecord) -> ChargeReviewRecord:
        return _record(ChargeReviewRecord,
                       self._versioned_update(orm.ChargeReview, review, "review"))

    def discarded_preparations(self, site_id: int) -> list[PreparationRecord]:
        t = orm.Preparation
        rows = self.s.scalars(select(t).where(t.site_id == site_id, t.status == "discarded")
                              .order_by(t.id))
        return [_record(PreparationRecord, r) for r in rows]
