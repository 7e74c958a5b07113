"""What a toxicity does to the next dose (PI dose-modification tables).

Source: label-facts.md §6 (version US-PI-2025-11). Grades: CRS and ICANS by ASTCT 2019, other
events by CTCAE v5.0. Toxicity decides *whether* the next dose is given; Table 4
(:mod:`tarla.label.restart`) decides *which* dose once it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from tarla.label.rows import Provenance

__all__ = ["EventType", "ToxAction", "Resume", "ToxicityRule", "TOXICITY_RULES",
           "LabThreshold", "LAB_THRESHOLDS", "HepaticGradeRule", "HEPATIC_LAB_RULES",
           "hepatic_lab_rules",
           "HysLaw", "HYS_LAW", "rules_for_event"]


class EventType(StrEnum):
    CRS = "CRS"
    ICANS = "ICANS"
    NEUROLOGIC = "neurologic"
    ALT_INCREASED = "ALT_increased"
    AST_INCREASED = "AST_increased"
    BILIRUBIN_INCREASED = "bilirubin_increased"
    NEUTROPENIA = "neutropenia"
    FEBRILE_NEUTROPENIA = "febrile_neutropenia"
    THROMBOCYTOPENIA = "thrombocytopenia"
    INFECTION = "infection"
    HYPERSENSITIVITY = "hypersensitivity"
    OTHER = "other"


class ToxAction(StrEnum):
    WITHHOLD = "withhold"
    DISCONTINUE = "discontinue"


class Resume(StrEnum):
    """When a withheld dose may be given again."""

    RESOLVED = "until the event resolves"
    GRADE_1_OR_BASELINE = "until grade 1 or less, or baseline"
    ANC_RECOVERED = "until ANC recovers"
    ANC_AND_AFEBRILE = "until ANC recovers and the fever has resolved"
    PLATELETS_RECOVERED = "until platelets recover"


@dataclass(frozen=True, slots=True)
class ToxicityRule:
    rule_id: str
    tag: Provenance
    text: str
    event: EventType
    min_grade: int
    max_grade: int
    action: ToxAction
    resume: Resume | None = None
    extended_monitoring_next_dose: bool = False  # 22-24 h facility monitoring
    discontinue_if_recurs: bool = False
    consider_discontinuation: bool = False
    resume_threshold_e9_per_l: float | None = None  # ANC / platelet level that lifts the hold

    def covers(self, event: EventType, grade: int) -> bool:
        return event is self.event and self.min_grade <= grade <= self.max_grade


_E = EventType
_W = ToxAction.WITHHOLD
_D = ToxAction.DISCONTINUE
_S = Provenance

TOXICITY_RULES: tuple[ToxicityRule, ...] = (
    ToxicityRule("T5-CRS-G1", _S.SEED, "CRS grade 1: withhold until resolved, then resume at the "
                 "next scheduled dose", _E.CRS, 1, 1, _W, Resume.RESOLVED),
    ToxicityRule("T5-CRS-G2", _S.SEED, "CRS grade 2: withhold until resolved, resume at the next "
                 "scheduled dose; that next dose gets 22-24 h monitoring", _E.CRS, 2, 2, _W,
                 Resume.RESOLVED, extended_monitoring_next_dose=True),
    ToxicityRule("T5-CRS-G3", _S.UNVERIFIED, "CRS grade 3: withhold until resolved, resume at the "
                 "next scheduled dose with 22-24 h monitoring; permanently discontinue if grade 3 "
                 "recurs", _E.CRS, 3, 3, _W, Resume.RESOLVED,
                 extended_monitoring_next_dose=True, discontinue_if_recurs=True),
    ToxicityRule("T5-CRS-G4", _S.PI_2024, "CRS grade 4: permanently discontinue", _E.CRS, 4, 5, _D),
    ToxicityRule("T6-ICANS-G1", _S.PI_2024, "ICANS grade 1: withhold until resolved, resume at the "
                 "next scheduled dose", _E.ICANS, 1, 1, _W, Resume.RESOLVED),
    ToxicityRule("T6-ICANS-G2", _S.UNVERIFIED, "ICANS grade 2: withhold until resolved, resume at "
                 "the next scheduled dose with 22-24 h monitoring", _E.ICANS, 2, 2, _W,
                 Resume.RESOLVED, extended_monitoring_next_dose=True),
    ToxicityRule("T6-ICANS-G3", _S.UNVERIFIED, "ICANS grade 3: withhold until resolved, resume "
                 "with 22-24 h monitoring; permanently discontinue if grade 3 recurs", _E.ICANS,
                 3, 3, _W, Resume.RESOLVED, extended_monitoring_next_dose=True,
                 discontinue_if_recurs=True),
    ToxicityRule("T6-ICANS-G4", _S.UNVERIFIED, "ICANS grade 4: permanently discontinue", _E.ICANS,
                 4, 5, _D),
    ToxicityRule("T6-NEURO-G2-G3", _S.UNVERIFIED, "Other neurologic toxicity grade 2-3: withhold "
                 "until grade 1 or less or baseline, resume at the next scheduled dose",
                 _E.NEUROLOGIC, 2, 3, _W, Resume.GRADE_1_OR_BASELINE,
                 extended_monitoring_next_dose=True),
    ToxicityRule("T6-NEURO-G4", _S.UNVERIFIED, "Other neurologic toxicity grade 4: permanently "
                 "discontinue", _E.NEUROLOGIC, 4, 5, _D),
    ToxicityRule("T7-ALT-G3", _S.PI_2024, "ALT increased grade 3: withhold until grade 1 or less",
                 _E.ALT_INCREASED, 3, 3, _W, Resume.GRADE_1_OR_BASELINE),
    ToxicityRule("T7-ALT-G4", _S.PI_2024, "ALT increased grade 4: permanently discontinue",
                 _E.ALT_INCREASED, 4, 5, _D),
    ToxicityRule("T7-AST-G3", _S.PI_2024, "AST increased grade 3: withhold until grade 1 or less",
                 _E.AST_INCREASED, 3, 3, _W, Resume.GRADE_1_OR_BASELINE),
    ToxicityRule("T7-AST-G4", _S.PI_2024, "AST increased grade 4: permanently discontinue",
                 _E.AST_INCREASED, 4, 5, _D),
    ToxicityRule("T7-BILI-G3", _S.PI_2024, "Bilirubin increased grade 3: withhold until grade 1 "
                 "or less", _E.BILIRUBIN_INCREASED, 3, 3, _W, Resume.GRADE_1_OR_BASELINE),
    ToxicityRule("T7-BILI-G4", _S.PI_2024, "Bilirubin increased grade 4: permanently discontinue",
                 _E.BILIRUBIN_INCREASED, 4, 5, _D),
    # ANC < 0.5 x 10^9/L is CTCAE grade 4 neutrophil count decreased (DERIVED mapping).
    ToxicityRule("T7-NEUT", _S.UNVERIFIED, "Neutrophils below 0.5 x 10^9/L: withhold until ANC is "
                 "0.5 x 10^9/L or more", _E.NEUTROPENIA, 4, 4, _W, Resume.ANC_RECOVERED,
                 resume_threshold_e9_per_l=0.5),
    ToxicityRule("T7-FN", _S.UNVERIFIED, "Febrile neutropenia: withhold until ANC is 1.0 x 10^9/L "
                 "or more and the fever has resolved", _E.FEBRILE_NEUTROPENIA, 1, 5, _W,
                 Resume.ANC_AND_AFEBRILE, resume_threshold_e9_per_l=1.0),
    # Platelets < 50 x 10^9/L is CTCAE grade 3 or 4 platelet count decreased (DERIVED mapping).
    ToxicityRule("T7-PLT", _S.UNVERIFIED, "Platelets below 50 x 10^9/L: withhold until 50 x 10^9/L "
                 "or more", _E.THROMBOCYTOPENIA, 3, 4, _W, Resume.PLATELETS_RECOVERED,
                 resume_threshold_e9_per_l=50.0),
    ToxicityRule("T7-INF-G3", _S.UNVERIFIED, "Infection grade 3: withhold until grade 1 or less",
                 _E.INFECTION, 3, 3, _W, Resume.GRADE_1_OR_BASELINE),
    ToxicityRule("T7-INF-G4", _S.UNVERIFIED, "Infection grade 4: permanently discontinue",
                 _E.INFECTION, 4, 5, _D),
    ToxicityRule("T7-HSR-G3", _S.UNVERIFIED, "Hypersensitivity grade 3: withhold; consider "
                 "permanent discontinuation", _E.HYPERSENSITIVITY, 3, 3, _W, Resume.RESOLVED,
                 consider_discontinuation=True),
    ToxicityRule("T7-HSR-G4", _S.UNVERIFIED, "Hypersensitivity grade 4: permanently discontinue",
                 _E.HYPERSENSITIVITY, 4, 5, _D),
    ToxicityRule("T7-OTHER-G3", _S.UNVERIFIED, "Any other adverse reaction grade 3: withhold until "
                 "grade 1 or less, or baseline", _E.OTHER, 3, 3, _W, Resume.GRADE_1_OR_BASELINE),
    ToxicityRule("T7-OTHER-G4", _S.UNVERIFIED, "Any other adverse reaction grade 4: permanently "
                 "discontinue", _E.OTHER, 4, 5, _D),
)


def rules_for_event(event: EventType, grade: int,
                    rules: tuple[ToxicityRule, ...] = TOXICITY_RULES) -> tuple[ToxicityRule, ...]:
    return tuple(r for r in rules if r.covers(event, grade))


@dataclass(frozen=True, slots=True)
class LabThreshold:
    """A count below which the dose is withheld, read straight from a lab value."""

    rule_id: str
    tag: Provenance
    text: str
    test: str
    withhold_below_e9_per_l: float
    resume_at_or_above_e9_per_l: float


LAB_THRESHOLDS: tuple[LabThreshold, ...] = (
    LabThreshold("T7-NEUT", _S.UNVERIFIED, "Neutrophils below 0.5 x 10^9/L: withhold until ANC is "
                 "0.5 x 10^9/L or more", test="ANC", withhold_below_e9_per_l=0.5,
                 resume_at_or_above_e9_per_l=0.5),
    LabThreshold("T7-PLT", _S.UNVERIFIED, "Platelets below 50 x 10^9/L: withhold until 50 x 10^9/L "
                 "or more", test="platelets", withhold_below_e9_per_l=50.0,
                 resume_at_or_above_e9_per_l=50.0),
)


@dataclass(frozen=True, slots=True)
class HepaticGradeRule:
    """A CTCAE grade of a liver lab that withholds or stops the drug."""

    rule_id: str
    tag: Provenance
    text: str
    test: str
    min_grade: int
    action: ToxAction


def hepatic_lab_rules(rules: tuple[ToxicityRule, ...]) -> tuple[HepaticGradeRule, ...]:
    """The liver-lab rows of ``rules``, read as grades of the ALT, AST and bilirubin labs."""
    return tuple(
        HepaticGradeRule(r.rule_id, r.tag, r.text, test, r.min_grade, r.action)
        for test, event in (("ALT", _E.ALT_INCREASED), ("AST", _E.AST_INCREASED),
                            ("bilirubin", _E.BILIRUBIN_INCREASED))
        for r in rules if r.event is event
    )


HEPATIC_LAB_RULES: tuple[HepaticGradeRule, ...] = hepatic_lab_rules(TOXICITY_RULES)


@dataclass(frozen=True, slots=True)
class HysLaw:
    rule_id: str
    tag: Provenance
    text: str
    transaminase_over_uln: float  # strictly greater than this multiple of ULN
    bilirubin_over_uln: float  # strictly greater than this multiple of ULN


HYS_LAW = HysLaw("T7-HYS-LAW", _S.PI_2024,
                 "AST or ALT above 3 x ULN with total bilirubin above 2 x ULN and no other cause "
                 "(Hy's law pattern): permanently discontinue",
                 transaminase_over_uln=3.0, bilirubin_over_uln=2.0)
