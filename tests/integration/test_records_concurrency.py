"""Optimistic versions, the once-per-slot rule and idempotency keys, on both databases."""

from __future__ import annotations

import dataclasses
import threading
from datetime import timedelta

import pytest
from records_helpers import T0, World, audit_count, bag, chart, enrol, give, patient_of
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from signing import SIGNED
from tarla.services import admin, bench, clinical, pharmacy
from tarla.services.audit import verify_chain
from tarla.services.demo import kit_scan
from tarla.services.errors import AlreadyRecorded, Conflict, Refused


def test_a_stale_preparation_update_is_a_conflict(world: World) -> None:
    course = enrol(world).course_id
    world.loop.labs(patient_of(world, course), T0 - timedelta(hours=1))
    prep = pharmacy.start_preparation(world.app.uow(), course_id=course, dose_mg=1,
                                      actor=world.pharmacist, now=T0)
    world.loop.scan(prep.preparation_id, kit_scan(1, "K1"), T0 + timedelta(minutes=2))
    bench.confirm_step(world.app.uow(), preparation_id=prep.preparation_id,
                       step="water_added", actor=world.pharmacist,
                       now=T0 + timedelta(minutes=4), measured_ml=1.3)
    pharmacy.advance_preparation(world.app.uow(), preparation_id=prep.preparation_id,
                                 event="reconstituted", at=T0 + timedelta(minutes=5),
                                 actor=world.pharmacist, now=T0 + timedelta(minutes=5),
                                 expected_version=prep.version)
    with pytest.raises(Conflict, match="changed by someone else"):
        pharmacy.advance_preparation(world.app.uow(), preparation_id=prep.preparation_id,
                                     event="discarded", at=T0 + timedelta(minutes=6),
                                     actor=world.pharmacist2, now=T0 + timedelta(minutes=6),
                                     expected_version=prep.version)


def test_a_concurrent_course_update_is_a_conflict_not_last_writer_wins(world: World) -> None:
    course_id = enrol(world).course_id
    stale = world.app.uow().readonly()
    with stale:
        seen = stale.courses.get(course_id)
        assert seen is not None
        with world.app.uow() as other:  # someone else changes the course and commits
            current = other.courses.get(course_id)
            assert current is not None
            other.courses.update(dataclasses.replace(current, status="held"))
            other.commit()
        with pytest.raises(Conflict):
            stale.courses.update(dataclasses.replace(seen, status="discontinued"))
            stale.commit()
    with world.app.uow().readonly() as uow:
        final = uow.courses.get(course_id)
    assert final is not None and final.status == "held" and final.version == seen.version + 1


def test_a_second_recording_of_the_same_slot_is_refused(world: World) -> None:
    course = enrol(world).course_id
    first = give(world, course, 0, 1)
    assert first.slot == "C1D1"
    before = audit_count(world)
    again = "C1D1 of this course is on record as given 2026-12-01 09:00"
    with pytest.raises(AlreadyRecorded, match=again):
        chart(world, course, 0, first.preparation_id, slot="C1D1")  # type: ignore[arg-type]
    with pytest.raises(AlreadyRecorded, match=again):
        chart(world, course, 0, first.preparation_id)  # type: ignore[arg-type]
    assert audit_count(world) == before


def test_the_database_alone_refuses_a_second_record_of_a_slot(world: World) -> None:
    course = enrol(world).course_id
    first = give(world, course, 0, 1)
    with world.app.uow() as uow, pytest.raises(AlreadyRecorded, match="already recorded"):
        given = uow.administrations.for_course(course)[0]
        uow.administrations.add(dataclasses.replace(  # bypasses the service's own check
            given, id=None, started_at=given.started_at + timedelta(days=7), dose_mg=10,
            idempotency_key=None))
    with pytest.raises(IntegrityError), world.app.engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO administrations (course_id, slot_seq, slot, cycle, day, dose_mg, kind, "
            "started_at, nurse_id, recorded_at) SELECT course_id, slot_seq, 'C1D8', 1, 8, 10, "
            "kind, started_at, nurse_id, recorded_at FROM administrations WHERE id = :i"),
            {"i": first.administration_id})
    with world.app.uow().readonly() as uow:
        assert len(uow.administrations.for_course(course)) == 1


