"""Input of ``tarla grade crs|icans|lab`` (contract: ``shared/contracts/README.md``,
"`tarla grade`"). Types and codes are checked here; ranges, consistency and the grading itself
are the core's (:mod:`tarla.domain.grading`), so a rule is written once.

Numbers must be JSON numbers and flags JSON booleans: ``"38.4"`` or ``1`` for ``true`` are
refused rather than coerced.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from tarla.domain.grading import (
    CerebralEdema,
    Consciousness,
    CrsGrade,
    Driver,
    IcansGrade,
    LabGrade,
    LabTest,
    Motor,
    OxygenDevice,
    Seizure,
)

__all__ = ["CrsInput", "IcansInput", "LabInput", "crs_to_json", "icans_to_json", "lab_to_json"]

#: A JSON number (integer or decimal), never a string or a boolean.
Number = Annotated[float, Field(strict=True)]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CrsInput(_Input):
    temperature_c: Number | None = None
    fever_masked: StrictBool = False
    hypotension: StrictBool
    vasopressors: StrictInt = 0
    vasopressin: StrictBool = False
    oxygen: OxygenDevice
    oxygen_l_per_min: Number | None = None
    death_attributed: StrictBool = False


class IcansInput(_Input):
    ice_score: StrictInt | None = None
    ice: dict[str, StrictInt] | None = None
    consciousness: Consciousness
    seizure: Seizure
    motor: Motor
    cerebral_edema: CerebralEdema
    death_attributed: StrictBool = False
    #: The patient is unarousable and cannot perform the ICE assessment (ICANS grade 4, with
    #: ``consciousness`` left at ``normal`` or set to ``unarousable``; no ICE items).
    ice_unable: StrictBool = False


class LabInput(_Input):
    test: LabTest
    value: Number
    unit: StrictStr
    uln: Number | None = None
    lln: Number | None = None
    baseline: Number | None = None
    symptomatic: StrictBool | None = None


# --------------------------------------------------------------------------- rendering


def _drivers(drivers: Sequence[Driver]) -> list[dict[str, str | int]]:
    return [d.as_dict() for d in drivers]


def crs_to_json(g: CrsGrade) -> dict[str, Any]:
    return {"system": g.system.value, "grade": g.grade, "drivers": _drivers(g.drivers),
            "fever_criterion_met": g.fever_criterion_met}


def icans_to_json(g: IcansGrade) -> dict[str, Any]:
    return {"system": g.system.value, "grade": g.grade, "drivers": _drivers(g.drivers),
            "ice_score": g.ice_score}


def lab_to_json(g: LabGrade, given: LabInput) -> dict[str, Any]:
    return {"system": g.system.value, "term": g.term.value, "grade": g.grade,
            "drivers": _drivers(g.drivers), "test": g.test.value, "meddra_code": g.meddra_code,
            "value": given.value, "unit": given.unit, "value_si": g.value_si,
            "unit_si": g.unit_si, "times_uln": g.times_uln,
            "baseline_abnormal": g.baseline_abnormal}
