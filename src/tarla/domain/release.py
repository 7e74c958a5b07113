"""The gates of the closed loop: may this dose be prepared, this bag be scanned into a
preparation, advanced on its clock, checked, hung and charted?

Every gate is a pure function of facts the service re-reads inside the transaction that
writes: the course engine's :class:`~tarla.domain.course.Decision`, the physician releases on
record for the day, the bag as stored (its dose, frozen slot, who prepared and checked it, its
clock events), the raw bedside scans. None takes a judgement from the caller. Each returns a
:class:`Gate`: ``allowed``, every refusal (rule id, field, words a nurse or pharmacist
understands) and the rule ids that produced the verdict (the gate's own ``GATE-*`` rules and
the label rows they apply).

Readings chosen here (documented, not label text):
- a release covers a HOLD when every hold rule present now is among the rules it names, and
  the missing labs likewise: a new hold reason (or a newly missing lab) needs a new release;
- "never before the next dose is due": the infusion's start, as a site-local date, is not
  before the engine's due date (the 7/14-day intervals of label-facts §3 and Table 4);
- a bag is hung only when its clock, with the infusion start added at that moment, shows no
  violation and is not expired (label-facts §4: the infusion must start no later than the
  discard time minus the 1-hour infusion, ``latest_infusion_start``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from types import MappingProxyType

from tarla.domain.clock import ClockEvent, ClockReport, ClockStatus, EventKind, evaluate_clock
from tarla.domain.course import Decision, DecisionAction, local_date
from tarla.domain.excursion import ExcursionReport, ExcursionStatus
from tarla.domain.identification import ID_BAG, ID_WRISTBAND, IdentityCheck, check_identity
from tarla.label import preparation as prep_rows
from tarla.label import toxicity as tox
from tarla.label.schedule import INFUSION

__all__ = ["Refusal", "Gate", "Release", "Bag", "ScanException", "GATE_RULES", "hold_rules",
           "release_gate", "may_start_preparation", "may_administer", "may_advance",
           "may_administer_elsewhere", "may_print",
           "may_check", "may_accept_kit", "may_resolve_event", "next_status",
           "OPEN_STATUSES", "MIN_REASON_LENGTH"]

#: The gates' own rules (system rules of this project, each applying label rows named in
#: the refusal's text). Ids are stable: tests, audit entries and screens quote them.
GATE_RULES: MappingProxyType[str, str] = MappingProxyType({
    "GATE-DISCONTINUED": "A permanently discontinued course gets no further dose.",
    "GATE-HOLD": "A held dose is prepared or given only under a physician's release that "
                 "names every hold rule present now.",
    "GATE-NOT-DUE": "A dose is never prepared or given before the engine's due date.",
    "GATE-LABS-MISSING": "A dose whose required labs are missing is prepared or given only "
                         "after the labs are recorded or a physician releases it.",
    "GATE-DOSE": "The dose given is the engine's next dose (strength and slot).",
    "GATE-BAG-REQUIRED": "Every dose is given from a prepared bag.",
    "GATE-BAG-PATIENT": "The bag belongs to this patient's course.",
    "GATE-BAG-DOSE": "The bag was prepared for this dose (strength and slot).",
    "GATE-BAG-CHECKED": "The bag was checked by a second pharmacist.",
    "GATE-BAG-STATE": "Only a checked bag out of the refrigerator, not yet hung, is hung.",
    "GATE-BAG-CLOCK": "The bag's in-use clock allows the infusion to start now.",
    "GATE-ID-WRISTBAND": "The wristband scanned is this patient's.",
    "GATE-ID-BAG": "The bag label scanned is the bag prepared for this dose.",
    "GATE-ID-EXCEPTION": "Charting without the bedside scans needs a documented reason and a "
                         "second nurse's confirmation.",
    "GATE-PREP-EVENT": "Clock events follow the preparation's order.",
    "GATE-PREP-TIME": "Clock events are not dated before the preparation existed or before "
                      "its accepted drug scan.",
    "GATE-PREP-SCAN": "Reconstitution needs an accepted scan of the drug vial.",
    "GATE-PREP-STEPS": "Each bench step of the recipe is confirmed before the clock moves on.",
    "GATE-PREP-CLOCK": "An expired or violating bag is neither refrigerated, checked nor hung.",
    "GATE-PREP-HANG": "A bag is hung only by charting the dose at the bedside.",
    "GATE-CHECK-FOUR-EYES": "The independent check is by a pharmacist who neither started "
                            "nor compounded the bag.",
    "GATE-CHECK-ONCE": "A bag is checked once; no later event clears the check.",
    "GATE-CHECK-STATE": "Only a prepared bag is checked.",
    "GATE-KIT-ONCE": "A kit serial fills one bag.",
    "GATE-KIT-EXCURSION": "A kit whose room-temperature time adds up past its limit, or that "
                          "was frozen, is not used.",
    "GATE-RESOLVE": "Ending an event that holds a dose is a physician's act.",
    "GATE-PRINT": "A worksheet is printed once the vial is reconstituted; a bag label only for "
                  "a prepared bag whose in-use clock is usable.",
})

#: A release or exception reason shorter than this is not a documented reason.
MIN_REASON_LENGTH = 10
#: Statuses of a preparation that is still open (one per dose).
OPEN_STATUSES = frozenset({"ordered", "in_preparation", "prepared", "checked", "stored",
                           "in_use"})
_HOLD_RULE_IDS = frozenset(
    [r.rule_id for r in tox.TOXICITY_RULES] + [r.rule_id for r in tox.LAB_THRESHOLDS]
    + [r.rule_id for r in tox.HEPATIC_LAB_RULES] + [tox.HYS_LAW.rule_id])


@dataclass(frozen=True, slots=True)
class Refusal:
    rule: str
    field: str
    text: str


@dataclass(frozen=True, slots=True)
class Gate:
    refusals: tuple[Refusal, ...]
    rules: tuple[str, ...]

    @property
    def allowed(self) -> bool:
        return not self.refusals

    @property
    def message(self) -> str:
        return "; ".join(f"{r.text} [{r.rule}]" for r in self.refusals)


@dataclass(frozen=True, slots=True)
class Release:
    """A physician's release of one dose on one site-local day."""

    slot: str
    covers_rules: frozenset[str]
    covers_labs: frozenset[str]
    reason: str


