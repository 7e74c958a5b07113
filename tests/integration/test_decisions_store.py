"""The stored worklist decisions (issue 14), on both databases: today's worklist is served from
rows kept current by every write, under a key (the site's day, the course's inputs version
bumped by the database's triggers, the instant computed, what becomes visible later), and a
stale row is never served. Each served list is held to the one computed for the read."""

from __future__ import annotations

import dataclasses
import threading
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from records_helpers import PANEL, T0, ZONE, World, enrol, give
from sqlalchemy import text

from tarla.bootstrap import App
from tarla.services import clinical, decisions, queries
from tarla.services._common import zone_of
from tarla.services.demo import load_demo_data
from tarla.services.scope import OPERATOR

TODAY = date(2026, 12, 1)
NOW = datetime.combine(TODAY, time(10, 0), ZONE)


def clocked(app: App, at: datetime) -> App:
    """The same database, with writes recomputing decisions as of ``at``."""
    return dataclasses.replace(app, clock=lambda: at)


def computed(app: App, site: str, now: datetime, offset: int = 0,
             limit: int | None = None) -> dict[str, Any]:
    """The reference: the list computed for the read, nothing stored consulted."""
    with app.uow().readonly() as uow:
        s = uow.sites.by_code(site)
        assert s is not None
        zone = zone_of(s)
        wl = queries._computed(uow, s, zone, now.astimezone(zone).date(), now, offset, limit)
    return wl.to_json()


def served(app: App, site: str, now: datetime, **kw: Any) -> queries.Worklist:
    return queries.worklist(app.uow(), site_code=site, now=now, viewer=OPERATOR, **kw)


def rows(app: App, sql: str, **params: Any) -> list[Any]:
    with app.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql), params)]


def chart_panel(world: World, course_id: int, charted_at: datetime) -> None:
    """The morning panel (drawn at 07:30, T0 - 30 min) of the course's patient, charted at
    ``charted_at`` with writes recomputing decisions as of then."""
    with world.app.uow().readonly() as uow:
        course = uow.courses.get(course_id)
        assert course is not None
    clinical.record_lab_panel(clocked(world.app, charted_at).uow(),
                              patient_id=course.patient_id, results=PANEL,
                              collected_at=T0 - timedelta(minutes=30), actor=world.nurse,
                              now=charted_at)


@pytest.fixture
def demo(app: App) -> App:
    load_demo_data(clocked(app, NOW).uow, patients=21, seed=4, today=TODAY)
    return app


def test_todays_worklist_is_served_from_stored_rows_equal_to_computing_it(demo: App) -> None:
    wl = served(demo, "DEMO", NOW)
    assert wl.source == "stored"
    assert len(wl.items) >= 10
    assert wl.to_json() == computed(demo, "DEMO", NOW)
    assert {str(r[0])[:10] for r in rows(demo, "SELECT day FROM course_decisions")} == \
        {"2026-12-01"}


def test_pages_sorted_by_the_database_join_up_to_the_whole_list(demo: App) -> None:
    whole = served(demo, "DEMO", NOW).to_json()
    pages = [served(demo, "DEMO", NOW, offset=o, limit=4).to_json()
             for o in range(0, whole["total"], 4)]
    assert [i for p in pages for i in p["items"]] == whole["items"]
    assert {(p["total"], tuple(p["counts"].items())) for p in pages} == \
        {(whole["total"], tuple(whole["counts"].items()))}
    assert served(demo, "DEMO", NOW, offset=whole["total"], limit=4).items == ()


def test_a_lab_panel_recomputes_the_stored_decision_in_the_writing_transaction(
        world: World) -> None:
    enrolled_at = T0  # 08:00, the C1D1 due today
    c = enrol(dataclasses.replace(world, app=clocked(world.app, enrolled_at))).course_id
    (pending, version, as_of), = rows(world.app, "SELECT item, inputs_version, as_of FROM "
                                      "course_decisions WHERE course_id = :c", c=c)
    assert _item(pending)["decision"] == "give"
    assert _item(pending)["pending_checks"] == ["CBC", "ALT", "AST", "bilirubin"]

    charted = T0 + timedelta(minutes=40)
    chart_panel(world, c, charted_at=charted)
    # No worklist was read in between: the write itself stored the new decision.
    (after, new_version, course_version), = rows(
        world.app, "SELECT d.item, d.inputs_version, c.inputs_version FROM course_decisions d "
                   "JOIN treatment_courses c ON c.id = d.course_id WHERE d.course_id = :c", c=c)
    assert new_version == course_version > version
    assert _item(after)["pending_checks"] == []
    assert _item(after)["decision"] == "give"
    wl = served(world.app, world.site, charted + timedelta(minutes=1))
    assert wl.source == "stored" and wl.items[0].pending_checks == ()


def _item(value: Any) -> dict[str, Any]:
    import json

    return value if isinstance(value, dict) else json.loads(value)  # type: ignore[no-any-return]


def test_a_change_made_outside_the_application_is_never_served_stale(demo: App) -> None:
    first = served(demo, "DEMO", NOW)
    target = first.items[0]
    with demo.engine.begin() as conn:  # a fix made in a SQL console
        conn.execute(text("UPDATE patients SET family_name = 'Zzyzx' WHERE id = :p"),
                     {"p": target.patient_id})
    again = served(demo, "DEMO", NOW + timedelta(minutes=1))
    assert again.source == "stored"
    assert [i.name for i in again.items if i.course_id == target.course_id] == \
        [f"Zzyzx, {target.name.split(', ')[1]}"]
    assert again.to_json() == computed(demo, "DEMO", NOW + timedelta(minutes=1))