def test_the_same_idempotency_key_records_once(world: World) -> None:
    course = enrol(world).course_id
    pid = bag(world, course, 0)
    before = audit_count(world)
    first = chart(world, course, 0, pid, idempotency_key="tablet-7:abc")
    again = chart(world, course, 0, pid, idempotency_key="tablet-7:abc")
    assert again.replayed and not first.replayed
    assert again.administration_id == first.administration_id
    assert audit_count(world) == before + 1
    later = bag(world, course, 7)
    with pytest.raises(Conflict, match="different administration"):
        chart(world, course, 7, later, idempotency_key="tablet-7:abc")
    with world.app.uow().readonly() as uow:
        assert len(uow.administrations.for_course(course)) == 1
        assert uow.preparations.get(later).status == "checked"  # type: ignore[union-attr]


def test_concurrent_requests_with_one_key_record_once(world: World) -> None:
    course = enrol(world).course_id
    pid = bag(world, course, 0)
    barrier = threading.Barrier(2)
    results: list[object] = []

    def post() -> None:
        barrier.wait()
        try:
            results.append(chart(world, course, 0, pid, idempotency_key="retry-1"))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            results.append(exc)

    threads = [threading.Thread(target=post) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert all(isinstance(r, clinical.AdministrationResult) for r in results), results
    ids = {r.administration_id for r in results}  # type: ignore[attr-defined]
    assert len(ids) == 1
    with world.app.uow().readonly() as uow:
        assert len(uow.administrations.for_course(course)) == 1
        events = [e.event for e in uow.preparations.events(pid)]
    assert events.count("infusion_started") == 1


def test_ten_concurrent_checks_of_one_bag_let_exactly_one_through(world: World) -> None:
    checkers = [f"rph.c{i}" for i in range(10)]
    for name in checkers:
        admin.create_user(world.app.uow(), username=name, display_name=name,
                          roles=["pharmacist"], now=T0, site_code=world.site)
    course = enrol(world).course_id
    p = patient_of(world, course)
    world.loop.labs(p, T0 - timedelta(hours=1))
    pid = world.loop.prepare(p, T0, "K1", checked=False)
    before = audit_count(world)
    barrier = threading.Barrier(len(checkers))
    results: dict[str, object] = {}

    def check(name: str) -> None:
        barrier.wait()
        try:
            results[name] = pharmacy.check_preparation(
                world.app.uow(), preparation_id=pid, actor=name, now=T0 + timedelta(minutes=30),
                signature=SIGNED)
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            results[name] = exc

    threads = [threading.Thread(target=check, args=(n,)) for n in checkers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    winners = [n for n, r in results.items() if isinstance(r, pharmacy.PreparationResult)]
    losers = [r for r in results.values() if not isinstance(r, pharmacy.PreparationResult)]
    assert len(results) == 10 and len(winners) == 1, results
    # the others saw the bag checked (GATE-CHECK-ONCE) or lost the version race (Conflict)
    assert all(isinstance(r, Conflict) or (isinstance(r, Refused)
                                           and "GATE-CHECK-ONCE" in r.rules)
               for r in losers), losers
    with world.app.uow().readonly() as uow:
        prep = uow.preparations.get(pid)
        winner = uow.users.by_username(winners[0])
        assert prep is not None and winner is not None
        assert (prep.status, prep.checked_by) == ("checked", winner.id)
        checks = [e for e in uow.audit.entries() if e.action == "preparation.check"]
    assert audit_count(world) == before + 1 and len(checks) == 1
    assert verify_chain(world.app.uow()).intact
