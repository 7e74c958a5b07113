"""Codes the records use (roles, statuses, preparation events). A leaf module: the ORM builds
its CHECK constraints from these enums, so the database and the services agree by construction.
"""

from __future__ import annotations

from enum import StrEnum

from tarla.domain.clock import EventKind

__all__ = ["Role", "CourseStatus", "PreparationStatus", "PreparationEvent", "AssessmentKind",
           "VialStatus", "SIGN_OFF_ROLES", "values"]


class Role(StrEnum):
    NURSE = "nurse"
    PHARMACIST = "pharmacist"
    PHYSICIAN = "physician"
    SCHEDULER = "scheduler"
    ADMIN = "admin"
    BILLING = "billing"  # charge capture, review and export (issue 15)


#: label-facts §9: a pharmacist or a physician signs off each label version.
SIGN_OFF_ROLES = frozenset({Role.PHARMACIST, Role.PHYSICIAN})


class CourseStatus(StrEnum):
    ACTIVE = "active"  # next dose due on next_due_date (give or wait)
    HELD = "held"  # a toxicity or lab rule withholds the next dose
    DISCONTINUED = "discontinued"  # a permanent-discontinuation rule fired, or stopped


class PreparationStatus(StrEnum):
    ORDERED = "ordered"
    IN_PREPARATION = "in_preparation"  # reconstituted
    PREPARED = "prepared"  # bag made
    CHECKED = "checked"  # second person verified
    STORED = "stored"  # refrigerated
    IN_USE = "in_use"  # infusion running
    ADMINISTERED = "administered"
    DISCARDED = "discarded"


#: The in-use clock events of ``tarla clock``: the core's own enum, so the stored events and
#: the clock that reads them cannot drift apart.
PreparationEvent = EventKind


class AssessmentKind(StrEnum):
    CRS = "CRS"
    ICANS = "ICANS"


class VialStatus(StrEnum):
    IN_STOCK = "in_stock"
    USED = "used"
    QUARANTINED = "quarantined"
    DISCARDED = "discarded"


def values(enum: type[StrEnum]) -> tuple[str, ...]:
    return tuple(member.value for member in enum)
