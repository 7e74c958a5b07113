"""The pure rules of issue 11: plausibility, the proposed CRS grade (ASTCT 2019, standards.md
§1), confirm/correct, the check schedule, and when an alert is raised.

Golden values worked by hand: 38.0 °C is fever (>= 38.0), 37.9 °C is not; fever + hypotension
without vasopressor is grade 2; fever + one vasopressor is grade 3; fever + low-flow cannula is
grade 2 (standards.md §1 table). The schedule uses the UNVERIFIED site-policy defaults
(infusion 15 min, observation 30 min, facility 240 min) and the label's windows (C1D1: 22-24 h
from infusion start; C5+: 2 h after the infusion, label-facts §3).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tarla.domain.errors import InvalidInput
from tarla.domain.escalation import STOP_INFUSION, AlertKind, escalations
from tarla.domain.vitals import (
    CHECK_INTERVALS,
    CareTier,
    VitalSigns,
    charted_grade,
    check_vitals,
    checks_due,
    intervals_from_policy,
    propose_crs,
)

T = datetime(2026, 12, 1, 13, 0, tzinfo=UTC)


def vs(**kw: object) -> VitalSigns:
    base: dict[str, object] = dict(temperature_c=37.0, systolic_mmhg=120, diastolic_mmhg=80,
                                   heart_rate=80, spo2=98)
    base.update(kw)
    return VitalSigns(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(("kw", "grade"), [
    ({}, 0),
    ({"temperature_c": 37.9}, 0),
    ({"temperature_c": 38.0}, 1),
    ({"temperature_c": 38.5, "hypotension": True}, 2),
    ({"temperature_c": 38.5, "oxygen_device": "low_flow", "oxygen_l_min": 2.0}, 2),
    ({"temperature_c": 38.5, "hypotension": True, "vasopressors": 1}, 3),
    ({"temperature_c": 38.5, "hypotension": True, "vasopressors": 1,
      "oxygen_device": "low_flow", "oxygen_l_min": 2.0}, 3),
    ({"temperature_c": 38.5, "hypotension": True, "vasopressors": 2}, 4),
    ({"temperature_c": 37.0, "hypotension": True}, 0),  # no fever: not CRS by ASTCT
])
def test_a_set_proposes_the_astct_crs_grade(kw: dict[str, object], grade: int) -> None:
    assert propose_crs(check_vitals(vs(**kw))).grade == grade


@pytest.mark.parametrize(("kw", "field"), [
    ({"temperature_c": 101.0}, "temperature_c"),
    ({"systolic_mmhg": 400}, "systolic_mmhg"),
    ({"diastolic_mmhg": 130, "systolic_mmhg": 120}, "diastolic_mmhg"),
    ({"heart_rate": 5}, "heart_rate"),
    ({"spo2": 101}, "spo2"),
    ({"spo2": 97.5}, "spo2"),
    ({"respiratory_rate": 200}, "respiratory_rate"),
    ({"temperature_c": None}, "temperature_c"),
])
def test_an_implausible_reading_is_refused_naming_the_field(kw: dict[str, object],
                                                           field: str) -> None:
    with pytest.raises(InvalidInput) as e:
        check_vitals(vs(**kw))
    assert e.value.field == field


def test_a_correction_needs_a_reason_and_a_confirmation_does_not() -> None:
    assert charted_grade(1, None, None) == 1
    assert charted_grade(1, 1, None) == 1
    assert charted_grade(1, 0, "fever from a line infection") == 0
    with pytest.raises(InvalidInput, match="correction_reason"):
        charted_grade(1, 0, "  ")
    with pytest.raises(InvalidInput, match="charted_crs_grade"):
        charted_grade(1, 7, "typo")


def test_during_the_infusion_a_set_is_due_every_15_minutes_after_the_last() -> None:
    due = checks_due(now=T + timedelta(minutes=20), infusion_started_at=T,
                     infusion_ended_at=None, monitoring_kind="facility",
                     monitoring_hours_max=24, anchor="infusion_start",
                     last_set_at=T + timedelta(minutes=10))
    assert due.tier is CareTier.INFUSION
    assert due.next_due == T + timedelta(minutes=25) and not due.overdue
    late = checks_due(now=T + timedelta(minutes=26), infusion_started_at=T,
                      infusion_ended_at=None, monitoring_kind="facility",
                      monitoring_hours_max=24, anchor="infusion_start",
                      last_set_at=T + timedelta(minutes=10))
    assert late.overdue


def test_c1d1_monitoring_runs_24_h_from_infusion_start_at_the_facility_interval() -> None:
    end = T + timedelta(hours=1)
    due = checks_due(now=T + timedelta(hours=5), infusion_started_at=T, infusion_ended_at=end,
                     monitoring_kind="facility", monitoring_hours_max=24,
                     anchor="infusion_start", last_set_at=T + timedelta(hours=2))
    assert due.tier is CareTier.FACILITY and due.window_ends == T + timedelta(hours=24)
    assert due.next_due == T + timedelta(hours=6) and not due.overdue
    over = checks_due(now=T + timedelta(hours=24), infusion_started_at=T, infusion_ended_at=end,
                      monitoring_kind="facility", monitoring_hours_max=24,
                      anchor="infusion_start", last_set_at=T + timedelta(hours=2))
    assert over.tier is CareTier.NONE and over.next_due is None and not over.overdue


def test_observation_after_the_infusion_ends_at_the_window_and_no_set_is_due_past_it() -> None:
    end = T + timedelta(hours=1)
    due = checks_due(now=end + timedelta(minutes=100), infusion_started_at=T,
                     infusion_ended_at=end, monitoring_kind="observe", monitoring_hours_max=2,
                     anchor="infusion_end", last_set_at=end + timedelta(minutes=95))
    assert due.tier is CareTier.OBSERVATION and due.window_ends == end + timedelta(hours=2)
    assert due.next_due is None  # 95 + 30 min is past the 2 h window


def test_site_policy_overrides_an_interval_and_a_bad_override_is_refused() -> None:
    got = intervals_from_policy({"vitals_interval_minutes": {"infusion": 5}})
    assert got[CareTier.INFUSION] == 5
    assert got[CareTier.FACILITY] == CHECK_INTERVALS[CareTier.FACILITY]
    with pytest.raises(InvalidInput, match="vitals_interval_minutes"):
        intervals_from_policy({"vitals_interval_minutes": {"infusion": 0}})
    with pytest.raises(InvalidInput, match="vitals_interval_minutes"):
        intervals_from_policy({"vitals_interval_minutes": {"weekly": 5}})


def test_crs_grade_2_and_any_icans_alert_and_grade_1_crs_does_not_off_infusion() -> None:
    assert escalations(crs_grade=1, temperature_c=38.2) == ()
    (crs,) = escalations(crs_grade=2, temperature_c=38.2)
    assert crs.kind is AlertKind.CRS and crs.grade == 2 and not crs.stop_infusion
    (icans,) = escalations(icans_grade=1)
    assert icans.kind is AlertKind.ICANS


def test_a_fever_during_the_infusion_alerts_and_says_stop_the_infusion() -> None:
    (fever,) = escalations(crs_grade=1, temperature_c=38.0, infusion_running=True)
    assert fever.kind is AlertKind.FEVER and fever.stop_infusion
    assert STOP_INFUSION in fever.message
    assert escalations(crs_grade=0, temperature_c=37.9, infusion_running=True) == ()
    (crs,) = escalations(crs_grade=2, temperature_c=38.5, infusion_running=True)
    assert crs.kind is AlertKind.CRS and STOP_INFUSION in crs.message


def test_ice_follows_the_monitoring_bed_interval_unless_the_site_sets_its_own() -> None:
    from tarla.domain.vitals import CHECK_INTERVALS, CareTier, ice_interval_from_policy

    assert ice_interval_from_policy({}, CHECK_INTERVALS) == CHECK_INTERVALS[CareTier.FACILITY]
    assert ice_interval_from_policy({"ice_interval_minutes": 120}, CHECK_INTERVALS) == 120
    for bad in (0, "2 h", True):
        with pytest.raises(InvalidInput) as err:
            ice_interval_from_policy({"ice_interval_minutes": bad}, CHECK_INTERVALS)
        assert err.value.field == "policy.ice_interval_minutes"
