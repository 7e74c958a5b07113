"""Cytokine release syndrome grade by ASTCT 2019 (rows in :mod:`.astct`).

The grade is the higher of the hypotension grade and the hypoxia grade, once the fever
criterion is met (temperature >= 38.0 C, or fever masked by antipyretic/anti-cytokine therapy);
fever alone is grade 1. Without the fever criterion the answer is grade 0: hypotension or hypoxia
without fever is not CRS by this scale. Organ toxicities are graded separately (CTCAE) and are
deliberately not parameters here: they never change the CRS grade.
"""

from __future__ import annotations

from dataclasses import dataclass

from tarla.domain.errors import InvalidInput
from tarla.domain.grading.astct import (
    CRS_DEATH,
    FEVER,
    HYPOTENSION_ROWS,
    LOW_FLOW_MAX_L_PER_MIN,
    LOW_FLOW_SOURCE,
    OXYGEN_ROWS,
    HypotensionRow,
    HypotensionSupport,
    OxygenDevice,
    OxygenRow,
)
from tarla.domain.grading.common import (
    Driver,
    GradingSystem,
    check_temperature,
    decimal_of,
    flag,
    fmt,
    non_negative,
)

__all__ = ["CrsGrade", "grade_crs", "DEVICE_SETS_GRADE"]

#: Oxygen devices whose grade is set by the device alone. The ASTCT CRS table grades hypoxia by
#: what it *needs*: grade 3 "high-flow nasal cannula, facemask, non-rebreather mask, or Venturi
#: mask", grade 4 "positive pressure (e.g. CPAP, BiPAP, intubation and mechanical
#: ventilation)". A flow in L/min is no part of those criteria (a ventilator or CPAP is charted
#: by FiO2 and pressures), so for these devices a flow of 0, or none, is accepted and ignored.
#: Only the nasal cannula is told apart by its flow (footnote ‡: low-flow <= 6 L/min, high-flow
#: > 6 L/min), and blow-by counts as low-flow: for those, 0 L/min means no oxygen.
DEVICE_SETS_GRADE = frozenset({
    OxygenDevice.HIGH_FLOW, OxygenDevice.FACEMASK, OxygenDevice.NON_REBREATHER,
    OxygenDevice.VENTURI, OxygenDevice.CPAP, OxygenDevice.BIPAP,
    OxygenDevice.MECHANICAL_VENTILATION})


@dataclass(frozen=True, slots=True)
class CrsGrade:
    system: GradingSystem
    grade: int
    drivers: tuple[Driver, ...]
    fever_criterion_met: bool


def grade_crs(
    *,
    temperature_c: float | None,
    hypotension: bool,
    oxygen: OxygenDevice | str,
    fever_masked: bool = False,
    vasopressors: int = 0,
    vasopressin: bool = False,
    oxygen_l_per_min: float | None = None,
    death_attributed: bool = False,
) -> CrsGrade:
    """Grade CRS. ``vasopressors`` counts agents other than vasopressin; ``vasopressin`` says
    whether vasopressin is also running. ``temperature_c`` may be ``None`` only when
    ``fever_masked``. ``oxygen_l_per_min`` is optional; for ``low_flow`` above 6 L/min the
    cannula is high-flow by the ASTCT definition. Masks, high-flow cannula and positive
    pressure (:data:`DEVICE_SETS_GRADE`) are graded by the device: their flow may be 0 or
    absent."""
    masked = flag(fever_masked, "fever_masked")
    device = _device(oxygen)
    support = _hypotension_support(flag(hypotension, "hypotension"), vasopressors,
                                   flag(vasopressin, "vasopressin"))
    flow = None if oxygen_l_per_min is None else non_negative(oxygen_l_per_min,
                                                              "oxygen_l_per_min")
    fever = _fever(temperature_c, masked)
    drivers: list[Driver] = []
    if flag(death_attributed, "death_attributed"):
        drivers.append(Driver("death", CRS_DEATH.text, CRS_DEATH.grade, CRS_DEATH.source))
    if fever.grade == 0:
        drivers.append(_not_crs(fever, support, device))
    else:
        if support is not None:
            drivers.append(_hypotension_driver(_row(support), vasopressors, vasopressin))
        oxygen_driver = _oxygen_driver(device, flow)
        if oxygen_driver is not None:
            drivers.append(oxygen_driver)
        drivers.append(fever)
    drivers.sort(key=lambda d: -d.grade)
    return CrsGrade(GradingSystem.ASTCT_2019, drivers[0].grade, tuple(drivers), fever.grade > 0)


def _device(oxygen: OxygenDevice | str) -> OxygenDevice:
    try:
        return OxygenDevice(oxygen)
    except ValueError:
        accepted = ", ".join(d.value for d in OxygenDevice)
        raise InvalidInput("oxygen", f"{oxygen!r} is not one of: {accepted}") from None


def _fever(temperature_c: float | None, masked: bool) -> Driver:
    if temperature_c is None:
        if not masked:
            raise InvalidInput("temperature_c", "is required unless fever_masked is true")
        return Driver("fever", "fever masked by antipyretic or anti-cytokine therapy: fever no "
                      "longer required", 1, FEVER.source)
    temp = check_temperature(temperature_c)
    if decimal_of(temp) >= FEVER.min_c:
        return Driver("fever", f"{fmt(temp)} °C ≥ {FEVER.min_c} °C", 1, FEVER.source)
    if masked:
        return Driver("fever", f"{fmt(temp)} °C, but fever masked by antipyretic or "
                      "anti-cytokine therapy: fever no longer required", 1, FEVER.source)
    return Driver("fever", f"{fmt(temp)} °C < {FEVER.min_c} °C and fever not masked",
                  0, FEVER.source)