@dataclass(frozen=True, slots=True)
class Bag:
    """A preparation as stored: what the bedside and the bench judge."""

    preparation_id: int
    course_id: int
    dose_mg: int
    slot: str | None
    status: str
    prepared_by: int
    checked_by: int | None
    events: tuple[ClockEvent, ...]
    created_at: datetime
    compounded_by: frozenset[int] = frozenset()  # who recorded bench steps or bench events


@dataclass(frozen=True, slots=True)
class ScanException:
    """Charting without the bedside scans: the reason, and whether the named witness is an
    active nurse other than the one charting (the service looks the witness up)."""

    reason: str
    witness_is_other_nurse: bool


class _Gate:
    def __init__(self) -> None:
        self.refusals: list[Refusal] = []
        self.rules: list[str] = []

    def use(self, *rules: str) -> None:
        self.rules.extend(r for r in rules if r not in self.rules)

    def refuse(self, rule: str, field: str, text: str, *applies: str) -> None:
        self.refusals.append(Refusal(rule, field, text))
        self.use(rule, *applies)

    def done(self) -> Gate:
        return Gate(tuple(self.refusals), tuple(self.rules))


def hold_rules(decision: Decision) -> frozenset[str]:
    """The rule ids holding the dose now (empty unless the decision is HOLD)."""
    if decision.action is not DecisionAction.HOLD:
        return frozenset()
    return frozenset(c.rule for c in decision.reasons if c.rule in _HOLD_RULE_IDS)


def _release_into(g: _Gate, decision: Decision, releases: Sequence[Release], doing: str) -> None:
    g.use(*(c.rule for c in decision.reasons))
    if decision.action is DecisionAction.DISCONTINUE or decision.next_dose is None:
        g.refuse("GATE-DISCONTINUED", "decision", f"the course is permanently discontinued: "
                 f"no dose may be {doing}")
        return
    nd = decision.next_dose
    slot = nd.slot.label
    mine = [r for r in releases if r.slot == slot]
    if decision.action is DecisionAction.HOLD:
        held = hold_rules(decision)
        if not any(held <= r.covers_rules for r in mine):
            names = ", ".join(sorted(held)) or "toxicity"
            known = set().union(*(r.covers_rules for r in mine)) if mine else set()
            new = sorted(held - known)
            text = (f"the dose is on HOLD ({names}): it may not be {doing} unless a physician "
                    "releases it with a reason for today")
            if mine:
                text += f"; today's release does not cover {', '.join(new)} (a new hold reason "
                text += "needs a new release)"
            g.refuse("GATE-HOLD", "decision", text, *sorted(held))
    elif decision.action is DecisionAction.WAIT:
        g.refuse("GATE-NOT-DUE", "decision", f"{slot} is not due until "
                 f"{nd.due_date.isoformat()}: it may not be {doing} before then")
    missing = frozenset(decision.pending_checks)
    if missing and not any(missing <= r.covers_labs for r in mine):
        g.refuse("GATE-LABS-MISSING", "labs", f"labs required before {slot} are missing "
                 f"({', '.join(sorted(missing))}): record them, or a physician releases the "
                 f"dose with a reason, before it is {doing}")


