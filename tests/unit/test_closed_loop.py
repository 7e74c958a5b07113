"""Every unsafe attempt of the closed loop (the table in ``tests/closed_loop_cases.py``) through
the services on the in-memory unit of work: refused naming its rule, and the store exactly as
it was (every table, the audit chain), but for the refused kit scan a pharmacy keeps on record.
The same table runs through the JSON API in ``tests/web/test_closed_loop_api.py``."""

from __future__ import annotations

from typing import Any

import pytest

from closed_loop_cases import (
    EXISTING,
    TABLE,
    LoopWorld,
    Patient,
    Staff,
    Unsafe,
    act_through_services,
    at,
    open_site,
)
from signing import SIGNED
from tarla.services import clinical, pharmacy
from tarla.services.fakes import FakeStore, FakeUnitOfWork

STAFF = Staff(site="NYC", nurse="rn.a", nurse2="rn.b", pharmacist="rph.a",
              pharmacist2="rph.b", physician="dr.a")


def fresh_world() -> tuple[FakeStore, LoopWorld]:
    store = FakeStore()
    w = LoopWorld(lambda: FakeUnitOfWork(store), STAFF)
    open_site(w.uow, STAFF, at(-30, "08:00"))
    return store, w


def snapshot(store: FakeStore) -> dict[str, Any]:
    """Every committed row of every table, and the audit chain with its head."""
    return {"tables": {name: dict(t.rows) for name, t in store.tables.items()},
            "audit": list(store.audit), "head": store.audit_head}


@pytest.mark.parametrize("row", TABLE, ids=[r.id for r in TABLE])
def test_an_unsafe_attempt_is_refused_with_its_rule_and_writes_nothing(row: Unsafe) -> None:
    store, w = fresh_world()
    act = row.arrange(w)
    before = snapshot(store)
    rules = act_through_services(act, w.uow)
    assert row.rule in rules, rules
    after = snapshot(store)
    if not row.stored_refusal:
        assert after == before
        return
    # the refused scan is kept as evidence, with its one audit entry; nothing else changed
    new_scans = [s for k, s in after["tables"]["scans"].items()
                 if k not in before["tables"]["scans"]]
    assert [(s.verdict, s.preparation_id) for s in new_scans] == [
        ("refuse", act.args["preparation_id"])]
    assert len(after["audit"]) == len(before["audit"]) + 1
    assert after["audit"][-1].action == "preparation.scan"
    assert {k: v for k, v in after["tables"].items() if k != "scans"} == {
        k: v for k, v in before["tables"].items() if k != "scans"}


def test_the_table_covers_every_item_of_the_issue() -> None:
    rules = {row.rule for row in TABLE}
    assert rules == {
        "GATE-BAG-DOSE", "GATE-DOSE", "GATE-BAG-PATIENT", "GATE-BAG-REQUIRED", "GATE-NOT-DUE",
        "GATE-PREP-CLOCK", "GATE-BAG-CLOCK", "GATE-BAG-CHECKED", "GATE-CHECK-ONCE",
        "GATE-KIT-ONCE", "GATE-PREP-SCAN", EXISTING, "GATE-LABS-MISSING", "GATE-HOLD",
        "GATE-ID-WRISTBAND", "GATE-ID-BAG", "GATE-ID-EXCEPTION", "GATE-PREP-TIME",
        "GATE-PREP-HANG", "GATE-CHECK-FOUR-EYES", "GATE-KIT-EXCURSION", "CARE-PREMED-WINDOW"}


def row(row_id: str) -> Unsafe:
    return next(r for r in TABLE if r.id == row_id)


def test_the_second_start_of_a_dose_returns_the_first_preparation() -> None:
    store, w = fresh_world()
    act = row("two-preparations-for-one-dose").arrange(w)
    (first,) = store.tables["preparations"].rows.values()
    again = pharmacy.start_preparation(w.uow(), course_id=act.args["course_id"],
                                       actor=act.actor, now=act.now)
    assert (again.existing, again.preparation_id, again.prepared_by, again.slot) == (
        True, first.id, first.prepared_by, "C1D1")
    assert len(store.tables["preparations"].rows) == 1


def test_a_physicians_resolution_of_the_crs_lets_the_held_dose_be_prepared() -> None:
    # the companion of the nurse's row: the same CRS, resolved by the physician this time
    store, w = fresh_world()
    p = w.enrol("CL1")
    w.give(p, 0, "K-A")
    event = w.crs_grade_2(p, at(0, "23:00"))
    assert w.resolve(event, at(2, "10:00"), STAFF.nurse) == "held"
    assert w.resolve(event, at(2, "10:00"), STAFF.physician) == "active"
    w.labs(p, at(7, "07:00"))
    pid = w.start(p, at(7, "07:45"))
    prep = store.tables["preparations"].rows[pid]
    assert (prep.dose_mg, prep.slot, prep.status) == (10, "C1D8", "ordered")


def test_a_second_release_naming_both_holds_lets_the_bag_be_hung() -> None:
    _, w = fresh_world()
    act = row("crs-release-does-not-cover-a-new-anc-hold").arrange(w)
    course_id = act.args["course_id"]
    again = clinical.release_dose(w.uow(), course_id=course_id, actor=STAFF.physician,
                                  now=at(7, "08:40"), signature=SIGNED, reason="ANC 0.4 reviewed: benefit "
                                  "outweighs the risk, G-CSF started")
    assert (again.slot, again.covers_rules, again.covers_labs) == (
        "C1D8", ("T5-CRS-G2", "T7-NEUT"), ())
    w.premedicate(Patient(0, course_id, ""), act.now)  # C1D8 care: dexamethasone first
    given = clinical.record_administration(
        w.uow(), course_id=course_id, started_at=act.now, actor=act.actor, now=act.now,
        patient_scan=act.args["patient_scan"], bag_scan=act.args["bag_scan"])
    assert (given.slot, given.dose_mg, given.course_status) == ("C1D8", 10, "held")
