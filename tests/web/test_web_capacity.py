"""Capacity pages and API (issue 12): the scheduler plans, reviews and accepts; the day board
shows the 22-24 h beds across midnight; a hold flags the booking with the reason; a move by
hand is refused naming the resource and the time; roles and sites are walls."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from icalendar import Calendar
from sqlalchemy import text
from web_support import NOW

from tarla.domain import capacity as cap
from tarla.services import admin, clinical
from tarla.services.capacity_demo import load_demo_centre

TODAY = "2026-12-15"  # Tuesday; the world's C1D1, C1D8 and C1D15 doses are due today


class FirstComeFirstServed:
    """The domain's baseline as the planner (the web suite tests the routes, not CP-SAT)."""

    def solve(self, model, *, time_limit_s=10.0, workers=2):  # type: ignore[no-untyped-def]
        return cap.first_come_first_served(model)


@pytest.fixture
def centre(app):  # type: ignore[no-untyped-def]
    load_demo_centre(app.state.web.uow, site_code="DEMO", actor="admin", now=NOW)
    app.state.web.extra["capacity_solver"] = FirstComeFirstServed()
    return app


def _count(app, table: str, where: str = "") -> int:  # type: ignore[no-untyped-def]
    with app.state.bootstrapped.engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {table} {where}")).scalar_one()


def _plan(c, days: int = 3):  # type: ignore[no-untyped-def]
    r = c.post("/api/v1/plans", json={"site": "DEMO", "from": TODAY, "days": days})
    assert r.status_code == 201, r.text
    return r.json()


def test_a_scheduler_proposes_reviews_and_accepts_and_beds_cross_midnight(centre, as_role):
    c = as_role("scheduler")
    plan = _plan(c)
    rows = {r["patient_mrn"]: r for r in plan["rows"]}
    # C1D1 (MRN100001) and C1D8 (MRN100002): a monitoring bed held 24 h from the start
    for mrn in ("MRN100001", "MRN100002"):
        booked = rows[mrn]["proposed"]
        assert booked["care_kind"] == "bed" and booked["crosses_midnight"]
        assert booked["rules"] == ["T1-INFUSION", "T1-MON-C1D1-D8"]
    # C1D15: a chair for the 1 h infusion + 8 h (the upper bound of T1-MON-C1D15's 6-8 h)
    chair = rows["MRN100003"]["proposed"]
    assert chair["care_kind"] == "chair" and chair["rules"] == ["T1-INFUSION", "T1-MON-C1D15"]
    assert chair["start"][11:16] == "09:30" and chair["chair_until"][11:16] == "18:30"
    assert chair["labs_at"][11:16] == "09:00"  # 30 min draw (site policy) before the dose
    assert "MRN100005" not in rows  # held (grade 2 CRS ongoing): not booked
    assert any("MRN100005" == n["patient_mrn"] and "hold" in n["reason"]
               for n in plan["summary"]["not_planned"])
    assert _count(centre, "appointments", "WHERE status = 'accepted'") == 0
    page = c.get(f"/schedule/plans/{plan['id']}")
    assert page.status_code == 200 and "Accept this plan" in page.text
    r = c.post(f"/schedule/plans/{plan['id']}/accept", data={})
    assert r.status_code == 303 and "done=accepted" in r.headers["location"]
    board = c.get("/schedule", params={"date": TODAY})
    assert board.status_code == 200
    assert "crosses midnight" in board.text and "Garcia" in board.text
    listed = c.get("/api/v1/appointments", params={"site": "DEMO", "from": TODAY,
                                                   "to": "2026-12-16"}).json()["appointments"]
    assert {a["patient_mrn"] for a in listed} >= {"MRN100001", "MRN100002", "MRN100003"}
    pdf = c.get("/schedule/day.pdf", params={"date": TODAY})
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    week = c.get("/schedule/week", params={"from": "2026-12-14"})
    assert week.status_code == 200 and "bed(s) overnight" in week.text


