"""Premedication, post-infusion fluid and discharge (issue 11): the pure gates with golden
values from label-facts §3, and the use cases on the in-memory unit of work.

Golden values (label-facts §3): dexamethasone 8 mg IV within 1 hour before the infusion;
0.9% sodium chloride 1 L IV over 4-5 hours immediately after; C1D1 monitoring 22-24 h from
the infusion start with the 48 h / 1 hour proximity rule; C1D15 observation 6-8 h after it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from closed_loop_cases import LoopWorld, Staff, at, open_site
from signing import SIGNED
from tarla.domain.care import care_for
from tarla.domain.discharge import DischargeFacts, discharge_from, may_discharge
from tarla.domain.errors import InvalidInput
from tarla.domain.identification import label_barcode
from tarla.domain.premedication import (
    Charted,
    PostInfusionState,
    duration_warnings,
    may_start_infusion,
    post_infusion_state,
)
from tarla.services import care, clinical
from tarla.services.errors import Refused
from tarla.services.fakes import FakeStore, FakeUnitOfWork
from tarla.services.scope import OPERATOR

Z = ZoneInfo("America/New_York")
START = datetime(2026, 12, 1, 9, 0, tzinfo=Z)
C1D1 = care_for(1, 1)
C1D15 = care_for(1, 15)
DEX = C1D1.premedication[0]
SALINE = C1D1.post_infusion[0]


def test_the_c1d1_rows_carry_their_windows_as_data() -> None:
    assert (DEX.drug, DEX.dose, DEX.route, DEX.anchor, DEX.window_before_hours) == (
        "dexamethasone", "8 mg", "IV", "infusion_start", 1)
    assert (SALINE.anchor, SALINE.duration_min_hours, SALINE.duration_max_hours) == (
        "infusion_end", 4, 5)
    assert C1D15.premedication == () and C1D15.post_infusion == ()


@pytest.mark.parametrize(("given", "rule"), [
    (START - timedelta(hours=1), None),  # 08:00: exactly 1 hour before
    (START, None),
    (START - timedelta(minutes=61), "CARE-PREMED-WINDOW"),  # 07:59
    (START + timedelta(minutes=1), "CARE-PREMED-WINDOW"),  # after the start: not "before"
])
def test_dexamethasone_counts_only_within_1_hour_before_the_start(given: datetime,
                                                                  rule: str | None) -> None:
    gate = may_start_infusion(premedication=(DEX,), charted=(Charted(DEX.rule, given),),
                              started_at=START)
    assert [r.rule for r in gate.refusals] == ([rule] if rule else [])
    assert {"CARE-PREMED", "T3-DEXAMETHASONE"} <= set(gate.rules)


def test_no_dexamethasone_is_refused_and_a_physicians_waiver_lets_the_infusion_start() -> None:
    assert [r.rule for r in may_start_infusion(premedication=(DEX,), charted=(),
                                               started_at=START).refusals] == ["CARE-PREMED"]
    waived = may_start_infusion(premedication=(DEX,), charted=(Charted(DEX.rule, waived=True),),
                                started_at=START)
    assert waived.allowed and "CARE-PREMED-WAIVED" in waived.rules
    assert may_start_infusion(premedication=(), charted=(), started_at=START).allowed


def test_saline_is_due_once_the_infusion_ended_and_a_short_run_is_flagged() -> None:
    end = START + timedelta(hours=1)
    state = lambda charted, now: post_infusion_state(  # noqa: E731
        post_infusion=(SALINE,), charted=charted, infusion_ended_at=end, now=now)
    assert state((), START + timedelta(minutes=30)) is PostInfusionState.WAITING
    assert state((), end) is PostInfusionState.DUE
    assert state((Charted(SALINE.rule, end),), end) is PostInfusionState.RUNNING
    assert state((Charted(SALINE.rule, end, end + timedelta(hours=4)),),
                 end + timedelta(hours=5)) is PostInfusionState.DONE
    assert duration_warnings(SALINE, end, end + timedelta(hours=4, minutes=30)) == ()
    assert [w.rule for w in duration_warnings(SALINE, end, end + timedelta(hours=3))] == [
        "T3-SALINE"]


ALL_DONE = DischargeFacts(
    patient_counselled_at=START, caregiver_counselled_at=START, no_driving_counselled=True,
    caregiver_name="Ana Doe", caregiver_phone="+1 212 555 0100",
    stay_address="12 Main St", stay_address_confirmed=True, reproductive_potential=False)


def test_c1d1_discharge_waits_22_hours_from_the_start_and_needs_the_48_h_caregiver() -> None:
    end = START + timedelta(hours=1)
    assert discharge_from(C1D1.monitoring, START, end) == START + timedelta(hours=22)

    def refused(at: datetime, facts: DischargeFacts) -> list[str]:
        return [r.rule for r in may_discharge(
            monitoring=C1D1.monitoring, proximity=C1D1.proximity,
            proximity_rule=C1D1.monitoring.rule, started_at=START, ended_at=end, at=at,
            facts=facts, contraception_rule="WARN-EMBRYO-FETAL").refusals]

    assert refused(START + timedelta(hours=21, minutes=59), ALL_DONE) == [
        "DISCHARGE-MONITORING"]
    assert refused(START + timedelta(hours=22), ALL_DONE) == []
    assert refused(START + timedelta(hours=22), DischargeFacts()) == [
        "DISCHARGE-COUNSEL-PATIENT", "DISCHARGE-COUNSEL-CAREGIVER", "DISCHARGE-NO-DRIVING",
        "DISCHARGE-CAREGIVER", "DISCHARGE-STAY-ADDRESS", "DISCHARGE-CONTRACEPTION"]


def test_c1d15_observation_counts_6_hours_from_the_end_without_the_proximity_items() -> None:
    end = START + timedelta(hours=1)
    assert discharge_from(C1D15.monitoring, START, end) == end + timedelta(hours=6)
    gate = may_discharge(monitoring=C1D15.monitoring, proximity=C1D15.proximity,
                         proximity_rule=None, started_at=START, ended_at=None,
                         at=end + timedelta(hours=7), facts=DischargeFacts(
                             patient_counselled_at=START, caregiver_counselled_at=START,
                             no_driving_counselled=True, reproductive_potential=True))
    assert [r.rule for r in gate.refusals] == ["DISCHARGE-INFUSION-ENDED",
                                               "DISCHARGE-MONITORING",
                                               "DISCHARGE-CONTRACEPTION"]


# --------------------------------------------------------------------------- services

STAFF = Staff("NYC", "rn", "rn2", "rph", "rph2", "dr")


@pytest.fixture
def world() -> tuple[FakeStore, LoopWorld]:
    store = FakeStore()
    uow = lambda: FakeUnitOfWork(store)  # noqa: E731
    open_site(uow, STAFF, at(-10))
    return store, LoopWorld(uow, STAFF)


def test_the_dose_is_refused_until_dexamethasone_is_charted_then_discharge_completes(
        world: tuple[FakeStore, LoopWorld]) -> None:
    store, w = world
    p = w.enrol("M1")
    w.labs(p, at(0, "07:00"))
    pid = w.prepare(p, at(0, "07:45"), "K1")
    with pytest.raises(InvalidInput, match="in the future"):
        care.chart_premedication(w.uow(), course_id=p.course_id, given_at=at(0, "09:00"),
                                 actor="rn", now=at(0, "08:30"))
    with pytest.raises(Refused) as refused:
        clinical.record_administration(w.uow(), course_id=p.course_id,
                                       started_at=at(0, "09:00"), actor="rn",
                                       now=at(0, "09:05"), patient_scan="M1",
                                       bag_scan=label_barcode(pid))
    assert refused.value.rules == ("CARE-PREMED",)
    assert not store.tables["administrations"].rows
    w.hang(p, pid, at(0, "09:00"), ended=at(0, "10:00"))  # charts dexamethasone at 08:30
    (dex,) = store.tables["medication_administrations"].rows.values()
    assert (dex.slot, dex.drug, dex.given_at) == ("C1D1", "dexamethasone", at(0, "08:30"))
    c = care.dose_care(w.uow(), course_id=p.course_id, now=at(0, "10:05"), viewer=OPERATOR)
    assert (c.premedicated, c.infusing, c.saline) == (True, False, PostInfusionState.DUE)
    with pytest.raises(InvalidInput, match="before the infusion ended"):
        care.start_post_infusion(w.uow(), course_id=p.course_id, started_at=at(0, "09:50"),
                                 actor="rn", now=at(0, "10:05"))
    saline = care.start_post_infusion(w.uow(), course_id=p.course_id,
                                      started_at=at(0, "10:00"), actor="rn",
                                      now=at(0, "10:05"))
    done = care.end_post_infusion(w.uow(), entry_id=saline.entry_id, ended_at=at(0, "14:30"),
                                  actor="rn", now=at(0, "14:35"))
    assert done.warnings == ()
    entries = len(store.audit)
    facts = dict(patient_counselled_at=at(0, "15:00"), caregiver_counselled_at=at(0, "15:00"),
                 no_driving_counselled=True, caregiver_name="Ana Doe",
                 caregiver_phone="+1 212 555 0100", stay_address="12 Main St, New York",
                 stay_address_confirmed=True, reproductive_potential=False)
    with pytest.raises(Refused) as early:
        care.discharge(w.uow(), course_id=p.course_id, discharged_at=at(0, "18:00"),
                       actor="rn", now=at(0, "18:05"), signature=SIGNED, **facts)  # type: ignore[arg-type]
    assert early.value.rules == ("DISCHARGE-MONITORING",)
    with pytest.raises(InvalidInput, match="before the infusion started"):
        care.discharge(w.uow(), course_id=p.course_id, discharged_at=at(1, "08:00"),
                       actor="rn", now=at(1, "08:05"), signature=SIGNED,
                       **{**facts, "patient_counselled_at": at(0, "08:00")})  # type: ignore[arg-type]
    assert len(store.audit) == entries and not store.tables["discharges"].rows
    r = care.discharge(w.uow(), course_id=p.course_id, discharged_at=at(1, "07:00"),
                       actor="rn", now=at(1, "07:05"), signature=SIGNED, **facts)  # type: ignore[arg-type]
    assert (r.slot, r.passport_url) == ("C1D1", f"/patients/{p.patient_id}/passport.pdf")
    assert store.tables["patients"].rows[p.patient_id].reproductive_potential is False
    board = care.care_board(w.uow(), course_ids=[p.course_id], now=at(1, "07:10"),
                            viewer=OPERATOR)
    assert board[p.course_id].discharged_at == at(1, "07:00")


def test_a_physician_waives_the_premedication_with_a_reason_and_a_nurse_may_not(
        world: tuple[FakeStore, LoopWorld]) -> None:
    from tarla.services.errors import Forbidden

    _, w = world
    p = w.enrol("M1")
    with pytest.raises(Forbidden):
        care.waive_premedication(w.uow(), course_id=p.course_id, reason="steroid intolerance "
                                 "documented", actor="rn", now=at(0, "08:00"))
    with pytest.raises(InvalidInput, match="reason"):
        care.waive_premedication(w.uow(), course_id=p.course_id, reason="no", actor="dr",
                                 now=at(0, "08:00"))
    r = care.waive_premedication(w.uow(), course_id=p.course_id, reason="steroid intolerance "
                                 "documented", actor="dr", now=at(0, "08:00"))
    assert r.waived and r.rule_id == "T3-DEXAMETHASONE"
    assert care.premedication_due(w.uow(), course_id=p.course_id, now=at(0, "08:10"),
                                  viewer=OPERATOR) == ()
