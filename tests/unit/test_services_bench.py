"""Confirming bench steps against the in-memory unit of work: order, prerequisites from the
stored scans and clock events, volumes judged against the recipe, one audit entry per step,
nothing written on a refusal."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tarla.domain.errors import InvalidInput
from tarla.services import admin, clinical
from tarla.services.audit import verify_chain
from tarla.services.bench import bench_rows, confirm_step
from tarla.services.errors import Forbidden, NotFound
from tarla.services.fakes import FakeStore, FakeUnitOfWork
from tarla.services.records import (
    PreparationEventRecord,
    PreparationRecord,
    ScanRecord,
    UserRecord,
)

ZONE = ZoneInfo("America/New_York")
T0 = datetime(2026, 12, 15, 8, 0, tzinfo=ZONE)
ALL_YES = {"clear": True, "colourless": True, "no_particles": True}


@pytest.fixture
def store() -> FakeStore:
    s = FakeStore()
    admin.create_site(FakeUnitOfWork(s), code="NYC", name="NYC", timezone="America/New_York",
                      now=T0)
    for name, roles in (("rn", ["nurse"]), ("rph1", ["pharmacist"]), ("dr", ["physician"])):
        admin.create_user(FakeUnitOfWork(s), username=name, display_name=name, roles=roles,
                          now=T0, site_code="NYC")
    return s


def uow(store: FakeStore) -> FakeUnitOfWork:
    return FakeUnitOfWork(store)


def user_id(store: FakeStore, name: str) -> int:
    with uow(store) as u:
        found = u.users.by_username(name)
        assert found is not None and found.id is not None
        return found.id


def preparation(store: FakeStore, dose: int = 10, *, scan: str | None = "accept",
                reconstituted: bool = False, status: str = "ordered") -> int:
    """A preparation put straight into the store, with its drug-vial scan and clock event."""
    course = clinical.enrol_patient(
        uow(store), site_code="NYC", mrn=f"M{len(store.tables['courses'].rows) + 1}",
        family_name="Doe", given_name="Jane", birth_date=date(1958, 4, 2), diagnosis="ES-SCLC",
        progressed_after_platinum=True, start_date=date(2026, 12, 15), actor="dr", now=T0)
    rph = user_id(store, "rph1")
    with uow(store) as u:
        site = u.sites.by_code("NYC")
        assert site is not None and site.id is not None
        prep = u.preparations.add(PreparationRecord(
            course_id=course.course_id, site_id=site.id, dose_mg=dose, status=status,
            prepared_by=rph, created_at=T0, updated_at=T0))
        assert prep.id is not None
        if scan is not None:
            u.preparations.add_scan(ScanRecord(
                preparation_id=prep.id, gtin="00355513077019", component="drug", verdict=scan,
                reasons=[], scanned_by=rph, scanned_at=T0 + timedelta(minutes=1)))
        if reconstituted:
            u.preparations.add_event(PreparationEventRecord(
                preparation_id=prep.id, event="reconstituted", at=T0 + timedelta(minutes=5),
                recorded_by=rph, recorded_at=T0 + timedelta(minutes=5)))
        u.commit()
        return prep.id


def reconstitute(store: FakeStore, prep_id: int) -> None:
    with uow(store) as u:
        u.preparations.add_event(PreparationEventRecord(
            preparation_id=prep_id, event="reconstituted", at=T0 + timedelta(minutes=5),
            recorded_by=user_id(store, "rph1"), recorded_at=T0 + timedelta(minutes=5)))
        u.commit()


def confirm(store: FakeStore, prep_id: int, step: str, minutes: int = 10, **kw: object,
            ) -> list[dict[str, object]]:
    return confirm_step(uow(store), preparation_id=prep_id, step=step, actor="rph1",
                        now=T0 + timedelta(minutes=minutes), **kw)  # type: ignore[arg-type]


def test_a_10_mg_bench_is_confirmed_step_by_step_with_the_measured_volumes(store) -> None:
    pid = preparation(store, 10)
    rph = user_id(store, "rph1")
    audit_before = len(store.audit)
    steps = confirm(store, pid, "water_added", 6, measured_ml=4.4)
    assert steps == [{"step": "water_added", "measured_ml": 4.4, "confirmed_by": rph,
                      "confirmed_at": T0 + timedelta(minutes=6), "note": None}]
    reconstitute(store, pid)
    confirm(store, pid, "inspected", 7, inspection=ALL_YES)
    confirm(store, pid, "saline_withdrawn", 8, measured_ml=17.0)
    confirm(store, pid, "ivss_added", 9, measured_ml=13)
    confirm(store, pid, "drug_added", 10, measured_ml=4.18, note="drawn twice")
    steps = confirm(store, pid, "air_removed", 11)
    assert [(s["step"], s["measured_ml"]) for s in steps] == [
        ("water_added", 4.4), ("inspected", None), ("saline_withdrawn", 17.0),
        ("ivss_added", 13.0), ("drug_added", 4.18), ("air_removed", None)]
    assert steps[4]["note"] == "drawn twice"
    new = store.audit[audit_before:]
    assert [e.action for e in new] == [
        "preparation.step.water_added", "preparation.step.inspected",
        "preparation.step.saline_withdrawn", "preparation.step.ivss_added",
        "preparation.step.drug_added", "preparation.step.air_removed"]
    assert new[0].after["measured_ml"] == 4.4 and new[0].actor == "rph1"
    assert new[0].after["rules"] == ["PREP-STEP-WATER", "PREP-BENCH-TOLERANCE"]
    assert new[1].after["inspection"] == ALL_YES
    assert verify_chain(uow(store)).intact


def test_a_1_mg_volume_outside_the_tolerance_is_refused_and_nothing_is_written(store) -> None:
    pid = preparation(store, 1)
    audit_before, commits = len(store.audit), store.commits
    with pytest.raises(InvalidInput) as exc:
        confirm(store, pid, "water_added", measured_ml=1.4)
    assert exc.value.field == "measured_ml"
    assert exc.value.message == ("measured 1.4 mL; the recipe for 1 mg is 1.3 mL (± 5 %): "
                                 "1.235 to 1.365 mL is accepted")
    assert (len(store.audit), store.commits) == (audit_before, commits)
    assert store.tables["steps"].rows == {}
    assert [s["measured_ml"] for s in confirm(store, pid, "water_added", measured_ml=1.3)] == [
        1.3]


def test_4_18_ml_of_drug_for_10_mg_is_accepted_and_3_9_ml_refused(store) -> None:
    pid = preparation(store, 10, reconstituted=True)
    confirm(store, pid, "water_added", measured_ml=4.4)
    confirm(store, pid, "inspected", inspection=ALL_YES)
    confirm(store, pid, "saline_withdrawn", measured_ml=17)
    confirm(store, pid, "ivss_added", measured_ml=13)
    with pytest.raises(InvalidInput, match=r"measured 3\.9 mL; the recipe for 10 mg is 4\.2 mL"):
        confirm(store, pid, "drug_added", measured_ml=3.9)
    assert confirm(store, pid, "drug_added", measured_ml=4.18)[-1]["measured_ml"] == 4.18


def test_the_water_waits_for_an_accepted_drug_vial_scan(store) -> None:
    for scan in (None, "refuse"):
        pid = preparation(store, 10, scan=scan)
        with pytest.raises(InvalidInput) as exc:
            confirm(store, pid, "water_added", measured_ml=4.4)
        assert exc.value.field == "scan" and "scan the drug vial first" in exc.value.message


def test_later_steps_wait_for_the_reconstitution_on_the_clock(store) -> None:
    pid = preparation(store, 10)
    confirm(store, pid, "water_added", measured_ml=4.4)
    with pytest.raises(InvalidInput, match="record the reconstitution") as exc:
        confirm(store, pid, "inspected", inspection=ALL_YES)
    assert exc.value.field == "step"


def test_a_step_out_of_order_or_twice_is_refused(store) -> None:
    pid = preparation(store, 10, reconstituted=True)
    with pytest.raises(InvalidInput, match=r"\(water_added\) comes first") as exc:
        confirm(store, pid, "saline_withdrawn", measured_ml=17)
    assert exc.value.field == "step"
    confirm(store, pid, "water_added", measured_ml=4.4)
    with pytest.raises(InvalidInput, match="already confirmed"):
        confirm(store, pid, "water_added", measured_ml=4.4)
    with pytest.raises(InvalidInput, match="is not a bench step"):
        confirm(store, pid, "swirled")


def test_several_refusals_are_joined_under_the_first_field(store) -> None:
    pid = preparation(store, 10, reconstituted=True)
    with pytest.raises(InvalidInput) as exc:
        confirm(store, pid, "ivss_added", measured_ml=20)
    assert exc.value.field == "step"
    assert "comes first" in exc.value.message and "; measured 20.0 mL" in exc.value.message


def test_a_failed_inspection_says_do_not_use(store) -> None:
    pid = preparation(store, 10, reconstituted=True)
    confirm(store, pid, "water_added", measured_ml=4.4)
    with pytest.raises(InvalidInput) as exc:
        confirm(store, pid, "inspected", inspection={**ALL_YES, "no_particles": False})
    assert exc.value.field == "inspection.no_particles"
    assert exc.value.message.startswith("do not use")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), True])
def test_a_measured_volume_that_is_not_a_number_is_refused(store, value) -> None:
    pid = preparation(store, 10)
    with pytest.raises(InvalidInput, match="measured_ml"):
        confirm(store, pid, "water_added", measured_ml=value)


def test_only_an_active_pharmacist_confirms_steps(store) -> None:
    pid = preparation(store, 10)
    with pytest.raises(Forbidden):
        confirm_step(uow(store), preparation_id=pid, step="water_added", actor="rn", now=T0,
                     measured_ml=4.4)
    with uow(store) as u:
        u.users.add(UserRecord(username="rph.gone", display_name="gone", created_at=T0,
                               roles=frozenset({"pharmacist"}), active=False))
        u.commit()
    with pytest.raises(Forbidden, match="deactivated"):
        confirm_step(uow(store), preparation_id=pid, step="water_added", actor="rph.gone",
                     now=T0, measured_ml=4.4)


def test_an_unknown_or_closed_preparation_takes_no_step(store) -> None:
    with pytest.raises(NotFound):
        confirm(store, 999, "water_added", measured_ml=4.4)
    for status in ("discarded", "administered"):
        pid = preparation(store, 10, status=status)
        with pytest.raises(InvalidInput, match=f"a {status} preparation") as exc:
            confirm(store, pid, "water_added", measured_ml=4.4)
        assert exc.value.field == "preparation_id"


def test_bench_rows_mark_the_next_step_and_who_confirmed_the_earlier_ones(store) -> None:
    pid = preparation(store, 1)
    confirm(store, pid, "water_added", measured_ml=1.3)
    with uow(store) as u:
        records = u.preparations.steps(pid)
    rows = bench_rows(1, records, {user_id(store, "rph1"): "R. Ph"})
    assert [r["code"] for r in rows] == ["water_added", "inspected", "saline_withdrawn",
                                         "ivss_added", "drug_added", "air_removed"]
    assert [r["next"] for r in rows] == [False, True, False, False, False, False]
    assert (rows[0]["measured_ml"], rows[0]["confirmed_by_name"]) == (1.3, "R. Ph")
    assert rows[0]["confirmed_at"] == T0 + timedelta(minutes=10)
    assert [str(r["expected_ml"]) for r in rows] == ["1.3", "None", "14", "13", "1.1", "None"]