def release_gate(decision: Decision, releases: Sequence[Release], doing: str) -> Gate:
    """May the engine's next dose be ``doing`` (prepared, recorded as given) today?"""
    g = _Gate()
    _release_into(g, decision, releases, doing)
    return g.done()


def may_start_preparation(decision: Decision, releases: Sequence[Release]) -> Gate:
    """A preparation starts only for a due dose that may be given (labs on file or released)."""
    return release_gate(decision, releases, "prepared")


def _clock_refusals(g: _Gate, report: ClockReport, rule: str, field: str, doing: str,
                    zone: tzinfo) -> None:
    if report.status is ClockStatus.VIOLATION:
        why = "; ".join(v.text for v in report.violations)
        g.refuse(rule, field, f"the bag's in-use clock is in violation ({why}): it may not be "
                 f"{doing}", *(v.citation.rule for v in report.violations))
    elif report.status is ClockStatus.EXPIRED:
        g.refuse(rule, field, "the bag is past its discard time "
                 f"({report.discard_at.astimezone(zone):%Y-%m-%d %H:%M}): it may not be "
                 f"{doing}", *(c.rule for c in report.reasons))


def may_administer(*, decision: Decision, releases: Sequence[Release], course_id: int,
                   dose_mg: int | None, started_at: datetime, now: datetime, zone: tzinfo,
                   bag: Bag | None, patient_scan: str | None, bag_scan: str | None,
                   mrn: str, patient_name: str,
                   exception: ScanException | None) -> Gate:
    """May this dose be charted as given, from this bag, at ``started_at``?"""
    g = _Gate()
    _release_into(g, decision, releases, "recorded as given")
    nd = decision.next_dose
    if nd is not None:
        g.use("GATE-DOSE", nd.slot.rule.rule_id)
        if dose_mg is not None and dose_mg != nd.dose_mg:
            g.refuse("GATE-DOSE", "dose_mg", f"{dose_mg} mg is not the dose due: the engine's "
                     f"next dose is {nd.slot.label} {nd.dose_mg} mg")
        day = local_date(started_at, zone)
        if day < nd.due_date and decision.action is not DecisionAction.WAIT:
            g.refuse("GATE-NOT-DUE", "started_at", f"{nd.slot.label} is due on "
                     f"{nd.due_date.isoformat()}: a dose started {day.isoformat()} would come "
                     "inside the interval after the previous dose")
    _identity_into(g, bag, patient_scan, bag_scan, mrn, patient_name, exception)
    if bag is None:
        if (bag_scan or "").strip():
            g.refuse("GATE-BAG-REQUIRED", "bag_scan", f"{bag_scan.strip()!r} is not the label "  # type: ignore[union-attr]
                     "of a bag prepared here: STOP, do not hang it")
        else:
            g.refuse("GATE-BAG-REQUIRED", "bag_scan", "no bag: scan the bag's label (every "
                     "dose is given from a prepared, checked bag)")
        return g.done()
    _bag_into(g, bag, course_id, nd.slot.label if nd else None, nd.dose_mg if nd else None,
              started_at, zone)
    return g.done()


def may_administer_elsewhere(*, decision: Decision, dose_mg: int, started_at: datetime,
                             zone: tzinfo) -> Gate:
    """A dose given at another centre, judged as of its start: the engine's next dose, due,
    not held, not after a discontinuation (no bag or scan of ours is involved)."""
    g = _Gate()
    g.use(*(c.rule for c in decision.reasons))
    nd = decision.next_dose
    if decision.action is DecisionAction.DISCONTINUE or nd is None:
        g.refuse("GATE-DISCONTINUED", "started_at", "the course was permanently discontinued "
                 "by then")
        return g.done()
    g.use("GATE-DOSE", "GATE-NOT-DUE", "GATE-HOLD")
    if decision.action is DecisionAction.HOLD:
        g.refuse("GATE-HOLD", "started_at", "the dose was on HOLD then ("
                 + ", ".join(sorted(hold_rules(decision))) + ")")
    if dose_mg != nd.dose_mg:
        g.refuse("GATE-DOSE", "dose_mg", f"{dose_mg} mg is not the dose that was due: the "
                 f"engine's next dose was {nd.slot.label} {nd.dose_mg} mg")
    if local_date(started_at, zone) < nd.due_date:
        g.refuse("GATE-NOT-DUE", "started_at", f"{nd.slot.label} was not due until "
                 f"{nd.due_date.isoformat()}")
    return g.done()


