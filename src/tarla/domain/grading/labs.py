"""CTCAE v5.0 grades of lab values and of febrile neutropenia (rows in :mod:`.ctcae`).

Reference limits (``uln``, ``lln``) and ``baseline`` are in the same unit as the value (for
``xULN`` values the baseline is a multiple of ULN too, and ``uln`` is not given). What is needed
depends on the value: a decrease needs ``lln`` only when the value is not low enough for
grade 2 (it could be grade 1 or 0); an increase always needs ``uln`` unless given as ``xULN``;
sodium 125-129 mmol/L needs ``symptomatic``. A missing one is refused naming it, never assumed.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from tarla.domain.errors import InvalidInput
from tarla.domain.grading.common import (
    Driver,
    GradingSystem,
    check_temperature,
    decimal_of,
    flag,
    fmt,
    non_negative,
    positive,
)
from tarla.domain.grading.ctcae import (
    FEBRILE_NEUTROPENIA,
    FN_DEATH,
    FN_LIFE_THREATENING,
    CtcaeTerm,
    Direction,
    LabCriterion,
    LabTest,
    Reference,
    TermRow,
    criteria_for,
    term_for,
)
from tarla.domain.grading.units import XULN, Quantity, UnitRow, to_e9_per_l, unit_row

__all__ = ["LabGrade", "grade_lab", "FebrileNeutropeniaGrade", "grade_febrile_neutropenia",
           "to_e9_per_l"]


@dataclass(frozen=True, slots=True)
class LabGrade:
    test: LabTest
    term: CtcaeTerm
    grade: int
    system: GradingSystem
    drivers: tuple[Driver, ...]
    value_si: float  # in ``unit_si``: 10^9/L, g/dL, mmol/L, U/L, µmol/L, or xULN
    unit_si: str
    times_uln: float | None  # increases only
    meddra_code: str
    baseline_abnormal: bool | None  # None for terms without a baseline rule


@dataclass(frozen=True, slots=True)
class _Reading:
    """The value as a decimal in the unit whose CTCAE column grades it."""

    value: Decimal
    shown: str  # how the value is named in a driver's detail
    unit: UnitRow


def grade_lab(
    test: str,
    value: float,
    unit: str,
    *,
    uln: float | None = None,
    lln: float | None = None,
    baseline: float | None = None,
    symptomatic: bool | None = None,
) -> LabGrade:
    """Grade one lab value by CTCAE v5.0. ``baseline`` absent means a normal baseline."""
    row = _term(test)
    number = non_negative(value, "value")
    units = unit_row(row.quantity, unit)
    upper = None if uln is None else positive(uln, "uln")
    lower = None if lln is None else positive(lln, "lln")
    if upper is not None and lower is not None and lower >= upper:
        raise InvalidInput("lln", f"{fmt(lower)} is not below uln {fmt(upper)}")
    if baseline is not None and not row.uses_baseline:
        raise InvalidInput("baseline", f"is not used for {row.test.value} (CTCAE v5.0 applies a "
                           "baseline only to ALT, AST and bilirubin)")
    if symptomatic is not None:
        if not row.uses_symptoms:
            raise InvalidInput("symptomatic", f"is not used for {row.test.value} (only sodium)")
        flag(symptomatic, "symptomatic")
    reading = _Reading(decimal_of(number) * units.to_graded,
                       _shown(row.test, number, units), units)
    if row.direction is Direction.BELOW:
        drivers: tuple[Driver, ...] = (_grade_decrease(row, reading, lower, symptomatic),)
        times_uln: float | None = None
        abnormal: bool | None = None
    else:
        base = None if baseline is None else non_negative(baseline, "baseline")
        driver, times_uln, abnormal = _grade_increase(row, reading, upper, base)
        drivers = (driver,)
    value_si = float(decimal_of(number) * units.to_si)
    return LabGrade(row.test, row.term, drivers[0].grade, GradingSystem.CTCAE_5_0, drivers,
                    value_si, units.si_unit, times_uln, row.meddra, abnormal)


_TEST_NAMES = frozenset(t.value for t in LabTest)


def _term(test: object) -> TermRow:
    if isinstance(test, str) and test in _TEST_NAMES:
        return term_for(LabTest(test))
    accepted = ", ".join(t.value for t in LabTest)
    raise InvalidInput("test", f"{test!r} is not a graded lab test (accepted: {accepted})")


def _shown(test: LabTest, number: float, units: UnitRow) -> str:
    text = f"{test.value} {fmt(number)} {units.unit}"
    if units.to_graded != 1:
        text += f" (= {fmt(decimal_of(number) * units.to_graded)} {units.graded_in})"
    return text


def _met(c: LabCriterion, value: Decimal, bound: Decimal, direction: Direction) -> bool:
    if c.inclusive and value == bound:
        return True
    return value < bound if direction is Direction.BELOW else value > bound


def _grade_decrease(row: TermRow, reading: _Reading, lln: float | None,
                    symptomatic: bool | None) -> Driver:
    rows = criteria_for(row.term, reading.unit.graded_in,
                        frozenset({Reference.ABSOLUTE, Reference.LLN}))
    last_absolute = Decimal(0)
    for c in rows:
        if c.reference is Reference.LLN:
            if lln is None:
                raise InvalidInput("lln", f"is needed: {reading.shown} is not below "
                                   f"{last_absolute} {reading.unit.graded_in}, so it is "
                                   f"grade 1 if below the lower limit of normal, else grade 0")
            limit = decimal_of(lln) * reading.unit.to_graded
            if _met(c, reading.value, limit, Direction.BELOW):
                return Driver(row.test.value, f"{reading.shown} is below the LLN "
                              f"{fmt(limit)} {reading.unit.graded_in}: {c.written}", c.grade,
                              c.source)
            return Driver(row.test.value, f"{reading.shown} is not below the LLN "
                          f"{fmt(limit)} {reading.unit.graded_in}: within normal limits", 0,
                          f"{c.source} not met")
        last_absolute = c.bound
        if not _met(c, reading.value, c.bound, Direction.BELOW):
            continue
        if c.symptomatic is not None:
            if symptomatic is None:
                raise InvalidInput("symptomatic", f"is needed: {reading.shown} is grade 3 if "
                                   "symptomatic and grade 2 if asymptomatic")
            if symptomatic is not c.symptomatic:
                continue
        return Driver(row.test.value, f"{reading.shown} is below {c.bound} {c.unit}: "
                      f"{c.written}", c.grade, c.source)
    raise AssertionError(f"no LLN row for {row.term}")  # pragma: no cover - table invariant


def _grade_increase(row: TermRow, reading: _Reading, uln: float | None,
                    baseline: float | None) -> tuple[Driver, float, bool]:
    multiple = reading.unit.unit == XULN
    if multiple and uln is not None:
        raise InvalidInput("uln", f"is not used when unit is {XULN} (the value is already a "
                           "multiple of ULN)")
    if not multiple and uln is None:
        raise InvalidInput("uln", f"is required to grade {row.test.value} in "
                           f"{reading.unit.unit} (or send the value in {XULN})")
    upper = decimal_of(uln) if uln is not None else Decimal(1)
    times_uln = float(reading.value / upper)
    base = None if baseline is None else decimal_of(baseline)
    if base is not None and base > upper:
        reference, ref_value, ref_name = Reference.BASELINE, base, "baseline"
        ref_text = (f"baseline {fmt(base)} {reading.unit.unit} is above ULN, so CTCAE applies "
                    "multiples of baseline")
    else:
        reference, ref_value, ref_name = Reference.ULN, upper, "ULN"
        ref_text = "baseline normal" if base is not None else "no baseline given (normal)"
    abnormal = reference is Reference.BASELINE
    seen = f"{reading.shown} = {_ratio(reading.value / ref_value)} x {ref_name}"
    if abnormal or not multiple:
        seen += f" ({fmt(ref_value)}{'' if multiple else ' ' + reading.unit.unit})"
    rows = criteria_for(row.term, reading.unit.graded_in, frozenset({reference}))
    for c in rows:
        if _met(c, reading.value, c.bound * ref_value, Direction.ABOVE):
            at = "at or above" if c.inclusive else "above"
            return (Driver(row.test.value, f"{seen} is {at} {c.bound} x {ref_name}; "
                           f"{ref_text}: {c.written}", c.grade, c.source), times_uln, abnormal)
    lowest = rows[-1]
    start = "at" if lowest.inclusive else "above"
    return (Driver(row.test.value, f"{seen}; {ref_text}: grade 1 starts {start} {lowest.bound} "
                   f"x {ref_name}", 0, f"{lowest.source} not met"), times_uln, abnormal)


def _ratio(ratio: Decimal) -> str:
    shown = ratio.quantize(Decimal("0.01"))
    return fmt(shown) if shown == ratio else f"≈{fmt(shown)}"


# --- febrile neutropenia ----------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class FebrileNeutropeniaGrade:
    term: CtcaeTerm
    grade: int
    system: GradingSystem
    drivers: tuple[Driver, ...]
    anc_e9_per_l: float
    meddra_code: str


def grade_febrile_neutropenia(
    *,
    anc: float,
    unit: str,
    temperature_c: float,
    sustained_fever_minutes: float = 0,
    life_threatening: bool = False,
    death_attributed: bool = False,
) -> FebrileNeutropeniaGrade:
    """Grade febrile neutropenia. ``temperature_c`` is the highest single reading;
    ``sustained_fever_minutes`` how long the temperature has stayed at or above 38.0 °C.
    ``life_threatening`` / ``death_attributed`` raise a met grade 3 to 4 / 5; they are refused
    when the grade 3 criteria are not met (then it is not febrile neutropenia)."""
    fn = FEBRILE_NEUTROPENIA
    anc_e9 = decimal_of(non_negative(anc, "anc")) * unit_row(Quantity.CELL_COUNT,
                                                             unit).to_graded
    temp = decimal_of(check_temperature(temperature_c))
    minutes = decimal_of(non_negative(sustained_fever_minutes, "sustained_fever_minutes"))
    if minutes > 0 and temp < fn.sustained_temperature_from_c:
        raise InvalidInput("sustained_fever_minutes", f"{fmt(minutes)} min of fever given but "
                           f"the highest temperature {fmt(temp)} °C is below "
                           f"{fn.sustained_temperature_from_c} °C")
    severe = flag(life_threatening, "life_threatening")
    died = flag(death_attributed, "death_attributed")
    neutropenic = anc_e9 < fn.anc_below_e9_per_l
    single = temp > fn.single_temperature_above_c
    sustained = minutes > fn.sustained_longer_than_min
    seen = (f"ANC {fmt(anc_e9)} x10^9/L, highest temperature {fmt(temp)} °C, "
            f"{fmt(minutes)} min at or above {fn.sustained_temperature_from_c} °C")
    if not (neutropenic and (single or sustained)):
        for wanted, field in ((severe, "life_threatening"), (died, "death_attributed")):
            if wanted:
                raise InvalidInput(field, f"febrile neutropenia criteria are not met ({seen})")
        missing = (f"ANC not below {fn.anc_below_e9_per_l} x10^9/L" if not neutropenic
                   else f"no single temperature above {fn.single_temperature_above_c} °C "
                        f"and no fever sustained over {fmt(fn.sustained_longer_than_min)} min")
        drivers: tuple[Driver, ...] = (Driver("febrile_neutropenia", f"{seen}: {missing}", 0,
                          f"{fn.source} not met"),)
    else:
        why = "single temperature" if single else "sustained fever"
        met = Driver("febrile_neutropenia", f"{seen} ({why}): {fn.written}", fn.grade, fn.source)
        extra = [Driver(name, row.written, row.grade, row.source)
                 for name, row, on in (("death", FN_DEATH, died),
                                       ("life_threatening", FN_LIFE_THREATENING, severe)) if on]
        drivers = (*extra, met)
    return FebrileNeutropeniaGrade(CtcaeTerm.FEBRILE_NEUTROPENIA, drivers[0].grade,
                                   GradingSystem.CTCAE_5_0, drivers, float(anc_e9), fn.meddra)
