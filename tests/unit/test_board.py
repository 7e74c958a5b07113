"""Where a patient is in the dose (the unit board's pure placement); times worked by hand."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tarla.domain.board import BoardState, DoseOnBoard, place
from tarla.domain.care import Monitoring
from tarla.domain.errors import InvalidInput
from tarla.label.monitoring import Anchor, MonitoringKind

NY = ZoneInfo("America/New_York")
BED = Monitoring(MonitoringKind.FACILITY, 22, 24, Anchor.INFUSION_START, "T1-MON-C1D1-D8")
TWO_H = Monitoring(MonitoringKind.OBSERVE, 2, 2, Anchor.INFUSION_END, "T1-MON-C5")
SIX_8 = Monitoring(MonitoringKind.OBSERVE, 6, 8, Anchor.INFUSION_END, "T1-MON-C2")


def at(h: int, m: int = 0, day: int = 15) -> datetime:
    return datetime(2026, 12, day, h, m, tzinfo=NY)


def test_waiting_then_premedicated() -> None:
    assert place(DoseOnBoard(None, None, 60, None), at(9)).state is BoardState.WAITING
    p = place(DoseOnBoard(None, None, 60, None, premedicated_at=at(9, 5)), at(9, 10))
    assert (p.state, p.since) == (BoardState.PREMEDICATED, at(9, 5))


def test_infusing_ends_an_hour_after_its_start_and_is_flagged_when_it_runs_over() -> None:
    p = place(DoseOnBoard(at(9, 30), None, 60, BED), at(10))
    assert (p.state, p.ends_at, p.remaining, p.overrun) == (
        BoardState.INFUSING, at(10, 30), timedelta(minutes=30), False)
    late = place(DoseOnBoard(at(9, 30), None, 60, BED), at(10, 45))
    assert (late.remaining, late.overrun) == (timedelta(0), True)


def test_a_monitoring_bed_runs_22_to_24_h_from_the_start_across_midnight() -> None:
    # started 09:30, ended 10:30: the bed ends 07:30 the next morning, at the latest 09:30
    p = place(DoseOnBoard(at(9, 30), at(10, 30), 60, BED), at(11))
    assert (p.state, p.ends_at, p.latest_end, p.remaining, p.rule) == (
        BoardState.MONITORING_BED, at(7, 30, 16), at(9, 30, 16), timedelta(hours=20, minutes=30),
        "T1-MON-C1D1-D8")
    assert place(DoseOnBoard(at(9, 30), at(10, 30), 60, BED), at(7, 30, 16)).state is \
        BoardState.READY


def test_observation_counts_from_the_end_of_the_infusion() -> None:
    # ended 11:10: 2 h observation to 13:10; 6-8 h to 17:10 (at the latest 19:10)
    p = place(DoseOnBoard(at(10, 5), at(11, 10), 60, TWO_H), at(12, 40))
    assert (p.state, p.ends_at, p.remaining) == (BoardState.OBSERVATION, at(13, 10),
                                                 timedelta(minutes=30))
    assert place(DoseOnBoard(at(10, 5), at(11, 10), 60, TWO_H), at(13, 10)).state is \
        BoardState.READY
    six = place(DoseOnBoard(at(10, 5), at(11, 10), 60, SIX_8), at(12))
    assert (six.ends_at, six.latest_end) == (at(17, 10), at(19, 10))


def test_discharged_is_final() -> None:
    p = place(DoseOnBoard(at(9), at(10), 60, TWO_H, discharged_at=at(12, 30)), at(13))
    assert (p.state, p.since) == (BoardState.DISCHARGED, at(12, 30))


def test_a_naive_time_is_refused_naming_it() -> None:
    with pytest.raises(InvalidInput) as err:
        place(DoseOnBoard(datetime(2026, 12, 15, 9), None, 60, BED), at(10))
    assert err.value.field == "started_at"
