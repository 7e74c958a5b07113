"""The treatment-course engine: which slot each given dose was, what comes next, and whether
it may be given now.

Pure and deterministic: the caller passes ``as_of`` (tz-aware) and the site's zone. Calendar
rules (day counts, due dates) use site-local dates; nothing here reads a clock.

The label is a parameter: :attr:`CourseInput.rules` is one label version's rows as the engine
reads them (:func:`tarla.label.rules.rules_of`), with the lookups of the hot path built once per
label. A course pinned to another version computes with that version's rows; the default is
the built-in label (:data:`~tarla.label.rules.BUILTIN_RULES`). The engine's shape is one
step-up dose, then a full dose at the intervals of the schedule table; the doses, days,
intervals, care tiers, Table 4 windows and toxicity rows are all the label's.

Reading of the label used for restart step-ups (label-facts §3 "dates move with actual doses"
and §5): slot labels continue in sequence, so the 1 mg restart dose takes the label of the slot
that was due and the 10 mg a week later takes the next one; for Table 4 the restart 1 mg counts
as a 1 mg step-up dose and the restart 10 mg as a first 10 mg dose.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from enum import StrEnum
from typing import TYPE_CHECKING, NamedTuple

from tarla.domain.care import Care, care_for, with_extended_monitoring
from tarla.domain.errors import InvalidInput
from tarla.domain.timestamps import aware as _aware

if TYPE_CHECKING:
    from tarla.domain.toxicity import GradedLab
from tarla.label import restart
from tarla.label.eligibility import Concern
from tarla.label.restart import LastDose, RestartAction
from tarla.label.rows import Citation, Provenance, RuleRow, cite
from tarla.label.rules import BUILTIN_RULES, Rules
from tarla.label.schedule import PlannedSlot
from tarla.label.toxicity import EventType

__all__ = [
    "Administration", "AdverseEvent", "LabResult", "Patient", "Policy", "CourseInput",
    "DoseKind", "DecisionAction", "GivenDose", "NextDose", "Warning", "Decision", "PlannedDose",
    "derive_slots", "evaluate", "plan_course", "slot_at", "local_date", "resume_point",
    "Rules", "BUILTIN_RULES",
]


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True, slots=True)
class Administration:
    started_at: datetime
    dose_mg: int
    ended_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AdverseEvent:
    type: EventType
    grade: int
    onset: datetime
    resolved_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class LabResult:
    test: str
    value: float
    unit: str
    collected_at: datetime
    uln: float | None = None
    lln: float | None = None
    baseline: float | None = None


@dataclass(frozen=True, slots=True)
class Patient:
    birth_date: date
    diagnosis: str
    progressed_after_platinum: bool
    pregnant: bool | None = None
    breastfeeding: bool | None = None
    off_label_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Policy:
    """Site decisions the label leaves open (label-facts §8)."""

    restart_step_up_gets_cycle1_care: bool = restart.RESTART_CYCLE1_CARE.default


@dataclass(frozen=True, slots=True)
class CourseInput:
    as_of: datetime
    zone: tzinfo
    patient: Patient
    administrations: Sequence[Administration] = ()
    adverse_events: Sequence[AdverseEvent] = ()
    labs: Sequence[LabResult] = ()
    policy: Policy = field(default_factory=Policy)
    #: The last dose given *before* ``administrations``, as an earlier derivation found it
    #: (see :func:`resume_point`). Lets a caller that stored the course state pass only the
    #: doses since, instead of the whole history; decisions are the same either way.
    prior: GivenDose | None = None
    #: The planned date of the first dose (C1D1). While no dose has been given (and there is
    #: no ``prior``), the first dose is due on this date: WAIT before it, GIVE from it.
    #: None: the first dose is due as of ``as_of``'s date.
    start_date: date | None = None
    #: The label version the course is pinned to, as the engine reads it.
    rules: Rules = BUILTIN_RULES


# --------------------------------------------------------------------------- outputs


class DoseKind(StrEnum):
    PLANNED = "planned"
    RESTART_CONTINUE = "restart_continue"
    RESTART_STEP_UP = "restart_step_up"


class DecisionAction(StrEnum):
    GIVE = "give"
    WAIT = "wait"
    HOLD = "hold"
    DISCONTINUE = "discontinue"


@dataclass(frozen=True, slots=True)
class Warning:
    code: str
    text: str
    rule: str
    tag: Provenance


class GivenDose(NamedTuple):
    """An administration with the slot the engine derived for it (immutable).

    A NamedTuple rather than a frozen dataclass: a course has dozens of these and the engine
    builds them on every evaluation (bench/evaluate.py)."""

    input_index: int
    started_at: datetime
    local_date: date
    dose_mg: int
    slot: PlannedSlot
    kind: DoseKind
    restart_step: int  # 0: not part of a restart step-up; 1: its 1 mg; 2: its 10 mg
    family: LastDose
    expected_dose_mg: int


@dataclass(frozen=True, slots=True)
class NextDose:
    slot: PlannedSlot
    dose_mg: int
    due_date: date
    kind: DoseKind
    restart_step: int
    days_since_last: int | None


@dataclass(frozen=True, slots=True)
class Decision:
    label_version: str
    action: DecisionAction
    next_dose: NextDose | None
    care: Care | None
    reasons: tuple[Citation, ...]
    warnings: tuple[Warning, ...]
    pending_checks: tuple[str, ...]
    history: tuple[GivenDose, ...]
    as_of_date: date
    lab_grades: tuple[GradedLab, ...] = ()
    #: The citations that hold the dose (those of ``reasons`` that make the action HOLD).
    hold_reasons: tuple[Citation, ...] = ()

    @property
    def unverified(self) -> bool:
        return any(r.tag.unverified for r in self.reasons)

    @property
    def label_version_checked(self) -> bool:
        return all(r.tag.label_version_checked for r in self.reasons)


@dataclass(frozen=True, slots=True)
class PlannedDose:
    slot: PlannedSlot
    date: date
    care: Care


# --------------------------------------------------------------------------- helpers


def local_date(moment: datetime, zone: tzinfo) -> date:
    return moment.astimezone(zone).date()


def slot_at(index: int, rules: Rules = BUILTIN_RULES) -> PlannedSlot:
    """The ``index``-th slot of ``rules``' planned course (0 is C1D1)."""
    return rules.slot(index)


