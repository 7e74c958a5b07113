"""The rules the course engine computes with, read from one :class:`~tarla.label.value.Label`.

A label version is data (:mod:`tarla.label.value`): rows with a table, a rule id, a tag, a text
and canonical JSON fields. :func:`rules_of` turns the engine's tables of one label into typed
rows (the dataclasses of :mod:`tarla.label.schedule`, ``monitoring``, ``concomitant``, ``labs``,
``restart``, ``eligibility`` and ``toxicity``), checks that they make a course the engine can
compute (no gap, no overlap, one step-up dose), and builds the lookups the engine's hot path
needs, once: a :class:`Rules` value is frozen and holds only tuples and read-only mappings, so
many threads may evaluate with it at once.

A row's kind is the dataclass of its table whose fields its ``fields`` name exactly; a row that
carries the fields of two kinds (the ANC and platelet thresholds are also toxicity rules) is
both. Anything that does not fit is refused with the row named (``InvalidInput``), so a label
the engine cannot compute with is never registered.

The pharmacy tables (``products``, ``preparation``) are not read here: preparing a bag stays
tarlatamab's (:mod:`tarla.label.products`, :mod:`tarla.label.preparation`).

Pure: standard library only, no I/O, no clock, nothing mutable at module level.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType
from typing import Any

from tarla.domain.errors import InvalidInput
from tarla.label import concomitant, eligibility, labs, monitoring, restart, schedule, toxicity
from tarla.label.eligibility import Concern, Counselling, Eligibility
from tarla.label.rows import Citation, cite
from tarla.label.schedule import DoseSlot, PlannedSlot
from tarla.label.value import Label, LabelRow, current_label

__all__ = ["ROW_KINDS", "ENGINE_TABLES", "PRECOMPUTED_SLOTS", "Rules", "rules_of",
           "typed_rows", "BUILTIN_RULES"]

#: The dataclasses a row of each engine table may be, in the order they are tried.
ROW_KINDS: Mapping[str, tuple[type, ...]] = MappingProxyType({
    "schedule": (schedule.DoseSlot, schedule.CycleLength, schedule.Infusion,
                 schedule.ShortInfusion),
    "monitoring": (monitoring.MonitoringTier, monitoring.ExtendedMonitoring),
    "concomitant": (concomitant.ConcomitantDays, concomitant.Medication, concomitant.Note),
    "labs": (labs.LabRequirement,),
    "restart": (restart.RestartRow, restart.StepGap, restart.SitePolicyDefault),
    "eligibility": (eligibility.Eligibility, eligibility.Counselling),
    "toxicity": (toxicity.ToxicityRule, toxicity.LabThreshold, toxicity.HysLaw),
})
#: The tables every label the engine computes with must have.
ENGINE_TABLES: tuple[str, ...] = tuple(ROW_KINDS)
#: How many slots of the planned course a :class:`Rules` keeps built (about 10 years of doses
#: every 2 weeks); a slot beyond is computed from the rows each time it is asked for.
PRECOMPUTED_SLOTS = 260
_COMMON = ("rule_id", "tag", "text")
_NO_LIMIT = 1 << 30


# --------------------------------------------------------------------------- decoding


def _kind_name(hint: Any) -> str:
    return getattr(hint, "__name__", str(hint))


def _decode(value: Any, hint: Any, where: str) -> Any:
    """``value`` (a JSON value) as the type ``hint`` of a row field, or ``InvalidInput``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is types.UnionType or origin is typing.Union:
        if value is None:
            if type(None) in args:
                return None
            raise InvalidInput(where, "must have a value")
        (inner,) = [a for a in args if a is not type(None)]
        return _decode(value, inner, where)
    if value is None:
        raise InvalidInput(where, "must have a value")
    if origin is tuple:
        if not isinstance(value, list):
            raise InvalidInput(where, "must be a list")
        return tuple(_decode(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
    if isinstance(hint, type) and issubclass(hint, Enum):
        try:
            return hint(value)
        except ValueError:
            allowed = ", ".join(str(m.value) for m in hint)
            raise InvalidInput(where, f"{value!r} is not one of {allowed}") from None
    if hint is bool:
        if not isinstance(value, bool):
            raise InvalidInput(where, "must be true or false")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInput(where, "must be a whole number")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInput(where, "must be a number")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise InvalidInput(where, "must be text")
        return value
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise InvalidInput(where, f"must be an object ({_kind_name(hint)})")
        return _build(hint, value, where)
    raise InvalidInput(where, f"has a type the engine cannot read ({_kind_name(hint)})")


def _build(cls: type, values: Mapping[str, Any], where: str,
           common: Mapping[str, Any] | None = None) -> Any:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    missing = [n for n in names if n not in values and n not in (common or {})]
    if missing:
        raise InvalidInput(f"{where}.{missing[0]}", f"is missing ({_kind_name(cls)})")
    extra = sorted(set(values) - set(names))
    if extra:
        raise InvalidInput(f"{where}.{extra[0]}", f"is not a field of {_kind_name(cls)}")
    kwargs = dict(common or {})
    for name in names:
        if name not in kwargs:
            kwargs[name] = _decode(values[name], hints[name], f"{where}.{name}")
    return cls(**kwargs)


def _own_fields(cls: type) -> frozenset[str]:
    return frozenset(f.name for f in dataclasses.fields(cls) if f.name not in _COMMON)


def typed_rows(row: LabelRow) -> tuple[Any, ...]:
    """The typed row(s) a label row of an engine table is: the kind whose fields it names
    exactly, or the kinds whose fields together are exactly its fields."""
    kinds = ROW_KINDS.get(row.table)
    if kinds is None:
        raise InvalidInput(row.rule_id, f"table {row.table!r} is not read by the course engine")
    fields = row.fields
    keys = frozenset(fields)
    exact = [k for k in kinds if _own_fields(k) == keys]
    chosen = exact or [k for k in kinds if _own_fields(k) and _own_fields(k) <= keys]
    covered = frozenset().union(*(_own_fields(k) for k in chosen)) if chosen else frozenset()
    if not chosen or covered != keys:
        shapes = "; ".join(f"{_kind_name(k)}: {', '.join(sorted(_own_fields(k))) or 'no fields'}"
                           for k in kinds)
        raise InvalidInput(f"{row.rule_id}.fields", f"fit no row of table {row.table!r} "
                                                    f"({shapes})")
    common = {"rule_id": row.rule_id, "tag": row.tag, "text": row.text}
    return tuple(_build(k, {n: fields[n] for n in _own_fields(k)}, f"{row.rule_id}.fields",
                        common) for k in chosen)


# --------------------------------------------------------------------------- the value


@dataclass(frozen=True, slots=True, eq=False)
class Rules:
    """One label's rows as the course engine reads them, with its lookups built once.

    Equality is identity: two values built from the same label compare by ``content_hash``."""

    drug: str
    version: str
    content_hash: str
    slots: tuple[DoseSlot, ...]
    cycle_length: schedule.CycleLength
    monitoring_tiers: tuple[monitoring.MonitoringTier, ...]
    extended_monitoring: monitoring.ExtendedMonitoring
    concomitant_days: concomitant.ConcomitantDays
    premedication: tuple[concomitant.Medication, ...]
    post_infusion: tuple[concomitant.Medication, ...]
    hydration: concomitant.Note
    lab_requirements: tuple[labs.LabRequirement, ...]
    restart_rows: tuple[restart.RestartRow, ...]
    step_gap: restart.StepGap
    restart_cycle1_care: restart.SitePolicyDefault
    eligibility: Eligibility
    counselling: Mapping[Concern, Counselling]
    toxicity_rules: tuple[toxicity.ToxicityRule, ...]
    lab_thresholds: tuple[toxicity.LabThreshold, ...]
    hepatic_rules: tuple[toxicity.HepaticGradeRule, ...]
    hys_law: toxicity.HysLaw
    # lookups, built by rules_of
    planned: tuple[PlannedSlot, ...]
    intervals: tuple[int, ...]  # of each planned slot; 0 for the first dose
    planned_doses: tuple[int, ...]
    step_up_dose: int
    full_dose: int
    doses: tuple[int, ...]  # every dose the schedule gives, ascending
    continue_row: Mapping[restart.LastDose, restart.RestartRow]
    step_up_row: Mapping[restart.LastDose, restart.RestartRow]
    continue_max: Mapping[restart.LastDose, int]
    #: :meth:`rules_for_event` of every event type and grade 1-5 (the grades an event may have)
    event_rules: Mapping[tuple[toxicity.EventType, int], tuple[toxicity.ToxicityRule, ...]]
    #: ``cite(slot.rule)`` of each planned slot: the citation of a slot's own row (a value every
    #: decision that cites it may share)
    slot_citations: tuple[Citation, ...]

    def slot(self, index: int) -> PlannedSlot:
        """The ``index``-th slot of the planned course (0 is the first dose)."""
        if type(index) is int and 0 <= index < len(self.planned):
            return self.planned[index]
        try:
            return schedule.planned_slot(index, self.slots)
        except ValueError as exc:
            raise InvalidInput("slot_index", str(exc)) from None

    def tier_for(self, cycle: int, day: int) -> monitoring.MonitoringTier:
        return monitoring.tier_for(cycle, day, self.monitoring_tiers)

    def labs_for(self, cycle: int, day: int) -> labs.LabRequirement:
        return labs.requirement_for(cycle, day, self.lab_requirements)

    def rules_for_event(self, event: toxicity.EventType, grade: int,
                        ) -> tuple[toxicity.ToxicityRule, ...]:
        return toxicity.rules_for_event(event, grade, self.toxicity_rules)


def _one(found: list[Any], label: Label, what: str, table: str) -> Any:
    if len(found) != 1:
        ids = ", ".join(r.rule_id for r in found)
        raise InvalidInput(table, f"{label.version} needs exactly one {what} row"
                                  + (f" (it has {ids})" if ids else " (it has none)"))
    return found[0]


def _check_schedule(slots: tuple[DoseSlot, ...], cycle: schedule.CycleLength) -> None:
    if not slots:
        raise InvalidInput("schedule", "has no dose rows")
    step_ups = [s for s in slots if s.step_up]
    first = min(slots, key=lambda s: (s.first_cycle, s.day))
    if len(step_ups) != 1 or step_ups[0] is not first:
        raise InvalidInput("schedule", "the engine computes one step-up dose, the first dose of "
                                       "the course, then a full dose: mark exactly the first "
                                       "row step_up")
    if first.first_cycle != 1 or first.interval_days is not None or first.last_cycle != 1:
        raise InvalidInput(f"{first.rule_id}.fields", "the step-up dose is Cycle 1's first "
                                                      "dose, once, with no interval")
    full = {s.dose_mg for s in slots if not s.step_up}
    if len(full) != 1:
        raise InvalidInput("schedule", "every dose after the step-up dose must be the same "
                                       f"full dose (rows give {sorted(full)} mg)")
    for s in slots:
        where = f"{s.rule_id}.fields"
        if s.dose_mg <= 0:
            raise InvalidInput(f"{where}.dose_mg", "must be more than 0")
        if not 1 <= s.day <= cycle.days:
            raise InvalidInput(f"{where}.day", f"must be a day of the {cycle.days}-day cycle")
        if s.first_cycle < 1 or (s.last_cycle is not None and s.last_cycle < s.first_cycle):
            raise InvalidInput(f"{where}.first_cycle", "cycles run from 1, first before last")
        if s is not first and (s.interval_days is None or s.interval_days < 1):
            raise InvalidInput(f"{where}.interval_days", "every dose but the first follows "
                                                         "the previous one by 1 day or more")
    for a, b in ((a, b) for i, a in enumerate(slots) for b in slots[i + 1:]):
        last_a, last_b = a.last_cycle or _NO_LIMIT, b.last_cycle or _NO_LIMIT
        if a.day == b.day and a.first_cycle <= last_b and b.first_cycle <= last_a:
            raise InvalidInput(f"{b.rule_id}.fields.day", f"Day {b.day} is also {a.rule_id}'s "
                                                          "day in the same cycles")


def _check_cover(planned: Iterable[PlannedSlot], rows: tuple[Any, ...], table: str) -> None:
    """Exactly one row of ``rows`` covers each planned slot (a gap or an overlap is refused)."""
    for slot in planned:
        covering = [r for r in rows if r.covers(slot.cycle, slot.day)]
        if not covering:
            raise InvalidInput(table, f"no row covers {slot.label} (a gap in the table)")
        if len(covering) > 1:
            raise InvalidInput(f"{covering[1].rule_id}.fields",
                               f"covers {slot.label}, which {covering[0].rule_id} covers too")


def _check_restart(rows: tuple[restart.RestartRow, ...]) -> None:
    """Per family of last dose, one row to continue from day 0 and one to step up after it."""
    for family in restart.LastDose:
        own = sorted((r for r in rows if r.after is family), key=lambda r: r.min_days)
        shape = [r.action for r in own]
        if shape != [restart.RestartAction.CONTINUE, restart.RestartAction.STEP_UP]:
            raise InvalidInput("restart", f"after a {family.value} the table needs one "
                                          "restart_continue row from 0 days and one "
                                          "restart_step_up row after it, with no upper bound")
        go, step = own
        if go.min_days != 0 or go.max_days is None or step.min_days != go.max_days + 1 \
                or step.max_days is not None:
            raise InvalidInput(f"{step.rule_id}.fields", f"after a {family.value} the days "
                                                         f"must run 0-{go.max_days}, then "
                                                         f"{(go.max_days or 0) + 1} and more, "
                                                         "with no gap")


def rules_of(label: Label) -> Rules:
    """The engine's rules of ``label``, checked; ``InvalidInput`` names the row or table that
    the engine cannot compute with."""
    missing = [t for t in ENGINE_TABLES if t not in label.table_names]
    if missing:
        raise InvalidInput(missing[0], f"{label.version} has no {missing[0]} table")
    by_kind: dict[type, list[Any]] = {}
    for table in label.tables:
        if table.name not in ROW_KINDS:
            continue
        for row in table.rows:
            for typed in typed_rows(row):
                by_kind.setdefault(type(typed), []).append(typed)

    def every(cls: type) -> list[Any]:
        return by_kind.get(cls, [])

    slots = tuple(every(schedule.DoseSlot))
    cycle = _one(every(schedule.CycleLength), label, "cycle length", "schedule")
    _check_schedule(slots, cycle)
    steady_cycle = max(b for r in slots for b in (r.first_cycle, (r.last_cycle or 0) + 1))
    planned = tuple(schedule.planned_slot(i, slots) for i in range(PRECOMPUTED_SLOTS))
    check_upto = [s for s in planned if s.cycle <= steady_cycle + 1]
    tiers = tuple(every(monitoring.MonitoringTier))
    _check_cover(check_upto, tiers, "monitoring")
    lab_rows = tuple(every(labs.LabRequirement))
    _check_cover(check_upto, lab_rows, "labs")
    restart_rows = tuple(every(restart.RestartRow))
    _check_restart(restart_rows)
    meds = every(concomitant.Medication)
    counselling: dict[Concern, Counselling] = {}
    for row in every(Counselling):
        if row.concerns in counselling:
            raise InvalidInput(f"{row.rule_id}.fields.concerns",
                               f"{counselling[row.concerns].rule_id} already counsels on "
                               f"{row.concerns.value}")
        counselling[row.concerns] = row
    tox_rules = tuple(every(toxicity.ToxicityRule))
    step_up = next(s for s in slots if s.step_up)
    full = next(s for s in slots if not s.step_up)
    go = {r.after: r for r in restart_rows if r.action is restart.RestartAction.CONTINUE}
    return Rules(
        drug=label.drug, version=label.version, content_hash=label.content_hash,
        slots=slots, cycle_length=cycle, monitoring_tiers=tiers,
        extended_monitoring=_one(every(monitoring.ExtendedMonitoring), label,
                                 "monitoring-after-toxicity", "monitoring"),
        concomitant_days=_one(every(concomitant.ConcomitantDays), label,
                              "concomitant-medication days", "concomitant"),
        premedication=tuple(m for m in meds if m.when is concomitant.Timing.BEFORE),
        post_infusion=tuple(m for m in meds if m.when is concomitant.Timing.AFTER),
        hydration=_one(every(concomitant.Note), label, "hydration note", "concomitant"),
        lab_requirements=lab_rows, restart_rows=restart_rows,
        step_gap=_one(every(restart.StepGap), label, "restart step-up gap", "restart"),
        restart_cycle1_care=_one(every(restart.SitePolicyDefault), label,
                                 "restart-care policy", "restart"),
        eligibility=_one(every(Eligibility), label, "indication", "eligibility"),
        counselling=MappingProxyType(counselling),
        toxicity_rules=tox_rules,
        lab_thresholds=tuple(every(toxicity.LabThreshold)),
        hepatic_rules=toxicity.hepatic_lab_rules(tox_rules),
        hys_law=_one(every(toxicity.HysLaw), label, "Hy's law", "toxicity"),
        planned=planned,
        intervals=tuple(s.rule.interval_days or 0 for s in planned),
        planned_doses=tuple(s.rule.dose_mg for s in planned),
        step_up_dose=step_up.dose_mg, full_dose=full.dose_mg,
        doses=tuple(sorted({s.dose_mg for s in slots})),
        continue_row=MappingProxyType(go),
        step_up_row=MappingProxyType({r.after: r for r in restart_rows
                                      if r.action is restart.RestartAction.STEP_UP}),
        continue_max=MappingProxyType({f: (r.max_days if r.max_days is not None else _NO_LIMIT)
                                       for f, r in go.items()}),
        event_rules=MappingProxyType({(event, grade): toxicity.rules_for_event(event, grade,
                                                                               tox_rules)
                                      for event in toxicity.EventType for grade in range(1, 6)}),
        slot_citations=tuple(cite(s.rule) for s in planned),
    )


#: The built-in label (US-PI-2025-11) as the engine reads it, built once at import from the
#: same rows :func:`~tarla.label.value.current_label` registers and hashes.
BUILTIN_RULES: Rules = rules_of(current_label())
