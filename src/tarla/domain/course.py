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
from datetime import date, datetime, timedelta, timezone, tzinfo
from enum import StrEnum
from operator import attrgetter
from typing import TYPE_CHECKING, NamedTuple
from zoneinfo import ZoneInfo

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


def _cite_slot(slot: PlannedSlot, rules: Rules) -> Citation:
    """``cite(slot.rule)``: the label's citation of a built slot, shared by every decision."""
    built = rules.slot_citations
    return built[slot.index] if slot.index < len(built) else cite(slot.rule)


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
#: Builds a NamedTuple of the hot path (GivenDose, _Expectation) from a tuple of its fields,
#: without ``NamedTuple.__new__``'s argument parsing.
_new_tuple = tuple.__new__


def _step(rules: Rules, last_index: int, last_ord: int, last_dose: int, last_step: int,
          family: LastDose, on_ord: int) -> tuple[int, int, int, DoseKind, int, int, bool, bool]:
    """Table 1 + Table 4 on plain numbers (dates as ordinals): the next dose's expectation
    (:func:`_expect`) and a history beyond the built slots. :func:`_derive` inlines it.

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
        return _new_tuple(_Expectation, (first, first.dose_mg, None, _PLANNED, 0, None,
                                         first.rule, None, None, rules.step_gap))
    index, dose, due, kind, step, days, gap, t4 = _step(
        rules, last.slot.index, last.local_date.toordinal(), last.dose_mg, last.restart_step,
        last.family, on.toordinal())
    slot = rules.slot(index)
    interval_row: RuleRow = rules.step_gap if gap else slot.rule
    table4 = None
    if t4:
        table4 = rules.step_up_row[last.family] if kind is _STEP_UP and step == 1 else \
            rules.continue_row[last.family]
    return _new_tuple(_Expectation, (slot, dose, date.fromordinal(due), kind, step, days,
                                     interval_row, table4, last.local_date, rules.step_gap))


# --------------------------------------------------------------------------- validation


def _validate_administrations(items: Sequence[Administration], as_of: datetime,
                              rules: Rules) -> list[float]:
    """Types, doses and times of each administration (duplicates are found while sorting).
    Returns each start as a POSIX timestamp, for sorting.

    The exact path, one ``timestamp()`` per dose: used when :func:`_fast_order` cannot vouch
    for the input, and the one that words every refusal."""
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


#: tzinfo classes whose ``utcoffset()`` is never None: a timestamp carrying one is aware, so
#: the zone object is checked once instead of every timestamp.
_ALWAYS_AWARE = (timezone, ZoneInfo)
#: Two valid UTC offsets differ by less than this (each lies strictly within +-24 h).
_OFFSET_SPAN = timedelta(hours=48)


def _fast_order(items: Sequence[Administration], as_of: datetime,
                rules: Rules) -> list[int] | None:
    """The common case of :func:`_in_time_order` without a ``timestamp()`` per dose, or None
    when the exact path must decide (and word any refusal).

    It vouches only for input whose doses are valid and all carry the *same* ``ZoneInfo`` or
    ``timezone`` object. Two such datetimes compare by wall time, which orders instants
    exactly when the wall times are more than 48 h apart: ``instant = wall - offset`` and
    offsets differ by less than 48 h. So DST folds and gaps cannot reorder doses that pass the
    check; any closer pair (or a duplicate) goes to the exact path."""
    zone_of_all = None
    doses = rules.doses
    previous = None
    in_order = True  # each start more than 48 h after the one before it (the usual input)
    for adm in items:
        started = adm.started_at
        if type(started) is not datetime:
            return None
        tz = started.tzinfo
        if tz is not zone_of_all or zone_of_all is None:  # the first dose, or another zone
            if zone_of_all is not None or type(tz) not in _ALWAYS_AWARE:
                return None  # naive, mixed zones, or a tzinfo we cannot vouch for
            zone_of_all = tz
        dose = adm.dose_mg
        if type(dose) is not int or dose not in doses:
            return None
        ended = adm.ended_at
        if ended is not None and (type(ended) is not datetime or ended.tzinfo is not tz
                                  or ended < started):  # same zone object: as the exact path
            return None
        if in_order and previous is not None and started - previous <= _OFFSET_SPAN:
            in_order = False
        previous = started
    if in_order:  # already in time order, with every gap checked: no sort needed
        order = list(range(len(items)))
    else:
        starts = [adm.started_at for adm in items]
        order = sorted(range(len(starts)), key=starts.__getitem__)
        for prev, cur in zip(order, order[1:]):
            if starts[cur] - starts[prev] <= _OFFSET_SPAN:
                return None
    if order:  # the last dose must not be after as_of
        last = items[order[-1]].started_at
        if last.tzinfo is not as_of.tzinfo:
            if last > as_of:  # different zone objects: Python compares the instants
                return None
        elif as_of - last <= _OFFSET_SPAN and last.timestamp() > as_of.timestamp():
            return None  # (same zone object: wall times, exact beyond 48 h as above)
    return order


def _in_time_order(items: Sequence[Administration], as_of: datetime,
                   rules: Rules) -> list[int]:
    """Indices of ``items`` in time order, each checked (aware, a dose of the label, not
    after ``as_of``, ended after it started, no two at the same instant)."""
    if not items:  # (a course resumed from its last dose, with none since)
        return []
    order = _fast_order(items, as_of, rules)
    if order is None:
        order = _chronological(_validate_administrations(items, as_of, rules))
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
                   _chronological([a.started_at.timestamp() for a in administrations]), rules)


def _derive(administrations: Sequence[Administration], zone: tzinfo, prior: GivenDose | None,
            order: list[int], rules: Rules,
            ) -> tuple[tuple[GivenDose, ...], tuple[Warning, ...]]:
    """The hot path: one pass over the doses in time order (``order``), on plain integers.

    The state carried from dose to dose is the last dose's slot index, local-date ordinal,
    dose, restart step and Table 4 family; everything else (citations, warning text) is built
    only for a dose that departs from the label (:func:`_deviations`)."""
    if not order:
        return (), ()
    given: list[GivenDose] = []
    warnings: list[Warning] = []
    one_mg, full_mg, gap_days = rules.step_up_dose, rules.full_dose, rules.step_gap.days
    intervals, planned_doses, continue_max = rules.intervals, rules.planned_doses, \
        rules.continue_max
    slots = rules.planned
    built = len(slots)
    precomputed = min(built, len(intervals))
    last: GivenDose | None = prior
    last_ord = last_index = last_dose = last_step = 0
    last_family = _FAMILY_1MG
    if prior is not None:
        last_ord, last_index = prior.local_date.toordinal(), prior.slot.index
        last_dose, last_step, last_family = prior.dose_mg, prior.restart_step, prior.family
        # by instant: two times in one zone compare by wall time, which a DST fold reverses
        if administrations[order[0]].started_at.timestamp() <= prior.started_at.timestamp():
            raise InvalidInput(f"administrations[{order[0]}].started_at",
                               "is not after the last dose already on record "
                               f"({prior.started_at.isoformat()})")
    for i in order:
        adm = administrations[i]
        started, dose = adm.started_at, adm.dose_mg
        local = started.astimezone(zone)  # returns ``started`` itself when already in ``zone``
        on_ord = local.toordinal()
        if last is None:  # the first dose of the course is C1D1's step-up dose
            index, expected, kind, rstep, early = 0, one_mg, _PLANNED, 0, False
        elif last_index + 1 >= precomputed:  # beyond the built slots: the general step
            index, expected, due, kind, rstep, _days, _gap, _t4 = _step(
                rules, last_index, last_ord, last_dose, last_step, last_family, on_ord)
            early = on_ord < due
        else:  # :func:`_step` inlined: Table 1's next slot, or Table 4's restart
            index = last_index + 1
            rstep = 0
            if last_step == 1 or (last_dose == one_mg and last_index > 0):
                # after a step-up dose given outside C1D1 the full dose follows one gap later
                due = last_ord + gap_days
                rstep = 2 if last_step == 1 else 0
            else:
                due = last_ord + intervals[index]
            if on_ord - last_ord > continue_max[last_family]:  # too long: restart, 1 mg now
                expected, kind, rstep, early = one_mg, _STEP_UP, 1, False
            else:
                early = on_ord < due
                if rstep == 2:
                    expected, kind = full_mg, _STEP_UP
                else:
                    expected, kind = planned_doses[index], (_CONTINUE if on_ord > due else
                                                            _PLANNED)
        if dose != expected or early:  # a deviation: reported, and the course follows it
            warnings.extend(_deviations(last, local.date(), dose, rules))
            if dose != expected:
                # Continue from what was actually given: an unplanned 1 mg is a step-up dose,
                # an unplanned 10 mg in place of a restart 1 mg ends the restart step-up.
                rstep = 1 if dose == one_mg and kind is _STEP_UP else 0
        slot = slots[index] if index < built else rules.slot(index)
        # Table 4's family of the dose just given (as :func:`_family`, inlined).
        if dose == one_mg:
            last_family = _FAMILY_1MG
        elif index <= 1 or rstep == 2:
            last_family = _FAMILY_FIRST_10MG
        else:
            last_family = _FAMILY_LATER_10MG
        last = _new_tuple(GivenDose, (i, started, local.date(), dose, slot, kind, rstep,
                                      last_family, expected))
        last_ord, last_index, last_dose, last_step = on_ord, index, dose, rstep
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
    age = _age_on(patient.birth_date, on)
    too_young = age < rule.min_age_years
    other_diagnosis = patient.diagnosis.strip().upper() != rule.diagnosis.upper()
    no_platinum = rule.requires_platinum_progression and not patient.progressed_after_platinum
    off_label = too_young or other_diagnosis or no_platinum
    if not (off_label or patient.pregnant or patient.breastfeeding):
        return ()  # the usual patient: on label, nothing to counsel on
    out: list[Warning] = []
    reason = "" if not off_label else (
        f" Documented prescriber reason: {patient.off_label_reason}."
        if patient.off_label_reason else " A documented prescriber reason is required.")
    if too_young:
        out.append(Warning("OFF_LABEL_AGE",
                           f"Off-label: the patient is {age} years old; the indication is for "
                           f"adults ({rule.min_age_years} or older). {rule.pediatric_text}."
                           + reason, rule.pediatric_rule_id, rule.pediatric_tag))
    if other_diagnosis:
        out.append(Warning("OFF_LABEL_DIAGNOSIS",
                           f"Off-label: diagnosis {patient.diagnosis!r} is not "
                           f"{rule.diagnosis}." + reason, rule.rule_id, rule.tag))
    if no_platinum:
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
    rules = inp.rules
    if not isinstance(rules, Rules):
        raise InvalidInput("rules", "must be a label's rules (tarla.label.rules.rules_of)")
    as_of = inp.as_of
    if type(as_of) is not datetime or type(as_of.tzinfo) not in _ALWAYS_AWARE:
        as_of = _aware(as_of, "as_of")  # (the exact check, for any other tzinfo or a refusal)
    start = None if inp.start_date is None else _start_date(inp.start_date)
    order = _in_time_order(inp.administrations, as_of, rules)
    today = local_date(as_of, inp.zone)
    history, deviations = _derive(inp.administrations, inp.zone, inp.prior, order, rules)
    chain = (inp.prior, *history) if inp.prior is not None else history
    last = chain[-1] if chain else None
    tox = _toxicity.assess(inp, chain, today)
    warnings = (*eligibility_warnings(inp.patient, today, rules), *deviations, *tox.warnings)
    if tox.discontinue:  # no next dose: its slot, care and citations are not worked out
        return Decision(rules.version, DecisionAction.DISCONTINUE, None, None,
                        _dedupe((*tox.discontinue, *tox.notes)), warnings, (), history, today,
                        tox.lab_grades)

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

    reasons: list[Citation] = [_cite_slot(exp.slot, rules) if exp.restart_step != 1 else
                               cite(rules.slot(0).rule,
                                    f"The restart step-up starts with the {rules.step_up_dose} "
                                    "mg step-up dose")]
    if exp.table4_row is not None or exp.interval_row is not exp.slot.rule:
        # (on time, the only row behind the expectation is the slot's own, cited just above)
        reasons.extend(r for r in exp.rules() if r.rule != reasons[0].rule)
    reasons.extend(care.reasons)
    if tox.hold:
        action = DecisionAction.HOLD
        reasons = [*tox.hold, *reasons]
    elif due <= today:
        action = DecisionAction.GIVE
    else:
        action = DecisionAction.WAIT
    reasons.extend(tox.notes)
    return Decision(rules.version, action, next_dose, care, _dedupe(reasons), warnings,
                    tox.missing_labs(care.labs_before), history, today, tox.lab_grades,
                    _dedupe(tox.hold) if action is DecisionAction.HOLD else ())


def _start_date(value: object) -> date:
    # A datetime is a date too; a planned C1D1 is a calendar day in the site's zone.
    if isinstance(value, datetime) or not isinstance(value, date):
        raise InvalidInput("start_date", f"{value!r} is not a calendar date (YYYY-MM-DD)")
    return value


_rule_of = attrgetter("rule")


def _dedupe(reasons: Iterable[Citation]) -> tuple[Citation, ...]:
    """``reasons`` without repeats (same rule and text), first kept. Texts are compared only
    between citations of the same rule, so most are never formatted here."""
    reasons = tuple(reasons)
    if len(set(map(_rule_of, reasons))) == len(reasons):  # no rule twice: nothing to compare
        return reasons
    kept: dict[str, list[Citation]] = {}
    out: list[Citation] = []
    for r in reasons:
        same_rule = kept.get(r.rule)
        if same_rule is None:
            kept[r.rule] = [r]
        elif all(k.text != r.text for k in same_rule):
            same_rule.append(r)
        else:
            continue
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


# At the end, after every name the toxicity module imports from this one is defined: whichever
# of the two modules is imported first, both load (the toxicity rules stay in their own module).
import tarla.domain.toxicity as _toxicity  # noqa: E402