def _care_of(slot: PlannedSlot, rules: Rules) -> Care:
    return care_for(slot.cycle, slot.day, rules)


def _family(slot: PlannedSlot, dose_mg: int, restart_step: int, rules: Rules) -> LastDose:
    if dose_mg == rules.step_up_dose:
        return _FAMILY_1MG
    if slot.index <= 1 or restart_step == 2:
        return _FAMILY_FIRST_10MG
    return _FAMILY_LATER_10MG


class _Expectation(NamedTuple):
    slot: PlannedSlot
    dose_mg: int
    due_date: date | None
    kind: DoseKind
    restart_step: int
    days_since_last: int | None
    interval_row: RuleRow  # the row that set the interval (a Table 1 slot or the step-up gap)
    table4_row: restart.RestartRow | None  # set when the dose is late or a restart
    last_date: date | None
    step_gap_row: RuleRow

    def rules(self) -> tuple[Citation, ...]:
        """The citations behind this expectation (built only when someone reads them)."""
        out = [cite(self.interval_row)]
        row = self.table4_row
        if row is not None and self.last_date is not None:
            detail = f"{self.days_since_last} days since the last dose on {self.last_date}"
            if row.action is RestartAction.STEP_UP:
                out = [cite(row, f"{row.text} ({detail})"), cite(self.step_gap_row)]
            else:
                out.append(cite(row, f"{row.text} ({detail}; it was due {self.due_date})"))
        return tuple(out)


_PLANNED, _CONTINUE, _STEP_UP = DoseKind.PLANNED, DoseKind.RESTART_CONTINUE, DoseKind.RESTART_STEP_UP
_FAMILY_1MG, _FAMILY_FIRST_10MG, _FAMILY_LATER_10MG = (LastDose.STEP_UP_1MG, LastDose.FIRST_10MG,
                                                       LastDose.LATER_10MG)