def _identity_into(g: _Gate, bag: Bag | None, patient_scan: str | None, bag_scan: str | None,
                   mrn: str, patient_name: str, exception: ScanException | None) -> None:
    scans = (patient_scan or "").strip(), (bag_scan or "").strip()
    if all(scans):
        check = check_identity(patient_scan=scans[0], bag_scan=scans[1], mrn=mrn,
                               preparation_id=bag.preparation_id if bag else 0,
                               patient_name=patient_name)
        _identity_refusals(g, check, keep_bag=bag is not None)
        return
    g.use("GATE-ID-EXCEPTION")
    if exception is None:
        missing = " and ".join(n for n, s in zip(("the wristband", "the bag label"), scans,
                                                 strict=True) if not s)
        g.refuse("GATE-ID-EXCEPTION", "patient_scan" if not scans[0] else "bag_scan",
                 f"scan {missing} (charting without the scans needs a documented reason and "
                 "a second nurse's confirmation)")
        return
    if len(exception.reason.strip()) < MIN_REASON_LENGTH:
        g.refuse("GATE-ID-EXCEPTION", "scan_exception.reason", "write why the scans cannot "
                 f"be done ({MIN_REASON_LENGTH} characters or more)")
    if not exception.witness_is_other_nurse:
        g.refuse("GATE-ID-EXCEPTION", "scan_exception.witness", "a second nurse (not the one "
                 "charting) must confirm the exception")
    if scans[0]:  # the wristband that was scanned must still be this patient's
        check = check_identity(patient_scan=scans[0], bag_scan=scans[1], mrn=mrn,
                               preparation_id=bag.preparation_id if bag else 0,
                               patient_name=patient_name)
        _identity_refusals(g, check, keep_bag=False)


def _identity_refusals(g: _Gate, check: IdentityCheck, keep_bag: bool) -> None:
    g.use(ID_WRISTBAND, *((ID_BAG,) if keep_bag else ()), *check.rules)
    for field, text in check.refusals:
        if field == "bag_scan" and not keep_bag:
            continue
        g.refuse(ID_WRISTBAND if field == "patient_scan" else ID_BAG, field, text)


def _bag_into(g: _Gate, bag: Bag, course_id: int, slot: str | None, dose_mg: int | None,
              started_at: datetime, zone: tzinfo) -> None:
    g.use("GATE-BAG-PATIENT", "GATE-BAG-DOSE", "GATE-BAG-CHECKED", "GATE-BAG-STATE",
          "GATE-BAG-CLOCK")
    name = f"bag PREP-{bag.preparation_id}"
    if bag.course_id != course_id:
        g.refuse("GATE-BAG-PATIENT", "bag_scan", f"{name} was prepared for another patient's "
                 "course: STOP, do not hang it")
        return
    if dose_mg is not None and (bag.dose_mg != dose_mg or (bag.slot or slot) != slot):
        g.refuse("GATE-BAG-DOSE", "bag_scan", f"{name} holds {bag.dose_mg} mg for "
                 f"{bag.slot or 'another dose'}; the dose due is {slot} {dose_mg} mg")
    if bag.checked_by is None or bag.checked_by == bag.prepared_by:
        g.refuse("GATE-BAG-CHECKED", "bag_scan", f"{name} has not been checked by a second "
                 "pharmacist")
    if bag.status == "stored":
        g.refuse("GATE-BAG-STATE", "bag_scan", f"{name} is in the refrigerator: record it taken "
                 "out (it must reach room temperature) before hanging it")
    elif bag.status != "checked":
        g.refuse("GATE-BAG-STATE", "bag_scan", f"{name} is {bag.status.replace('_', ' ')}: "
                 "it cannot be hung")
    if not any(e.kind is EventKind.RECONSTITUTED for e in bag.events):
        return
    if any(e.at > started_at for e in bag.events):
        g.refuse("GATE-PREP-TIME", "started_at", "the infusion cannot start before the bag's "
                 "last clock event")
        return
    # Judged at the start: a start no later than latest_infusion_start ends the infusion by
    # the discard time, so charting it later (end of shift) changes nothing.
    hung = evaluate_clock((*bag.events, ClockEvent(EventKind.INFUSION_STARTED, started_at)),
                          started_at, zone)
    before = evaluate_clock(bag.events, started_at, zone)
    if before.status is not ClockStatus.OK or hung.status is ClockStatus.VIOLATION:
        _clock_refusals(g, hung if hung.status is ClockStatus.VIOLATION else before,
                        "GATE-BAG-CLOCK", "bag_scan", "hung", zone)
    elif started_at > before.latest_infusion_start:
        g.refuse("GATE-BAG-CLOCK", "bag_scan", f"the infusion ({INFUSION.minutes} min) would "
                 "end after the bag's discard time "
                 f"({before.discard_at.astimezone(zone):%Y-%m-%d %H:%M}): the last safe start "
                 f"was {before.latest_infusion_start.astimezone(zone):%Y-%m-%d %H:%M}, so it "
                 "may not be hung", prep_rows.LATEST_INFUSION_START.rule_id,
                 prep_rows.INFUSION_WITHIN_ROOM_TIME.rule_id)


