"""Toxicity grading: ASTCT 2019 (CRS, ICANS, ICE) and CTCAE v5.0 (labs, febrile neutropenia).

Pure functions over cited tables (:mod:`.astct`, :mod:`.ctcae`, :mod:`.units`); standard
library only. Every result names its ``system`` and the ``drivers`` that set its grade; bad
input raises :class:`tarla.domain.errors.InvalidInput` naming the field.
"""

from __future__ import annotations

from tarla.domain.grading.astct import (
    CerebralEdema,
    Consciousness,
    Motor,
    OxygenDevice,
    Seizure,
)
from tarla.domain.grading.common import Driver, GradingSystem
from tarla.domain.grading.crs import CrsGrade, grade_crs
from tarla.domain.grading.ctcae import CtcaeTerm, LabTest
from tarla.domain.grading.icans import IcansGrade, grade_icans, ice_score
from tarla.domain.grading.labs import (
    FebrileNeutropeniaGrade,
    LabGrade,
    grade_febrile_neutropenia,
    grade_lab,
)
from tarla.domain.grading.units import accepted_units, to_e9_per_l

__all__ = [
    "GradingSystem", "Driver",
    "OxygenDevice", "Consciousness", "Seizure", "Motor", "CerebralEdema", "LabTest", "CtcaeTerm",
    "CrsGrade", "grade_crs",
    "IcansGrade", "grade_icans", "ice_score",
    "LabGrade", "grade_lab", "FebrileNeutropeniaGrade", "grade_febrile_neutropenia",
    "to_e9_per_l", "accepted_units",
]
