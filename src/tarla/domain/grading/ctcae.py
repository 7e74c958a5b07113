"""CTCAE v5.0 laboratory terms used in tarlatamab therapy, as data.

Standard: NCI Common Terminology Criteria for Adverse Events (CTCAE) version 5.0, published
27 Nov 2017, sheet "CTCAE v5.0 Clean Copy" (Investigations; Blood and lymphatic system
disorders; Metabolism and nutrition disorders). Transcribed from
``shared/reference/standards.md`` §3.2, which gives the exact thresholds and MedDRA codes.

Boundary convention of the sheet: a decrease's range is written "< upper - lower", so the value
*at* a grade's lower number belongs to that grade (ANC exactly 1.0 x 10^9/L is grade 2, exactly
0.5 is grade 3); an increase's range is written "> lower - upper", so the value at a multiple
belongs to the lower grade (ALT exactly 3.0 x ULN is grade 1). Each row is "value < bound"
(decreases) or "value > bound" (increases), with ``inclusive`` marking the one exception the
sheet writes without a strict sign (ALT/AST with abnormal baseline: grade 1 *from* 1.5 x
baseline).

Not encoded, because they are not read from the number: anaemia grade 3 "transfusion
indicated", anaemia and hyponatraemia grades 4-5 "life-threatening consequences" / death
(hyponatraemia < 120 mmol/L *is* numeric grade 4), febrile neutropenia grades 4-5 beyond the
flags :func:`~tarla.domain.grading.labs.grade_febrile_neutropenia` takes.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

from tarla.domain.grading.units import E9_PER_L, Quantity

__all__ = ["LabTest", "CtcaeTerm", "Direction", "Reference", "TermRow", "TERMS", "term_for",
           "LabCriterion", "LAB_CRITERIA", "criteria_for", "FebrileNeutropeniaCriterion",
           "FEBRILE_NEUTROPENIA", "ClinicalGrade", "FN_LIFE_THREATENING", "FN_DEATH"]

_V5 = "CTCAE v5.0"


class LabTest(StrEnum):
    """Lab test names accepted by the graders (the contract's ``labs.test`` spellings)."""

    ANC = "ANC"
    PLATELETS = "platelets"
    HEMOGLOBIN = "hemoglobin"
    LYMPHOCYTES = "lymphocytes"
    ALT = "ALT"
    AST = "AST"
    BILIRUBIN = "bilirubin"
    SODIUM = "sodium"


class CtcaeTerm(StrEnum):
    NEUTROPHIL_COUNT_DECREASED = "Neutrophil count decreased"
    PLATELET_COUNT_DECREASED = "Platelet count decreased"
    LYMPHOCYTE_COUNT_DECREASED = "Lymphocyte count decreased"
    ANEMIA = "Anemia"
    ALT_INCREASED = "Alanine aminotransferase increased"
    AST_INCREASED = "Aspartate aminotransferase increased"
    BILIRUBIN_INCREASED = "Blood bilirubin increased"
    HYPONATREMIA = "Hyponatremia"
    FEBRILE_NEUTROPENIA = "Febrile neutropenia"


class Direction(StrEnum):
    BELOW = "below"  # decrease terms: value < bound
    ABOVE = "above"  # increase terms: value > bound


class Reference(StrEnum):
    """What a row's ``bound`` multiplies."""

    ABSOLUTE = "absolute"  # the bound is a number in the row's ``unit``
    LLN = "lln"  # bound x lower limit of normal
    ULN = "uln"  # bound x upper limit of normal (baseline normal or absent)
    BASELINE = "baseline"  # bound x the patient's baseline (baseline above ULN)


@dataclass(frozen=True, slots=True)
class TermRow:
    test: LabTest
    term: CtcaeTerm
    meddra: str
    quantity: Quantity
    direction: Direction
    uses_baseline: bool = False
    uses_symptoms: bool = False


TERMS: tuple[TermRow, ...] = (
    TermRow(LabTest.ANC, CtcaeTerm.NEUTROPHIL_COUNT_DECREASED, "10029366", Quantity.CELL_COUNT,
            Direction.BELOW),
    TermRow(LabTest.PLATELETS, CtcaeTerm.PLATELET_COUNT_DECREASED, "10035528",
            Quantity.CELL_COUNT, Direction.BELOW),
    TermRow(LabTest.LYMPHOCYTES, CtcaeTerm.LYMPHOCYTE_COUNT_DECREASED, "10025256",
            Quantity.CELL_COUNT, Direction.BELOW),
    TermRow(LabTest.HEMOGLOBIN, CtcaeTerm.ANEMIA, "10002272", Quantity.HEMOGLOBIN,
            Direction.BELOW),
    TermRow(LabTest.ALT, CtcaeTerm.ALT_INCREASED, "10001551", Quantity.ENZYME, Direction.ABOVE,
            uses_baseline=True),
    TermRow(LabTest.AST, CtcaeTerm.AST_INCREASED, "10003481", Quantity.ENZYME, Direction.ABOVE,
            uses_baseline=True),
    TermRow(LabTest.BILIRUBIN, CtcaeTerm.BILIRUBIN_INCREASED, "10005364", Quantity.BILIRUBIN,
            Direction.ABOVE, uses_baseline=True),
    TermRow(LabTest.SODIUM, CtcaeTerm.HYPONATREMIA, "10021038", Quantity.SODIUM,
            Direction.BELOW, uses_symptoms=True),
)


def term_for(test: LabTest) -> TermRow:
    return next(t for t in TERMS if t.test is test)


@dataclass(frozen=True, slots=True)
class LabCriterion:
    """One grade of one term: met when the value is beyond ``bound`` (x its reference)."""

    term: CtcaeTerm
    grade: int
    reference: Reference
    bound: Decimal
    unit: str  # the column: unit of the value graded by this row; "x" for multiples of ULN
    written: str  # the grade's range as the sheet writes it
    source: str
    inclusive: bool = False  # the value *at* the bound also meets the criterion
    symptomatic: bool | None = None  # None: regardless of symptoms


def _src(term: CtcaeTerm, meddra: str, grade: int) -> str:
    return f"{_V5} {term.value} [MedDRA {meddra}], grade {grade}"


def _decrease(term: CtcaeTerm, meddra: str, unit: str,
              bounds: tuple[tuple[int, str, str], ...], g1: str) -> tuple[LabCriterion, ...]:
    rows = tuple(LabCriterion(term, grade, Reference.ABSOLUTE, Decimal(bound), unit, written,
                              _src(term, meddra, grade)) for grade, bound, written in bounds)
    return (*rows, LabCriterion(term, 1, Reference.LLN, Decimal(1), unit, g1,
                                _src(term, meddra, 1)))


def _increase(term: CtcaeTerm, meddra: str, reference: Reference,
              bounds: tuple[tuple[int, str, str], ...],
              inclusive_grade: int | None = None) -> tuple[LabCriterion, ...]:
    case = "baseline abnormal" if reference is Reference.BASELINE else "baseline normal"
    return tuple(LabCriterion(term, grade, reference, Decimal(bound), "x", written,
                              f"{_src(term, meddra, grade)} ({case})",
                              inclusive=grade == inclusive_grade)
                 for grade, bound, written in bounds)


_N, _P, _L = (CtcaeTerm.NEUTROPHIL_COUNT_DECREASED, CtcaeTerm.PLATELET_COUNT_DECREASED,
              CtcaeTerm.LYMPHOCYTE_COUNT_DECREASED)
_TRANSAMINASE_ULN = ((4, "20.0", "> 20.0 x ULN"), (3, "5.0", "> 5.0 - 20.0 x ULN"),
                     (2, "3.0", "> 3.0 - 5.0 x ULN"), (1, "1.0", "> ULN - 3.0 x ULN"))
_TRANSAMINASE_BASELINE = ((4, "20.0", "> 20.0 x baseline"),
                          (3, "5.0", "> 5.0 - 20.0 x baseline"),
                          (2, "3.0", "> 3.0 - 5.0 x baseline"),
                          (1, "1.5", "1.5 - 3.0 x baseline"))

#: Every graded row, most severe first within a term (the grader takes the first one met).
LAB_CRITERIA: tuple[LabCriterion, ...] = (
    *_decrease(_N, "10029366", E9_PER_L, (
        (4, "0.5", "< 500/mm3; < 0.5 x 10e9 /L"),
        (3, "1.0", "< 1000 - 500/mm3; < 1.0 - 0.5 x 10e9 /L"),
        (2, "1.5", "< 1500 - 1000/mm3; < 1.5 - 1.0 x 10e9 /L")),
        "< LLN - 1500/mm3; < LLN - 1.5 x 10e9 /L"),
    *_decrease(_P, "10035528", E9_PER_L, (
        (4, "25.0", "< 25,000/mm3; < 25.0 x 10e9 /L"),
        (3, "50.0", "< 50,000 - 25,000/mm3; < 50.0 - 25.0 x 10e9 /L"),
        (2, "75.0", "< 75,000 - 50,000/mm3; < 75.0 - 50.0 x 10e9 /L")),
        "< LLN - 75,000/mm3; < LLN - 75.0 x 10e9 /L"),
    *_decrease(_L, "10025256", E9_PER_L, (
        (4, "0.2", "< 200/mm3; < 0.2 x 10e9 /L"),
        (3, "0.5", "< 500 - 200/mm3; < 0.5 - 0.2 x 10e9 /L"),
        (2, "0.8", "< 800 - 500/mm3; < 0.8 - 0.5 x 10e9 /L")),
        "< LLN - 800/mm3; < LLN - 0.8 x 10e9 /L"),
    # Anaemia: one column per unit, as the sheet writes them (rounded, not exact conversions).
    *_decrease(CtcaeTerm.ANEMIA, "10002272", "g/dL", (
        (3, "8.0", "Hgb < 8.0 g/dL; transfusion indicated"),
        (2, "10.0", "Hgb < 10.0 - 8.0 g/dL")), "Hgb < LLN - 10.0 g/dL"),
    *_decrease(CtcaeTerm.ANEMIA, "10002272", "g/L", (
        (3, "80", "Hgb < 80 g/L; transfusion indicated"),
        (2, "100", "Hgb < 100 - 80 g/L")), "Hgb < LLN - 100 g/L"),
    *_decrease(CtcaeTerm.ANEMIA, "10002272", "mmol/L", (
        (3, "4.9", "Hgb < 4.9 mmol/L; transfusion indicated"),
        (2, "6.2", "Hgb < 6.2 - 4.9 mmol/L")), "Hgb < LLN - 6.2 mmol/L"),
    *_increase(CtcaeTerm.ALT_INCREASED, "10001551", Reference.ULN, _TRANSAMINASE_ULN),
    *_increase(CtcaeTerm.ALT_INCREASED, "10001551", Reference.BASELINE, _TRANSAMINASE_BASELINE,
               inclusive_grade=1),
    *_increase(CtcaeTerm.AST_INCREASED, "10003481", Reference.ULN, _TRANSAMINASE_ULN),
    *_increase(CtcaeTerm.AST_INCREASED, "10003481", Reference.BASELINE, _TRANSAMINASE_BASELINE,
               inclusive_grade=1),
    *_increase(CtcaeTerm.BILIRUBIN_INCREASED, "10005364", Reference.ULN, (
        (4, "10.0", "> 10.0 x ULN"), (3, "3.0", "> 3.0 - 10.0 x ULN"),
        (2, "1.5", "> 1.5 - 3.0 x ULN"), (1, "1.0", "> ULN - 1.5 x ULN"))),
    *_increase(CtcaeTerm.BILIRUBIN_INCREASED, "10005364", Reference.BASELINE, (
        (4, "10.0", "> 10.0 x baseline"), (3, "3.0", "> 3.0 - 10.0 x baseline"),
        (2, "1.5", "> 1.5 - 3.0 x baseline"), (1, "1.0", "> 1.0 - 1.5 x baseline"))),
    # Hyponatraemia: the sheet's integer ranges read on a continuous scale, so "125-129" is
    # [125, 130) and "120-124" is [120, 125); 130 itself is grade 1 ("< LLN - 130").
    LabCriterion(CtcaeTerm.HYPONATREMIA, 4, Reference.ABSOLUTE, Decimal(120), "mmol/L",
                 "< 120 mmol/L; life-threatening consequences",
                 _src(CtcaeTerm.HYPONATREMIA, "10021038", 4)),
    LabCriterion(CtcaeTerm.HYPONATREMIA, 3, Reference.ABSOLUTE, Decimal(125), "mmol/L",
                 "120 - 124 mmol/L regardless of symptoms",
                 _src(CtcaeTerm.HYPONATREMIA, "10021038", 3)),
    LabCriterion(CtcaeTerm.HYPONATREMIA, 3, Reference.ABSOLUTE, Decimal(130), "mmol/L",
                 "125 - 129 mmol/L symptomatic",
                 _src(CtcaeTerm.HYPONATREMIA, "10021038", 3), symptomatic=True),
    LabCriterion(CtcaeTerm.HYPONATREMIA, 2, Reference.ABSOLUTE, Decimal(130), "mmol/L",
                 "125 - 129 mmol/L and asymptomatic",
                 _src(CtcaeTerm.HYPONATREMIA, "10021038", 2), symptomatic=False),
    LabCriterion(CtcaeTerm.HYPONATREMIA, 1, Reference.LLN, Decimal(1), "mmol/L",
                 "< LLN - 130 mmol/L", _src(CtcaeTerm.HYPONATREMIA, "10021038", 1)),
)


# The rows of each term, in table order (an immutable index: graders read it on every lab).
_CRITERIA_BY_TERM: MappingProxyType[CtcaeTerm, tuple[LabCriterion, ...]] = MappingProxyType({
    term: tuple(c for c in LAB_CRITERIA if c.term is term) for term in CtcaeTerm})


def criteria_for(term: CtcaeTerm, graded_in: str,
                 references: frozenset[Reference]) -> tuple[LabCriterion, ...]:
    """Rows of ``term`` for a value graded in ``graded_in``, limited to ``references``."""
    return tuple(c for c in _CRITERIA_BY_TERM[term] if c.reference in references
                 and c.unit in (graded_in, "x"))


@dataclass(frozen=True, slots=True)
class FebrileNeutropeniaCriterion:
    meddra: str
    grade: int
    anc_below_e9_per_l: Decimal
    single_temperature_above_c: Decimal
    sustained_temperature_from_c: Decimal
    sustained_longer_than_min: Decimal
    written: str
    source: str


_FN = f"{_V5} Febrile neutropenia [MedDRA 10016288]"
FEBRILE_NEUTROPENIA = FebrileNeutropeniaCriterion(
    "10016288", 3, Decimal("1.0"), Decimal("38.3"), Decimal("38.0"), Decimal(60),
    "ANC < 1000/mm3 with a single temperature of > 38.3 degrees C (101 degrees F) or a "
    "sustained temperature of >= 38 degrees C (100.4 degrees F) for more than one hour",
    f"{_FN}, grade 3")


@dataclass(frozen=True, slots=True)
class ClinicalGrade:
    """A grade the sheet defines by clinical judgement, passed in as a flag."""

    grade: int
    written: str
    source: str


FN_LIFE_THREATENING = ClinicalGrade(4, "Life-threatening consequences; urgent intervention "
                                    "indicated", f"{_FN}, grade 4")
FN_DEATH = ClinicalGrade(5, "Death", f"{_FN}, grade 5")