def _step(rules: Rules, last_index: int, last_ord: int, last_dose: int, last_step: int,
          family: LastDose, on_ord: int) -> tuple[int, int, int, DoseKind, int, int, bool, bool]:
    """Table 1 + Table 4 on plain numbers (dates as ordinals), for the hot loop.

    Returns (slot index, dose, due ordinal, kind, restart step, days since last dose,
    interval set by the step-up gap?, Table 4 row applies?)."""
    following = last_index + 1
    if following < len(rules.intervals):
        planned_interval, planned_dose = rules.intervals[following], rules.planned_doses[following]
    else:
        rule = rules.slot(following).rule
        planned_interval, planned_dose = rule.interval_days or 0, rule.dose_mg
    days = on_ord - last_ord
    step_up_dose = rules.step_up_dose
    if last_step == 1 or (last_dose == step_up_dose and last_index > 0):
        # After a step-up dose given outside C1D1, the full dose follows one step gap later.
        interval, gap, next_step = rules.step_gap.days, True, (2 if last_step == 1 else 0)
    else:
        interval, gap, next_step = planned_interval, False, 0
    due = last_ord + interval
    if days > rules.continue_max[family]:
        return following, step_up_dose, on_ord, _STEP_UP, 1, days, gap, True
    late = on_ord > due
    if next_step == 2:
        return following, rules.full_dose, due, _STEP_UP, 2, days, gap, late
    return following, planned_dose, due, _CONTINUE if late else _PLANNED, 0, days, gap, late


def _expect(last: GivenDose | None, on: date, rules: Rules) -> _Expectation:
    """What the label calls for on local date ``on`` after the last dose given."""
    if last is None:
        first = rules.slot(0)
        return _Expectation(first, first.dose_mg, None, _PLANNED, 0, None, first.rule, None, None,
                            rules.step_gap)
    index, dose, due, kind, step, days, gap, t4 = _step(
        rules, last.slot.index, last.local_date.toordinal(), last.dose_mg, last.restart_step,
        last.family, on.toordinal())
    slot = rules.slot(index)
    interval_row: RuleRow = rules.step_gap if gap else slot.rule
    table4 = None
    if t4:
        table4 = rules.step_up_row[last.family] if kind is _STEP_UP and step == 1 else \
            rules.continue_row[last.family]
    return _Expectation(slot, dose, date.fromordinal(due), kind, step, days, interval_row,
                        table4, last.local_date, rules.step_gap)


# --------------------------------------------------------------------------- validation


def _validate_administrations(items: Sequence[Administration], as_of: datetime,
                              rules: Rules) -> list[float]:
    """Types, doses and times of each administration (duplicates are found while sorting).
    Returns each start as a POSIX timestamp, for sorting."""
    limit = as_of.timestamp()
    stamps: list[float] = []
    for i, adm in enumerate(items):
        started = adm.started_at
        if not isinstance(started, datetime) or started.utcoffset() is None:
            _aware(started, f"administrations[{i}].started_at")
        dose = adm.dose_mg
        if type(dose) is not int or dose not in rules.doses:
            allowed = " or ".join(str(d) for d in rules.doses)
            raise InvalidInput(f"administrations[{i}].dose_mg",
                               f"{dose} is not a {rules.drug} dose ({allowed})")
        stamp = started.timestamp()
        stamps.append(stamp)
        if stamp > limit:
            raise InvalidInput(f"administrations[{i}].started_at",
                               f"{started.isoformat()} is after as_of {as_of.isoformat()}")
        if adm.ended_at is not None:
            ended = _aware(adm.ended_at, f"administrations[{i}].ended_at")
            if ended < started:
                raise InvalidInput(f"administrations[{i}].ended_at", "is before started_at")
    return stamps