# --------------------------------------------------------------------------- the bench

#: event -> (statuses it may follow, the status it leads to); removed_from_refrigerator goes
#: back to "checked" only when the bag was checked (a later event never clears a check).
_TRANSITIONS: MappingProxyType[str, tuple[frozenset[str], str]] = MappingProxyType({
    "reconstituted": (frozenset({"ordered"}), "in_preparation"),
    "bag_prepared": (frozenset({"in_preparation"}), "prepared"),
    "refrigerated": (frozenset({"prepared", "checked"}), "stored"),
    "removed_from_refrigerator": (frozenset({"stored"}), "prepared"),
    "infusion_started": (frozenset({"checked"}), "in_use"),
    "infusion_completed": (frozenset({"in_use"}), "administered"),
    "discarded": (OPEN_STATUSES, "discarded"),
})


def next_status(status: str, event: str, checked: bool) -> str | None:
    """The status ``event`` leads to from ``status``; None when it may not follow it."""
    allowed_from, to = _TRANSITIONS[event]
    if status not in allowed_from:
        return None
    if event == "removed_from_refrigerator" and checked:
        return "checked"
    return to


def may_advance(*, bag: Bag, event: str, at: datetime, now: datetime, zone: tzinfo,
                drug_scan_accepted_at: datetime | None, missing_steps: Collection[str],
                via_administration: bool = False) -> Gate:
    """May ``event`` be put on the bag's clock at ``at``?"""
    g = _Gate()
    g.use("GATE-PREP-EVENT", "GATE-PREP-TIME")
    if event == "infusion_started" and not via_administration:
        g.refuse("GATE-PREP-HANG", "event", "a bag is hung by charting the dose at the bedside "
                 "(scan the wristband and the bag): that records the infusion start")
        return g.done()
    if next_status(bag.status, event, bag.checked_by is not None) is None:
        extra = (" (a second pharmacist must check the bag first)"
                 if event == "infusion_started" and bag.checked_by is None else "")
        g.refuse("GATE-PREP-EVENT", "event", f"{event} cannot follow status {bag.status}"
                 + extra)
        return g.done()
    if at < bag.created_at:
        g.refuse("GATE-PREP-TIME", "at", f"{at.astimezone(zone):%Y-%m-%d %H:%M} is before the "
                 "preparation was started")
    if bag.events and at < bag.events[-1].at:
        g.refuse("GATE-PREP-TIME", "at", f"is before the previous event ({bag.events[-1].kind})")
    if event == "reconstituted":
        g.use("GATE-PREP-SCAN", "GATE-PREP-STEPS")
        if drug_scan_accepted_at is None:
            g.refuse("GATE-PREP-SCAN", "scan", "scan the drug vial first: it must be accepted "
                     f"for the ordered {bag.dose_mg} mg dose before reconstitution")
        elif at < drug_scan_accepted_at:
            g.refuse("GATE-PREP-TIME", "at", "reconstitution cannot be dated before the "
                     "accepted drug-vial scan")
    if event in ("reconstituted", "bag_prepared") and missing_steps:
        g.refuse("GATE-PREP-STEPS", "step", f"confirm the bench steps first: "
                 f"{', '.join(missing_steps)}")
    if event in ("bag_prepared", "refrigerated", "removed_from_refrigerator") \
            and not g.refusals:
        g.use("GATE-PREP-CLOCK")
        report = evaluate_clock((*bag.events, ClockEvent(EventKind(event), at)),
                                max(now, at), zone)
        _clock_refusals(g, report, "GATE-PREP-CLOCK", "event",
                        event.replace("_", " "), zone)
    return g.done()


