"""Crash test: a process recording an administration is killed with SIGKILL in the middle of
its transaction (or just after the commit). Afterwards either the whole record exists (the
administration, the bag hung, the course's new due date and the audit entry) or none of it
does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from records_helpers import World, audit_count, bag, enrol

from tarla.services.audit import verify_chain

CHILD = Path(__file__).with_name("crash_child.py")


def _run_and_kill(url: str, course_id: int, prep: int, tmp_path: Path, when: str) -> None:
    ready = tmp_path / f"ready-{when}"
    proc = subprocess.Popen([sys.executable, str(CHILD), url, str(course_id), "MRN1", str(prep),
                             str(ready), when],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not ready.exists():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"child exited early ({proc.returncode}): {err.decode()[-2000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("child never reached the crash point")
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)
    assert proc.returncode == -signal.SIGKILL


def _state(w: World, course_id: int, prep: int) -> tuple[int, int, str | None, str, int]:
    for _ in range(50):  # PostgreSQL may take a moment to notice the dead client
        try:
            with w.app.uow().readonly() as uow:
                admins = len(uow.administrations.for_course(course_id))
                course = uow.courses.get(course_id)
                bag = uow.preparations.get(prep)
                assert course is not None and bag is not None
                return (admins, uow.audit.count(), str(course.next_due_date), bag.status,
                        len(uow.preparations.events(prep)))
        except Exception:  # noqa: BLE001 - retried; the last attempt raises
            time.sleep(0.1)
    raise AssertionError("database not readable after the crash")


@pytest.mark.parametrize("when", ["before-commit", "after-commit"])
def test_a_killed_recording_leaves_all_or_nothing(world: World, database_url: str,
                                                  tmp_path: Path, when: str) -> None:
    course_id = enrol(world).course_id
    prep = bag(world, course_id, 0)  # reconstituted, in its bag: two clock events
    audits_before = audit_count(world)
    _run_and_kill(database_url, course_id, prep, tmp_path, when)
    state = _state(world, course_id, prep)
    if when == "before-commit":
        assert state == (0, audits_before, "2026-12-01", "checked", 2)
    else:
        assert state == (1, audits_before + 1, "2026-12-08", "in_use", 3)
    assert verify_chain(world.app.uow()).intact
