"""A slow, plain reference of the course engine, for tests/unit/test_engine_reference.py.

Written from the label rows the way a reader of the label would: every timestamp compared as a
POSIX instant (``timestamp()``), one ``expect`` function that reads Table 1 (the next slot's
interval and dose) and Table 4 (the row that *covers* the family of the last dose and the days
since it) for both the history and the next dose, every citation and warning text formatted
at once, lab grades computed afresh (no memo). No inlining, no fast paths, no lazy text: if
the lean engine in :mod:`tarla.domain.course` takes a shortcut that changes a decision, the
property test finds the difference.

The care of a slot is worked out from the rows each time (``_care_for``, which the engine's
``care_for`` serves precomputed for the built-in label); the eligibility warnings are shared
with the engine (their own tests pin them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import NamedTuple

from tarla.domain.care import Care, with_extended_monitoring
from tarla.domain.care import _care_for as care_for
from tarla.domain.course import (
    Administration,
    CourseInput,
    Decision,
    DecisionAction,
    DoseKind,
    GivenDose,
    NextDose,
    Warning,
    eligibility_warnings,
)
from tarla.domain.errors import InvalidInput
from tarla.domain.grading import grade_lab, to_e9_per_l
from tarla.domain.toxicity import GRADED_TESTS, GradedLab
from tarla.label import labs as lab_rules
from tarla.label.restart import LastDose, RestartAction
from tarla.label.rows import Citation, RuleRow, cite
from tarla.label.rules import Rules
from tarla.label.schedule import PlannedSlot
from tarla.label.toxicity import EventType, ToxAction

COUNT_TESTS = {"ANC", "platelets", "lymphocytes"}


def aware(moment: object, field: str) -> datetime:
    if not isinstance(moment, datetime):
        raise InvalidInput(field, "must be a timestamp")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidInput(field, "timestamp has no UTC offset (naive timestamps are refused)")
    return moment


# --------------------------------------------------------------------------- history


def checked_order(items: tuple[Administration, ...], as_of: datetime, rules: Rules) -> list[int]:
    """Validate each administration, then sort by instant; the same instant twice is refused."""
    instants: list[float] = []
    for i, adm in enumerate(items):
        started = aware(adm.started_at, f"administrations[{i}].started_at")
        if type(adm.dose_mg) is not int or adm.dose_mg not in rules.doses:
            allowed = " or ".join(str(d) for d in rules.doses)
            raise InvalidInput(f"administrations[{i}].dose_mg",
                               f"{adm.dose_mg} is not a {rules.drug} dose ({allowed})")
        if started.timestamp() > as_of.timestamp():
            raise InvalidInput(f"administrations[{i}].started_at",
                               f"{started.isoformat()} is after as_of {as_of.isoformat()}")
        if adm.ended_at is not None:
            ended = aware(adm.ended_at, f"administrations[{i}].ended_at")
            if ended < started:
                raise InvalidInput(f"administrations[{i}].ended_at", "is before started_at")
        instants.append(started.timestamp())
    order = sorted(range(len(items)), key=lambda k: instants[k])
    for a, b in zip(order, order[1:]):
        if instants[a] == instants[b]:
            raise InvalidInput(f"administrations[{max(a, b)}].started_at",
                               f"duplicates administrations[{min(a, b)}] (same start time)")
    return order


def family(slot: PlannedSlot, dose_mg: int, restart_step: int, rules: Rules) -> LastDose:
    if dose_mg == rules.step_up_dose:
        return LastDose.STEP_UP_1MG
    if slot.index <= 1 or restart_step == 2:
        return LastDose.FIRST_10MG
    return LastDose.LATER_10MG


@dataclass(frozen=True)
class Expectation:
    slot: PlannedSlot
    dose_mg: int
    due: date | None
    kind: DoseKind
    restart_step: int
    days_since_last: int | None
    citations: tuple[Citation, ...]


def expect(last: GivenDose | None, on: date, rules: Rules) -> Expectation:
    """What the label calls for on local date ``on`` after ``last`` (Table 1 and Table 4)."""
    if last is None:
        first = rules.slot(0)
        return Expectation(first, first.rule.dose_mg, None, DoseKind.PLANNED, 0, None,
                           (cite(first.rule),))
    following = rules.slot(last.slot.index + 1)
    days = (on - last.local_date).days
    after_step_up = last.restart_step == 1 or (last.dose_mg == rules.step_up_dose
                                               and last.slot.index > 0)
    interval_row: RuleRow = rules.step_gap if after_step_up else following.rule
    interval = rules.step_gap.days if after_step_up else (following.rule.interval_days or 0)
    due = last.local_date + timedelta(days=interval)
    table4 = next(r for r in rules.restart_rows if r.covers(last.family, days))
    detail = f"{days} days since the last dose on {last.local_date}"
    if table4.action is RestartAction.STEP_UP:
        row = rules.step_up_row[last.family]
        return Expectation(following, rules.step_up_dose, on, DoseKind.RESTART_STEP_UP, 1, days,
                           (cite(row, f"{row.text} ({detail})"), cite(rules.step_gap)))
    late = on > due
    citations: tuple[Citation, ...] = (cite(interval_row),)
    if late:
        row = rules.continue_row[last.family]
        citations += (cite(row, f"{row.text} ({detail}; it was due {due})"),)
    if last.restart_step == 1:
        return Expectation(following, rules.full_dose, due, DoseKind.RESTART_STEP_UP, 2, days,
                           citations)
    return Expectation(following, following.rule.dose_mg, due,
                       DoseKind.RESTART_CONTINUE if late else DoseKind.PLANNED, 0, days, citations)


def derive(items: tuple[Administration, ...], order: list[int], zone, prior: GivenDose | None,
           rules: Rules) -> tuple[tuple[GivenDose, ...], list[Warning]]:
    given: list[GivenDose] = []
    warnings: list[Warning] = []
    last = prior
    if prior is not None and order and \
            items[order[0]].started_at <= prior.started_at:
        raise InvalidInput(f"administrations[{order[0]}].started_at",
                           "is not after the last dose already on record "
                           f"({prior.started_at.isoformat()})")
    for i in order:
        adm = items[i]
        on = adm.started_at.astimezone(zone).date()
        exp = expect(last, on, rules)
        step = exp.restart_step
        if adm.dose_mg != exp.dose_mg:
            rule = exp.citations[0] if exp.restart_step == 1 else exp.citations[-1]
            warnings.append(Warning(
                "DOSE_DEVIATION",
                f"{exp.slot.label} on {on.isoformat()}: {adm.dose_mg} mg was given where "
                f"{exp.dose_mg} mg was due; the course continues from the dose actually given",
                rule.rule, rule.tag))
            step = 1 if (adm.dose_mg == rules.step_up_dose
                         and exp.kind is DoseKind.RESTART_STEP_UP) else 0
        if exp.due is not None and last is not None and on < exp.due:
            rule = exp.citations[0]
            warnings.append(Warning(
                "EARLY_DOSE",
                f"{exp.slot.label} on {on.isoformat()}: given {(on - last.local_date).days} days "
                f"after the previous dose; it was not due until {exp.due.isoformat()}",
                rule.rule, rule.tag))
        last = GivenDose(i, adm.started_at, on, adm.dose_mg, exp.slot, exp.kind, step,
                         family(exp.slot, adm.dose_mg, step, rules), exp.dose_mg)
        given.append(last)
    return tuple(given), warnings


# --------------------------------------------------------------------------- toxicity


class Tox(NamedTuple):
    discontinue: list[Citation]
    hold: list[Citation]
    extended: list[Citation]
    notes: list[Citation]
    warnings: list[Warning]
    graded: tuple[GradedLab, ...]
    present: set[str]


def when(moment: datetime, zone) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def grade_labs(inp: CourseInput, since: datetime | None) -> tuple[GradedLab, ...]:
    out = []
    for i, lab in enumerate(inp.labs):
        collected = aware(lab.collected_at, f"labs[{i}].collected_at")
        if collected > inp.as_of:
            raise InvalidInput(f"labs[{i}].collected_at", f"{collected.isoformat()} is after as_of")
        if not lab.test:
            raise InvalidInput(f"labs[{i}].test", "is required")
        if isinstance(lab.value, bool) or not math.isfinite(lab.value):
            raise InvalidInput(f"labs[{i}].value", f"{lab.value!r} is not a number")
        grade, value_si, note = None, None, None
        if lab.test in GRADED_TESTS:
            try:
                grade = grade_lab(lab.test, float(lab.value), lab.unit, uln=lab.uln, lln=lab.lln,
                                  baseline=lab.baseline)
                value_si = grade.value_si
            except InvalidInput as exc:
                if exc.field not in ("lln", "symptomatic"):
                    raise InvalidInput(f"labs[{i}].{exc.field}", exc.message) from None
                note = f"grade not determined: {exc.field} {exc.message}"
                if lab.test in COUNT_TESTS:
                    value_si = to_e9_per_l(float(lab.value), lab.unit, "unit")
        out.append(GradedLab(i, lab.test, collected, lab.value, lab.unit, grade,
                             since is None or collected > since, value_si, note))
    return tuple(out)


def no_dose_since(history, onset: datetime) -> bool:
    return bool(history) and history[0].started_at <= onset and \
        not any(d.started_at > onset for d in history)


def assess(inp: CourseInput, history) -> Tox:
    zone, label = inp.zone, inp.rules
    for i, ev in enumerate(inp.adverse_events):
        where = f"adverse_events[{i}]"
        if not isinstance(ev.type, EventType):
            raise InvalidInput(f"{where}.type", f"{ev.type!r} is not a known event type")
        if isinstance(ev.grade, bool) or not isinstance(ev.grade, int) or not 1 <= ev.grade <= 5:
            raise InvalidInput(f"{where}.grade", f"{ev.grade!r} is not a grade from 1 to 5")
        onset = aware(ev.onset, f"{where}.onset")
        if onset > inp.as_of:
            raise InvalidInput(f"{where}.onset", f"{onset.isoformat()} is after as_of")
        if ev.resolved_at is not None:
            if aware(ev.resolved_at, f"{where}.resolved_at") < onset:
                raise InvalidInput(f"{where}.resolved_at", "is before onset")
    graded = grade_labs(inp, history[-1].started_at if history else None)
    latest: dict[str, GradedLab] = {}
    for lab in graded:
        if lab.counts and (lab.test not in latest or (lab.collected_at, lab.input_index) >
                           (latest[lab.test].collected_at, latest[lab.test].input_index)):
            latest[lab.test] = lab
    t = Tox([], [], [], [], [], graded, set(latest))
    events = sorted(inp.adverse_events, key=lambda e: (e.onset, e.type, e.grade))
    for ev in events:
        ongoing = ev.resolved_at is None or ev.resolved_at > inp.as_of
        what = f"{ev.type.value} grade {ev.grade} (onset {when(ev.onset, zone)}" + (
            ", ongoing)" if ongoing else f", resolved {when(ev.resolved_at, zone)})")
        for rule in label.rules_for_event(ev.type, ev.grade):
            resume = rule.resume.value if rule.resume else ""
            if rule.action is ToxAction.DISCONTINUE:
                t.discontinue.append(cite(rule, f"{rule.text}: {what}"))
                continue
            if rule.discontinue_if_recurs:
                same = [e for e in events if e.type is ev.type and rule.covers(e.type, e.grade)]
                if len(same) >= 2 and ev is same[-1]:
                    t.discontinue.append(cite(rule, f"{rule.text}: grade {ev.grade} "
                                                    f"{ev.type.value} has recurred "
                                                    f"({len(same)} events)"))
                    continue
            if ongoing:
                t.hold.append(cite(rule, f"Hold {resume}: {what}. {rule.text}"))
            elif ev.type is EventType.FEBRILE_NEUTROPENIA:
                anc = sorted((g for g in graded if g.test == "ANC" and g.collected_at >= ev.onset
                              and g.value_si is not None),
                             key=lambda g: (g.collected_at, g.input_index))
                if not anc or anc[-1].value_si < rule.resume_threshold_e9_per_l:
                    seen = (f"latest ANC {anc[-1].value:g} {anc[-1].unit}" if anc else
                            "no ANC drawn since its onset")
                    t.hold.append(cite(rule, f"Hold {resume}: {what}; {seen}. {rule.text}"))
            elif no_dose_since(history, ev.onset) and not rule.extended_monitoring_next_dose:
                t.notes.append(cite(rule, f"{rule.text}: {what}; may resume at the next "
                                          "scheduled dose"))
            if rule.consider_discontinuation:
                t.warnings.append(Warning("CONSIDER_DISCONTINUATION",
                                          f"{what}: consider permanent discontinuation "
                                          "(physician decision)", rule.rule_id, rule.tag))
            if rule.extended_monitoring_next_dose and no_dose_since(history, ev.onset):
                t.extended.append(cite(rule, f"{rule.text}: {what}; this is the first dose since"))
    for row in label.lab_thresholds:
        lab = latest.get(row.test)
        if lab is not None and lab.value_si is not None and \
                lab.value_si < row.withhold_below_e9_per_l:
            t.hold.append(cite(row, f"Hold: {lab.test} {lab.value:g} {lab.unit} on "
                                    f"{when(lab.collected_at, zone)}. {row.text}"))
    for hep in label.hepatic_rules:
        lab = latest.get(hep.test)
        if lab is None or lab.grade is None or lab.grade.grade is None:
            continue
        grade = lab.grade.grade
        if (grade >= hep.min_grade if hep.action is ToxAction.DISCONTINUE else
                grade == hep.min_grade):
            (t.discontinue if hep.action is ToxAction.DISCONTINUE else t.hold).append(
                cite(hep, f"{hep.text}: {lab.test} {lab.value:g} {lab.unit} on "
                          f"{when(lab.collected_at, zone)} is CTCAE grade {grade}"))
    hy = label.hys_law
    bili = latest.get("bilirubin")
    bili_x = bili.grade.times_uln if bili is not None and bili.grade is not None else None
    if bili_x is not None and bili_x > hy.bilirubin_over_uln:
        for test in ("ALT", "AST"):
            lab = latest.get(test)
            x = lab.grade.times_uln if lab is not None and lab.grade is not None else None
            if x is not None and x > hy.transaminase_over_uln:
                t.discontinue.append(cite(hy, f"{hy.text}: {test} {x:.1f} x ULN with bilirubin "
                                              f"{bili_x:.1f} x ULN. If another cause is "
                                              "documented, a physician may override."))
                break
    return t


# --------------------------------------------------------------------------- the decision


def next_care(exp: Expectation, inp: CourseInput) -> Care:
    rules = inp.rules
    if exp.kind is DoseKind.RESTART_STEP_UP and inp.policy.restart_step_up_gets_cycle1_care:
        borrowed = rules.slot(0) if exp.restart_step == 1 else rules.slot(1)
        base = care_for(borrowed.cycle, borrowed.day, rules)
        row = rules.restart_cycle1_care
        return Care(base.premedication, base.post_infusion, base.labs_before, base.monitoring,
                    base.proximity, base.hydration,
                    (*base.reasons, cite(row, f"{row.text}: this dose gets {borrowed.label} "
                                              "care")))
    return care_for(exp.slot.cycle, exp.slot.day, rules)


def without_repeats(citations: list[Citation]) -> tuple[Citation, ...]:
    out: list[Citation] = []
    for c in citations:
        if not any((k.rule, k.text) == (c.rule, c.text) for k in out):
            out.append(c)
    return tuple(out)


def evaluate_reference(inp: CourseInput) -> Decision:
    rules = inp.rules
    as_of = aware(inp.as_of, "as_of")
    if inp.start_date is not None and (isinstance(inp.start_date, datetime)
                                       or not isinstance(inp.start_date, date)):
        raise InvalidInput("start_date",
                           f"{inp.start_date!r} is not a calendar date (YYYY-MM-DD)")
    order = checked_order(tuple(inp.administrations), as_of, rules)
    today = as_of.astimezone(inp.zone).date()
    history, deviations = derive(tuple(inp.administrations), order, inp.zone, inp.prior, rules)
    chain = ((inp.prior,) if inp.prior is not None else ()) + history
    last = chain[-1] if chain else None
    tox = assess(inp, chain)
    exp = expect(last, today, rules)
    due = exp.due or inp.start_date or today
    care = next_care(exp, inp)
    if tox.extended:
        care = with_extended_monitoring(care, tuple(tox.extended), rules)
    first = (cite(exp.slot.rule) if exp.restart_step != 1 else
             cite(rules.slot(0).rule, f"The restart step-up starts with the "
                                      f"{rules.step_up_dose} mg step-up dose"))
    reasons = [first, *(c for c in exp.citations if c.rule != first.rule)]
    next_dose: NextDose | None = NextDose(exp.slot, exp.dose_mg, due, exp.kind,
                                          exp.restart_step, exp.days_since_last)
    shown_care: Care | None = care
    if tox.discontinue:
        action, reasons, next_dose, shown_care = DecisionAction.DISCONTINUE, \
            list(tox.discontinue), None, None
    else:
        reasons += care.reasons
        if tox.hold:
            action, reasons = DecisionAction.HOLD, [*tox.hold, *reasons]
        else:
            action = DecisionAction.GIVE if due <= today else DecisionAction.WAIT
    reasons += tox.notes
    pending: tuple[str, ...] = ()
    if shown_care is not None:
        pending = tuple(name for name in care.labs_before
                        if not all(p in tox.present for p in
                                   (lab_rules.CBC_TESTS if name == "CBC" else (name,))))
    warnings = (*eligibility_warnings(inp.patient, today, rules), *deviations, *tox.warnings)
    return Decision(rules.version, action, next_dose, shown_care, without_repeats(reasons),
                    warnings, pending, history, today, tox.graded,
                    without_repeats(tox.hold) if action is DecisionAction.HOLD else ())
