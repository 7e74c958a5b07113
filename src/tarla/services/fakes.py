"""An in-memory unit of work with real behaviour, for unit tests of the use cases.

It keeps the promises of the SQL one: a transaction sees its own writes and nothing is kept
without ``commit``; unique keys (dose slot per course, idempotency key, MRN per site) raise
``AlreadyRecorded``; updates check the optimistic version and raise ``Conflict``; the preparer
may not be the checker (``Forbidden``); audit ids are gap-free and the head moves with them.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import Any, Self, TypeVar

from tarla.domain import course as core
from tarla.label.toxicity import EventType
from tarla.services.audit import GENESIS_HASH
from tarla.services.errors import AlreadyRecorded, Conflict, Forbidden, NotFound
from tarla.services.fakes_capacity import FakeCapacity
from tarla.services.fakes_labs_in import FakeLabsIn
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

__all__ = ["FakeUnitOfWork", "FakeStore"]

R = TypeVar("R")


class _Table:
    def __init__(self, uniques: Sequence[tuple[tuple[str, ...], str, str]] = ()) -> None:
        self.rows: dict[int, Any] = {}
        self.next_id = 1
        self.uniques = uniques  # (columns, field, message)

    def add(self, record: R) -> R:
        for cols, field, message in self.uniques:
            key = tuple(getattr(record, c) for c in cols)
            if None in key:
                continue
            if any(tuple(getattr(r, c) for c in cols) == key for r in self.rows.values()):
                raise AlreadyRecorded(field, message)
        record = dataclasses.replace(record, id=self.next_id)  # type: ignore[type-var]
        self.rows[self.next_id] = record
        self.next_id += 1
        return record

    def update(self, record: R, what: str) -> R:
        current = self.rows.get(record.id)  # type: ignore[attr-defined]
        if current is None:
            raise Conflict(what, f"{what} {record.id} no longer exists")  # type: ignore[attr-defined]
        if current.version != record.version:  # type: ignore[attr-defined]
            raise Conflict(what, f"{what} {record.id} was changed by someone else (version "  # type: ignore[attr-defined]
                                 f"{current.version}, you had {record.version}); reload and "  # type: ignore[attr-defined]
                                 "retry")
        new = dataclasses.replace(record, version=record.version + 1)  # type: ignore[type-var, attr-defined]
        self.rows[new.id] = new  # type: ignore[attr-defined]
        return new

    def where(self, **match: Any) -> list[Any]:
        return [r for r in self.rows.values()
                if all(getattr(r, k) == v for k, v in match.items())]


class FakeStore:
    """The committed state, shared by every FakeUnitOfWork made from it."""

    def __init__(self) -> None:
        self.tables: dict[str, _Table] = {
            "sites": _Table([(("code",), "site", "a site with this code exists")]),
            "users": _Table([(("username",), "username", "a user with this name exists")]),
            "patients": _Table([(("site_id", "mrn"), "mrn",
                                 "a patient with this MRN is already enrolled at the site")]),
            "courses": _Table(),
            "administrations": _Table([
                (("course_id", "slot_seq"), "slot",
                 "this dose slot is already recorded as given for the course"),
                (("idempotency_key",), "idempotency_key",
                 "an administration with this key is on record")]),
            "assessments": _Table(), "events": _Table(), "labs": _Table(),
            "preparations": _Table(), "prep_events": _Table(),
            "scans": _Table(), "steps": _Table([(("preparation_id", "step"), "step",
                                                 "this step is already confirmed for the "
                                                 "preparation")]),
            "releases": _Table(),
            "vials": _Table([(("gtin", "lot", "serial"), "vial",
                              "this vial is already in stock")]),
            "excursions": _Table(), "signoffs": _Table(),
            "vital_signs": _Table(), "alerts": _Table(),
            "medication_administrations": _Table(),
            "discharges": _Table([(("administration_id",), "administration",
                                   "this dose's discharge is already on record")]),
            "billing_codes": _Table([(("site_id", "code"), "code",
                                      "the site already has this code")]),
            "charge_reviews": _Table([(("site_id", "encounter_key"), "encounter",
                                       "this encounter was reviewed meanwhile; reload")]),
            "order_sets": _Table([(("site_id", "event", "min_grade", "max_grade", "version"),
                                   "order_set", "this order set was edited meanwhile; reload "
                                   "and retry")]),
        }
        # label versions by id, their rows, and each site's version for new courses
        self.labels: dict[str, tuple[LabelVersionRecord, tuple[LabelRuleRecord, ...]]] = {}
        self.site_labels: dict[tuple[int, str], SiteLabelRecord] = {}
        self.audit: list[AuditRecord] = []
        self.audit_head: tuple[int, str] = (0, GENESIS_HASH)
        self.commits = 0


class _Repo:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self.u = uow

    def t(self, name: str) -> _Table:
        return self.u.state.tables[name]


class _Sites(_Repo):
    def add(self, site: SiteRecord) -> SiteRecord:
        return self.t("sites").add(site)

    def get(self, site_id: int) -> SiteRecord | None:
        return self.t("sites").rows.get(site_id)  # type: ignore[no-any-return]

    def by_code(self, code: str) -> SiteRecord | None:
        found = self.t("sites").where(code=code)
        return found[0] if found else None

    def list(self) -> list[SiteRecord]:
        return list(self.t("sites").rows.values())


class _Users(_Repo):
    def add(self, user: UserRecord) -> UserRecord:
        return self.t("users").add(user)

    def get(self, user_id: int) -> UserRecord | None:
        return self.t("users").rows.get(user_id)  # type: ignore[no-any-return]

    def by_username(self, username: str) -> UserRecord | None:
        found = self.t("users").where(username=username)
        return found[0] if found else None


class _Patients(_Repo):
    def add(self, patient: PatientRecord) -> PatientRecord:
        return self.t("patients").add(dataclasses.replace(patient, version=1))

    def get(self, patient_id: int) -> PatientRecord | None:
        return self.t("patients").rows.get(patient_id)  # type: ignore[no-any-return]

    def by_mrn(self, site_id: int, mrn: str) -> PatientRecord | None:
        found = self.t("patients").where(site_id=site_id, mrn=mrn)
        return found[0] if found else None

    def update(self, patient: PatientRecord) -> PatientRecord:
        return self.t("patients").update(patient, "patient")

    def many(self, patient_ids: Any) -> dict[int, PatientRecord]:
        rows = self.t("patients").rows
        return {i: rows[i] for i in patient_ids if i in rows}


class _Courses(_Repo):
    def add(self, course: CourseRecord) -> CourseRecord:
        self._exists("patients", course.patient_id)
        return self.t("courses").add(dataclasses.replace(course, version=1))

    def _exists(self, table: str, key: int) -> None:
        if key not in self.t(table).rows:
            raise NotFound("reference", "a record it refers to does not exist")

    def get(self, course_id: int) -> CourseRecord | None:
        return self.t("courses").rows.get(course_id)  # type: ignore[no-any-return]

    def for_patient(self, patient_id: int) -> list[CourseRecord]:
        return sorted(self.t("courses").where(patient_id=patient_id), key=lambda c: c.id)

    def update(self, course: CourseRecord) -> CourseRecord:
        return self.t("courses").update(course, "course")

    def due(self, site_id: int, on: date) -> list[CourseRecord]:
        rows = [c for c in self.t("courses").rows.values()
                if c.site_id == site_id and c.next_due_date is not None
                and c.next_due_date <= on and c.status != CourseStatus.DISCONTINUED]
        return sorted(rows, key=lambda c: (c.next_due_date, c.id))


class _Administrations(_Repo):
    def add(self, administration: AdministrationRecord) -> AdministrationRecord:
        if administration.course_id not in self.t("courses").rows:
            raise NotFound("reference", "a record it refers to does not exist")
        return self.t("administrations").add(administration)

    def for_course(self, course_id: int) -> list[AdministrationRecord]:
        return sorted(self.t("administrations").where(course_id=course_id),
                      key=lambda a: a.slot_seq)

    def set_ended(self, administration_id: int, ended_at: datetime) -> AdministrationRecord:
        table = self.t("administrations")
        current = table.rows.get(administration_id)
        if current is None:
            raise Conflict("administration", f"administration {administration_id} no longer "
                                             "exists")
        table.rows[administration_id] = dataclasses.replace(current, ended_at=ended_at)
        return table.rows[administration_id]  # type: ignore[no-any-return]

    def by_key(self, idempotency_key: str) -> AdministrationRecord | None:
        found = self.t("administrations").where(idempotency_key=idempotency_key)
        return found[0] if found else None

    def for_courses(self, course_ids: Sequence[int]) -> dict[int, list[AdministrationRecord]]:
        return {c: self.for_course(c) for c in course_ids}

    def started_at_site(self, site_id: int, since: datetime) -> list[AdministrationRecord]:
        courses = self.t("courses").rows
        return sorted((a for a in self.t("administrations").rows.values()
                       if courses[a.course_id].site_id == site_id and a.started_at >= since),
                      key=lambda a: (a.started_at, a.id))


class _Events(_Repo):
    def add_assessment(self, assessment: AssessmentRecord) -> AssessmentRecord:
        return self.t("assessments").add(assessment)

    def assessments(self, course_id: int, kind: str) -> list[AssessmentRecord]:
        return sorted(self.t("assessments").where(course_id=course_id, kind=kind),
                      key=lambda a: (a.assessed_at, a.id))

    def add(self, event: AdverseEventRecord) -> AdverseEventRecord:
        return self.t("events").add(dataclasses.replace(event, version=1))

    def get(self, event_id: int) -> AdverseEventRecord | None:
        return self.t("events").rows.get(event_id)  # type: ignore[no-any-return]

    def update(self, event: AdverseEventRecord) -> AdverseEventRecord:
        return self.t("events").update(event, "adverse event")

    def for_course(self, course_id: int) -> list[AdverseEventRecord]:
        return sorted(self.t("events").where(course_id=course_id),
                      key=lambda e: (e.onset, e.id))

    def for_courses(self, course_ids: Sequence[int]) -> dict[int, list[AdverseEventRecord]]:
        return {c: self.for_course(c) for c in course_ids}

    def ongoing_at_site(self, site_id: int, types: Sequence[str], now: datetime,
                        ) -> list[AdverseEventRecord]:
        courses = self.t("courses").rows
        return sorted((e for e in self.t("events").rows.values()
                       if courses[e.course_id].site_id == site_id and e.type in types
                       and e.onset <= now and (e.resolved_at is None or e.resolved_at > now)),
                      key=lambda e: (e.onset, e.id))


class _Labs(_Repo):
    def add(self, lab: LabRecord) -> LabRecord:
        return self.t("labs").add(lab)

    def for_patient(self, patient_id: int, since: datetime | None = None) -> list[LabRecord]:
        rows = [x for x in self.t("labs").where(patient_id=patient_id)
                if since is None or x.collected_at > since]
        return sorted(rows, key=lambda x: (x.collected_at, x.id))

    def for_patients(self, since: Mapping[int, datetime | None]) -> dict[int, list[LabRecord]]:
        return {p: self.for_patient(p, s) for p, s in since.items()}


class _Preparations(_Repo):
    def add(self, preparation: PreparationRecord) -> PreparationRecord:
        self._four_eyes(preparation)
        self._one_open(preparation)
        return self.t("preparations").add(dataclasses.replace(preparation, version=1))

    @staticmethod
    def _four_eyes(p: PreparationRecord) -> None:
        if p.checked_by is not None and p.checked_by == p.prepared_by:
            raise Forbidden("checked_by", "the second check must be done by someone other than "
                                          "the preparer")

    def get(self, preparation_id: int) -> PreparationRecord | None:
        return self.t("preparations").rows.get(preparation_id)  # type: ignore[no-any-return]

    def update(self, preparation: PreparationRecord) -> PreparationRecord:
        self._four_eyes(preparation)
        self._one_open(preparation)
        return self.t("preparations").update(preparation, "preparation")

    def add_event(self, event: PreparationEventRecord) -> PreparationEventRecord:
        return self.t("prep_events").add(event)

    def events(self, preparation_id: int) -> list[PreparationEventRecord]:
        return sorted(self.t("prep_events").where(preparation_id=preparation_id),
                      key=lambda e: (e.at, e.id))

    def add_scan(self, scan: ScanRecord) -> ScanRecord:
        if scan.verdict == "accept" and scan.component == "drug" and scan.serial is not None \
                and any(s.verdict == "accept" and s.component == "drug"
                        for s in self.scans_of_serial(scan.gtin, scan.serial)):
            raise AlreadyRecorded("scan", "this kit serial was already used for another "
                                          "preparation")
        return self.t("scans").add(scan)

    def scans(self, preparation_id: int) -> list[ScanRecord]:
        return sorted(self.t("scans").where(preparation_id=preparation_id),
                      key=lambda s: (s.scanned_at, s.id))

    def scans_of_serial(self, gtin: str, serial: str) -> list[ScanRecord]:
        return sorted(self.t("scans").where(gtin=gtin, serial=serial),
                      key=lambda s: (s.scanned_at, s.id))

    def for_course(self, course_id: int) -> list[PreparationRecord]:
        return sorted(self.t("preparations").where(course_id=course_id), key=lambda p: p.id)

    def add_step(self, step: PreparationStepRecord) -> PreparationStepRecord:
        return self.t("steps").add(step)

    def steps(self, preparation_id: int) -> list[PreparationStepRecord]:
        return sorted(self.t("steps").where(preparation_id=preparation_id),
                      key=lambda s: (s.confirmed_at, s.id))

    def _one_open(self, p: PreparationRecord) -> None:
        if p.slot is None or p.status in ("discarded", "administered"):
            return
        if any(o.id != p.id and o.slot == p.slot and o.status not in ("discarded", "administered")
               for o in self.for_course(p.course_id)):
            raise AlreadyRecorded("course_id", "a preparation of this dose is already open")


class _Inventory(_Repo):
    def add_vial(self, vial: VialRecord) -> VialRecord:
        return self.t("vials").add(vial)

    def add_excursion(self, excursion: ExcursionRecord) -> ExcursionRecord:
        return self.t("excursions").add(excursion)

    def vials(self, site_id: int) -> list[VialRecord]:
        return self.t("vials").where(site_id=site_id)

    def vial(self, vial_id: int) -> VialRecord | None:
        return self.t("vials").rows.get(vial_id)  # type: ignore[no-any-return]

    def by_serial(self, site_id: int, gtin: str, serial: str) -> list[VialRecord]:
        return self.t("vials").where(site_id=site_id, gtin=gtin, serial=serial)

    def excursions(self, vial_ids: Sequence[int]) -> list[ExcursionRecord]:
        wanted = set(vial_ids)
        return sorted((e for e in self.t("excursions").rows.values() if e.vial_id in wanted),
                      key=lambda e: (e.started_at, e.id))


class _Releases(_Repo):
    def add(self, release: DoseReleaseRecord) -> DoseReleaseRecord:
        return self.t("releases").add(release)

    def on(self, course_id: int, for_date: date) -> list[DoseReleaseRecord]:
        return sorted(self.t("releases").where(course_id=course_id, for_date=for_date),
                      key=lambda r: -r.id)


class _Label(_Repo):
    def has_version(self, label_version: str) -> bool:
        return label_version in self.u.state.labels

    def version(self, label_version: str) -> LabelVersionRecord | None:
        found = self.u.state.labels.get(label_version)
        return None if found is None else found[0]

    def versions(self) -> list[LabelVersionRecord]:
        return [v for v, _ in self.u.state.labels.values()]

    def add_version(self, version: LabelVersionRecord, rules: Sequence[LabelRuleRecord]) -> None:
        if version.id in self.u.state.labels:
            raise AlreadyRecorded("label_version", "this label version is registered")
        if version.base_version is not None and version.base_version not in self.u.state.labels:
            raise NotFound("reference", "a record it refers to does not exist")
        if len({r.rule_id for r in rules}) != len(rules):
            raise AlreadyRecorded("rule_id", "a rule id is listed twice")
        self.u.state.labels = {**self.u.state.labels, version.id: (version, tuple(rules))}

    def complete_version(self, version: LabelVersionRecord,
                         rules: Sequence[LabelRuleRecord]) -> None:
        stored, rows = self.u.state.labels[version.id]
        by_id = {r.rule_id: r for r in rules}
        done = tuple(dataclasses.replace(r, label_table=by_id[r.rule_id].label_table,
                                         fields_json=by_id[r.rule_id].fields_json)
                     for r in rows)
        self.u.state.labels = {**self.u.state.labels, version.id: (
            dataclasses.replace(stored, drug=version.drug, content_hash=version.content_hash),
            done)}

    def rules(self, label_version: str) -> list[LabelRuleRecord]:
        found = self.u.state.labels.get(label_version)
        return [] if found is None else sorted(found[1], key=lambda r: r.rule_id)

    def rule_ids(self, label_version: str) -> set[str]:
        return {r.rule_id for r in self.rules(label_version)}

    def add_signoff(self, signoff: SignoffRecord) -> SignoffRecord:
        if len(set(signoff.rule_ids)) != len(signoff.rule_ids):
            raise AlreadyRecorded("rule_ids", "a rule id is listed twice")
        if not set(signoff.rule_ids) <= self.rule_ids(signoff.label_version):
            raise NotFound("reference", "a record it refers to does not exist")
        return self.t("signoffs").add(signoff)

    def signoff(self, signoff_id: int) -> SignoffRecord | None:
        return self.t("signoffs").rows.get(signoff_id)  # type: ignore[no-any-return]

    def revoke_signoff(self, signoff: SignoffRecord) -> SignoffRecord:
        table = self.t("signoffs")
        current = table.rows.get(signoff.id)  # type: ignore[arg-type]
        if current is None or current.revoked_at is not None:
            raise Conflict("signoff_id", f"sign-off {signoff.id} was revoked meanwhile")
        table.rows[signoff.id] = dataclasses.replace(  # type: ignore[index]
            current, revoked_at=signoff.revoked_at, revoked_by=signoff.revoked_by,
            revoke_reason=signoff.revoke_reason)
        return table.rows[signoff.id]  # type: ignore[no-any-return, index]

    def signoffs(self, site_id: int, label_version: str) -> list[SignoffRecord]:
        return sorted(self.t("signoffs").where(site_id=site_id, label_version=label_version),
                      key=lambda s: s.id)

    def site_version(self, site_id: int, drug: str) -> SiteLabelRecord | None:
        return self.u.state.site_labels.get((site_id, drug))

    def set_site_version(self, setting: SiteLabelRecord) -> None:
        if setting.label_version not in self.u.state.labels:
            raise NotFound("reference", "a record it refers to does not exist")
        self.u.state.site_labels = {**self.u.state.site_labels,
                                    (setting.site_id, setting.drug): setting}

    def pinned_courses(self, site_id: int) -> dict[str, int]:
        out: dict[str, int] = {}
        for c in self.t("courses").where(site_id=site_id):
            out[c.label_version] = out.get(c.label_version, 0) + 1
        return out

    def pinned_versions(self, course_ids: Sequence[int]) -> dict[int, str]:
        rows = self.t("courses").rows
        return {i: rows[i].label_version for i in course_ids if i in rows}


class _Audit(_Repo):
    def head(self) -> tuple[int, str]:
        return self.u.state.audit_head

    def append(self, entry: AuditRecord) -> None:
        last_id, _ = self.u.state.audit_head
        if entry.id != last_id + 1:
            raise Conflict("audit", "the audit chain moved on during this transaction; try again")
        self.u.state.audit.append(entry)
        self.u.state.audit_head = (entry.id, entry.hash)

    def entries(self) -> Iterator[AuditRecord]:
        return iter(sorted(self.u.state.audit, key=lambda e: e.id))

    def count(self) -> int:
        return len(self.u.state.audit)

    # the fake keeps no SQL rows to anchor: entries commit to an empty row list
    def written_rows(self) -> list[dict[str, Any]]:
        return []

    def current_rows(self) -> Iterator[tuple[str, int, dict[str, Any]]]:
        return iter(())

    def baseline(self) -> dict[str, int]:
        return {}

    def access_entries(self, *, site_ids: Sequence[int] | None,
                       patient_ids: Sequence[int] | None, actor: str | None,
                       start: datetime | None, end: datetime | None,
                       limit: int) -> list[AuditRecord]:
        found = [e for e in self.u.state.audit
                 if e.action.startswith(("access.", "auth."))
                 and (site_ids is None or e.site_id in site_ids)
                 and (patient_ids is None or e.patient_id in patient_ids)
                 and (actor is None or e.actor.lower() == actor.lower())
                 and (start is None or e.at >= start) and (end is None or e.at < end)]
        return sorted(found, key=lambda e: -e.id)[:limit]


class _Worklist(_Repo):
    """The worklist's reads, computed from the same tables (same cut-offs as the SQL ones)."""

    def _cut(self, course_id: int) -> datetime | None:
        c = self.t("courses").rows[course_id]
        return None if c.last_slot_index is None else c.last_dose_at  # type: ignore[no-any-return]

    def due(self, site_id: int, on: date,
            course_ids: Sequence[int] | None = None) -> list[DueCourse]:
        from tarla.services.fakes_decisions import fingerprint

        patients = self.t("patients").rows
        out = []
        for c in _Courses(self.u).due(site_id, on):
            if course_ids is not None and c.id not in course_ids:
                continue
            p = patients[c.patient_id]
            out.append(DueCourse(
                c.id, p.id, p.mrn, p.family_name, p.given_name, p.birth_date, p.diagnosis,  # type: ignore[arg-type]
                p.progressed_after_platinum, p.off_label_reason, c.policy, c.next_due_date,
                c.last_dose_at, c.last_slot_index, c.last_restart_step, c.last_kind,
                c.last_dose_mg, c.start_date, fingerprint(self.u, c)))
        return out

    def doses_after_last(self, course_ids: Sequence[int]) -> dict[int, list[core.Administration]]:
        out = {}
        for cid in course_ids:
            cut = self._cut(cid)
            rows = sorted((a for a in self.t("administrations").where(course_id=cid)
                           if cut is None or a.started_at > cut), key=lambda a: a.started_at)
            out[cid] = [core.Administration(a.started_at, a.dose_mg, a.ended_at) for a in rows]
        return out

    def events(self, course_ids: Sequence[int]) -> dict[int, list[core.AdverseEvent]]:
        return {cid: [core.AdverseEvent(EventType(e.type), e.grade, e.onset, e.resolved_at)
                      for e in _Events(self.u).for_course(cid)] for cid in course_ids}

    def labs_from_last_dose(self, course_ids: Sequence[int]) -> dict[int, list[core.LabResult]]:
        out = {}
        for cid in course_ids:
            cut = self._cut(cid)
            rows = sorted((x for x in self.t("labs").where(
                patient_id=self.t("courses").rows[cid].patient_id)
                if cut is None or x.collected_at >= cut), key=lambda x: (x.collected_at, x.id))
            out[cid] = [core.LabResult(x.test, x.value, x.unit, x.collected_at, x.uln, x.lln,
                                       x.baseline) for x in rows]
        return out


