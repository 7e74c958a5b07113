"""Small builders for course-engine tests (literal dates, New York site)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from tarla.domain.course import (
    Administration,
    AdverseEvent,
    CourseInput,
    LabResult,
    Patient,
    Policy,
    evaluate,
)
from tarla.label.toxicity import EventType

NY = ZoneInfo("America/New_York")
ADULT = Patient(date(1958, 4, 2), "ES-SCLC", True)


def at(text: str) -> datetime:
    """A local New York wall time 'YYYY-MM-DD HH:MM' as an aware datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=NY)


def doses(*items: tuple[str, int]) -> tuple[Administration, ...]:
    return tuple(Administration(at(when), mg) for when, mg in items)


def event(kind: str, grade: int, onset: str, resolved: str | None = None) -> AdverseEvent:
    return AdverseEvent(EventType(kind), grade, at(onset), at(resolved) if resolved else None)


def lab(test: str, value: float, unit: str, when: str, **extra: float) -> LabResult:
    return LabResult(test, value, unit, at(when), **extra)


def decide(as_of: str, given: tuple[Administration, ...] = (), *, events=(), labs=(),
           patient: Patient = ADULT, policy: Policy | None = None):
    return evaluate(CourseInput(at(as_of), NY, patient, given, tuple(events), tuple(labs),
                                policy or Policy()))


# The on-time course used in many tests, dated by hand from C1D1 = 2026-12-01:
# C1D8 = +7, C1D15 = +7, then every 14 days.
ON_TIME = (
    ("2026-12-01 09:00", 1),   # C1D1
    ("2026-12-08 09:00", 10),  # C1D8
    ("2026-12-15 09:00", 10),  # C1D15
    ("2026-12-29 09:00", 10),  # C2D1
    ("2027-01-12 09:00", 10),  # C2D15
    ("2027-01-26 09:00", 10),  # C3D1
)
