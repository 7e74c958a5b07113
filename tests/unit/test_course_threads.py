"""The course engine under threads: FastAPI runs sync routes in a thread pool, so many
evaluations run at once. They must give exactly what one thread gives (a lazily filled slot
table once made a 65th dose come back as "C1D1 1 mg").

Slot labels worked by hand: Cycle 1 has three doses (indexes 0-2), every later cycle two, so
index 3 + 2k is C(2+k)D1 and index 4 + 2k is C(2+k)D15, all 10 mg. Dates: C1D15 is
2026-12-15 and index k >= 2 falls 14 * (k - 2) days after it (2028 is a leap year)."""

from __future__ import annotations

import importlib.util
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, time, timedelta
from itertools import islice
from types import ModuleType

import pytest
from course_builders import ADULT, NY

from tarla.domain import course as course_module
from tarla.domain.course import (
    Administration,
    CourseInput,
    Decision,
    DecisionAction,
    evaluate,
    slot_at,
)
from tarla.label.schedule import planned_slots


def _course(n: int, *, late_at: int | None = None) -> CourseInput:
    """``n`` doses from C1D1 on 2026-12-01 at 09:00 New York, 7, 7, then 14 days apart; with
    ``late_at``, that dose comes 35 days after the one before and the course restarts with
    the 1 mg step-up, the 10 mg a week later, then every 14 days."""
    given: list[Administration] = []
    day = date(2026, 12, 1)
    restart_step = 0
    for i in range(n):
        if i:
            if i == late_at:
                gap, restart_step = 35, 1
            elif restart_step == 1:
                gap, restart_step = 7, 2
            else:
                gap, restart_step = (7 if i < 3 else 14), 0
            day += timedelta(days=gap)
        mg = 1 if i == 0 or restart_step == 1 else 10
        given.append(Administration(datetime.combine(day, time(9, 0), NY), mg))
    return CourseInput(datetime.combine(day + timedelta(days=14), time(8, 0), NY), NY, ADULT,
                       tuple(given))


def _courses() -> list[CourseInput]:
    plain = [_course(n) for n in range(60, 81)]
    restarted = [_course(n, late_at=50) for n in range(60, 81, 4)]
    return plain + restarted


@pytest.fixture
def busy_switching() -> Iterator[None]:
    """Make the interpreter switch threads as often as it can, so races show."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


@pytest.mark.usefixtures("busy_switching")
@pytest.mark.parametrize("threads", [8, 16])
def test_long_courses_evaluated_from_many_threads_match_one_thread(threads: int) -> None:
    courses = _courses() * 6
    with ThreadPoolExecutor(max_workers=threads) as pool:
        concurrent: list[Decision] = list(pool.map(evaluate, courses))
    alone = [evaluate(c) for c in courses]
    assert len(concurrent) == len(alone) == 162
    for i, (got, expected) in enumerate(zip(concurrent, alone, strict=True)):
        assert got == expected, f"course {i} ({len(courses[i].administrations)} doses)"


def _fresh_engine(n: int) -> ModuleType:
    """A new copy of the engine module, as a just-started server process has it (nothing
    evaluated yet); the module everyone else uses is left alone."""
    name = f"_cold_course_engine_{n}"
    spec = importlib.util.spec_from_file_location(name, course_module.__file__)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[name]
    return module


@pytest.mark.usefixtures("busy_switching")
def test_the_65th_dose_is_c32d15_10_mg_when_16_threads_start_a_cold_engine_at_once() -> None:
    """The reported race: the first requests after start-up all reach the engine together."""
    course = _course(80)
    for trial in range(24):
        engine = _fresh_engine(trial)
        start = threading.Barrier(16)

        def first_request(_: int, engine: ModuleType = engine,
                          start: threading.Barrier = start) -> tuple[str, int, date, str]:
            start.wait()
            d = engine.evaluate(course)
            dose = d.history[64]
            return dose.slot.label, dose.dose_mg, dose.local_date, d.history[79].slot.label

        with ThreadPoolExecutor(max_workers=16) as pool:
            seen = set(pool.map(first_request, range(16)))
        assert seen == {("C32D15", 10, date(2029, 5, 1), "C40D1")}, f"trial {trial}"


def test_an_80_dose_on_time_course_waits_for_c40d15_two_weeks_after_c40d1() -> None:
    d = evaluate(_course(80))
    assert d.history[-1].slot.label == "C40D1"
    assert d.history[-1].local_date == date(2029, 11, 27)
    assert d.action is DecisionAction.GIVE
    assert d.next_dose is not None
    assert (d.next_dose.slot.label, d.next_dose.dose_mg, d.next_dose.due_date) == (
        "C40D15", 10, date(2029, 12, 11))


def test_a_restart_step_up_inside_a_long_course_keeps_its_slot_labels() -> None:
    d = evaluate(_course(60, late_at=50))
    late, after = d.history[50], d.history[51]
    # index 50 = 4 + 2*23: C25D15, given as the restart's 1 mg; then C26D1 10 mg a week later.
    assert (late.slot.label, late.dose_mg, late.restart_step) == ("C25D15", 1, 1)
    assert (after.slot.label, after.dose_mg, after.restart_step) == ("C26D1", 10, 2)


def test_a_course_past_ten_years_of_doses_still_follows_the_cycles() -> None:
    d = evaluate(_course(266))
    # index 265 = 3 + 2*131: C133D1; the next one is C133D15.
    assert d.history[-1].slot.label == "C133D1"
    assert d.next_dose is not None and d.next_dose.slot.label == "C133D15"


def test_the_slot_of_any_index_is_the_one_walking_the_planned_course_reaches() -> None:
    walked = list(islice(planned_slots(), 700))
    assert [slot_at(i) for i in range(700)] == walked


@pytest.mark.parametrize(("index", "label"), [
    (0, "C1D1"), (1, "C1D8"), (2, "C1D15"), (3, "C2D1"), (4, "C2D15"), (64, "C32D15"),
    (259, "C130D1"), (260, "C130D15"), (1000, "C500D15")])
def test_slot_labels_by_index(index: int, label: str) -> None:
    assert slot_at(index).label == label
    assert slot_at(index).index == index