def test_a_deleted_lab_is_never_served_from_the_row_computed_with_it(world: World) -> None:
    c = enrol(dataclasses.replace(world, app=clocked(world.app, T0))).course_id
    chart_panel(world, c, charted_at=T0)
    assert served(world.app, world.site, T0 + timedelta(hours=1)).items[0].pending_checks == ()
    with world.app.engine.begin() as conn:
        conn.execute(text("DELETE FROM lab_results WHERE test = 'ALT'"))
    wl = served(world.app, world.site, T0 + timedelta(hours=1))
    assert wl.items[0].pending_checks == ("ALT",)


def test_the_sites_day_rolling_over_recomputes_every_row(demo: App) -> None:
    served(demo, "DEMO", NOW)
    tomorrow = datetime.combine(TODAY + timedelta(days=1), time(0, 5), ZONE)
    wl = served(demo, "DEMO", tomorrow)
    assert wl.date == TODAY + timedelta(days=1) and wl.source == "stored"
    days = {str(r[0])[:10] for r in rows(demo, "SELECT day FROM course_decisions d JOIN "
                                               "treatment_courses c ON c.id = d.course_id "
                                               "WHERE c.next_due_date <= '2026-12-02'")}
    assert days == {"2026-12-02"}
    assert wl.to_json() == computed(demo, "DEMO", tomorrow)


def test_an_event_resolving_later_today_holds_the_dose_only_until_then(world: World) -> None:
    c = enrol(world).course_id
    give(world, c, 0, 1)
    onset = T0 + timedelta(hours=12)
    event = clinical.record_adverse_event(world.app.uow(), course_id=c, type="CRS", grade=2,
                                          onset=onset, actor=world.physician,
                                          now=onset + timedelta(hours=1))
    day8 = T0.date() + timedelta(days=7)
    resolves = datetime.combine(day8, time(14, 0), ZONE)
    with world.app.engine.begin() as conn:  # charted as resolving at 14:00 that day
        conn.execute(text("UPDATE adverse_events SET resolved_at = :r WHERE id = :e"),
                     {"r": resolves, "e": event})
    morning = datetime.combine(day8, time(10, 0), ZONE)
    held = served(world.app, world.site, morning)
    assert [i.decision for i in held.items] == ["hold"]
    assert held.source == "stored" and held.to_json() == computed(world.app, world.site, morning)
    (until,), = rows(world.app, "SELECT valid_until FROM course_decisions WHERE course_id = :c",
                     c=c)
    assert until is not None
    later = datetime.combine(day8, time(14, 30), ZONE)
    after = served(world.app, world.site, later)
    assert [i.decision for i in after.items] == ["give"]
    assert after.to_json() == computed(world.app, world.site, later)


def test_concurrent_misses_compute_each_decision_once(demo: App, monkeypatch: Any) -> None:
    with demo.engine.begin() as conn:
        conn.execute(text("DELETE FROM course_decisions"))
    calls: list[int] = []
    real = decisions.compute

    def counting(*args: Any, **kwargs: Any) -> Any:
        out = real(*args, **kwargs)
        calls.append(len(out))
        return out

    monkeypatch.setattr(decisions, "compute", counting)
    results: list[Any] = []
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def read() -> None:
        try:
            start.wait()
            results.append(served(demo, "DEMO", NOW).to_json())
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    due = results[0]["total"]
    assert calls == [due]  # one computation of every due course, by one of the six readers
    assert all(r == results[0] for r in results)


def test_a_failure_to_recompute_never_blocks_the_clinical_write(world: World,
                                                                monkeypatch: Any) -> None:
    c = enrol(dataclasses.replace(world, app=clocked(world.app, T0))).course_id
    (before,), = rows(world.app, "SELECT inputs_version FROM course_decisions")

    def broken(uow: Any, *args: Any, **kwargs: Any) -> Any:
        # a statement the database refuses (on PostgreSQL it aborts the transaction, which
        # only the savepoint around the recompute saves)
        uow.session.execute(text("SELECT no_such_column FROM course_decisions"))

    monkeypatch.setattr(decisions, "compute", broken)
    chart_panel(world, c, charted_at=T0)
    assert rows(world.app, "SELECT count(*) FROM lab_results") == [(6,)]
    (kept, course_version), = rows(world.app, "SELECT d.inputs_version, c.inputs_version FROM "
                                               "course_decisions d JOIN treatment_courses c "
                                               "ON c.id = d.course_id")
    assert kept == before < course_version  # the old row stays, and no longer matches
    monkeypatch.undo()
    wl = served(world.app, world.site, T0 + timedelta(minutes=5))
    assert [i.pending_checks for i in wl.items] == [()]  # computed again, with the labs


def test_a_page_from_an_offset_to_the_end_is_the_rest_of_the_list(demo: App) -> None:
    whole = served(demo, "DEMO", NOW).to_json()
    rest = served(demo, "DEMO", NOW, offset=3).to_json()
    assert rest["items"] == whole["items"][3:] and rest["total"] == whole["total"]
