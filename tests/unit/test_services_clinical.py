"""Use cases against the in-memory unit of work (no database): slots, refusals, releases, the
end of an infusion, doses given elsewhere, resolving events, audit.

Doses are given through the closed loop (labs, a checked bag, the bedside scans:
``closed_loop_cases.LoopWorld``); a dose given before the patient came is entered by a
physician from the other centre's record (``record_external_dose``). Day 0 is 2026-12-01 in New
York (UTC-5): C1D1 that day, C1D8 on 2026-12-08, C1D15 on 2026-12-15, then every 14 days
(label-facts §3).
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from closed_loop_cases import LoopWorld, Patient, Staff, at
from signing import SIGNED
from tarla.domain.errors import InvalidInput
from tarla.domain.identification import label_barcode, wristband_barcode
from tarla.services import admin, clinical, pharmacy, queries
from tarla.services.audit import check_chain, verify_chain
from tarla.services.errors import AlreadyRecorded, Conflict, Forbidden, NotFound, Refused
from tarla.services.fakes import FakeStore, FakeUnitOfWork
from tarla.services.scope import OPERATOR

ZONE = ZoneInfo("America/New_York")
T0 = datetime(2026, 12, 1, 8, 0, tzinfo=ZONE)
STAFF = Staff(site="NYC", nurse="rn", nurse2="rn2", pharmacist="rph1", pharmacist2="rph2",
              physician="dr")


@pytest.fixture
def store() -> FakeStore:
    s = FakeStore()
    admin.create_site(FakeUnitOfWork(s), code="NYC", name="NYC", timezone="America/New_York",
                      now=T0 - timedelta(days=30))
    for name, roles in (("rn", ["nurse"]), ("rn2", ["nurse"]), ("rph1", ["pharmacist"]),
                        ("rph2", ["pharmacist"]), ("dr", ["physician"])):
        admin.create_user(FakeUnitOfWork(s), username=name, display_name=name, roles=roles,
                          now=T0 - timedelta(days=30), site_code="NYC")
    return s


def uow(store: FakeStore) -> FakeUnitOfWork:
    return FakeUnitOfWork(store)


def loop(store: FakeStore) -> LoopWorld:
    return LoopWorld(lambda: FakeUnitOfWork(store), STAFF)


def enrol(store: FakeStore, **kw: object) -> clinical.EnrolResult:
    args: dict[str, object] = dict(site_code="NYC", mrn="M1", family_name="Doe",
                                   given_name="Jane", birth_date=date(1958, 4, 2),
                                   diagnosis="ES-SCLC", progressed_after_platinum=True,
                                   start_date=date(2026, 12, 1), actor="dr", now=T0)
    args.update(kw)
    return clinical.enrol_patient(uow(store), **args)  # type: ignore[arg-type]


def patient(store: FakeStore, mrn: str = "M1", **kw: object) -> Patient:
    r = enrol(store, mrn=mrn, **kw)
    return Patient(r.patient_id, r.course_id, mrn)


def count(store: FakeStore, table: str) -> int:
    return len(store.tables[table].rows)


def test_enrolling_an_on_label_patient_opens_a_course_due_on_its_start_date(store: FakeStore
                                                                            ) -> None:
    r = enrol(store)
    assert r.warnings == () and r.next_due_date == date(2026, 12, 1)


def test_off_label_enrolment_needs_a_prescriber_reason_and_returns_the_warnings(
        store: FakeStore) -> None:
    with pytest.raises(InvalidInput, match="off_label_reason"):
        enrol(store, diagnosis="NSCLC")
    r = enrol(store, diagnosis="NSCLC", off_label_reason="tumour board decision")
    assert [w["code"] for w in r.warnings] == ["OFF_LABEL_DIAGNOSIS"]


def test_doses_get_their_slots_from_the_history_and_move_the_due_date(store: FakeStore) -> None:
    w, p = loop(store), patient(store)
    first = w.give(p, 0, "K1")
    assert (first.slot, first.dose_mg, first.next_due_date) == ("C1D1", 1, date(2026, 12, 8))
    second = w.give(p, 7, "K2")
    assert (second.slot, second.dose_mg, second.next_due_date) == ("C1D8", 10,
                                                                  date(2026, 12, 15))
    third = w.give(p, 15, "K3")  # a day late: later dates move with it
    assert (third.slot, third.dose_mg, third.next_due_date) == ("C1D15", 10, date(2026, 12, 30))
    bags = [a.preparation_id for a in uow(store).administrations.for_course(p.course_id)]
    assert [store.tables["preparations"].rows[b].status for b in bags] == ["administered"] * 3


def test_recording_a_slot_twice_is_refused_with_a_friendly_error(store: FakeStore) -> None:
    w, p = loop(store), patient(store)
    given = w.give(p, 0, "K1")
    with pytest.raises(AlreadyRecorded, match="C1D1 of this course is on record as given "
                                              "2026-12-01 09:00; a dose cannot be charted at "
                                              "or before it"):
        w.hang(p, given.preparation_id, at(0, "09:00"))  # type: ignore[arg-type]
    w.labs(p, at(7, "07:00"))
    pid = w.prepare(p, at(7, "07:45"), "K2")
    w.premedicate(p, at(7, "09:00"))
    with pytest.raises(InvalidInput, match="the dose due is C1D8, not C1D15"):
        clinical.record_administration(
            uow(store), course_id=p.course_id, started_at=at(7, "09:00"), actor="rn",
            now=at(7, "09:05"), slot="C1D15", patient_scan="M1", bag_scan=label_barcode(pid))
    assert count(store, "administrations") == 1


def test_the_same_bag_is_never_charted_for_a_second_dose(store: FakeStore) -> None:
    w, p = loop(store), patient(store)
    given = w.give(p, 0, "K1")
    with pytest.raises(Refused) as refused:
        w.hang(p, given.preparation_id, at(0, "15:00"))  # type: ignore[arg-type]
    assert refused.value.rules[:1] == ("GATE-NOT-DUE",) and "GATE-BAG-STATE" in \
        refused.value.rules
    assert count(store, "administrations") == 1


def test_an_idempotency_key_records_once(store: FakeStore) -> None:
    w, p = loop(store), patient(store)
    w.labs(p, at(0, "07:00"))
    pid = w.prepare(p, at(0, "07:45"), "K1")
    w.premedicate(p, at(0, "09:00"))

    def chart() -> clinical.AdministrationResult:
        return clinical.record_administration(
            uow(store), course_id=p.course_id, started_at=at(0, "09:00"), actor="rn",
            now=at(0, "09:05"), patient_scan="M1", bag_scan=label_barcode(pid),
            idempotency_key="tablet-7:abc")

    first, again = chart(), chart()
    assert again.replayed and not first.replayed
    assert (again.administration_id, again.preparation_id) == (first.administration_id, pid)
    assert count(store, "administrations") == 1
    assert [e.event for e in uow(store).preparations.events(pid)].count("infusion_started") == 1


def test_only_a_nurse_records_doses_and_nothing_is_written_when_refused(store: FakeStore
                                                                         ) -> None:
    p = patient(store)
    entries = len(store.audit)
    with pytest.raises(Forbidden, match="needs the nurse role"):
        clinical.record_administration(uow(store), course_id=p.course_id, started_at=T0,
                                       actor="dr", now=T0 + timedelta(hours=1),
                                       patient_scan="M1", bag_scan="PREP-1")
    with pytest.raises(NotFound):
        clinical.record_administration(uow(store), course_id=999, started_at=T0, actor="rn",
                                       now=T0 + timedelta(hours=1), patient_scan="M1",
                                       bag_scan="PREP-1")
    assert len(store.audit) == entries and not store.tables["administrations"].rows


def test_a_dose_needs_a_bag_or_it_is_refused_and_nothing_is_written(store: FakeStore) -> None:
    p = patient(store)
    loop(store).labs(p, at(0, "07:00"))
    loop(store).premedicate(p, at(0, "09:00"))
    entries = len(store.audit)
    with pytest.raises(Refused) as refused:
        clinical.record_administration(uow(store), course_id=p.course_id,
                                       started_at=at(0, "09:00"), actor="rn",
                                       now=at(0, "09:05"), dose_mg=1, patient_scan="M1")
    assert refused.value.rules == ("GATE-ID-EXCEPTION", "GATE-BAG-REQUIRED")
    assert len(store.audit) == entries and not store.tables["administrations"].rows


def test_a_documented_scan_exception_charts_the_chosen_bag_with_its_witness(store: FakeStore
                                                                            ) -> None:
    w, p = loop(store), patient(store)
    w.labs(p, at(0, "07:00"))
    pid = w.prepare(p, at(0, "07:45"), "K1")
    w.premedicate(p, at(0, "09:00"))
    r = clinical.record_administration(
        uow(store), course_id=p.course_id, started_at=at(0, "09:00"), actor="rn",
        now=at(0, "09:05"), preparation_id=pid,
        scan_exception_reason="  wristband printer down; identity confirmed verbally ",
        witness="rn2", witness_signature=SIGNED)
    (record,) = store.tables["administrations"].rows.values()
    assert (r.slot, r.dose_mg, r.preparation_id) == ("C1D1", 1, pid)
    assert (record.scan_exception_reason, record.witness_id, record.patient_scan,
            record.bag_scan) == ("wristband printer down; identity confirmed verbally",
                                 uow(store).users.by_username("rn2").id, None, None)  # type: ignore[union-attr]
    assert store.audit[-1].after["witness"] == "rn2"


def test_charting_writes_the_bags_infusion_start_and_end_in_the_same_transaction(
        store: FakeStore) -> None:
    w, p = loop(store), patient(store)
    w.labs(p, at(0, "07:00"))
    pid = w.prepare(p, at(0, "07:45"), "K1")
    w.premedicate(p, at(0, "09:00"))
    commits, entries = store.commits, len(store.audit)
    r = w.hang(p, pid, at(0, "09:00"), ended=at(0, "10:00"))
    assert (store.commits, len(store.audit)) == (commits + 1, entries + 1)
    events = [(e.event, e.at) for e in uow(store).preparations.events(pid)]
    assert events[-2:] == [("infusion_started", at(0, "09:00")),
                           ("infusion_completed", at(0, "10:00"))]
    assert store.tables["preparations"].rows[pid].status == "administered"
    assert r.warnings == ()
    assert store.audit[-1].action == "administration.record"
    assert {"GATE-BAG-CHECKED", "GATE-BAG-CLOCK", "T1-C1D1"} <= set(
        store.audit[-1].after["rules"])


def test_a_grade_2_crs_assessment_holds_the_course_until_it_resolves(store: FakeStore) -> None:
    w, p = loop(store), patient(store)
    w.give(p, 0, "K1")
    res = clinical.record_assessment(
        uow(store), course_id=p.course_id, kind="CRS",
        inputs={"temperature_c": 38.6, "hypotension": True, "oxygen": "none"},
        assessed_at=at(0, "21:00"), actor="rn", now=at(0, "21:10"))
    assert (res.grade, res.system, res.course_status) == (2, "ASTCT-2019", "held")
    assert res.adverse_event_id is not None
    status = clinical.resolve_adverse_event(uow(store), event_id=res.adverse_event_id,
                                            resolved_at=at(2, "08:00"), actor="dr",
                                            now=at(2, "08:05"))
    assert status == "active"
    with pytest.raises(InvalidInput, match="grade 2, not 1"):
        clinical.record_assessment(
            uow(store), course_id=p.course_id, kind="CRS", grade=1,
            inputs={"temperature_c": 38.6, "hypotension": True, "oxygen": "none"},
            assessed_at=at(3, "08:00"), actor="rn", now=at(3, "08:05"))


def test_a_nurses_resolution_is_a_proposal_and_the_dose_stays_held_until_a_physician(
        store: FakeStore) -> None:
    w, p = loop(store), patient(store)
    w.give(p, 0, "K1")
    event = w.crs_grade_2(p, at(0, "23:00"))
    assert w.resolve(event, at(2, "10:00"), "rn") == "held"
    proposed = store.tables["events"].rows[event]
    rn = uow(store).users.by_username("rn")
    assert (proposed.resolved_at, proposed.resolution_proposed_at,
            proposed.resolution_proposed_by) == (None, at(2, "10:00"), rn.id)  # type: ignore[union-attr]
    assert store.audit[-1].action == "adverse_event.propose_resolution"
    assert "GATE-RESOLVE" in store.audit[-1].after["rules"]
    with pytest.raises(AlreadyRecorded, match="already awaits a physician's confirmation"):
        w.resolve(event, at(2, "11:00"), "rn2")
    w.labs(p, at(7, "07:00"))
    with pytest.raises(Refused) as refused:
        w.start(p, at(7, "07:45"))
    assert refused.value.rules == ("GATE-HOLD",)
    # the physician confirms the nurse's time
    assert w.resolve(event, at(2, "10:00"), "dr") == "active"
    resolved = store.tables["events"].rows[event]
    dr = uow(store).users.by_username("dr")
    assert (resolved.resolved_at, resolved.resolved_by) == (at(2, "10:00"), dr.id)  # type: ignore[union-attr]
    assert store.audit[-1].action == "adverse_event.resolve"
    assert w.start(p, at(7, "07:45")) > 0
    with pytest.raises(AlreadyRecorded, match="is already resolved"):
        w.resolve(event, at(2, "10:00"), "dr")


def test_a_physician_releases_todays_held_dose_naming_exactly_its_hold(store: FakeStore
                                                                       ) -> None:
    w, p = loop(store), patient(store)
    w.give(p, 0, "K1")
    w.crs_grade_2(p, at(0, "23:00"))
    w.labs(p, at(7, "07:00"))
    with pytest.raises(Forbidden, match="needs the physician role"):
        clinical.release_dose(uow(store), course_id=p.course_id, reason="x" * 20, actor="rn",
                              now=at(7, "07:30"), signature=SIGNED)
    with pytest.raises(InvalidInput, match="10 characters or more"):
        clinical.release_dose(uow(store), course_id=p.course_id, reason="  ok  ", actor="dr",
                              now=at(7, "07:30"), signature=SIGNED)
    assert count(store, "releases") == 0
    r = w.release(p, at(7, "07:30"), "  CRS settled; benefit outweighs the risk  ")
    assert (r.slot, r.for_date, r.covers_rules, r.covers_labs) == (
        "C1D8", date(2026, 12, 8), ("T5-CRS-G2",), ())
    (stored,) = store.tables["releases"].rows.values()
    assert (stored.reason, stored.decided_at) == ("CRS settled; benefit outweighs the risk",
                                                  at(7, "07:30"))
    assert store.audit[-1].action == "course.release_dose"
    pid = w.prepare(p, at(7, "07:45"), "K2")
    given = w.hang(p, pid, at(7, "09:00"))
    assert (given.slot, given.dose_mg) == ("C1D8", 10)
    # the release was for 2026-12-08: the next day it no longer covers anything
    with pytest.raises(Refused):
        w.start(p, at(8, "07:45"))


def test_a_release_covers_missing_labs_only_when_labs_are_missing(store: FakeStore) -> None:
    w, p = loop(store), patient(store)
    r = w.release(p, at(0, "07:30"), "point-of-care CBC reviewed; lab system down")
    assert (r.slot, r.covers_rules, r.covers_labs) == ("C1D1", (), ("ALT", "AST", "CBC",
                                                                    "bilirubin"))
    assert w.start(p, at(0, "07:45")) > 0
    other = patient(store, "M2")
    w.labs(other, at(0, "07:00"))
    with pytest.raises(InvalidInput, match="the decision is give, with the labs on file: "
                                           "nothing to release"):
        w.release(other, at(0, "07:30"), "no reason at all to release")


def test_a_discontinuation_is_never_released(store: FakeStore) -> None:
    w, p = loop(store), patient(store)
    w.give(p, 0, "K1")
    clinical.record_adverse_event(uow(store), course_id=p.course_id, type="CRS", grade=4,
                                  onset=at(0, "20:00"), actor="dr", now=at(0, "20:10"))
    with pytest.raises(Refused) as refused:
        w.release(p, at(7, "07:30"), "family insists on continuing treatment")
    assert refused.value.rules == ("GATE-DISCONTINUED",)
    assert count(store, "releases") == 0


def test_completing_an_infusion_ends_the_administration_and_the_bag(store: FakeStore) -> None:
    w, p = loop(store), patient(store)
    w.labs(p, at(0, "07:00"))
    pid = w.prepare(p, at(0, "07:45"), "K1")
    running = w.hang(p, pid, at(0, "09:00"))
    assert store.tables["preparations"].rows[pid].status == "in_use"
    with pytest.raises(Forbidden):
        clinical.complete_infusion(uow(store), preparation_id=pid, ended_at=at(0, "10:00"),
                                   actor="rph1", now=at(0, "10:05"))
    with pytest.raises(InvalidInput, match="is before the infusion started"):
        clinical.complete_infusion(uow(store), preparation_id=pid, ended_at=at(0, "08:59"),
                                   actor="rn", now=at(0, "10:05"))
    done = clinical.complete_infusion(uow(store), preparation_id=pid, ended_at=at(0, "10:00"),
                                      actor="rn", now=at(0, "10:05"))
    assert (done.administration_id, done.slot, done.warnings) == (running.administration_id,
                                                                   "C1D1", ())
    record = store.tables["administrations"].rows[running.administration_id]
    assert record.ended_at == at(0, "10:00")
    assert store.tables["preparations"].rows[pid].status == "administered"
    assert store.audit[-1].action == "administration.complete"
    with pytest.raises(Refused) as refused:
        clinical.complete_infusion(uow(store), preparation_id=pid, ended_at=at(0, "10:10"),
                                   actor="rn", now=at(0, "10:15"))
    assert refused.value.rules == ("GATE-PREP-EVENT",)
    with pytest.raises(NotFound):
        clinical.complete_infusion(uow(store), preparation_id=999, ended_at=at(0, "10:10"),
                                   actor="rn", now=at(0, "10:15"))


def test_a_much_shorter_infusion_than_the_labels_hour_comes_back_as_a_warning(
        store: FakeStore) -> None:
    # the label's infusion is 60 minutes; the site-policy row INFUSION-SHORT flags < 45
    w, p = loop(store), patient(store)
    w.labs(p, at(0, "07:00"))
    pid = w.prepare(p, at(0, "07:45"), "K1")
    w.hang(p, pid, at(0, "09:00"))
    done = clinical.complete_infusion(uow(store), preparation_id=pid, ended_at=at(0, "09:20"),
                                      actor="rn", now=at(0, "09:25"))
    warning = ("The infusion ran 20 min from start to end, less than 45 minutes (site-policy "
               "threshold, UNVERIFIED); the label's infusion takes 60 minutes. Check the pump "
               "rate and the bag, and tell the prescriber. [INFUSION-SHORT]")
    assert done.warnings == (warning,)
    assert store.audit[-1].after["warnings"] == [warning]


@pytest.mark.parametrize("ended,warned", [
    (datetime(2026, 12, 1, 9, 44, 59, tzinfo=ZONE), "ran 44 min 59 s"),
    (datetime(2026, 12, 1, 9, 45, tzinfo=ZONE), None),
    (datetime(2026, 12, 1, 10, 0, tzinfo=ZONE), None),
])
def test_the_short_infusion_threshold_is_45_minutes_of_elapsed_time(
        store: FakeStore, ended: datetime, warned: str | None) -> None:
    w, p = loop(store), patient(store)
    w.labs(p, at(0, "07:00"))
    pid = w.prepare(p, at(0, "07:45"), "K1")
    w.hang(p, pid, at(0, "09:00"))
    done = clinical.complete_infusion(uow(store), preparation_id=pid, ended_at=ended,
                                      actor="rn", now=at(0, "10:05"))
    assert [warned in x for x in done.warnings] == ([] if warned is None else [True])


def test_a_short_infusion_charted_with_its_end_is_flagged_too(store: FakeStore) -> None:
    w, p = loop(store), patient(store)
    w.labs(p, at(0, "07:00"))
    pid = w.prepare(p, at(0, "07:45"), "K1")
    r = w.hang(p, pid, at(0, "09:00"), ended=at(0, "09:15"))
    assert len(r.warnings) == 1 and "ran 15 min" in r.warnings[0]


def test_a_dose_given_elsewhere_is_entered_by_a_physician_with_its_source(store: FakeStore
                                                                          ) -> None:
    p = patient(store, start_date=date(2026, 11, 24))
    source = "Mercy Hospital infusion record, faxed 2026-11-30"
    with pytest.raises(Forbidden, match="needs the physician role"):
        clinical.record_external_dose(uow(store), course_id=p.course_id,
                                      started_at=at(-7, "09:00"), dose_mg=1, source=source,
                                      actor="rn", now=T0)
    with pytest.raises(InvalidInput, match="source"):
        clinical.record_external_dose(uow(store), course_id=p.course_id,
                                      started_at=at(-7, "09:00"), dose_mg=1,
                                      source="Mercy", actor="dr", now=T0)
    with pytest.raises(Refused) as refused:
        clinical.record_external_dose(uow(store), course_id=p.course_id,
                                      started_at=at(-7, "09:00"), dose_mg=10, source=source,
                                      actor="dr", now=T0)
    assert refused.value.rules == ("GATE-DOSE",)
    r = clinical.record_external_dose(uow(store), course_id=p.course_id,
                                      started_at=at(-7, "09:00"), ended_at=at(-7, "10:00"),
                                      dose_mg=1, source=source, actor="dr", now=T0)
    assert (r.slot, r.dose_mg, r.kind, r.next_due_date, r.preparation_id) == (
        "C1D1", 1, "planned", date(2026, 12, 1), None)
    (record,) = store.tables["administrations"].rows.values()
    assert (record.scan_exception_reason, record.preparation_id) == (
        f"given elsewhere: {source}", None)
    assert store.audit[-1].action == "administration.external"
    assert not store.tables["preparations"].rows
    # the course goes on through our loop: C1D8 is due on 2026-12-01
    given = loop(store).give(p, 0, "K1")
    assert (given.slot, given.dose_mg) == ("C1D8", 10)


def test_a_dose_given_elsewhere_is_judged_as_of_its_start(store: FakeStore) -> None:
    p = patient(store, start_date=date(2026, 11, 10))
    source = "Mercy Hospital infusion record, faxed 2026-11-30"

    def elsewhere(day: int, mg: int) -> clinical.AdministrationResult:
        return clinical.record_external_dose(uow(store), course_id=p.course_id,
                                             started_at=at(day), dose_mg=mg, source=source,
                                             actor="dr", now=T0)

    elsewhere(-21, 1)  # 2026-11-10, C1D1
    with pytest.raises(Refused) as early:
        elsewhere(-17, 10)  # 2026-11-14: C1D8 was not due until 2026-11-17
    assert early.value.rules == ("GATE-NOT-DUE",)
    assert elsewhere(-14, 10).slot == "C1D8"
    with pytest.raises(AlreadyRecorded):
        elsewhere(-15, 10)  # before a dose already on record
    assert count(store, "administrations") == 2


def test_the_worklist_lists_only_courses_due_with_their_decision(store: FakeStore) -> None:
    due = enrol(store).course_id
    enrol(store, mrn="M2", start_date=date(2026, 12, 9))
    wl = queries.worklist(uow(store), site_code="NYC", now=T0, viewer=OPERATOR)
    assert [(i.course_id, i.decision, i.slot) for i in wl.items] == [(due, "give", "C1D1")]


def test_the_preparer_cannot_check_their_own_bag_and_stale_versions_conflict(store: FakeStore
                                                                             ) -> None:
    w, p = loop(store), patient(store)
    w.labs(p, at(0, "07:00"))
    prep = pharmacy.start_preparation(uow(store), course_id=p.course_id, actor="rph1",
                                      now=at(0, "07:45"))
    assert (prep.dose_mg, prep.slot, prep.status) == (1, "C1D1", "ordered")
    pid = prep.preparation_id
    from tarla.services.demo import kit_scan

    assert w.scan(pid, kit_scan(1, "K1"), at(0, "07:47")).verdict == "accept"
    from tarla.services import bench

    bench.confirm_step(uow(store), preparation_id=pid, step="water_added", actor="rph1",
                       now=at(0, "07:49"), measured_ml=1.3)
    version = store.tables["preparations"].rows[pid].version
    recon = pharmacy.advance_preparation(uow(store), preparation_id=pid, event="reconstituted",
                                         at=at(0, "07:50"), actor="rph1", now=at(0, "07:50"),
                                         expected_version=version)
    with pytest.raises(Conflict):
        pharmacy.advance_preparation(uow(store), preparation_id=pid, event="bag_prepared",
                                     at=at(0, "08:00"), actor="rph1", now=at(0, "08:00"),
                                     expected_version=recon.version - 1)
    for step, ml, minute in (("inspected", None, 51), ("saline_withdrawn", 14.0, 52),
                             ("ivss_added", 13.0, 53), ("drug_added", 1.1, 54),
                             ("air_removed", None, 55)):
        bench.confirm_step(uow(store), preparation_id=pid, step=step, actor="rph1",
                           now=at(0, f"07:{minute}"), measured_ml=ml,
                           inspection={"clear": True, "colourless": True, "no_particles": True}
                           if step == "inspected" else None)
    w.event(pid, "bag_prepared", at(0, "08:00"), "rph1")
    entries = len(store.audit)
    with pytest.raises(Refused) as refused:
        pharmacy.check_preparation(uow(store), preparation_id=pid, actor="rph1",
                                   now=at(0, "08:10"), signature=SIGNED)
    assert refused.value.rules == ("GATE-CHECK-FOUR-EYES",)
    assert refused.value.message == ("the independent check must be done by a pharmacist who "
                                     "neither started nor compounded this bag "
                                     "[GATE-CHECK-FOUR-EYES]")
    assert len(store.audit) == entries
    checked = pharmacy.check_preparation(uow(store), preparation_id=pid, actor="rph2",
                                         now=at(0, "08:10"), signature=SIGNED)
    assert checked.status == "checked" and [e["event"] for e in checked.events] == [
        "reconstituted", "bag_prepared"]


def test_the_audit_chain_detects_an_edited_and_a_deleted_entry(store: FakeStore) -> None:
    w, p = loop(store), patient(store)
    w.give(p, 0, "K1")
    w.give(p, 7, "K2")
    assert verify_chain(uow(store)).intact
    entries = list(store.audit)
    edited = [*entries]
    edited[3] = dataclasses.replace(edited[3], actor="mallory")
    assert check_chain(edited, store.audit_head).problem == "entry 4: hash mismatch (edited)"
    deleted = entries[:4] + entries[5:]
    assert check_chain(deleted, store.audit_head).problem == (
        "entry 6: previous hash does not match entry 4 (entry deleted?)")
    swapped = entries[:3] + [entries[4], entries[3]] + entries[5:]
    assert "entry 5" in (check_chain(swapped, store.audit_head).problem or "")


def test_the_wristband_and_label_texts_are_what_the_bedside_scans(store: FakeStore) -> None:
    assert (wristband_barcode(" M1 "), label_barcode(7)) == ("M1", "PREP-7")
