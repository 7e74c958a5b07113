"""An infusion much shorter than the label's 1 hour (site-policy row INFUSION-SHORT: under 45
minutes, UNVERIFIED). Lengths are elapsed time, also across New York's DST changes:
2026-03-08 02:00 EST -> 03:00 EDT, and 2026-11-01 02:00 EDT -> 01:00 EST."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tarla.domain.errors import InvalidInput
from tarla.domain.infusion import infusion_minutes, short_infusion
from tarla.label import rule_by_id
from tarla.label.rows import Provenance
from tarla.label.schedule import INFUSION_SHORT

NY = ZoneInfo("America/New_York")
UTC = ZoneInfo("UTC")


def ny(text: str, fold: int = 0) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=NY, fold=fold)


def test_the_short_infusion_row_is_a_45_minute_unverified_site_policy() -> None:
    assert INFUSION_SHORT.rule_id == "INFUSION-SHORT"
    assert INFUSION_SHORT.minutes == 45
    assert INFUSION_SHORT.tag is Provenance.UNVERIFIED
    assert "Site-policy default (UNVERIFIED" in INFUSION_SHORT.text
    assert rule_by_id("INFUSION-SHORT") is INFUSION_SHORT


def test_a_one_hour_infusion_is_not_short() -> None:
    assert short_infusion(ny("2026-12-15 09:00"), ny("2026-12-15 10:00")) is None


def test_an_infusion_of_exactly_45_minutes_is_not_short() -> None:
    assert short_infusion(ny("2026-12-15 09:00"), ny("2026-12-15 09:45")) is None


def test_an_infusion_of_44_minutes_59_seconds_is_short() -> None:
    flag = short_infusion(ny("2026-12-15 09:00:00"), ny("2026-12-15 09:44:59"))
    assert flag is not None
    assert flag.rule == "INFUSION-SHORT" and flag.tag is Provenance.UNVERIFIED
    assert flag.text.startswith("The infusion ran 44 min 59 s from start to end, less than 45 "
                                "minutes (site-policy threshold, UNVERIFIED); the label's "
                                "infusion takes 60 minutes.")


def test_a_20_minute_infusion_is_short_and_says_how_long_it_ran() -> None:
    flag = short_infusion(ny("2026-12-15 09:00"), ny("2026-12-15 09:20"))
    assert flag is not None and "ran 20 min from start to end" in flag.text


def test_an_infusion_that_ends_as_it_starts_is_short() -> None:
    flag = short_infusion(ny("2026-12-15 09:00"), ny("2026-12-15 09:00"))
    assert flag is not None and "ran 0 min" in flag.text


def test_start_and_end_in_different_zones_are_compared_as_instants() -> None:
    # 09:00 EST is 14:00 UTC; 14:30 UTC is 30 minutes later.
    assert infusion_minutes(ny("2026-12-15 09:00"),
                            datetime(2026, 12, 15, 14, 30, tzinfo=UTC)) == 30
    assert short_infusion(ny("2026-12-15 09:00"),
                          datetime(2026, 12, 15, 14, 30, tzinfo=UTC)) is not None


def test_across_the_spring_dst_change_a_wall_clock_90_minutes_is_30_minutes_short() -> None:
    # 01:40 EST to 03:10 EDT: the clocks jump from 02:00 to 03:00, so 30 minutes elapse.
    start, end = ny("2026-03-08 01:40"), ny("2026-03-08 03:10")
    assert infusion_minutes(start, end) == 30
    assert short_infusion(start, end) is not None


def test_across_the_autumn_dst_change_an_hour_that_reads_as_none_is_not_short() -> None:
    # 01:30 EDT (first 01:30) to 01:30 EST (second 01:30): 60 minutes elapse.
    start, end = ny("2026-11-01 01:30", fold=0), ny("2026-11-01 01:30", fold=1)
    assert infusion_minutes(start, end) == 60
    assert short_infusion(start, end) is None


def test_across_the_autumn_dst_change_an_end_that_reads_earlier_is_a_short_infusion() -> None:
    # 01:50 EDT to 01:10 EST: the wall clock reads 40 minutes back, 20 minutes elapse.
    start, end = ny("2026-11-01 01:50", fold=0), ny("2026-11-01 01:10", fold=1)
    assert infusion_minutes(start, end) == 20
    flag = short_infusion(start, end)
    assert flag is not None and "ran 20 min" in flag.text


def test_an_end_before_the_start_is_refused_naming_ended_at() -> None:
    with pytest.raises(InvalidInput) as caught:
        short_infusion(ny("2026-12-15 10:00"), ny("2026-12-15 09:59"))
    assert caught.value.field == "ended_at"


def test_an_end_before_the_start_across_the_autumn_change_is_refused() -> None:
    # Started 01:10 EST (06:10 UTC), ended 01:30 EDT (05:30 UTC): the wall clock reads 20
    # minutes later, but the end is 40 minutes before the start.
    with pytest.raises(InvalidInput) as caught:
        short_infusion(ny("2026-11-01 01:10", fold=1), ny("2026-11-01 01:30", fold=0))
    assert caught.value.field == "ended_at"


@pytest.mark.parametrize(("started", "ended", "field"), [
    (datetime(2026, 12, 15, 9, 0), ny("2026-12-15 10:00"), "started_at"),
    (ny("2026-12-15 09:00"), datetime(2026, 12, 15, 10, 0), "ended_at"),
    ("2026-12-15T09:00:00-05:00", ny("2026-12-15 10:00"), "started_at"),
])
def test_naive_or_non_timestamp_times_are_refused(started: object, ended: object,
                                                  field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        short_infusion(started, ended)  # type: ignore[arg-type]
    assert caught.value.field == field
