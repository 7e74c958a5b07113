"""The bench steps of one preparation: each recipe step confirmed in order, with the volume
measured on the bench judged against the recipe of the ordered dose.

Source: label-facts §4 "Preparation (pharmacy)": water into the vial against the glass wall,
inspect the solution, then in the bag: withdraw saline -> add IVSS -> add drug -> remove air
(:data:`tarla.label.preparation.STEPS`). Volumes come from the strength's recipe column
(:func:`tarla.domain.preparation.plan_preparation`); the tolerance on a measured volume is not
in the label: it is the site-policy default
:data:`tarla.label.preparation.BENCH_TOLERANCE` (UNVERIFIED).

The water goes in only after the drug vial's scan was accepted for the ordered dose (the wrong
strength is the main medication-error risk), and every later step waits for the reconstitution
to be on the in-use clock, which starts then. Which steps a clock event needs is
:func:`missing_steps`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

from tarla.domain.clock import EventKind
from tarla.domain.preparation import plan_preparation
from tarla.label import preparation as prep

__all__ = ["BenchStep", "StepInstruction", "StepVerdict", "INSPECTION_QUESTIONS",
           "steps_for", "judge_step", "missing_steps", "tolerance_ml"]


class BenchStep(StrEnum):
    """The confirmed steps, in the label's order (label-facts §4 "Order in the bag")."""

    WATER_ADDED = "water_added"
    INSPECTED = "inspected"
    SALINE_WITHDRAWN = "saline_withdrawn"
    IVSS_ADDED = "ivss_added"
    DRUG_ADDED = "drug_added"
    AIR_REMOVED = "air_removed"


#: step -> (the rule id of its row in label.preparation.STEPS, a short title)
_SOURCE: Mapping[BenchStep, tuple[str, str]] = MappingProxyType({
    BenchStep.WATER_ADDED: ("PREP-STEP-WATER", "Sterile water added to the vial"),
    BenchStep.INSPECTED: ("PREP-STEP-INSPECT", "Solution inspected"),
    BenchStep.SALINE_WITHDRAWN: ("PREP-STEP-WITHDRAW", "Saline withdrawn from the bag"),
    BenchStep.IVSS_ADDED: ("PREP-STEP-IVSS", "IVSS added to the bag"),
    BenchStep.DRUG_ADDED: ("PREP-STEP-DRUG", "Drug added to the bag"),
    BenchStep.AIR_REMOVED: ("PREP-STEP-AIR", "Air removed from the bag"),
})

#: The inspection's three yes/no answers (PREP-STEP-INSPECT): (name, question, refusal)
INSPECTION_QUESTIONS: tuple[tuple[str, str, str], ...] = (
    ("clear", "Clear to slightly opalescent (not cloudy)?",
     "do not use: the solution is cloudy, not clear to slightly opalescent"),
    ("colourless", "Colourless to slightly yellow?",
     "do not use: the solution is not colourless to slightly yellow"),
    ("no_particles", "Free of visible particles?",
     "do not use: the solution has particles"),
)

#: which steps a clock event needs confirmed first
_BEFORE_EVENT: Mapping[str, tuple[BenchStep, ...]] = MappingProxyType({
    EventKind.RECONSTITUTED.value: (BenchStep.WATER_ADDED,),
    EventKind.BAG_PREPARED.value: tuple(BenchStep),
})


@dataclass(frozen=True, slots=True)
class StepInstruction:
    """One bench step for one dose: what to do and, for a volume step, the recipe volume."""

    code: BenchStep
    title: str
    instruction: str
    expected_ml: Decimal | None
    rule: str  # the label row the step comes from (PREP-STEP-...)

    @property
    def tolerance_ml(self) -> Decimal | None:
        return None if self.expected_ml is None else tolerance_ml(self.expected_ml)


@dataclass(frozen=True, slots=True)
class StepVerdict:
    """Whether ``step`` may be confirmed now; each refusal is (field, text)."""

    step: str
    allowed: bool
    refusals: tuple[tuple[str, str], ...]
    rules: tuple[str, ...]


def tolerance_ml(expected_ml: Decimal) -> Decimal:
    """The accepted distance either side of ``expected_ml`` (PREP-BENCH-TOLERANCE)."""
    return expected_ml * prep.BENCH_TOLERANCE.percent / Decimal(100)


def _ml(value: Decimal) -> str:
    return format(value.normalize(), "f")


def steps_for(dose_mg: int) -> tuple[StepInstruction, ...]:
    """The six bench steps for ``dose_mg`` (1 or 10), in order, volumes from its recipe."""
    plan = plan_preparation(dose_mg)
    by_rule = {s.citation.rule: s for s in plan.steps}
    out = []
    swirl = by_rule["PREP-STEP-SWIRL"].instruction
    for code in BenchStep:
        rule, title = _SOURCE[code]
        recipe_step = by_rule[rule]
        instruction = recipe_step.instruction
        if code is BenchStep.WATER_ADDED:  # swirling is part of confirming the water
            instruction = f"{instruction}. {swirl}"
        out.append(StepInstruction(code, title, instruction, recipe_step.volume_ml, rule))
    return tuple(out)