def may_check(*, bag: Bag, checker_id: int, now: datetime, zone: tzinfo) -> Gate:
    """The independent check: another pharmacist, once, of a prepared bag whose clock is
    usable now."""
    g = _Gate()
    g.use("GATE-CHECK-FOUR-EYES", "GATE-CHECK-ONCE", "GATE-CHECK-STATE", "GATE-PREP-CLOCK")
    if checker_id == bag.prepared_by or checker_id in bag.compounded_by:
        g.refuse("GATE-CHECK-FOUR-EYES", "checked_by", "the independent check must be done by "
                 "a pharmacist who neither started nor compounded this bag")
    if bag.checked_by is not None:
        g.refuse("GATE-CHECK-ONCE", "preparation_id", f"bag PREP-{bag.preparation_id} is "
                 "already checked")
    if bag.status not in ("prepared", "stored"):
        g.refuse("GATE-CHECK-STATE", "preparation_id", f"bag PREP-{bag.preparation_id} is "
                 f"{bag.status.replace('_', ' ')}: only a prepared bag can be checked")
    elif any(e.kind is EventKind.RECONSTITUTED for e in bag.events):
        _clock_refusals(g, evaluate_clock(bag.events, now, zone), "GATE-PREP-CLOCK",
                        "preparation_id", "checked", zone)
    return g.done()


def may_accept_kit(*, consumed_by: Iterable[int], preparation_id: int,
                   excursion: ExcursionReport | None) -> Gate:
    """A scanned kit serial: not used by another preparation, not spoilt in its carton."""
    g = _Gate()
    g.use("GATE-KIT-ONCE", "GATE-KIT-EXCURSION")
    others = sorted({p for p in consumed_by if p != preparation_id})
    if others:  # 0 stands for a preparation the viewer may not see (another site's)
        named = ", ".join(f"PREP-{p}" for p in others if p > 0)
        g.refuse("GATE-KIT-ONCE", "scan", "this kit serial was already used for "
                 + (f"preparation {named}" if named else "another preparation")
                 + ": a kit fills one bag")
    if excursion is not None and excursion.status is ExcursionStatus.DISCARD:
        why = "; ".join(excursion.problems) or "its room-temperature time ran out"
        g.refuse("GATE-KIT-EXCURSION", "scan", f"this kit must be discarded ({why})",
                 *(c.rule for c in excursion.reasons))
    return g.done()


def may_print(*, bag: Bag, kind: str, now: datetime, zone: tzinfo) -> Gate:
    """May the bag label (``kind`` "label") or the worksheet be printed now?"""
    g = _Gate()
    g.use("GATE-PRINT")
    if not any(e.kind is EventKind.RECONSTITUTED for e in bag.events):
        g.refuse("GATE-PRINT", "preparation_id", "nothing to print before the vial is "
                 "reconstituted (the clock starts then)")
        return g.done()
    if kind != "label":
        return g.done()
    report = evaluate_clock(bag.events, now, zone)
    if not report.usable:
        g.refuse("GATE-PRINT", "preparation_id", "no bag label: the preparation is not usable "
                 f"(clock {report.status.value}, {report.phase.value.replace('_', ' ')})",
                 *(c.rule for c in report.reasons))
    if bag.status not in ("prepared", "checked", "stored", "in_use"):
        g.refuse("GATE-PRINT", "preparation_id", "no bag label: the bag is not prepared yet "
                 f"(status {bag.status.replace('_', ' ')})")
    return g.done()


def may_resolve_event(*, actor_is_physician: bool, event_holds: bool) -> Gate:
    """Ending an event that holds a dose is a physician's act (a nurse's entry is a proposal
    a physician confirms)."""
    g = _Gate()
    g.use("GATE-RESOLVE")
    if event_holds and not actor_is_physician:
        g.refuse("GATE-RESOLVE", "actor", "only a physician ends an event that holds a dose; "
                 "the nurse's entry waits for a physician's confirmation")
    return g.done()
