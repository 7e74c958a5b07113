"""The monitoring flowsheet, the alerts and the order sets (issue 11), through the real app.

The world at 09:00 on Tue 15 Dec 2026 (New York): Haddad ("held") has an ongoing CRS grade 2,
which raised one alert when it was charted; Garcia ("new") is due C1D1 today.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, time, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text, update
from web_support import NOW, SITE, TODAY, ZONE, Clock
from world import World

from tarla.adapters import orm
from tarla.domain.escalation import STOP_INFUSION
from tarla.domain.identification import label_barcode, wristband_barcode
from tarla.services import clinical, demo

WALL = NOW.strftime("%Y-%m-%dT%H:%M")
NORMAL = {"temperature_c": "37.0", "systolic_mmhg": "120", "diastolic_mmhg": "80",
          "heart_rate": "80", "spo2": "98", "oxygen_device": "none", "vasopressors": "0"}
CRS2_BODY = {"taken_at": NOW.isoformat(), "temperature_c": 38.6, "systolic_mmhg": 88,
             "diastolic_mmhg": 50, "heart_rate": 118, "spo2": 94, "hypotension": True,
             "oxygen_device": "low_flow", "oxygen_l_min": 2.0}


def at(hour: int, minute: int = 0) -> datetime:
    return datetime.combine(TODAY, time(hour, minute), ZONE)


def start_infusion(app: Any, world: World, key: str, mrn: str, started: datetime) -> int:
    """The due dose through the closed loop, its infusion still running (no end charted)."""
    uow = app.state.web.uow
    course_id = world.courses[key]
    bag = demo.prepare_checked_bag(uow, course_id=course_id, at=started - timedelta(minutes=40),
                                   serial=f"RUN{course_id}")
    demo.premedicate(uow, course_id=course_id, started_at=started)
    r = clinical.record_administration(
        uow(), course_id=course_id, started_at=started, actor="rn.chen",
        now=started + timedelta(minutes=2), patient_scan=wristband_barcode(mrn),
        bag_scan=label_barcode(bag), infusion_site="left forearm")
    assert r.administration_id is not None
    return r.administration_id


def rows(app: Any, table: str) -> int:
    with app.state.bootstrapped.engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def badge(page: str) -> str | None:
    marker = 'id="alerts-badge"'
    if marker not in page:
        return None
    return page.split(marker, 1)[1].split(">", 1)[1].split("<", 1)[0]


# --------------------------------------------------------------------------- flowsheet


def test_a_fever_during_a_running_infusion_says_stop_it_until_a_physician_acknowledges(
        app: Any, world: World, as_role: Callable[[str], TestClient]) -> None:
    dose = start_infusion(app, world, "new", "MRN100001", at(8, 30))
    course = world.courses["new"]
    nurse, physician = as_role("nurse"), as_role("physician")
    assert badge(nurse.get("/today").text) == "1"  # Haddad's CRS grade 2
    r = nurse.post(f"/courses/{course}/vitals",
                   data={**NORMAL, "temperature_c": "38.4", "taken_at": WALL,
                         "administration_id": str(dose)})
    assert r.status_code == 303 and r.headers["location"].endswith("saved=alert")
    sheet = nurse.get(r.headers["location"]).text
    assert STOP_INFUSION in sheet and "38.4" in sheet and "Rosa Alvarez" in sheet
    assert "Infusion running" in sheet and "Next set due" in sheet
    bedside = nurse.get(f"/bedside/{course}").text
    assert STOP_INFUSION in bedside and f"/courses/{course}/flowsheet" in bedside
    assert badge(bedside) == "2"

    page = nurse.get("/alerts").text
    assert "Fever during the infusion" in page and "Garcia, Ana" in page
    assert "acetaminophen" in page  # the seeded CRS grade 1 management text (HCP)
    assert "Acknowledge as" not in page  # a nurse reads; a physician acknowledges
    api = nurse.get("/api/v1/alerts", params={"unacknowledged": "true",
                                              "course_id": course}).json()
    (alert,) = api["alerts"]
    assert alert["kind"] == "fever" and alert["stop_infusion"] == STOP_INFUSION
    assert alert["infusion_running"] and alert["mrn"] == "MRN100001"
    assert api["unacknowledged"] == 2

    assert nurse.post(f"/alerts/{alert['id']}/acknowledge").status_code == 403
    assert nurse.post(f"/api/v1/alerts/{alert['id']}/acknowledge").status_code == 403
    r = physician.post(f"/alerts/{alert['id']}/acknowledge")
    assert r.status_code == 303
    assert STOP_INFUSION not in nurse.get(f"/bedside/{course}").text
    assert badge(nurse.get("/today").text) == "1"
    again = physician.post(f"/api/v1/alerts/{alert['id']}/acknowledge")
    assert again.status_code == 409 and again.json()["errors"][0]["field"] == "alert_id"
    page = physician.get("/alerts").text
    assert "Acknowledged by Dr Aisha Khan" in page


def test_a_crs_grade_2_set_is_charted_through_the_api_and_raises_a_crs_alert(
        app: Any, world: World, as_role: Callable[[str], TestClient]) -> None:
    course = world.courses["stepup"]
    nurse = as_role("nurse")
    r = nurse.post(f"/api/v1/courses/{course}/vitals", json=CRS2_BODY)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["vitals"]["proposed_crs_grade"] == body["vitals"]["charted_crs_grade"] == 2
    assert body["assessment_id"] and len(body["alert_ids"]) == 1
    sheet = nurse.get(f"/api/v1/courses/{course}/flowsheet").json()
    assert [s["charted_crs_grade"] for s in sheet["sets"]] == [2]
    assert sheet["status"]["ongoing_crs"] == 2 and sheet["status"]["unacknowledged_alerts"] == 1
    (alert,) = nurse.get("/api/v1/alerts", params={"course_id": course}).json()["alerts"]
    assert alert["kind"] == "crs" and alert["grade"] == 2 and alert["stop_infusion"] is None
    assert alert["order_set"]["text"].startswith("CRS grade 2: recommend hospitalisation")
    assert badge(nurse.get("/today").text) == "2"


def test_a_correction_of_the_proposed_grade_keeps_both_and_needs_a_reason(
        app: Any, world: World, as_role: Callable[[str], TestClient]) -> None:
    course = world.courses["stepup"]
    nurse = as_role("nurse")
    form = {**NORMAL, "temperature_c": "38.2", "taken_at": WALL, "charted_crs_grade": "0"}
    r = nurse.post(f"/courses/{course}/vitals", data=form)
    assert r.status_code == 422 and 'id="e-correction_reason"' in r.text
    assert rows(app, "vital_signs") == 0
    r = nurse.post(f"/courses/{course}/vitals",
                   data={**form, "correction_reason": "thermometer error, re-taken 37.1"})
    assert r.status_code == 303
    (s,) = nurse.get(f"/api/v1/courses/{course}/flowsheet").json()["sets"]
    assert (s["proposed_crs_grade"], s["charted_crs_grade"]) == (1, 0)
    assert s["correction_reason"] == "thermometer error, re-taken 37.1"


@pytest.mark.parametrize(("field", "value"), [("spo2", "130"), ("heart_rate", "fast"),
                                              ("diastolic_mmhg", "130"),
                                              ("taken_at", "2026-12-15T10:00")])
def test_a_bad_reading_is_refused_naming_its_field_and_nothing_is_written(
        field: str, value: str, app: Any, world: World,
        as_role: Callable[[str], TestClient]) -> None:
    course = world.courses["stepup"]
    nurse = as_role("nurse")
    before = (rows(app, "vital_signs"), rows(app, "alerts"), rows(app, "assessments"))
    r = nurse.post(f"/courses/{course}/vitals",
                   data={**NORMAL, "taken_at": WALL, field: value})
    assert r.status_code == 422, r.text[-500:]
    assert f'id="e-{field}"' in r.text
    assert (rows(app, "vital_signs"), rows(app, "alerts"), rows(app, "assessments")) == before


def test_the_api_refuses_a_bad_reading_as_422_with_its_field_and_another_sites_course_404(
        app: Any, world: World, as_role: Callable[[str], TestClient]) -> None:
    nurse = as_role("nurse")
    course = world.courses["stepup"]
    r = nurse.post(f"/api/v1/courses/{course}/vitals", json={**CRS2_BODY, "spo2": 130})
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["spo2"]
    r = nurse.post(f"/api/v1/courses/{course}/vitals", json={**CRS2_BODY, "spo2": "98%"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "spo2"
    assert rows(app, "vital_signs") == 0
    assert nurse.post("/api/v1/courses/999999/vitals", json=CRS2_BODY).status_code == 404
    assert as_role("pharmacist").post(f"/api/v1/courses/{course}/vitals",
                                      json=CRS2_BODY).status_code == 403


def test_the_live_preview_proposes_the_grade_as_values_are_typed(
        world: World, as_role: Callable[[str], TestClient]) -> None:
    course = world.courses["stepup"]
    nurse = as_role("nurse")
    page = nurse.get(f"/courses/{course}/flowsheet").text
    assert f'hx-post="/courses/{course}/flowsheet/preview"' in page
    r = nurse.post(f"/courses/{course}/flowsheet/preview",
                   data={**NORMAL, "temperature_c": "38.3", "hypotension": "on"},
                   headers={"HX-Request": "true"})
    assert r.status_code == 200 and 'data-grade="2"' in r.text
    assert "Proposed CRS grade 2" in r.text and "<html" not in r.text
    r = nurse.post(f"/courses/{course}/flowsheet/preview", data={**NORMAL, "spo2": "130"})
    assert r.status_code == 200 and "spo2" in r.text and "data-grade" not in r.text
    assert nurse.post("/courses/999999/flowsheet/preview", data=NORMAL).status_code == 404


def test_the_next_dose_after_a_grade_2_crs_is_monitored_22_to_24_hours(
        app: Any, world: World, clock: Clock, as_role: Callable[[str], TestClient]) -> None:
    """C1D15 is a 6-8 h observation by its slot; after the grade 2 CRS of C1D8 the engine
    gives it the 22-24 h facility monitoring, and the flowsheet schedules it so."""
    uow = app.state.web.uow
    course = world.courses["held"]
    with uow().readonly() as u:
        event = next(e for e in u.events.for_course(course) if e.resolved_at is None)
    clinical.resolve_adverse_event(uow(), event_id=event.id, resolved_at=at(7, 30),  # type: ignore[arg-type]
                                   actor="dr.khan", now=at(7, 35))
    dose = demo.give_through_the_loop(uow, course_id=course, mrn="MRN100005",
                                      prepared_at=at(7, 45), started_at=at(9),
                                      serial="EXTENDED1")
    assert dose.slot == "C1D15"
    clock.value = at(10, 30)
    status = as_role("nurse").get(f"/api/v1/courses/{course}/flowsheet").json()["status"]
    assert status["tier"] == "facility"
    assert datetime.fromisoformat(status["window_ends"]) == at(9) + timedelta(hours=24)


# --------------------------------------------------------------------------- order sets


def test_an_order_set_is_written_and_takes_effect_only_once_signed_with_the_password(
        app: Any, world: World, as_role: Callable[[str], TestClient]) -> None:
    pharmacist, physician, nurse = as_role("pharmacist"), as_role("physician"), as_role("nurse")
    page = nurse.get("/order-sets").text
    assert "CRS grade 2: recommend hospitalisation" in page and "HCP" in page
    assert "Write a new version" not in page
    # an ICANS alert: the site has no steps for it yet
    r = nurse.post(f"/api/v1/courses/{world.courses['stepup']}/assessments", json={
        "kind": "ICANS", "assessed_at": NOW.isoformat(),
        "inputs": {"consciousness": "awakens_to_voice", "seizure": "none", "motor": "none",
                   "cerebral_edema": "none", "ice": {
            "orientation_year": 1, "orientation_month": 1, "orientation_city": 1,
            "orientation_hospital": 1, "naming": 3, "follows_commands": 1, "writing": 1,
            "attention": 1}}})
    assert r.status_code == 201 and r.json()["grade"] >= 1
    assert "the site writes its own" in nurse.get("/alerts").text

    text_ = "ICANS: neurology review; dexamethasone per site protocol; seizure precautions."
    assert nurse.post("/order-sets", data={"event": "icans", "min_grade": "1",
                                           "max_grade": "4", "text": text_}).status_code == 403
    r = pharmacist.post("/order-sets", data={"event": "icans", "min_grade": "3",
                                             "max_grade": "1", "text": text_})
    assert r.status_code == 422 and "below the lowest grade" in r.text
    r = pharmacist.post("/order-sets", data={"event": "icans", "min_grade": "1",
                                             "max_grade": "4", "text": text_})
    assert r.status_code == 303
    with app.state.bootstrapped.engine.connect() as conn:
        pending = conn.execute(select(orm.OrderSet.__table__.c.id).where(
            orm.OrderSet.__table__.c.event == "icans")).scalar_one()
    page = pharmacist.get("/order-sets").text
    assert f"/order-sets/{pending}/sign-off" in page
    r = physician.post(f"/order-sets/{pending}/sign-off", data={"password": "not my password"})
    assert r.status_code == 422 and "is not your password" in r.text
    assert "the site writes its own" in nurse.get("/alerts").text
    r = physician.post(f"/order-sets/{pending}/sign-off",
                       data={"password": "correct horse battery"})
    assert r.status_code == 303
    assert text_ in nurse.get("/alerts").text
    again = physician.post(f"/order-sets/{pending}/sign-off",
                           data={"password": "correct horse battery"})
    assert again.status_code == 409
    assert "order_set.sign_off" in pharmacist.get("/order-sets").text


# --------------------------------------------------------------------------- webhook


class _Listener(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802 - the http.server hook's name
        length = int(self.headers.get("Content-Length") or 0)
        type(self).received.append(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def listener() -> Iterator[tuple[str, type[_Listener]]]:
    handler = type("Hook", (_Listener,), {"received": []})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/page", handler
    finally:
        server.shutdown()
        server.server_close()


def _point_webhook(app: Any, url: str) -> None:
    sites = orm.Site.__table__
    with app.state.bootstrapped.engine.begin() as conn:
        policy = conn.execute(select(sites.c.policy).where(sites.c.code == SITE)).scalar_one()
        conn.execute(update(sites).where(sites.c.code == SITE)
                     .values(policy={**(policy or {}), "alert_webhook_url": url}))


def test_the_sites_webhook_receives_each_alert_after_the_commit(
        app: Any, world: World, as_role: Callable[[str], TestClient],
        listener: tuple[str, type[_Listener]]) -> None:
    url, handler = listener
    _point_webhook(app, url)
    nurse = as_role("nurse")
    # the vitals API
    r = nurse.post(f"/api/v1/courses/{world.courses['stepup']}/vitals", json=CRS2_BODY)
    assert r.status_code == 201
    # the bedside CRS assessment (the page's own route)
    r = nurse.post(f"/bedside/{world.courses['script']}/crs",
                   data={"assessed_at": WALL, "temperature_c": "38.7", "hypotension": "on",
                         "oxygen": "none", "vasopressors": "0"})
    assert r.status_code == 303, r.text[-500:]
    assert [(p["kind"], p["grade"], p["mrn"]) for p in handler.received] == [
        ("crs", 2, "MRN100002"), ("crs", 2, "MRN100004")]
    assert handler.received[0]["order_set"]["tag"] == "HCP"
    alerts = nurse.get("/api/v1/alerts", params={"unacknowledged": "true"}).json()["alerts"]
    assert {a["webhook_status"] for a in alerts if a["mrn"] != "MRN100005"} == {"delivered"}