def test_a_hold_flags_the_booking_with_the_reason_and_a_new_plan_cancels_it(centre, as_role):
    c = as_role("scheduler")
    plan = _plan(c)
    assert c.post(f"/api/v1/plans/{plan['id']}/accept").status_code == 200
    course = next(r["course_id"] for r in plan["rows"] if r["patient_mrn"] == "MRN100003")
    # the physician charts a grade 2 CRS: the engine holds the dose
    clinical.record_adverse_event(centre.state.web.uow(), course_id=course, type="CRS",
                                  grade=2, onset=NOW, actor="dr.khan", now=NOW)
    listed = c.get("/api/v1/appointments", params={"site": "DEMO", "from": TODAY,
                                                   "to": TODAY}).json()["appointments"]
    held = next(a for a in listed if a["course_id"] == course)
    assert held["flagged"] and not held["flag"]["can_keep"]
    assert "the dose is now held" in held["flag"]["reasons"][0]
    assert "T5-CRS-G2" in held["flag"]["reasons"][0]
    board = c.get("/schedule", params={"date": TODAY})
    assert "Bookings to re-plan" in board.text and "cannot be kept" in board.text
    again = _plan(c)
    change = next(r for r in again["rows"] if r["course_id"] == course)
    assert change["change"] == "cancelled" and "held" in change["reasons"][0]
    assert c.post(f"/api/v1/plans/{again['id']}/accept").status_code == 200
    left = c.get("/api/v1/appointments", params={"site": "DEMO", "from": TODAY,
                                                 "to": TODAY}).json()["appointments"]
    assert course not in {a["course_id"] for a in left}


def test_a_move_outside_the_hours_or_onto_a_full_resource_is_refused_naming_them(centre,
                                                                                  as_role):
    c = as_role("scheduler")
    plan = _plan(c)
    c.post(f"/api/v1/plans/{plan['id']}/accept")
    appt = next(r["proposed"] for r in plan["rows"] if r["patient_mrn"] == "MRN100003")
    before = _count(centre, "audit_log")
    r = c.post(f"/api/v1/appointments/{appt['id']}/move",
               json={"start": "2026-12-15T17:45:00-05:00"})
    assert r.status_code == 409, r.text
    messages = " ".join(e["message"] for e in r.json()["errors"])
    assert "after closing at 2026-12-15 18:00 EST" in messages
    r = c.post(f"/api/v1/appointments/{appt['id']}/move",
               json={"start": "2026-12-19T10:00:00-05:00"})  # a Saturday
    assert r.status_code == 409 and "closed on Saturday 2026-12-19" in r.text
    # the page: a banner with the same words, nothing written
    page = c.post(f"/schedule/appointments/{appt['id']}/move",
                  data={"start": "2026-12-15T17:45", "date": TODAY})
    assert page.status_code == 409 and "after closing" in page.text
    assert _count(centre, "audit_log") == before
    ok = c.post(f"/api/v1/appointments/{appt['id']}/move",
                json={"start": "2026-12-16T09:00:00-05:00", "reason": "patient asked"})
    assert ok.status_code == 200, ok.text
    assert ok.json()["start"] == "2026-12-16T09:00:00-05:00"


def test_a_held_dose_cannot_be_moved_by_hand(centre, as_role):
    c = as_role("scheduler")
    plan = _plan(c)
    c.post(f"/api/v1/plans/{plan['id']}/accept")
    appt = next(r["proposed"] for r in plan["rows"] if r["patient_mrn"] == "MRN100003")
    clinical.record_adverse_event(centre.state.web.uow(), course_id=appt["course_id"],
                                  type="CRS", grade=2, onset=NOW, actor="dr.khan", now=NOW)
    r = c.post(f"/api/v1/appointments/{appt['id']}/move",
               json={"start": "2026-12-16T09:00:00-05:00"})
    assert r.status_code == 409
    assert [e["rule"] for e in r.json()["errors"]] == ["BOOK-HELD"]