class _Monitoring(_Repo):
    def add_vitals(self, vitals: VitalSignsRecord) -> VitalSignsRecord:
        return self.t("vital_signs").add(vitals)

    def vitals(self, course_id: int) -> list[VitalSignsRecord]:
        return sorted(self.t("vital_signs").where(course_id=course_id),
                      key=lambda v: (v.taken_at, v.id))

    def latest_vitals(self, course_ids: Sequence[int]) -> dict[int, VitalSignsRecord]:
        return {c: found[-1] for c in course_ids if (found := self.vitals(c))}

    def add_alert(self, alert: AlertRecord) -> AlertRecord:
        return self.t("alerts").add(alert)

    def alert(self, alert_id: int) -> AlertRecord | None:
        return self.t("alerts").rows.get(alert_id)  # type: ignore[no-any-return]

    def alerts(self, site_id: int, *, course_id: int | None = None,
               unacknowledged: bool = False) -> list[AlertRecord]:
        found = [a for a in self.t("alerts").where(site_id=site_id)
                 if (course_id is None or a.course_id == course_id)
                 and not (unacknowledged and a.acknowledged_at is not None)]
        return sorted(found, key=lambda a: (a.raised_at, a.id), reverse=True)

    def update_alert(self, alert: AlertRecord) -> AlertRecord:
        if alert.id not in self.t("alerts").rows:
            raise Conflict("alert", f"alert {alert.id} no longer exists")
        self.t("alerts").rows[alert.id] = alert
        return alert

    def unacknowledged(self, site_id: int) -> int:
        return len(self.alerts(site_id, unacknowledged=True))

    def courses_dosed_since(self, site_id: int, since: datetime) -> list[int]:
        courses = self.t("courses").rows
        return sorted({a.course_id for a in self.t("administrations").rows.values()
                       if courses[a.course_id].site_id == site_id
                       and (a.started_at >= since or a.ended_at is None)})


