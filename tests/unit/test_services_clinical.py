"""Use cases against the in-memory unit of work (no database): slots, refusals, audit."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tarla.domain.errors import InvalidInput
from tarla.services import admin, clinical, label, pharmacy, queries
from tarla.services.audit import check_chain, verify_chain
from tarla.services.errors import AlreadyRecorded, Conflict, Forbidden, NotFound
from tarla.services.fakes import FakeStore, FakeUnitOfWork

ZONE = ZoneInfo("America/New_York")
T0 = datetime(2026, 12, 1, 8, 0, tzinfo=ZONE)


@pytest.fixture
def store() -> FakeStore:
    s = FakeStore()
    admin.create_site(FakeUnitOfWork(s), code="NYC", name="NYC", timezone="America/New_York",
                      now=T0)
    for name, roles in (("rn", ["nurse"]), ("rph1", ["pharmacist"]), ("rph2", ["pharmacist"]),
                        ("dr", ["physician"])):
        admin.create_user(FakeUnitOfWork(s), username=name, display_name=name, roles=roles,
                          now=T0, site_code="NYC")
    return s


def uow(store: FakeStore) -> FakeUnitOfWork:
    return FakeUnitOfWork(store)


def enrol(store: FakeStore, **kw: object) -> clinical.EnrolResult:
    args: dict[str, object] = dict(site_code="NYC", mrn="M1", family_name="Doe",
                                   given_name="Jane", birth_date=date(1958, 4, 2),
                                   diagnosis="ES-SCLC", progressed_after_platinum=True,
                                   start_date=date(2026, 12, 1), actor="dr", now=T0)
    args.update(kw)
    return clinical.enrol_patient(uow(store), **args)  # type: ignore[arg-type]


def give(store: FakeStore, course: int, days: int, dose: int, **kw: object
         ) -> clinical.AdministrationResult:
    start = T0 + timedelta(days=days, hours=1)
    return clinical.record_administration(uow(store), course_id=course, started_at=start,
                                          dose_mg=dose, actor="rn",
                                          now=start + timedelta(hours=1), **kw)  # type: ignore[arg-type]


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
    course = enrol(store).course_id
    assert give(store, course, 0, 1).slot == "C1D1"
    second = give(store, course, 7, 10)
    assert (second.slot, second.next_due_date) == ("C1D8", date(2026, 12, 15))
    third = give(store, course, 15, 10)  # a day late: later dates move with it
    assert (third.slot, third.next_due_date) == ("C1D15", date(2026, 12, 30))


def test_recording_a_slot_twice_is_refused_with_a_friendly_error(store: FakeStore) -> None:
    course = enrol(store).course_id
    give(store, course, 0, 1)
    with pytest.raises(AlreadyRecorded, match="C1D1 of this course was already recorded"):
        give(store, course, 0, 1)
    with pytest.raises(InvalidInput, match="is C1D8 of this course, not C1D15"):
        give(store, course, 7, 10, slot="C1D15")


def test_an_idempotency_key_records_once(store: FakeStore) -> None:
    course = enrol(store).course_id
    first = give(store, course, 0, 1, idempotency_key="k")
    again = give(store, course, 0, 1, idempotency_key="k")
    assert again.replayed and again.administration_id == first.administration_id
    assert len(store.tables["administrations"].rows) == 1


def test_only_a_nurse_records_doses_and_nothing_is_written_when_refused(store: FakeStore
                                                                         ) -> None:
    course = enrol(store).course_id
    entries = len(store.audit)
    with pytest.raises(Forbidden, match="needs the nurse role"):
        clinical.record_administration(uow(store), course_id=course, started_at=T0,
                                       dose_mg=1, actor="dr", now=T0 + timedelta(hours=1))
    with pytest.raises(NotFound):
        give(store, 999, 0, 1)
    assert len(store.audit) == entries and not store.tables["administrations"].rows


def test_a_grade_2_crs_assessment_holds_the_course_until_it_resolves(store: FakeStore) -> None:
    course = enrol(store).course_id
    give(store, course, 0, 1)
    res = clinical.record_assessment(
        uow(store), course_id=course, kind="CRS",
        inputs={"temperature_c": 38.6, "hypotension": True, "oxygen": "none"},
        assessed_at=T0 + timedelta(hours=12), actor="rn", now=T0 + timedelta(hours=13))
    assert (res.grade, res.system, res.course_status) == (2, "ASTCT-2019", "held")
    assert res.adverse_event_id is not None
    status = clinical.resolve_adverse_event(uow(store), event_id=res.adverse_event_id,
                                            resolved_at=T0 + timedelta(days=2), actor="dr",
                                            now=T0 + timedelta(days=2))
    assert status == "active"
    with pytest.raises(InvalidInput, match="grade 2, not 1"):
        clinical.record_assessment(
            uow(store), course_id=course, kind="CRS", grade=1,
            inputs={"temperature_c": 38.6, "hypotension": True, "oxygen": "none"},
            assessed_at=T0 + timedelta(days=3), actor="rn", now=T0 + timedelta(days=3))


def test_the_worklist_lists_only_courses_due_with_their_decision(store: FakeStore) -> None:
    due = enrol(store).course_id
    enrol(store, mrn="M2", start_date=date(2026, 12, 9))
    wl = queries.worklist(uow(store), site_code="NYC", now=T0)
    assert [(i.course_id, i.decision, i.slot) for i in wl.items] == [(due, "give", "C1D1")]


def test_the_preparer_cannot_check_their_own_bag_and_stale_versions_conflict(store: FakeStore
                                                                             ) -> None:
    course = enrol(store).course_id
    p = pharmacy.start_preparation(uow(store), course_id=course, dose_mg=1, actor="rph1", now=T0)
    p = pharmacy.advance_preparation(uow(store), preparation_id=p.preparation_id,
                                     event="reconstituted", at=T0, actor="rph1", now=T0,
                                     expected_version=p.version)
    with pytest.raises(Conflict):
        pharmacy.advance_preparation(uow(store), preparation_id=p.preparation_id,
                                     event="bag_prepared", at=T0, actor="rph1", now=T0,
                                     expected_version=p.version - 1)
    p = pharmacy.advance_preparation(uow(store), preparation_id=p.preparation_id,
                                     event="bag_prepared", at=T0, actor="rph1", now=T0)
    with pytest.raises(Forbidden, match="someone other than the preparer"):
        pharmacy.check_preparation(uow(store), preparation_id=p.preparation_id, actor="rph1",
                                   now=T0)
    checked = pharmacy.check_preparation(uow(store), preparation_id=p.preparation_id,
                                         actor="rph2", now=T0)
    assert checked.status == "checked" and [e["event"] for e in checked.events] == [
        "reconstituted", "bag_prepared"]


def test_sign_off_takes_a_subset_of_the_label_rules_and_says_what_is_left(store: FakeStore
                                                                          ) -> None:
    res = label.sign_off_label(uow(store), site_code="NYC", rule_ids=["T1-C1D1"],
                               actor="rph1", now=T0, comments="ok")
    assert res.rule_ids == ("T1-C1D1",) and "T1-C1D8" in res.unsigned
    with pytest.raises(Forbidden):
        label.sign_off_label(uow(store), site_code="NYC", rule_ids=["T1-C1D8"], actor="rn",
                             now=T0)


def test_the_audit_chain_detects_an_edited_and_a_deleted_entry(store: FakeStore) -> None:
    course = enrol(store).course_id
    give(store, course, 0, 1)
    give(store, course, 7, 10)
    assert verify_chain(uow(store)).intact
    entries = list(store.audit)
    edited = [*entries]
    import dataclasses

    edited[3] = dataclasses.replace(edited[3], actor="mallory")
    assert check_chain(edited, store.audit_head).problem == "entry 4: hash mismatch (edited)"
    deleted = entries[:4] + entries[5:]
    assert check_chain(deleted, store.audit_head).problem == (
        "entry 6: previous hash does not match entry 4 (entry deleted?)")
    swapped = entries[:3] + [entries[4], entries[3]] + entries[5:]
    assert "entry 5" in (check_chain(swapped, store.audit_head).problem or "")
