"""Capacity on both databases (issue 12): ``tarla site`` sets and shows a site's resources
(exit 2 naming the field on bad input), and a CP-SAT plan over the demo centre is proposed,
accepted in one transaction, flagged after a hold and moved by hand with the gates."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from tarla.adapters.cpsat import CpSatPlanner
from tarla.bootstrap import bootstrap
from tarla.cli import main
from tarla.services import capacity, clinical
from tarla.services.demo import load_demo_data
from tarla.services.errors import Refused
from tarla.services.scope import OPERATOR

ZONE = ZoneInfo("America/New_York")
TODAY = date(2026, 12, 15)
NOW = datetime.combine(TODAY, time(7), ZONE)


def test_tarla_site_sets_and_shows_the_resources_and_names_the_field_on_bad_input(
        database_url: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TARLA_DATABASE_URL", database_url)
    assert main(["demo-data", "--patients", "2", "--today", "2026-12-15"]) == 0
    capsys.readouterr()
    assert main(["site", "set-resources", "--site", "DEMO", "--as", "admin", "--chairs", "10",
                 "--beds", "3", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["resources"]["chairs"], shown["resources"]["beds"]) == (10, 3)
    assert main(["site", "set-hours", "--site", "DEMO", "--as", "admin", "--weekday", "sat",
                 "--opens", "09:00", "--closes", "13:00"]) == 0
    assert main(["site", "set-shift", "--site", "DEMO", "--as", "admin", "--name", "day",
                 "--weekdays", "mon-sat", "--starts", "07:00", "--ends", "19:00",
                 "--nurses", "5"]) == 0
    capsys.readouterr()
    assert main(["site", "show", "--site", "DEMO"]) == 0
    out = capsys.readouterr().out
    assert "chairs 10, beds 3" in out and "sat 09:00-13:00" in out
    assert "shift day: mon,tue,wed,thu,fri,sat 07:00-19:00, 5 nurse(s)" in out
    for args, field in (
            (["set-resources", "--chairs", "lots"], "chairs"),
            (["set-hours", "--weekday", "sun", "--opens", "25:00", "--closes", "26:00"],
             "opens"),
            (["set-shift", "--name", "eve", "--weekdays", "someday", "--starts", "15:00",
              "--ends", "23:00", "--nurses", "2"], "weekdays"),
            (["set-resources", "--beds", "2"], "as")):
        with pytest.raises(SystemExit) as done:
            extra = [] if field == "as" else ["--as", "admin"]
            main(["site", *args, "--site", "DEMO", *extra])
        assert done.value.code == 2
        assert capsys.readouterr().err.startswith(f"error: {field}: ")
    assert main(["site", "set-resources", "--site", "DEMO", "--as", "rn.alvarez",
                 "--chairs", "1"]) == 1
    assert "needs the admin role" in capsys.readouterr().err


def test_a_cp_sat_plan_is_accepted_flagged_after_a_hold_and_moved_with_the_gates(
        database_url: str) -> None:
    app = bootstrap(database_url=database_url)
    try:
        load_demo_data(app.uow, patients=14, today=TODAY)
        monday = TODAY + timedelta(days=6)
        review = capacity.propose(app.uow(), site_code="DEMO", start=monday, days=7,
                                  actor="sched.lee", now=NOW, solver=CpSatPlanner())
        assert review.plan.solver_status in ("optimal", "feasible")
        booked = [r.proposed for r in review.rows if r.proposed is not None]
        assert booked and not review.plan.summary["unplaced"]
        capacity.accept(app.uow(), plan_id=review.plan.id, actor="sched.lee", now=NOW)
        board = capacity.day_board(app.uow(), site_code="DEMO", day=monday, viewer=OPERATOR,
                                   now=NOW)
        beds = [v for _, vs in board.beds for v in vs]
        assert any(v.crosses_midnight for v in beds)
        chair = next(v for v in booked if v.record.care_kind == "chair")
        clinical.record_adverse_event(app.uow(), course_id=chair.record.course_id, type="CRS",
                                      grade=2, onset=NOW, actor="dr.khan", now=NOW)
        views = capacity.appointments(app.uow(), site_code="DEMO", start=monday,
                                      end=monday + timedelta(days=6), viewer=OPERATOR, now=NOW)
        flagged = [v for v in views if v.flag is not None]
        assert [v.record.id for v in flagged] == [chair.record.id]
        with pytest.raises(Refused) as err:
            capacity.move(app.uow(), appointment_id=chair.record.id,
                          start=chair.record.start_at, actor="sched.lee", now=NOW)
        assert err.value.rules[0] == "BOOK-HELD"
        again = capacity.propose(app.uow(), site_code="DEMO", start=monday, days=7,
                                 actor="sched.lee", now=NOW, solver=CpSatPlanner())
        capacity.accept(app.uow(), plan_id=again.plan.id, actor="sched.lee", now=NOW)
        left = capacity.appointments(app.uow(), site_code="DEMO", start=monday,
                                     end=monday + timedelta(days=6), viewer=OPERATOR, now=NOW)
        assert chair.record.course_id not in {v.record.course_id for v in left}
        other = next(v for v in left if v.record.care_kind == "chair")
        moved = capacity.move(app.uow(), appointment_id=other.record.id,
                              start=other.record.start_at + timedelta(minutes=30),
                              actor="sched.lee", now=NOW, reason="patient asked")
        assert moved.record.start_at == other.record.start_at + timedelta(minutes=30)
        assert moved.record.note == "patient asked"
    finally:
        app.close()
