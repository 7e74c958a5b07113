"""Read-only use cases: one patient's decision, a site's worklist for a day, and the records
the screens and the API show.

They write nothing (no audit entry: the audit log records changes, not reads). Each takes the
viewer's :class:`~tarla.services.scope.Scope`: another site's record is not found, exactly as
one that does not exist.

The worklist reads only the courses due on the day (``next_due_date`` is indexed and kept in
step by every write), then each table once for all of them, reading only what came after each
course's stored last dose, and asks the core for each patient's decision as of that day,
resuming from that dose (``CourseInput.prior``): the cost follows the number of courses due,
not the length of their histories. ``evaluate_patient`` (one patient's screen) derives the
whole history, and the integration tests hold the two to the same decisions.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from tarla.domain import course as core
from tarla.domain.errors import InvalidInput
from tarla.schemas.course import decision_to_json
from tarla.services._common import (
    aware,
    course_input,
    course_or_404,
    history_for,
    lab_cutoff,
    patient_or_404,
    policy_from,
    preparation_or_404,
    resume_point_of,
    rules_for,
    site_for,
    zone_of,
)
from tarla.services.errors import Conflict, NotFound
from tarla.services.label import SignedOff, SignedRule, signed_rules, version_for_new_course
from tarla.services.ports import UnitOfWork
from tarla.services.records import (
    AdministrationRecord,
    CourseRecord,
    DueCourse,
    LabRecord,
    PatientRecord,
    PreparationRecord,
)
from tarla.services.scope import Scope
from tarla.services.vocab import CourseStatus

__all__ = ["evaluate_patient", "WorklistItem", "Worklist", "worklist", "worklist_inputs",
           "patient_of", "labs_of", "course_of", "administrations_of", "preparation_of"]


def evaluate_patient(uow: UnitOfWork, *, now: datetime, viewer: Scope,
                     patient_id: int | None = None,
                     course_id: int | None = None) -> dict[str, Any]:
    """The contract's ``evaluate`` JSON for the patient's current (or the given) course."""
    now = aware(now, "now")
    with uow.readonly():
        if course_id is not None:
            course = course_or_404(uow, course_id, viewer)
        elif patient_id is not None:
            patient_or_404(uow, patient_id, viewer)
            courses = uow.courses.for_patient(patient_id)
            if not courses:
                raise NotFound("patient_id", f"patient {patient_id} has no treatment course")
            open_ = [c for c in courses if c.status != CourseStatus.DISCONTINUED]
            course = (open_ or courses)[-1]
        else:
            raise InvalidInput("patient_id", "name a patient or a course")
        site = uow.sites.get(course.site_id)
        assert site is not None
        zone = zone_of(site)
        h = history_for(uow, course)
        # the site's sign-offs of the version the course started on (presentation only)
        signed = signed_rules(uow, site_id=site.id, label_version=course.label_version,  # type: ignore[arg-type]
                              zone=zone)
    decision = core.evaluate(course_input(h, now, zone))
    out = decision_to_json(decision, zone, {r: (s.by, s.on) for r, s in signed.items()})
    out.update({"patient_id": h.patient.id, "course_id": course.id,
                "course_status": course.status, "timezone": site.timezone,
                "course_label_version": course.label_version})
    return out


@dataclass(frozen=True, slots=True)
class WorklistItem:
    course_id: int
    patient_id: int
    mrn: str
    name: str
    decision: str  # give | wait | hold | discontinue | error
    slot: str | None = None
    dose_mg: int | None = None
    due_date: date | None = None
    kind: str | None = None
    monitoring: str | None = None
    pending_checks: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()  # rule ids
    warnings: tuple[str, ...] = ()  # warning codes
    unverified: bool = False
    error: str | None = None
    unverified_rules: tuple[str, ...] = ()  # the UNVERIFIED rule ids the decision relies on
    signed_off: tuple[SignedOff, ...] = ()  # those of them the site has signed off
    label_version: str | None = None  # the version the course started on
    hold_reasons: tuple[str, ...] = ()  # what holds the dose, in words (decision HOLD)

    @property
    def unverified_unsigned(self) -> tuple[str, ...]:
        """The UNVERIFIED rules relied on that the site has not signed off."""
        signed = {s.rule for s in self.signed_off}
        return tuple(r for r in self.unverified_rules if r not in signed)

    def to_json(self) -> dict[str, Any]:
        return {"course_id": self.course_id, "patient_id": self.patient_id, "mrn": self.mrn,
                "name": self.name, "decision": self.decision, "slot": self.slot,
                "dose_mg": self.dose_mg,
                "due_date": None if self.due_date is None else self.due_date.isoformat(),
                "kind": self.kind, "monitoring": self.monitoring,
                "pending_checks": list(self.pending_checks), "reasons": list(self.reasons),
                "warnings": list(self.warnings), "unverified": self.unverified,
                "error": self.error, "unverified_rules": list(self.unverified_rules),
                "signed_off": [{"rule": s.rule, "by": s.by, "on": s.on.isoformat()}
                               for s in self.signed_off],
                "unverified_unsigned": list(self.unverified_unsigned),
                "label_version": self.label_version, "hold_reasons": list(self.hold_reasons)}

    @classmethod
    def from_json(cls, j: Mapping[str, Any]) -> WorklistItem:
        """The item :meth:`to_json` wrote."""
        due = j["due_date"]
        return cls(j["course_id"], j["patient_id"], j["mrn"], j["name"], j["decision"],
                   j["slot"], j["dose_mg"], None if due is None else date.fromisoformat(due),
                   j["kind"], j["monitoring"], tuple(j["pending_checks"]), tuple(j["reasons"]),
                   tuple(j["warnings"]), j["unverified"], j["error"],
                   tuple(j["unverified_rules"]),
                   tuple(SignedOff(s["rule"], s["by"], date.fromisoformat(s["on"]))
                         for s in j["signed_off"]), j["label_version"],
                   tuple(j["hold_reasons"]))


@dataclass(frozen=True)
class Worklist:
    """A site's worklist for a day, or one page of it. ``entries`` are the items, each either
    a :class:`WorklistItem` or, as read from the stored decisions, its JSON text (with the
    site's sign-offs): a page of 800 stored rows goes out as JSON (:meth:`to_json_bytes`)
    without an object per row, and :attr:`items` builds the objects only when a screen asks
    for them."""

    site: str
    timezone: str
    date: date
    as_of: datetime
    entries: tuple[WorklistItem | str, ...] = field(default_factory=tuple)
    new_course_label_version: str | None = None  # the site's, for courses started now
    #: The whole list's size and decisions (``items`` may be one page of it).
    total: int = 0
    counts: Mapping[str, int] = field(default_factory=dict)
    offset: int = 0
    limit: int | None = None
    #: "stored": read from the decisions kept current; "computed": worked out for this read.
    source: str = "computed"

    @cached_property
    def items(self) -> tuple[WorklistItem, ...]:
        return tuple(e if isinstance(e, WorklistItem) else WorklistItem.from_json(json.loads(e))
                     for e in self.entries)

    def _head(self) -> dict[str, Any]:
        return {"site": self.site, "timezone": self.timezone, "date": self.date.isoformat(),
                "as_of": self.as_of.astimezone(ZoneInfo(self.timezone)).isoformat(),
                "counts": {k: self.counts[k] for k in sorted(self.counts, key=_rank)},
                "total": self.total, "offset": self.offset, "limit": self.limit,
                "new_course_label_version": self.new_course_label_version}

    def to_json(self) -> dict[str, Any]:
        return {**self._head(),
                "items": [e.to_json() if isinstance(e, WorklistItem) else json.loads(e)
                          for e in self.entries]}

    def to_json_bytes(self, *, with_as_of: bool = True) -> bytes:
        """:meth:`to_json` as JSON text (UTF-8), the stored items spliced in as stored;
        ``with_as_of=False`` leaves out the instant it was read (what an ETag hashes)."""
        head = self._head()
        if not with_as_of:
            del head["as_of"]
        items = ",".join(e if isinstance(e, str) else json.dumps(e.to_json())
                         for e in self.entries)
        return (json.dumps(head)[:-1] + ', "items": [' + items + "]}").encode()


def _signed_json(text: str, signed: Mapping[str, SignedRule]) -> str:
    """A stored item's JSON with the site's sign-offs of the UNVERIFIED rules it relies on
    (:func:`_signed`)."""
    if not signed:
        return text
    item = WorklistItem.from_json(json.loads(text))
    found = _signed(item, signed)
    return text if found is item else json.dumps(found.to_json())


_ORDER = {"give": 0, "hold": 1, "error": 2, "wait": 3, "discontinue": 4}


def _as_of(on: date, now: datetime, zone: ZoneInfo) -> datetime:
    """Today: now. Another day: the end of that local day (what was on record by then)."""
    if now.astimezone(zone).date() == on:
        return now
    return datetime.combine(on, time(23, 59, 59), zone)


def _item(due: DueCourse, inp: core.CourseInput | InvalidInput,
          label_version: str | None = None) -> WorklistItem:
    base = {"course_id": due.course_id, "patient_id": due.patient_id, "mrn": due.mrn,
            "name": f"{due.family_name}, {due.given_name}", "label_version": label_version}
    try:
        if isinstance(inp, InvalidInput):
            raise inp
        d = core.evaluate(inp)
    except InvalidInput as exc:  # bad stored data must show, not vanish from the list
        return WorklistItem(**base, decision="error", error=f"{exc.field}: {exc.message}")  # type: ignore[arg-type]
    nd = d.next_dose
    mon = None
    if d.care is not None:
        m = d.care.monitoring
        mon = f"{m.kind} {m.hours_min:g}-{m.hours_max:g} h"
    return WorklistItem(
        **base, decision=str(d.action),  # type: ignore[arg-type]
        slot=None if nd is None else nd.slot.label, dose_mg=None if nd is None else nd.dose_mg,
        due_date=None if nd is None else nd.due_date, kind=None if nd is None else str(nd.kind),
        monitoring=mon, pending_checks=d.pending_checks,
        reasons=tuple(dict.fromkeys(r.rule for r in d.reasons)),
        warnings=tuple(w.code for w in d.warnings), unverified=d.unverified,
        unverified_rules=tuple(dict.fromkeys(r.rule for r in d.reasons if r.unverified)),
        hold_reasons=tuple(f"{r.text} ({r.rule})" for r in d.hold_reasons))


def _signed(item: WorklistItem, signed: Mapping[str, SignedRule]) -> WorklistItem:
    """The item with the site's sign-offs of the UNVERIFIED rules it relies on."""
    found = tuple(SignedOff(r, signed[r].by, signed[r].on) for r in item.unverified_rules
                  if r in signed)
    return dataclasses.replace(item, signed_off=found) if found else item


def _rank(decision: str) -> int:
    return _ORDER.get(decision, 9)


def worklist(uow: UnitOfWork, *, site_code: str, now: datetime, viewer: Scope,
             on: date | None = None, offset: int = 0, limit: int | None = None) -> Worklist:
    """Every course due (or overdue) at the site on ``on`` (default: today in the site's
    zone), each with the core's decision for that day; ``offset``/``limit`` page it.

    Today's list is read from the stored decisions (:mod:`tarla.services.decisions`): one
    snapshot with the counts, then the page, sorted and paged by the database. Rows that are
    missing or not current are computed first (once, however many ask at the same time).
    Another day's list is computed for the read."""
    now = aware(now, "now")
    if offset < 0 or (limit is not None and limit < 1):
        raise InvalidInput("offset" if offset < 0 else "limit",
                           "must be 0 or more" if offset < 0 else "must be 1 or more")
    for _attempt in range(3):
        with uow.readonly():
            site = site_for(uow, site_code, viewer)
            zone = zone_of(site)
            today = now.astimezone(zone).date()
            day = on or today
            if day != today:
                return _computed(uow, site, zone, day, now, offset, limit)
            page = uow.decisions.page(site.id, day, now, offset, limit)  # type: ignore[arg-type]
            if not page.stale:
                # each item relying on an UNVERIFIED rule with the site's sign-offs of its
                # course's label version (only those items are decoded for it)
                signed = {v: signed_rules(uow, site_id=site.id, label_version=v, zone=zone)  # type: ignore[arg-type]
                          for v in set(page.signable) if v is not None}
                new_courses = version_for_new_course(uow, site)
                entries: tuple[str, ...] = tuple(page.items)
                if any(signed.values()):
                    entries = tuple(t if v is None else _signed_json(t, signed[v])
                                    for t, v in zip(entries, page.signable, strict=True))
                return Worklist(site.code, site.timezone, day, now, entries, new_courses,
                                page.total, page.counts, offset, limit, "stored")
        from tarla.services.decisions import fill

        try:
            fill(uow, site, day, now)
        except Conflict:  # the database was busy: this read computes the list itself
            break
    # Rows went stale again as fast as they were computed (writes pouring in), or the database
    # was too busy to store them: this read computes the list itself.
    with uow.readonly():
        site = site_for(uow, site_code, viewer)
        zone = zone_of(site)
        return _computed(uow, site, zone, now.astimezone(zone).date(), now, offset, limit)


def _computed(uow: UnitOfWork, site: Any, zone: ZoneInfo, day: date, now: datetime,
              offset: int, limit: int | None) -> Worklist:
    """The worklist computed for this read (inside ``uow``), as of ``now`` on ``day``."""
    as_of = _as_of(day, now, zone)
    inputs = worklist_inputs(uow, site.id, zone, day, as_of)
    # each course's sign-offs: the site's, of the label version the course started on
    pins = uow.label.pinned_versions([due.course_id for due, _ in inputs])
    signed = {v: signed_rules(uow, site_id=site.id, label_version=v, zone=zone)
              for v in set(pins.values())}
    new_courses = version_for_new_course(uow, site)
    items = [_signed(_item(due, inp, pins.get(due.course_id)),
                     signed.get(pins.get(due.course_id, ""), {}))
             for due, inp in inputs]
    items.sort(key=lambda i: (_rank(i.decision), i.due_date or day, i.name, i.course_id))
    counts: dict[str, int] = {}
    for item in items:
        counts[item.decision] = counts.get(item.decision, 0) + 1
    shown = items[offset:] if limit is None else items[offset:offset + limit]
    return Worklist(site.code, site.timezone, day, as_of, tuple(shown), new_courses,
                    len(items), counts, offset, limit)


# --------------------------------------------------------------------------- records


def patient_of(uow: UnitOfWork, *, patient_id: int, viewer: Scope,
               ) -> tuple[PatientRecord, list[CourseRecord]]:
    """A patient and their courses (oldest first)."""
    with uow.readonly():
        return (patient_or_404(uow, patient_id, viewer), uow.courses.for_patient(patient_id))


def labs_of(uow: UnitOfWork, *, patient_id: int, viewer: Scope) -> list[LabRecord]:
    """Every lab of the patient on record, by collection time."""
    with uow.readonly():
        patient_or_404(uow, patient_id, viewer)
        return uow.labs.for_patient(patient_id)


def course_of(uow: UnitOfWork, *, course_id: int, viewer: Scope) -> CourseRecord:
    with uow.readonly():
        return course_or_404(uow, course_id, viewer)


def administrations_of(uow: UnitOfWork, *, course_id: int, viewer: Scope,
                       ) -> list[AdministrationRecord]:
    """The doses of a course, in slot order."""
    with uow.readonly():
        course_or_404(uow, course_id, viewer)
        return uow.administrations.for_course(course_id)


def preparation_of(uow: UnitOfWork, *, preparation_id: int, viewer: Scope) -> PreparationRecord:
    with uow.readonly():
        return preparation_or_404(uow, preparation_id, viewer)


# --------------------------------------------------------------------------- worklist inputs


Input = core.CourseInput | InvalidInput
_TICK = timedelta(microseconds=1)  # lab_cutoff's step back from the last dose's start


def worklist_inputs(uow: UnitOfWork, site_id: int, zone: ZoneInfo, day: date,
                    as_of: datetime, *, course_ids: Sequence[int] | None = None,
                    horizon: dict[int, datetime] | None = None,
                    ) -> list[tuple[DueCourse, Input]]:
    """The core's input for each course due at the site on ``day`` (inside ``uow``): every
    database read of the worklist, and nothing else.

    Each course resumes from its stored last dose (``prior``), so only what came after it is
    read: doses after it (normally none), labs from it on, and every adverse event (an old
    grade 4 still discontinues). A course without a stored last dose is read whole; so is one
    whose stored last dose is after ``as_of`` (a worklist for a past day), and a febrile
    neutropenia before the last dose reaches its labs back to its onset, as
    :func:`~tarla.services._common.history_for` does.

    ``course_ids``: only those of the due courses. ``horizon``, when given, receives for each
    course the earliest recorded time after ``as_of`` that the decision leaves out (a dose,
    an event's onset or resolution, a lab): until then the decision stands
    (:mod:`tarla.services.decisions`)."""
    # The same instant in UTC, the zone every timestamp read comes back in: comparisons
    # between datetimes of one tzinfo skip the per-comparison utcoffset() of the site zone
    # (here and in the core). The local date, and so every decision, is unchanged.
    as_of = as_of.astimezone(UTC)
    reads = uow.worklist
    due = reads.due(site_id, day) if course_ids is None else reads.due(site_id, day, course_ids)
    ids = [d.course_id for d in due]
    doses = reads.doses_after_last(ids)
    events = reads.events(ids)
    labs = reads.labs_from_last_dose(ids)
    rules = _rules_of_courses(uow, ids)
    if horizon is not None:
        _horizon(horizon, due, doses, events, labs, as_of)
    policies: dict[Any, core.Policy] = {}
    out: list[tuple[DueCourse, Input]] = []
    whole: list[DueCourse] = []  # read again with the whole history
    back: dict[int, datetime] = {}  # position -> lab cut-off before the stored last dose
    for d in due:
        cid = d.course_id
        evs = events.get(cid, ())
        own = rules[cid]
        try:
            if isinstance(own, InvalidInput):
                raise own
            prior = resume_point_of(d, zone, own)
        except InvalidInput as exc:
            out.append((d, exc))
            continue
        if prior is not None and prior.started_at > as_of:
            whole.append(d)
            continue
        given = [a for a in doses.get(cid, ()) if a.started_at <= as_of]
        last = given[-1].started_at if given else (prior.started_at if prior else None)
        since = lab_cutoff(last, evs)
        if since is not None and prior is not None and since < prior.started_at - _TICK:
            back[len(out)] = since  # febrile neutropenia: labs from before the stored dose
        seen = [x for x in labs.get(cid, ()) if x.collected_at <= as_of
                and (since is None or x.collected_at > since)]
        out.append((d, core.CourseInput(
            as_of=as_of, zone=zone, patient=_patient(d), administrations=tuple(given),
            adverse_events=tuple(e for e in evs if e.onset <= as_of), labs=tuple(seen),
            policy=_policy(d.policy, policies), prior=prior, start_date=d.start_date,
            rules=own)))
    if back:
        _reach_back(uow, out, back, as_of)
    if whole:
        out.extend(_read_whole(uow, whole, events, zone, as_of, policies, rules))
    return out


def _horizon(out: dict[int, datetime], due: Sequence[DueCourse],
             doses: Mapping[int, Sequence[core.Administration]],
             events: Mapping[int, Sequence[core.AdverseEvent]],
             labs: Mapping[int, Sequence[core.LabResult]], as_of: datetime) -> None:
    """Per course, the earliest time after ``as_of`` on record among what its decision read:
    a dose (the stored last one included), an event's onset or resolution, a lab drawn."""
    for d in due:
        cid = d.course_id
        times = [a.started_at for a in doses.get(cid, ())]
        times += [t for e in events.get(cid, ()) for t in (e.onset, e.resolved_at)
                  if t is not None]
        times += [x.collected_at for x in labs.get(cid, ())]
        if d.last_dose_at is not None and d.last_dose_at > as_of:
            # A stored last dose after as_of: the decision read the whole history, and labs
            # drawn before that dose were not read here. Never current: always recomputed.
            out[cid] = as_of
            continue
        later = [t for t in times if t > as_of]
        if later:
            out[cid] = min(later)


def _rules_of_courses(uow: UnitOfWork, course_ids: list[int],
                      ) -> dict[int, core.Rules | InvalidInput]:
    """Each course's rules: those of the label version it is pinned to (read once per
    version); a version that cannot be read is that course's error, not the worklist's."""
    pins = uow.label.pinned_versions(course_ids)
    by_version: dict[str, core.Rules | InvalidInput] = {}
    for version in set(pins.values()):
        try:
            by_version[version] = rules_for(uow, version)
        except InvalidInput as exc:
            by_version[version] = exc
    return {cid: by_version.get(pins.get(cid, core.BUILTIN_RULES.version), core.BUILTIN_RULES)
            for cid in course_ids}


def _patient(d: DueCourse) -> core.Patient:
    return core.Patient(d.birth_date, d.diagnosis, d.progressed_after_platinum,
                        off_label_reason=d.off_label_reason)


def _policy(policy: dict[str, Any], seen: dict[Any, core.Policy]) -> core.Policy:
    """Courses of a site share a handful of policies: build each once."""
    try:
        key: Any = tuple(sorted(policy.items()))
        hash(key)
    except TypeError:
        key = repr(sorted(policy.items()))
    found = seen.get(key)
    if found is None:
        found = seen[key] = policy_from(policy)
    return found


def _lab(x: LabRecord) -> core.LabResult:
    return core.LabResult(x.test, x.value, x.unit, x.collected_at, x.uln, x.lln, x.baseline)


def _reach_back(uow: UnitOfWork, out: list[tuple[DueCourse, Input]], back: dict[int, datetime],
                as_of: datetime) -> None:
    """Labs from before the stored last dose, for the (few) courses that need them."""
    since: dict[int, datetime] = {}
    for i, cut in back.items():
        pid = out[i][0].patient_id
        since[pid] = min(since.get(pid, cut), cut)
    got = uow.labs.for_patients(since)
    for i, cut in back.items():
        d, inp = out[i]
        assert isinstance(inp, core.CourseInput)
        labs = tuple(_lab(x) for x in got.get(d.patient_id, ())
                     if cut < x.collected_at <= as_of)
        out[i] = (d, dataclasses.replace(inp, labs=labs))


def _read_whole(uow: UnitOfWork, courses: list[DueCourse],
                events: dict[int, list[core.AdverseEvent]], zone: ZoneInfo, as_of: datetime,
                policies: dict[Any, core.Policy],
                rules: dict[int, core.Rules | InvalidInput]) -> list[tuple[DueCourse, Input]]:
    """The whole history of courses whose stored last dose is after ``as_of``."""
    admins = uow.administrations.for_courses([d.course_id for d in courses])
    given: dict[int, list[core.Administration]] = {}
    cuts: dict[int, datetime | None] = {}
    since: dict[int, datetime | None] = {}  # per patient: the earliest cut-off of its courses
    for d in courses:
        doses = given[d.course_id] = [
            core.Administration(a.started_at, a.dose_mg, a.ended_at)
            for a in admins.get(d.course_id, []) if a.started_at <= as_of]
        cut = cuts[d.course_id] = lab_cutoff(max((a.started_at for a in doses), default=None),
                                             events.get(d.course_id, ()))
        if d.patient_id not in since:
            since[d.patient_id] = cut
        elif cut is None or since[d.patient_id] is None:
            since[d.patient_id] = None
        else:
            since[d.patient_id] = min(since[d.patient_id], cut)  # type: ignore[type-var]
    labs = uow.labs.for_patients(since)
    out: list[tuple[DueCourse, Input]] = []
    for d in courses:
        doses, cut = given[d.course_id], cuts[d.course_id]
        own = rules[d.course_id]
        if isinstance(own, InvalidInput):
            out.append((d, own))
            continue
        out.append((d, core.CourseInput(
            as_of=as_of, zone=zone, patient=_patient(d), administrations=tuple(doses),
            adverse_events=tuple(e for e in events.get(d.course_id, ()) if e.onset <= as_of),
            labs=tuple(_lab(x) for x in labs.get(d.patient_id, ())
                       if x.collected_at <= as_of and (cut is None or x.collected_at > cut)),
            policy=_policy(d.policy, policies), start_date=d.start_date, rules=own)))
    return out