def test_only_a_scheduler_plans_and_moves_others_read(centre, as_role):
    assert as_role("nurse").get("/schedule").status_code == 200
    assert as_role("nurse").post("/api/v1/plans", json={"site": "DEMO", "from": TODAY}
                                 ).status_code == 403
    assert as_role("physician").post("/schedule/plans", data={"from": TODAY}).status_code == 403
    assert as_role("scheduler").get("/admin/capacity").status_code == 403
    assert as_role("admin").get("/admin/capacity").status_code == 200


def test_the_scheduler_lands_on_the_day_board(centre, as_role):
    r = as_role("scheduler").get("/")
    assert r.status_code == 303 and r.headers["location"] == "/schedule"


def test_an_admin_sets_resources_and_bad_input_names_the_field(centre, as_role):
    c = as_role("admin")
    r = c.post("/admin/capacity/resources", data={"chairs": "ten"})
    assert r.status_code == 422 and "chairs" in r.text
    r = c.post("/admin/capacity/hours", data={"weekday": "sat", "opens": "09:00",
                                              "closes": "08:00"})
    assert r.status_code == 422 and "closes" in r.text
    r = c.post("/admin/capacity/resources", data={"chairs": "10", "beds": "5"})
    assert r.status_code == 303
    assert "value=\"10\"" in c.get("/admin/capacity").text


def test_another_sites_plans_and_appointments_are_404(centre, as_role, client_for):
    c = as_role("scheduler")
    plan = _plan(c)
    c.post(f"/api/v1/plans/{plan['id']}/accept")
    appt = plan["rows"][0]["proposed"]
    uow = centre.state.web.uow
    admin.create_site(uow(), code="WEST", name="West", timezone="America/Denver", now=NOW)
    from web_support import PASSWORD

    from tarla.web.auth import hash_password

    admin.create_user(uow(), username="sched.west", display_name="West scheduler",
                      roles=("scheduler",), now=NOW, site_code="WEST",
                      password_hash=hash_password(PASSWORD))
    w = client_for("sched.west")
    assert w.get(f"/schedule/plans/{plan['id']}").status_code == 404
    assert w.get(f"/api/v1/plans/{plan['id']}").status_code == 404
    assert w.post(f"/api/v1/plans/{plan['id']}/accept").status_code == 404
    assert w.post(f"/api/v1/appointments/{appt['id']}/move",
                  json={"start": "2026-12-16T09:00:00-05:00"}).status_code == 404
    assert w.get("/api/v1/appointments", params={"site": "DEMO", "from": TODAY,
                                                 "to": TODAY}).status_code == 404


def test_a_plan_without_resources_is_refused_naming_them(app, as_role):
    app.state.web.extra["capacity_solver"] = FirstComeFirstServed()
    r = as_role("scheduler").post("/api/v1/plans", json={"site": "DEMO", "from": TODAY})
    assert r.status_code == 422 and "resources" in r.text


def test_the_patients_calendar_gets_the_booked_times_and_the_48_h_window_from_the_start(
        centre, as_role):
    c = as_role("scheduler")
    plan = _plan(c)
    c.post(f"/api/v1/plans/{plan['id']}/accept")
    booked = next(r["proposed"] for r in plan["rows"] if r["patient_mrn"] == "MRN100001")
    start = datetime.fromisoformat(booked["start"])  # e.g. 2026-12-15T09:30:00-05:00
    cal = Calendar.from_ical(c.get(f"/patients/{booked['patient_id']}/course.ics").content)
    events = {str(e["uid"]): e for e in cal.walk("VEVENT")}
    dose = next(e for u, e in events.items() if "-C1D1-" in u and u.endswith("-dose@tarla"))
    window = next(e for u, e in events.items() if "-C1D1-" in u and u.endswith("-48h@tarla"))
    assert dose.decoded("dtstart") == start - timedelta(minutes=30)  # the labs draw
    assert dose.decoded("dtend") == start + timedelta(hours=24)  # the bed's 24 h
    assert window.decoded("dtstart") == start
    assert window.decoded("dtend") == start + timedelta(hours=48)
    assert "booked start" in str(window["description"])