class _OrderSets(_Repo):
    def add(self, order_set: OrderSetRecord) -> OrderSetRecord:
        return self.t("order_sets").add(order_set)

    def get(self, order_set_id: int) -> OrderSetRecord | None:
        return self.t("order_sets").rows.get(order_set_id)  # type: ignore[no-any-return]

    def for_site(self, site_id: int) -> list[OrderSetRecord]:
        return sorted(self.t("order_sets").where(site_id=site_id),
                      key=lambda o: (o.event, o.min_grade, o.max_grade, o.version))

    def update(self, order_set: OrderSetRecord) -> OrderSetRecord:
        table = self.t("order_sets")
        if order_set.id not in table.rows:
            raise Conflict("order_set", f"order set {order_set.id} no longer exists")
        if order_set.active and any(
                o.active and o.id != order_set.id and (o.site_id, o.event, o.min_grade,
                                                        o.max_grade)
                == (order_set.site_id, order_set.event, order_set.min_grade, order_set.max_grade)
                for o in table.rows.values()):
            raise Conflict("order_set", "another version of this order set took effect "
                                        "meanwhile; reload")
        table.rows[order_set.id] = order_set
        return order_set


class _Care(_Repo):
    def add_medication(self, entry: MedicationEntryRecord) -> MedicationEntryRecord:
        if entry.course_id not in self.t("courses").rows:
            raise NotFound("reference", "a record it refers to does not exist")
        return self.t("medication_administrations").add(entry)

    def medication(self, entry_id: int) -> MedicationEntryRecord | None:
        return self.t("medication_administrations").rows.get(entry_id)  # type: ignore[no-any-return]

    def medications(self, course_id: int) -> list[MedicationEntryRecord]:
        return sorted(self.t("medication_administrations").where(course_id=course_id),
                      key=lambda e: e.id)

    def end_medication(self, entry_id: int, ended_at: datetime) -> MedicationEntryRecord:
        table = self.t("medication_administrations")
        current = table.rows.get(entry_id)
        if current is None:
            raise Conflict("entry_id", f"medication entry {entry_id} no longer exists")
        table.rows[entry_id] = dataclasses.replace(current, ended_at=ended_at)
        return table.rows[entry_id]  # type: ignore[no-any-return]

    def add_discharge(self, discharge: DischargeRecord) -> DischargeRecord:
        return self.t("discharges").add(discharge)

    def discharges(self, course_id: int) -> list[DischargeRecord]:
        return sorted(self.t("discharges").where(course_id=course_id), key=lambda d: d.id)

    def for_courses(self, course_ids: Sequence[int],
                    ) -> dict[int, tuple[list[MedicationEntryRecord], list[DischargeRecord]]]:
        return {c: (self.medications(c), self.discharges(c)) for c in course_ids}


