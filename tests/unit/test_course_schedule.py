"""The planned course and its care, slot by slot (label-facts §3, worked by hand)."""

from __future__ import annotations

from datetime import date

import pytest

from tarla.domain.course import plan_course
from tarla.domain.errors import InvalidInput
from tarla.label.monitoring import MonitoringKind

# slot, date (hand-counted from 2026-12-01), dose, monitoring kind, hours, premed?, labs?
PLANNED_THREE_CYCLES = [
    ("C1D1", date(2026, 12, 1), 1, "facility", (22, 24), True, True),
    ("C1D8", date(2026, 12, 8), 10, "facility", (22, 24), True, True),
    ("C1D15", date(2026, 12, 15), 10, "observe", (6, 8), False, True),
    ("C2D1", date(2026, 12, 29), 10, "observe", (6, 8), False, True),
    ("C2D15", date(2027, 1, 12), 10, "observe", (6, 8), False, True),
    ("C3D1", date(2027, 1, 26), 10, "observe", (3, 4), False, True),
    ("C3D15", date(2027, 2, 9), 10, "observe", (3, 4), False, True),
]


def test_three_cycles_from_december_first_match_the_hand_worked_calendar() -> None:
    planned = plan_course(date(2026, 12, 1), 3)
    got = [(p.slot.label, p.date, p.slot.dose_mg, str(p.care.monitoring.kind),
            (p.care.monitoring.hours_min, p.care.monitoring.hours_max),
            bool(p.care.premedication), bool(p.care.labs_before)) for p in planned]
    assert got == PLANNED_THREE_CYCLES


@pytest.mark.parametrize("cycles,count,last", [(1, 3, "C1D15"), (2, 5, "C2D15"),
                                               (6, 13, "C6D15")])
def test_a_course_of_n_cycles_has_three_doses_in_cycle_1_and_two_in_each_later_cycle(
        cycles: int, count: int, last: str) -> None:
    planned = plan_course(date(2026, 12, 1), cycles)
    assert len(planned) == count
    assert planned[-1].slot.label == last


@pytest.mark.parametrize("slot,kind,hours", [
    ("C4D15", MonitoringKind.OBSERVE, (3, 4)),
    ("C5D1", MonitoringKind.OBSERVE, (2, 2)),
    ("C9D15", MonitoringKind.OBSERVE, (2, 2)),
])
def test_observation_tiers_shorten_from_cycle_3_and_cycle_5(slot: str, kind: MonitoringKind,
                                                            hours: tuple[int, int]) -> None:
    planned = {p.slot.label: p for p in plan_course(date(2026, 12, 1), 9)}
    care = planned[slot].care
    assert care.monitoring.kind is kind
    assert (care.monitoring.hours_min, care.monitoring.hours_max) == hours
    assert care.proximity is None


@pytest.mark.parametrize("slot,labs", [
    ("C5D15", ("CBC", "ALT", "AST", "bilirubin")),
    ("C6D1", ("CBC", "ALT", "AST", "bilirubin")),
    ("C6D15", ()),
    ("C7D1", ("CBC", "ALT", "AST", "bilirubin")),
    ("C7D15", ()),
])
def test_labs_are_needed_before_every_dose_to_c5d15_then_only_before_day_1(
        slot: str, labs: tuple[str, ...]) -> None:
    planned = {p.slot.label: p for p in plan_course(date(2026, 12, 1), 7)}
    assert planned[slot].care.labs_before == labs


def test_c1d1_and_c1d8_get_dexamethasone_before_and_saline_after_and_the_48_h_rule() -> None:
    for p in plan_course(date(2026, 12, 1), 1)[:2]:
        assert [m.drug for m in p.care.premedication] == ["dexamethasone"]
        assert p.care.premedication[0].dose == "8 mg"
        assert [m.drug for m in p.care.post_infusion] == ["0.9% sodium chloride"]
        assert p.care.proximity is not None
        assert (p.care.proximity.within_hours, p.care.proximity.until_hours_from_start,
                p.care.proximity.caregiver) == (1, 48, True)


def test_cycle_2_day_1_is_day_29_of_the_course() -> None:
    planned = {p.slot.label: p.date for p in plan_course(date(2027, 2, 1), 2)}
    assert planned["C2D1"] == date(2027, 3, 1)  # 2027-02-01 + 28 days (not a leap year)


@pytest.mark.parametrize("cycles", [0, -1, True])
def test_zero_or_negative_cycles_are_refused(cycles: int) -> None:
    with pytest.raises(InvalidInput) as err:
        plan_course(date(2026, 12, 1), cycles)
    assert err.value.field == "cycles"
