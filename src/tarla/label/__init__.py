"""The IMDELLTRA label as versioned, cited data.

One module per label table; every row is a frozen dataclass with a stable ``rule_id`` and a
provenance tag from ``label-facts.md``. A later label is a new version (a new set of rows),
never an edit in place. Only the standard library is imported here.
"""

from __future__ import annotations

from collections.abc import Iterator

from tarla.label import (
    concomitant,
    eligibility,
    labs,
    monitoring,
    preparation,
    products,
    restart,
    schedule,
    toxicity,
)
from tarla.label.rows import Citation, Provenance, RuleRow, cite

__all__ = ["LABEL_VERSION", "LABEL_SOURCE", "Provenance", "RuleRow", "Citation", "cite",
           "all_rules", "rule_by_id"]

LABEL_VERSION = "US-PI-2025-11"
LABEL_SOURCE = ("IMDELLTRA (tarlatamab-dlle) US Prescribing Information rev. 11/2025 and the "
                "manufacturer's HCP preparation page, as transcribed in label-facts.md")


def all_rules() -> Iterator[RuleRow]:
    """Every cited row of this label version, once each (for the rules screen and sign-off)."""
    seen: set[str] = set()
    rows: list[RuleRow] = [
        *products.PRODUCTS, products.INTACT_STORAGE, products.HCPCS,
        *schedule.SLOT_RULES, schedule.CYCLE_LENGTH, schedule.INFUSION, schedule.INFUSION_SHORT,
        *monitoring.MONITORING_TIERS, monitoring.EXTENDED_AFTER_TOXICITY,
        concomitant.CONCOMITANT_DAYS, *concomitant.PREMEDICATION, *concomitant.POST_INFUSION,
        concomitant.HYDRATION,
        *labs.LAB_REQUIREMENTS, labs.NO_LABS_C6_D15,
        *restart.RESTART_ROWS, restart.RESTART_STEP_UP_GAP, restart.RESTART_CYCLE1_CARE,
        eligibility.ELIGIBILITY, eligibility.EMBRYO_FETAL, eligibility.LACTATION,
        *toxicity.TOXICITY_RULES, *toxicity.LAB_THRESHOLDS, toxicity.HYS_LAW,
        *preparation.ALL_ROWS,
    ]
    for row in rows:
        if row.rule_id not in seen:
            seen.add(row.rule_id)
            yield row


def rule_by_id(rule_id: str) -> RuleRow:
    for row in all_rules():
        if row.rule_id == rule_id:
            return row
    raise KeyError(rule_id)