class _Charges(_Repo):
    def codes(self, site_id: int) -> list[BillingCodeRecord]:
        return sorted(self.t("billing_codes").where(site_id=site_id), key=lambda c: c.code)

    def add_code(self, code: BillingCodeRecord) -> BillingCodeRecord:
        return self.t("billing_codes").add(code)

    def code(self, code_id: int) -> BillingCodeRecord | None:
        return self.t("billing_codes").rows.get(code_id)  # type: ignore[no-any-return]

    def remove_code(self, code_id: int) -> None:
        self.t("billing_codes").rows.pop(code_id, None)

    def reviews(self, site_id: int) -> dict[str, ChargeReviewRecord]:
        return {r.encounter_key: r for r in self.t("charge_reviews").where(site_id=site_id)}

    def add_review(self, review: ChargeReviewRecord) -> ChargeReviewRecord:
        return self.t("charge_reviews").add(review)

    def update_review(self, review: ChargeReviewRecord) -> ChargeReviewRecord:
        return self.t("charge_reviews").update(review, "review")

    def discarded_preparations(self, site_id: int) -> list[PreparationRecord]:
        return sorted(self.t("preparations").where(site_id=site_id, status="discarded"),
                      key=lambda p: p.id)


class FakeUnitOfWork:
    def __init__(self, store: FakeStore | None = None) -> None:
        self.store = store or FakeStore()
        self.state = self.store
        self.committed = False
        self._depth = 0
        self.sites = _Sites(self)
        self.users = _Users(self)
        self.patients = _Patients(self)
        self.courses = _Courses(self)
        self.administrations = _Administrations(self)
        self.events = _Events(self)
        self.labs = _Labs(self)
        self.preparations = _Preparations(self)
        self.inventory = _Inventory(self)
        self.releases = _Releases(self)
        self.label = _Label(self)
        self.audit = _Audit(self)
        self.worklist = _Worklist(self)
        self.monitoring = _Monitoring(self)
        self.order_sets = _OrderSets(self)
        self.care = _Care(self)
        self.charges = _Charges(self)
        self.capacity = FakeCapacity(self)
        self.labs_in = FakeLabsIn(self)
        from tarla.services.fakes_interfaces import FakeInterfaceTokens  # issue 16

        self.interface_tokens = FakeInterfaceTokens(self)
        from tarla.services.signatures import FakeSignatures  # issue 13: e-signatures

        self.signatures = FakeSignatures(self)
        from tarla.services.fakes_decisions import FakeDecisions, FakeLocks  # issue 14

        self.decisions = FakeDecisions(self)
        self.locks = FakeLocks()

    def readonly(self) -> Self:
        return self

    def __enter__(self) -> Self:
        # Work on a private copy (records are frozen: copying the containers is enough).
        self.state = copy.copy(self.store)
        self.state.tables = {}
        for name, table in self.store.tables.items():
            clone = _Table(table.uniques)
            clone.rows = dict(table.rows)
            clone.next_id = table.next_id
            self.state.tables[name] = clone
        self.state.labels = dict(self.store.labels)
        self.state.site_labels = dict(self.store.site_labels)
        self.state.audit = list(self.store.audit)
        self.committed = False
        return self

    def __exit__(self, *exc: object) -> None:
        self.state = self.store

    def commit(self) -> None:
        s = self.state
        self.store.tables, self.store.labels = s.tables, s.labels
        self.store.site_labels = s.site_labels
        self.store.audit, self.store.audit_head = s.audit, s.audit_head
        self.store.commits += 1
        self.committed = True

    def rollback(self) -> None:
        self.__enter__()
