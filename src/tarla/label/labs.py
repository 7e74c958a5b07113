"""Laboratory tests required before a dose.

Source: label-facts.md §3 "Labs" (version US-PI-2025-11).
"""

from __future__ import annotations

from dataclasses import dataclass

from tarla.label.rows import Provenance

__all__ = ["LabRequirement", "LAB_REQUIREMENTS", "LAB_PANEL", "requirement_for", "CBC_TESTS",
           "NO_LABS_C6_D15"]

#: The panel named by the label; CBC is resolved to the counts that the dose rules read.
LAB_PANEL: tuple[str, ...] = ("CBC", "ALT", "AST", "bilirubin")
CBC_TESTS: tuple[str, ...] = ("ANC", "platelets", "hemoglobin")


@dataclass(frozen=True, slots=True)
class LabRequirement:
    rule_id: str
    tag: Provenance
    text: str
    first_cycle: int
    last_cycle: int | None
    days: tuple[int, ...] | None  # None: before every dose of those cycles
    tests: tuple[str, ...]

    def covers(self, cycle: int, day: int) -> bool:
        in_cycle = self.first_cycle <= cycle and (self.last_cycle is None or cycle <= self.last_cycle)
        return in_cycle and (self.days is None or day in self.days)


LAB_REQUIREMENTS: tuple[LabRequirement, ...] = (
    LabRequirement("LAB-TO-C5D15", Provenance.SEED,
                   "Complete blood count, ALT, AST and bilirubin before every dose up to and "
                   "including Cycle 5 Day 15",
                   first_cycle=1, last_cycle=5, days=None, tests=LAB_PANEL),
    LabRequirement("LAB-C6-D1", Provenance.SEED,
                   "From Cycle 6: complete blood count, ALT, AST and bilirubin before Day 1 of "
                   "each cycle (not before Day 15)",
                   first_cycle=6, last_cycle=None, days=(1,), tests=LAB_PANEL),
)

#: Cycle 6 onwards, day 15: no labs required. Cited so a "no labs" answer also says why.
NO_LABS_C6_D15 = LabRequirement(
    "LAB-C6-D15-NONE", Provenance.SEED,
    "From Cycle 6 no labs are required before Day 15",
    first_cycle=6, last_cycle=None, days=(15,), tests=())


def requirement_for(cycle: int, day: int,
                    rows: tuple[LabRequirement, ...] = (*LAB_REQUIREMENTS, NO_LABS_C6_D15),
                    ) -> LabRequirement:
    for row in rows:
        if row.covers(cycle, day):
            return row
    raise LookupError(f"no lab rule covers C{cycle}D{day}")
