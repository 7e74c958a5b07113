"""Optimistic versions, the once-per-slot rule and idempotency keys, on both databases."""

from __future__ import annotations

import dataclasses
import threading
from datetime import timedelta

import pytest
from records_helpers import T0, World, audit_count, enrol, give
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from tarla.services import clinical, pharmacy
from tarla.services.errors import AlreadyRecorded, Conflict


def test_a_stale_preparation_update_is_a_conflict(world: World) -> None:
    course = enrol(world).course_id
    prep = pharmacy.start_preparation(world.app.uow(), course_id=course, dose_mg=1,
                                      actor=world.pharmacist, now=T0)
    pharmacy.advance_preparation(world.app.uow(), preparation_id=prep.preparation_id,
                                 event="reconstituted", at=T0, actor=world.pharmacist,
                                 now=T0, expected_version=prep.version)
    with pytest.raises(Conflict, match="changed by someone else"):
        pharmacy.advance_preparation(world.app.uow(), preparation_id=prep.preparation_id,
                                     event="discarded", at=T0, actor=world.pharmacist2,
                                     now=T0, expected_version=prep.version)


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
    with pytest.raises(AlreadyRecorded, match="C1D1 of this course was already recorded"):
        give(world, course, 0, 1, slot="C1D1")
    with pytest.raises(AlreadyRecorded):
        give(world, course, 0, 1)  # same start time, no slot named
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
    before = audit_count(world)
    first = give(world, course, 0, 1, idempotency_key="tablet-7:abc")
    again = give(world, course, 0, 1, idempotency_key="tablet-7:abc")
    assert again.replayed and not first.replayed
    assert again.administration_id == first.administration_id
    assert audit_count(world) == before + 1
    with pytest.raises(Conflict, match="different administration"):
        give(world, course, 7, 10, idempotency_key="tablet-7:abc")


def test_concurrent_requests_with_one_key_record_once(world: World) -> None:
    course = enrol(world).course_id
    barrier = threading.Barrier(2)
    results: list[object] = []

    def post() -> None:
        barrier.wait()
        try:
            results.append(give(world, course, 0, 1, idempotency_key="retry-1"))
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
