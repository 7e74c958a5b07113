"""Restarting after a dose delay (PI Table 4) and the site policy on restart care.

Source: label-facts.md §5 (version US-PI-2025-11). Days are whole calendar days between site
local dates, counted from the last dose actually given.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from tarla.label.rows import Provenance

__all__ = ["LastDose", "RestartAction", "RestartRow", "RESTART_ROWS", "restart_row",
           "SitePolicyDefault", "RESTART_CYCLE1_CARE", "RESTART_STEP_UP_GAP"]


class LastDose(StrEnum):
    """Which Table 4 row family the last dose actually given belongs to."""

    STEP_UP_1MG = "step-up dose"  # C1D1 (or the 1 mg of a restart step-up)
    FIRST_10MG = "first full dose"  # C1D8 (or the 10 mg of a restart step-up)
    LATER_10MG = "later full dose"  # C1D15 or later


class RestartAction(StrEnum):
    CONTINUE = "restart_continue"  # give the dose the schedule called for, then resume
    STEP_UP = "restart_step_up"  # 1 mg, then 10 mg one week later, then resume


@dataclass(frozen=True, slots=True)
class RestartRow:
    rule_id: str
    tag: Provenance
    text: str
    after: LastDose
    min_days: int  # inclusive
    max_days: int | None  # inclusive; None = no upper bound
    action: RestartAction

    def covers(self, after: LastDose, days: int) -> bool:
        return (after is self.after and self.min_days <= days
                and (self.max_days is None or days <= self.max_days))


RESTART_ROWS: tuple[RestartRow, ...] = (
    RestartRow("T4-1MG-LE14", Provenance.PI_2024,
               "Last dose 1 mg (C1D1), 14 days or less ago: give 10 mg, then resume the planned "
               "schedule", LastDose.STEP_UP_1MG, 0, 14, RestartAction.CONTINUE),
    RestartRow("T4-1MG-GT14", Provenance.PI_2024,
               "Last dose 1 mg (C1D1), more than 14 days ago: restart step-up (1 mg, then 10 mg "
               "one week later), then resume", LastDose.STEP_UP_1MG, 15, None,
               RestartAction.STEP_UP),
    RestartRow("T4-C1D8-LE21", Provenance.PI_2024,
               "Last dose 10 mg on C1D8, 21 days or less ago: give 10 mg, then resume the planned "
               "schedule", LastDose.FIRST_10MG, 0, 21, RestartAction.CONTINUE),
    RestartRow("T4-C1D8-GT21", Provenance.PI_2024,
               "Last dose 10 mg on C1D8, more than 21 days ago: restart step-up (1 mg, then 10 mg "
               "one week later), then resume", LastDose.FIRST_10MG, 22, None,
               RestartAction.STEP_UP),
    RestartRow("T4-LATER-LE28", Provenance.UNVERIFIED,
               "Last dose 10 mg on C1D15 or later, 28 days or less ago: give 10 mg, then resume "
               "the planned schedule", LastDose.LATER_10MG, 0, 28, RestartAction.CONTINUE),
    RestartRow("T4-LATER-GT28", Provenance.UNVERIFIED,
               "Last dose 10 mg on C1D15 or later, more than 28 days ago: restart step-up (1 mg, "
               "then 10 mg one week later), then resume", LastDose.LATER_10MG, 29, None,
               RestartAction.STEP_UP),
)


def restart_row(after: LastDose, days: int,
                rows: tuple[RestartRow, ...] = RESTART_ROWS) -> RestartRow:
    for row in rows:
        if row.covers(after, days):
            return row
    raise LookupError(f"no Table 4 row for {after} after {days} days")


@dataclass(frozen=True, slots=True)
class StepGap:
    rule_id: str
    tag: Provenance
    text: str
    days: int


RESTART_STEP_UP_GAP = StepGap("T4-STEP-UP", Provenance.PI_2024,
                              "Restart step-up: the 10 mg dose follows the 1 mg dose one week later",
                              days=7)


@dataclass(frozen=True, slots=True)
class SitePolicyDefault:
    rule_id: str
    tag: Provenance
    text: str
    default: bool


RESTART_CYCLE1_CARE = SitePolicyDefault(
    "POLICY-RESTART-C1-CARE", Provenance.UNVERIFIED,
    "Restart step-up doses (the 1 mg and the 10 mg a week later) get Cycle 1 Day 1/Day 8 care: "
    "concomitant medications, labs, 22-24 h monitoring and the 48 h proximity rule "
    "(a conservative site policy, on by default)",
    default=True,
)