def _not_crs(fever: Driver, support: HypotensionSupport | None, device: OxygenDevice) -> Driver:
    found = [text for text, present in (("hypotension", support is not None),
                                        (f"oxygen {device.value}", device is not OxygenDevice.NONE))
             if present]
    tail = f"; {' and '.join(found)} without fever is not CRS by ASTCT" if found else ""
    return Driver("fever", f"CRS criteria not met: {fever.detail}{tail}", 0, FEVER.source)


def _hypotension_support(hypotension: bool, vasopressors: int,
                         vasopressin: bool) -> HypotensionSupport | None:
    if isinstance(vasopressors, bool) or not isinstance(vasopressors, int):
        raise InvalidInput("vasopressors", f"{vasopressors!r} is not a whole number of agents")
    if vasopressors < 0:
        raise InvalidInput("vasopressors", f"{vasopressors} is negative")
    if not hypotension:
        if vasopressors:
            raise InvalidInput("vasopressors", f"{vasopressors} vasopressor(s) recorded but "
                               "hypotension is false; ASTCT counts vasopressors only as "
                               "treatment of CRS hypotension")
        if vasopressin:
            raise InvalidInput("vasopressin", "vasopressin recorded but hypotension is false; "
                               "ASTCT counts vasopressors only as treatment of CRS hypotension")
        return None
    if vasopressors >= 2:
        return HypotensionSupport.MULTIPLE_VASOPRESSORS
    # Vasopressin alone: the hypotension still *needs a vasopressor* (vasopressin is one), so it
    # is not grade 2 "not requiring vasopressors"; ASTCT excludes vasopressin only when
    # counting *multiple* vasopressors for grade 4. So vasopressin alone reads as grade 3,
    # the same as "one vasopressor with or without vasopressin".
    if vasopressors == 1 or vasopressin:
        return HypotensionSupport.ONE_VASOPRESSOR
    return HypotensionSupport.NO_VASOPRESSOR


def _row(support: HypotensionSupport) -> HypotensionRow:
    return next(r for r in HYPOTENSION_ROWS if r.support is support)


def _hypotension_driver(row: HypotensionRow, vasopressors: int, vasopressin: bool) -> Driver:
    if row.support is HypotensionSupport.NO_VASOPRESSOR:
        detail = "hypotension, no vasopressor"
    elif vasopressors == 0:
        detail = "hypotension on vasopressin alone (read as one vasopressor)"
    else:
        plus = " plus vasopressin (not counted)" if vasopressin else ""
        detail = f"hypotension on {vasopressors} vasopressor{'s' if vasopressors > 1 else ''}{plus}"
    return Driver("hypotension", f"{detail}: {row.text}", row.grade, row.source)


def _oxygen_row(device: OxygenDevice) -> OxygenRow:
    return next(r for r in OXYGEN_ROWS if r.device is device)


def _oxygen_driver(device: OxygenDevice, flow: float | None) -> Driver | None:
    at = "" if flow is None else f" at {fmt(flow)} L/min"
    if device is OxygenDevice.NONE:
        if flow:
            raise InvalidInput("oxygen_l_per_min", f"{fmt(flow)} L/min given but oxygen is none")
        return None
    row = _oxygen_row(device)
    if flow == 0 and device in DEVICE_SETS_GRADE:
        return Driver("hypoxia", f"{device.value.replace('_', ' ')} (0 L/min charted: the "
                      f"device sets the grade): {row.text}", row.grade, row.source)
    if flow == 0:
        raise InvalidInput("oxygen_l_per_min", f"0 L/min with oxygen {device.value}: give the "
                           "flow, or oxygen none when no oxygen is given")
    if flow is not None and device is OxygenDevice.LOW_FLOW:
        if decimal_of(flow) > LOW_FLOW_MAX_L_PER_MIN:
            high = _oxygen_row(OxygenDevice.HIGH_FLOW)
            return Driver("hypoxia", f"nasal cannula{at} is high-flow (> "
                          f"{LOW_FLOW_MAX_L_PER_MIN} L/min): {high.text}", high.grade,
                          f"{high.source}; {LOW_FLOW_SOURCE}")
        return Driver("hypoxia", f"nasal cannula{at} is low-flow (≤ "
                      f"{LOW_FLOW_MAX_L_PER_MIN} L/min): {row.text}", row.grade,
                      f"{row.source}; {LOW_FLOW_SOURCE}")
    if (flow is not None and device is OxygenDevice.HIGH_FLOW
            and decimal_of(flow) <= LOW_FLOW_MAX_L_PER_MIN):
        # Refused, not regraded: by the ASTCT definition this is low-flow (grade 2), but a
        # high-flow device at <= 6 L/min is more likely a charting slip than a grade-2 patient.
        raise InvalidInput("oxygen_l_per_min", f"{fmt(flow)} L/min with oxygen high_flow: "
                           f"high-flow means > {LOW_FLOW_MAX_L_PER_MIN} L/min; send "
                           "oxygen low_flow if the cannula runs at this rate")
    return Driver("hypoxia", f"{device.value.replace('_', ' ')}{at}: {row.text}", row.grade,
                  row.source)
