"""Indication, eligibility and counselling warnings.

Source: label-facts.md §1 and §3 (version US-PI-2025-11). Outside the indication is off-label:
the system warns and asks for a documented prescriber reason; it never silently blocks.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from tarla.label.rows import Provenance

__all__ = ["Eligibility", "ELIGIBILITY", "Concern", "Counselling", "EMBRYO_FETAL", "LACTATION"]


class Concern(StrEnum):
    """Which patient fact a counselling row answers."""

    PREGNANCY = "pregnancy"
    BREASTFEEDING = "breastfeeding"


@dataclass(frozen=True, slots=True)
class Eligibility:
    rule_id: str
    tag: Provenance
    text: str
    min_age_years: int
    diagnosis: str
    requires_platinum_progression: bool
    pediatric_rule_id: str
    pediatric_tag: Provenance
    pediatric_text: str


ELIGIBILITY = Eligibility(
    "IND-ES-SCLC", Provenance.SEED,
    "Indicated for adults (18 years or older) with extensive-stage small cell lung cancer "
    "(ES-SCLC) that progressed on or after platinum-based chemotherapy",
    min_age_years=18, diagnosis="ES-SCLC", requires_platinum_progression=True,
    pediatric_rule_id="IND-PEDIATRIC", pediatric_tag=Provenance.PI_2024,
    pediatric_text="Safety and efficacy in paediatric patients have not been established",
)


@dataclass(frozen=True, slots=True)
class Counselling:
    rule_id: str
    tag: Provenance
    text: str
    concerns: Concern
    months_after_last_dose: int


EMBRYO_FETAL = Counselling(
    "WARN-EMBRYO-FETAL", Provenance.SEED,
    "May cause fetal harm: effective contraception during treatment and for 2 months after the "
    "last dose", concerns=Concern.PREGNANCY, months_after_last_dose=2)

LACTATION = Counselling(
    "WARN-LACTATION", Provenance.PI_2024,
    "Do not breastfeed during treatment and for 2 months after the last dose",
    concerns=Concern.BREASTFEEDING, months_after_last_dose=2)