def _chronological(stamps: list[float]) -> list[int]:
    """Indices in time order; two administrations at the same instant are refused."""
    order = sorted(range(len(stamps)), key=stamps.__getitem__)
    for prev, cur in zip(order, order[1:]):
        if stamps[prev] == stamps[cur]:
            first, second = sorted((prev, cur))
            raise InvalidInput(f"administrations[{second}].started_at",
                               f"duplicates administrations[{first}] (same start time)")
    return order


# --------------------------------------------------------------------------- derivation


def derive_slots(administrations: Sequence[Administration], zone: tzinfo,
                 prior: GivenDose | None = None, rules: Rules = BUILTIN_RULES,
                 ) -> tuple[tuple[GivenDose, ...], tuple[Warning, ...]]:
    """Each administration's slot, derived from the sequence and Table 4; plus deviations.

    Input order does not matter. Deviations from the label (a dose other than the one due,
    a dose given before its interval) are real history: accepted and reported as warnings.
    With ``prior`` (the last dose before these), derivation continues from it; the result
    then holds only the doses passed in.
    """
    return _derive(administrations, zone, prior,
                   [a.started_at.timestamp() for a in administrations], rules)


def _derive(administrations: Sequence[Administration], zone: tzinfo, prior: GivenDose | None,
            stamps: list[float], rules: Rules,
            ) -> tuple[tuple[GivenDose, ...], tuple[Warning, ...]]:
    order = _chronological(stamps)
    given: list[GivenDose] = []
    warnings: list[Warning] = []
    last: GivenDose | None = prior
    one_mg, step_up, step, family_of = rules.step_up_dose, _STEP_UP, _step, _family
    slots = rules.planned
    precomputed = len(slots)
    last_ord = last_index = last_dose = last_step = 0
    last_family = _FAMILY_1MG
    if prior is not None:
        last_ord, last_index = prior.local_date.toordinal(), prior.slot.index
        last_dose, last_step, last_family = prior.dose_mg, prior.restart_step, prior.family
        if order and administrations[order[0]].started_at <= prior.started_at:
            raise InvalidInput(f"administrations[{order[0]}].started_at",
                               "is not after the last dose already on record "
                               f"({prior.started_at.isoformat()})")
    for i in order:
        adm = administrations[i]
        on = adm.started_at.astimezone(zone).date()
        on_ord = on.toordinal()
        dose_given = adm.dose_mg
        if last is None:
            index, expected, due, kind, rstep, early = 0, one_mg, on_ord, _PLANNED, 0, False
        else:
            index, expected, due, kind, rstep, _days, _gap, _t4 = step(
                rules, last_index, last_ord, last_dose, last_step, last_family, on_ord)
            early = on_ord < due
        if dose_given != expected or early:
            warnings.extend(_deviations(last, on, dose_given, rules))
            if dose_given != expected:
                # Continue from what was actually given: an unplanned 1 mg is a step-up dose,
                # an unplanned 10 mg in place of a restart 1 mg ends the restart step-up.
                rstep = 1 if dose_given == one_mg and kind is step_up else 0
        slot = slots[index] if index < precomputed else rules.slot(index)
        last_family = family_of(slot, dose_given, rstep, rules)
        last = GivenDose(i, adm.started_at, on, dose_given, slot, kind, rstep, last_family,
                         expected)
        last_ord, last_index, last_dose, last_step = on_ord, index, dose_given, rstep
        given.append(last)
    return tuple(given), tuple(warnings)


def _deviations(last: GivenDose | None, on: date, dose_given: int,
                rules: Rules) -> list[Warning]:
    """Warnings for a dose that departed from what the label called for (slow path)."""
    exp = _expect(last, on, rules)
    out: list[Warning] = []
    cited = exp.rules()
    slot = exp.slot
    if dose_given != exp.dose_mg:
        rule = cited[0] if exp.restart_step == 1 else cited[-1]
        out.append(Warning(
            "DOSE_DEVIATION",
            f"{slot.label} on {on.isoformat()}: {dose_given} mg was given where "
            f"{exp.dose_mg} mg was due; the course continues from the dose actually given",
            rule.rule, rule.tag))
    if exp.due_date is not None and on < exp.due_date and last is not None:
        rule = cited[0]
        out.append(Warning(
            "EARLY_DOSE",
            f"{slot.label} on {on.isoformat()}: given {(on - last.local_date).days} days after "
            f"the previous dose; it was not due until {exp.due_date.isoformat()}",
            rule.rule, rule.tag))
    return out