def _first_missing(done: set[str]) -> BenchStep | None:
    return next((s for s in BenchStep if s.value not in done), None)


def _name(code: BenchStep) -> str:
    return f"'{_SOURCE[code][1]}' ({code.value})"


def _order(code: BenchStep, done: set[str]) -> tuple[BenchStep | None, str] | None:
    """None when ``code`` is the next step; else the step to do instead and why."""
    first = _first_missing(done)
    if code.value in done:
        then = ("all bench steps are confirmed" if first is None
                else f"the next step is {_name(first)}")
        return first, f"{_name(code)} is already confirmed; {then}"
    if first is not None and first is not code:
        return first, f"{_name(first)} comes first: confirm it before {_name(code)}"
    return None


def _volume(spec: StepInstruction, dose_mg: int, measured: Decimal | None,
            ) -> tuple[str, str] | None:
    expected = spec.expected_ml
    if expected is None:
        if measured is not None:
            return "measured_ml", f"'{spec.title}' has no volume to enter"
        return None
    if measured is None:
        return "measured_ml", f"enter the volume measured (recipe: {_ml(expected)} mL)"
    if not measured.is_finite() or measured <= 0:
        return "measured_ml", f"{measured} is not a volume: enter the mL measured (more than 0)"
    tolerance = tolerance_ml(expected)
    if abs(measured - expected) > tolerance:
        pct = _ml(prep.BENCH_TOLERANCE.percent)
        return "measured_ml", (
            f"measured {measured} mL; the recipe for {dose_mg} mg is {_ml(expected)} mL "
            f"(± {pct} %): {_ml(expected - tolerance)} to {_ml(expected + tolerance)} mL is "
            "accepted")
    return None


def _inspection(code: BenchStep, answers: Mapping[str, bool] | None,
                ) -> list[tuple[str, str]]:
    if code is not BenchStep.INSPECTED:
        if answers:
            return [("inspection", "only the inspection step takes inspection answers")]
        return []
    given = dict(answers or {})
    out: list[tuple[str, str]] = []
    for name, question, refusal in INSPECTION_QUESTIONS:
        answer = given.pop(name, None)
        if answer is None:
            out.append((f"inspection.{name}", f"answer yes or no: {question}"))
        elif answer is not True:
            out.append((f"inspection.{name}", refusal))
    out += [(f"inspection.{name}", "is not an inspection question") for name in sorted(given)]
    return out


def judge_step(*, dose_mg: int, done: Sequence[str], step: str, measured_ml: Decimal | None,
               inspection: Mapping[str, bool] | None, reconstituted: bool,
               drug_scan_accepted: bool) -> StepVerdict:
    """May ``step`` be confirmed now, given the steps ``done``, the measured volume, the
    inspection answers, whether the reconstitution is on the clock and whether the latest scan
    of the drug vial was accepted for the ordered dose? Every refusal is returned."""
    specs = {s.code: s for s in steps_for(dose_mg)}  # refuses a dose that is not 1 or 10
    try:
        code = BenchStep(step)
    except ValueError:
        known = ", ".join(s.value for s in BenchStep)
        return StepVerdict(step, False, (("step", f"{step!r} is not a bench step ({known})"),),
                           ())
    spec = specs[code]
    refusals: list[tuple[str, str]] = []
    rules = [spec.rule]
    done_set = set(done)
    order = _order(code, done_set)
    if order is not None:
        first, why = order
        refusals.append(("step", why))
        if first is not None:
            rules.append(specs[first].rule)
    if code is BenchStep.WATER_ADDED and not drug_scan_accepted:
        refusals.append(("scan", f"scan the drug vial first: it must be accepted for the "
                                 f"ordered {dose_mg} mg dose before the water goes in"))
        rules.append(prep.SCAN_STRENGTH.rule_id)
    if code is not BenchStep.WATER_ADDED and not reconstituted:
        refusals.append(("step", "record the reconstitution on the in-use clock first: every "
                                 "time limit counts from it"))
        rules.append(prep.SEQUENCE.rule_id)
    volume = _volume(spec, dose_mg, measured_ml)
    if spec.expected_ml is not None:
        rules.append(prep.BENCH_TOLERANCE.rule_id)
    if volume is not None:
        refusals.append(volume)
    refusals += _inspection(code, inspection)
    return StepVerdict(code.value, not refusals, tuple(refusals), tuple(dict.fromkeys(rules)))


def missing_steps(dose_mg: int, done: Sequence[str], before_event: str) -> tuple[str, ...]:
    """The bench steps still to confirm before the clock event ``before_event``: the water
    before ``reconstituted``, all six before ``bag_prepared``, none before any other event."""
    plan_preparation(dose_mg)  # refuses a dose that is not a tarlatamab dose
    confirmed = set(done)
    return tuple(s.value for s in _BEFORE_EVENT.get(before_event, ()) if s.value not in confirmed)
