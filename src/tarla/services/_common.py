"""Helpers every use case shares: actors and roles, timestamps, records -> core inputs, and
keeping a course's denormalised worklist fields in step with the core's decision."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tarla.domain import course as core
from tarla.domain import release
from tarla.domain.clock import ClockEvent, EventKind
from tarla.domain.errors import InvalidInput
from tarla.domain.timestamps import aware
from tarla.label.rules import rules_of
from tarla.label.toxicity import EventType
from tarla.services.errors import Forbidden, NotFound
from tarla.services.ports import UnitOfWork
from tarla.services.records import (
    AdministrationRecord,
    AdverseEventRecord,
    CourseHistory,
    CourseRecord,
    PatientRecord,
    PreparationRecord,
    SiteRecord,
    UserRecord,
)
from tarla.services.scope import Scope, scope_of
from tarla.services.vocab import CourseStatus, Role

__all__ = ["aware", "actor_with", "site_by_code", "site_for", "zone_of", "course_or_404",
           "patient_or_404", "preparation_or_404", "event_or_404", "course_input", "history_for",
           "refresh_course", "record_json", "resume_columns", "resume_point_of", "labs_since",
           "lab_cutoff", "policy_of", "policy_from", "core_patient", "decide", "releases_on",
           "bag_of", "not_after", "scope_of", "accepted_drug_scan_at", "rules_for"]


def not_after(moment: datetime, now: datetime, field: str) -> datetime:
    moment = aware(moment, field)
    if moment > now:
        raise InvalidInput(field, f"{moment.isoformat()} is in the future")
    return moment


def actor_with(uow: UnitOfWork, username: str, roles: Iterable[Role], doing: str) -> UserRecord:
    """The acting user, who must be active and hold one of ``roles``."""
    user = uow.users.by_username(username)
    if user is None:
        raise NotFound("actor", f"no user named {username!r}")
    wanted = {r.value for r in roles}
    if not user.active:
        raise Forbidden("actor", f"{username} is deactivated")
    if wanted and not wanted & set(user.roles):
        names = " or ".join(sorted(wanted))
        raise Forbidden("actor", f"{username} may not {doing} (needs the {names} role)")
    return user


def site_by_code(uow: UnitOfWork, code: str) -> SiteRecord:
    """Any site by its code: for the operator and for setting up (no one's scope applies)."""
    site = uow.sites.by_code(code)
    if site is None:
        raise NotFound("site", f"no site with code {code!r}")
    return site


def site_for(uow: UnitOfWork, code: str, scope: Scope) -> SiteRecord:
    """The site ``code`` names, if ``scope`` covers it; another site's code is answered as an
    unknown one (:mod:`tarla.services.scope`)."""
    site = uow.sites.by_code(code)
    if site is None or not scope.covers(site.id):
        raise NotFound("site", f"no site with code {code!r}")
    return site


def zone_of(site: SiteRecord) -> ZoneInfo:
    try:
        return ZoneInfo(site.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput("site.timezone", f"{site.timezone!r} is not a known IANA time zone"
                           ) from None


# The lookups by id: a record of a site outside ``scope`` is answered exactly as a record that
# does not exist (same error, same message), so its existence is never disclosed.


def course_or_404(uow: UnitOfWork, course_id: int, scope: Scope) -> CourseRecord:
    course = uow.courses.get(course_id)
    if course is None or not scope.covers(course.site_id):
        raise NotFound("course_id", f"no treatment course {course_id}")
    return course


def patient_or_404(uow: UnitOfWork, patient_id: int, scope: Scope) -> PatientRecord:
    patient = uow.patients.get(patient_id)
    if patient is None or not scope.covers(patient.site_id):
        raise NotFound("patient_id", f"no patient {patient_id}")
    return patient


def preparation_or_404(uow: UnitOfWork, preparation_id: int, scope: Scope) -> PreparationRecord:
    prep = uow.preparations.get(preparation_id)
    if prep is None or not scope.covers(prep.site_id):
        raise NotFound("preparation_id", f"no preparation {preparation_id}")
    return prep


def event_or_404(uow: UnitOfWork, event_id: int, scope: Scope,
                 ) -> tuple[AdverseEventRecord, CourseRecord]:
    """An adverse event and its course (whose site it belongs to)."""
    event = uow.events.get(event_id)
    course = uow.courses.get(event.course_id) if event is not None else None
    if event is None or course is None or not scope.covers(course.site_id):
        raise NotFound("event_id", f"no adverse event {event_id}")
    return event, course


def policy_of(course: CourseRecord) -> core.Policy:
    return policy_from(course.policy)


def policy_from(policy: dict[str, Any]) -> core.Policy:
    known = {f.name for f in dataclasses.fields(core.Policy)}
    return core.Policy(**{k: v for k, v in policy.items() if k in known})


def core_patient(p: PatientRecord) -> core.Patient:
    return core.Patient(p.birth_date, p.diagnosis, p.progressed_after_platinum,
                        off_label_reason=p.off_label_reason)


#: Rules of the registered label versions, by (version, content hash): a version's rows never
#: change once registered, so each is read and checked once per process. Services-level (the
#: core holds no such state); a dict item assignment is atomic, and two threads that both miss
#: build the same immutable value.
_RULES: dict[tuple[str, str], core.Rules] = {}


def rules_for(uow: UnitOfWork, version: str) -> core.Rules:
    """The rules of label ``version``, what a course pinned to it computes with: the built-in
    rows for the built-in version; another is read back from storage, its content hash
    checked (inside the caller's unit of work)."""
    if version == core.BUILTIN_RULES.version:
        return core.BUILTIN_RULES
    stored = uow.label.version(version)
    if stored is None or stored.content_hash is None:
        raise InvalidInput("label_version", f"label version {version!r} is not registered "
                                            "with its content")
    key = (version, stored.content_hash)
    found = _RULES.get(key)
    if found is None:
        from tarla.services.label import label_of  # that module imports this one

        found = _RULES[key] = rules_of(label_of(uow, version))
    return found


def course_input(h: CourseHistory, as_of: datetime, zone: ZoneInfo) -> core.CourseInput:
    """The core's input as of ``as_of``: what was on record by then (a record dated later,
    e.g. charted out of order, did not exist yet from that point of view), with the rules of
    the course's label version."""
    return core.CourseInput(
        as_of=as_of, zone=zone, patient=core_patient(h.patient),
        administrations=tuple(core.Administration(a.started_at, a.dose_mg, a.ended_at)
                              for a in h.administrations if a.started_at <= as_of),
        adverse_events=tuple(core.AdverseEvent(EventType(e.type), e.grade, e.onset,
                                               e.resolved_at)
                             for e in h.adverse_events if e.onset <= as_of),
        labs=tuple(core.LabResult(x.test, x.value, x.unit, x.collected_at, x.uln, x.lln,
                                  x.baseline) for x in h.labs if x.collected_at <= as_of),
        policy=policy_of(h.course), start_date=h.course.start_date,
        rules=core.BUILTIN_RULES if h.rules is None else h.rules)


def history_for(uow: UnitOfWork, course: CourseRecord,
                extra_admin: AdministrationRecord | None = None) -> CourseHistory:
    """The course's whole record as the core needs it. Labs: those after the previous dose
    (the only ones the core counts), or all when febrile neutropenia needs ANC since onset."""
    patient = patient_or_404(uow, course.patient_id, Scope(course.site_id))
    admins = uow.administrations.for_course(course.id)  # type: ignore[arg-type]
    if extra_admin is not None:
        admins = [*admins, extra_admin]
    events = uow.events.for_course(course.id)  # type: ignore[arg-type]
    labs = uow.labs.for_patient(patient.id, labs_since(admins, events))  # type: ignore[arg-type]
    return CourseHistory(course, patient, tuple(admins), tuple(events), tuple(labs),
                         rules_for(uow, course.label_version))


def labs_since(admins: list[AdministrationRecord] | tuple[AdministrationRecord, ...],
               events: Iterable[AdverseEventRecord]) -> datetime | None:
    """Earliest lab the core can still use: labs count from the last dose's start (toxicity.py
    reading); febrile neutropenia looks at ANC since its onset."""
    if not admins:
        return None
    return lab_cutoff(max(a.started_at for a in admins), events)


def lab_cutoff(last_dose_at: datetime | None, events: Iterable[Any]) -> datetime | None:
    """:func:`labs_since` from the last dose's start: the core reads labs collected strictly
    after the result (None: every lab). ``events`` are records or core events (``type`` and
    ``onset``)."""
    if last_dose_at is None:
        return None
    since = last_dose_at
    for e in events:
        if e.type == EventType.FEBRILE_NEUTROPENIA.value and e.onset < since:
            since = e.onset
    # The query reads strictly after ``since``; one microsecond back keeps a lab drawn at
    # that very instant (the febrile-neutropenia check counts ANC from onset inclusive).
    return since - timedelta(microseconds=1)


def status_for(decision: core.Decision) -> CourseStatus:
    if decision.action is core.DecisionAction.DISCONTINUE:
        return CourseStatus.DISCONTINUED
    if decision.action is core.DecisionAction.HOLD:
        return CourseStatus.HELD
    return CourseStatus.ACTIVE


def refresh_course(uow: UnitOfWork, course: CourseRecord, now: datetime, zone: ZoneInfo,
                   ) -> tuple[CourseRecord, core.Decision]:
    """Re-decide the course as of ``now`` and keep ``status``/``next_due_date`` (the worklist's
    index) and the stored last dose (:func:`resume_columns`, where the worklist resumes) in
    step. Every write that touches a course's history ends here, so this is the one place the
    resume columns are set. A discontinued course stays discontinued."""
    h = history_for(uow, course)
    decision = core.evaluate(course_input(h, now, zone))
    status = status_for(decision)
    if course.status == CourseStatus.DISCONTINUED:
        status = CourseStatus.DISCONTINUED
    due: date | None = None
    if status is not CourseStatus.DISCONTINUED and decision.next_dose is not None:
        due = decision.next_dose.due_date
    changed = dataclasses.replace(course, status=status.value, next_due_date=due,
                                  **resume_columns(decision.history))
    if changed != course:
        changed = uow.courses.update(dataclasses.replace(changed, updated_at=now))
    return changed, decision


def resume_columns(history: Sequence[core.GivenDose]) -> dict[str, Any]:
    """The course columns that store where its derivation stands: the last dose as the core
    derived it from the whole history (what :func:`resume_point_of` rebuilds), and the count."""
    if not history:
        return {"last_dose_at": None, "doses_given": 0, "last_slot_index": None,
                "last_restart_step": None, "last_kind": None, "last_dose_mg": None}
    last = history[-1]
    return {"last_dose_at": last.started_at, "doses_given": len(history),
            "last_slot_index": last.slot.index, "last_restart_step": last.restart_step,
            "last_kind": str(last.kind), "last_dose_mg": last.dose_mg}


def resume_point_of(course: Any, zone: ZoneInfo,
                    rules: core.Rules = core.BUILTIN_RULES) -> core.GivenDose | None:
    """The stored last dose as :attr:`core.CourseInput.prior`, or None when the course has
    none (no dose given, or not derived yet: read the whole history then). ``rules``: those
    of the course's label version."""
    if course.last_slot_index is None or course.last_dose_at is None:
        return None
    return core.resume_point(course.last_dose_at, course.last_dose_mg, course.last_slot_index,
                             course.last_kind, course.last_restart_step, zone, rules)


def decide(uow: UnitOfWork, course: CourseRecord, now: datetime, zone: ZoneInfo) -> core.Decision:
    """The engine's decision for the course as of ``now``, from what the open transaction
    reads (the gates judge this, never a decision handed in by a caller)."""
    return core.evaluate(course_input(history_for(uow, course), now, zone))


def releases_on(uow: UnitOfWork, course_id: int, day: date) -> tuple[release.Release, ...]:
    """The physician releases of the course for that site-local day."""
    return tuple(release.Release(r.slot, frozenset(r.covers_rules), frozenset(r.covers_labs),
                                 r.reason) for r in uow.releases.on(course_id, day))


def bag_of(uow: UnitOfWork, prep: PreparationRecord) -> release.Bag:
    """A preparation as the gates see it, re-read: its clock events and who compounded it."""
    events = uow.preparations.events(prep.id)  # type: ignore[arg-type]
    steps = uow.preparations.steps(prep.id)  # type: ignore[arg-type]
    compounders = {e.recorded_by for e in events
                   if e.event in ("reconstituted", "bag_prepared")}
    compounders |= {s.confirmed_by for s in steps}
    return release.Bag(prep.id, prep.course_id, prep.dose_mg, prep.slot, prep.status,  # type: ignore[arg-type]
                       prep.prepared_by, prep.checked_by,
                       tuple(ClockEvent(EventKind(e.event), e.at) for e in events),
                       prep.created_at, frozenset(compounders))


def accepted_drug_scan_at(scans: Iterable[Any]) -> datetime | None:
    """When the latest scan of the drug vial was made, if it was accepted (a refused rescan
    undoes an earlier accept); None otherwise."""
    drug = [s for s in scans if s.component == "drug"]
    return drug[-1].scanned_at if drug and drug[-1].verdict == "accept" else None


def record_json(record: Any, *drop: str) -> dict[str, Any]:
    """A record as an audit ``before``/``after`` value (no password hashes and the like)."""
    from tarla.services.audit import jsonable

    data = jsonable(record)
    for key in drop:
        data.pop(key, None)
    return data  # type: ignore[no-any-return]