def resume_point(started_at: datetime, dose_mg: int, slot_index: int, kind: DoseKind | str,
                 restart_step: int, zone: tzinfo, rules: Rules = BUILTIN_RULES) -> GivenDose:
    """Rebuild the derived state of a recorded dose (what :func:`derive_slots` gave it) so a
    later evaluation can start from it via :attr:`CourseInput.prior`."""
    started = _aware(started_at, "prior.started_at")
    if dose_mg not in rules.doses:
        raise InvalidInput("prior.dose_mg", f"{dose_mg} is not a {rules.drug} dose")
    if slot_index < 0 or restart_step not in (0, 1, 2):
        raise InvalidInput("prior.slot_index", "is not a derived slot")
    slot = rules.slot(slot_index)
    return GivenDose(-1, started, started.astimezone(zone).date(), dose_mg, slot,
                     DoseKind(kind), restart_step, _family(slot, dose_mg, restart_step, rules),
                     dose_mg)


# --------------------------------------------------------------------------- care choice


def _care_for_next(exp: _Expectation, policy: Policy, rules: Rules) -> Care:
    if exp.kind is DoseKind.RESTART_STEP_UP and policy.restart_step_up_gets_cycle1_care:
        borrowed = rules.slot(0) if exp.restart_step == 1 else rules.slot(1)
        base = _care_of(borrowed, rules)
        policy_row = rules.restart_cycle1_care
        return Care(base.premedication, base.post_infusion, base.labs_before, base.monitoring,
                    base.proximity, base.hydration,
                    (*base.reasons, cite(policy_row, f"{policy_row.text}: this dose gets "
                                                     f"{borrowed.label} care")))
    return _care_of(exp.slot, rules)


# --------------------------------------------------------------------------- eligibility


