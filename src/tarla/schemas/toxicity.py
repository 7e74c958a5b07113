"""Input of ``tarla grade crs|icans|lab`` (contract: ``shared/contracts/README.md``,
"`tarla grade`"). Types and codes are checked here; ranges, consistency and the grading itself
are the core's (:mod:`tarla.domain.grading`), so a rule is written once.

Numbers must be JSON numbers and flags JSON booleans: ``"38.4"`` or ``1`` for ``true`` are
refused rather than coerced.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from tarla.domain.grading import (
    CerebralEdema,
    Consciousness,
    LabTest,
    Motor,
    OxygenDevice,
    Seizure,
)

__all__ = ["CrsInput", "IcansInput", "LabInput"]

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


class LabInput(_Input):
    test: LabTest
    value: Number
    unit: StrictStr
    uln: Number | None = None
    lln: Number | None = None
    baseline: Number | None = None
    symptomatic: StrictBool | None = None