def _age_on(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def eligibility_warnings(patient: Patient, on: date,
                         rules: Rules = BUILTIN_RULES) -> tuple[Warning, ...]:
    rule = rules.eligibility
    out: list[Warning] = []
    reason = (f" Documented prescriber reason: {patient.off_label_reason}."
              if patient.off_label_reason else
              " A documented prescriber reason is required.")
    age = _age_on(patient.birth_date, on)
    if age < rule.min_age_years:
        out.append(Warning("OFF_LABEL_AGE",
                           f"Off-label: the patient is {age} years old; the indication is for "
                           f"adults ({rule.min_age_years} or older). {rule.pediatric_text}."
                           + reason, rule.pediatric_rule_id, rule.pediatric_tag))
    if patient.diagnosis.strip().upper() != rule.diagnosis.upper():
        out.append(Warning("OFF_LABEL_DIAGNOSIS",
                           f"Off-label: diagnosis {patient.diagnosis!r} is not "
                           f"{rule.diagnosis}." + reason, rule.rule_id, rule.tag))
    if rule.requires_platinum_progression and not patient.progressed_after_platinum:
        out.append(Warning("OFF_LABEL_NO_PLATINUM_PROGRESSION",
                           "Off-label: no documented progression on or after platinum-based "
                           "chemotherapy." + reason, rule.rule_id, rule.tag))
    ef = rules.counselling.get(Concern.PREGNANCY)
    if patient.pregnant and ef is not None:
        out.append(Warning("PREGNANCY", f"Patient is pregnant. {ef.text}.", ef.rule_id, ef.tag))
    lac = rules.counselling.get(Concern.BREASTFEEDING)
    if patient.breastfeeding and lac is not None:
        out.append(Warning("BREASTFEEDING", f"Patient is breastfeeding. {lac.text}.",
                           lac.rule_id, lac.tag))
    return tuple(out)


# --------------------------------------------------------------------------- evaluate


def evaluate(inp: CourseInput) -> Decision:
    """What happens next for one patient, as of ``inp.as_of``."""
    # Imported here to keep module import light and the toxicity rules in their own module.
    from tarla.domain.toxicity import assess

    rules = inp.rules
    if not isinstance(rules, Rules):
        raise InvalidInput("rules", "must be a label's rules (tarla.label.rules.rules_of)")
    as_of = _aware(inp.as_of, "as_of")
    start = None if inp.start_date is None else _start_date(inp.start_date)
    stamps = _validate_administrations(inp.administrations, as_of, rules)
    today = local_date(as_of, inp.zone)
    history, deviations = _derive(inp.administrations, inp.zone, inp.prior, stamps, rules)
    chain = (inp.prior, *history) if inp.prior is not None else history
    last = chain[-1] if chain else None
    tox = assess(inp, chain, today)

    exp = _expect(last, today, rules)
    if exp.due_date is not None:
        due = exp.due_date
    elif start is not None:
        due = start
    else:
        due = today
    next_dose = NextDose(exp.slot, exp.dose_mg, due, exp.kind, exp.restart_step,
                         exp.days_since_last)
    care = _care_for_next(exp, inp.policy, rules)
    if tox.extended_monitoring:
        care = with_extended_monitoring(care, tox.extended_monitoring, rules)

    reasons: list[Citation] = [cite(exp.slot.rule) if exp.restart_step != 1 else
                               cite(rules.slot(0).rule,
                                    f"The restart step-up starts with the {rules.step_up_dose} "
                                    "mg step-up dose")]
    reasons.extend(r for r in exp.rules() if r.rule != reasons[0].rule)
    if tox.discontinue:
        action = DecisionAction.DISCONTINUE
        reasons = list(tox.discontinue)
        result_next, result_care = None, None
    else:
        reasons.extend(care.reasons)
        if tox.hold:
            action = DecisionAction.HOLD
            reasons = [*tox.hold, *reasons]
        elif due <= today:
            action = DecisionAction.GIVE
        else:
            action = DecisionAction.WAIT
        result_next, result_care = next_dose, care
    reasons.extend(tox.notes)
    pending = tox.missing_labs(care.labs_before) if result_care is not None else ()
    warnings = (*eligibility_warnings(inp.patient, today, rules), *deviations, *tox.warnings)
    return Decision(rules.version, action, result_next, result_care, _dedupe(reasons), warnings,
                    pending, history, today, tox.lab_grades,
                    _dedupe(tox.hold) if action is DecisionAction.HOLD else ())


def _start_date(value: object) -> date:
    # A datetime is a date too; a planned C1D1 is a calendar day in the site's zone.
    if isinstance(value, datetime) or not isinstance(value, date):
        raise InvalidInput("start_date", f"{value!r} is not a calendar date (YYYY-MM-DD)")
    return value


def _dedupe(reasons: Iterable[Citation]) -> tuple[Citation, ...]:
    seen: set[tuple[str, str]] = set()
    out: list[Citation] = []
    for r in reasons:
        key = (r.rule, r.text)
        if key not in seen:
            seen.add(key)
            out.append(r)
    return tuple(out)


# --------------------------------------------------------------------------- planning


def plan_course(start: date, cycles: int,
                rules: Rules = BUILTIN_RULES) -> tuple[PlannedDose, ...]:
    """The planned calendar of an uninterrupted course of ``cycles`` cycles from ``start``."""
    if isinstance(cycles, bool) or not isinstance(cycles, int) or cycles < 1:
        raise InvalidInput("cycles", f"{cycles!r} must be a whole number of cycles, 1 or more")
    out: list[PlannedDose] = []
    on = start
    index = 0
    while True:
        slot = rules.slot(index)
        if slot.cycle > cycles:
            break
        if slot.rule.interval_days is not None:
            on = on + timedelta(days=slot.rule.interval_days)
        out.append(PlannedDose(slot, on, _care_of(slot, rules)))
        index += 1
    return tuple(out)
