"""Closed-loop safety through the screens and the API: a course enrolled to start next week
is not due today and its calendar starts on the planned date; "unarousable, cannot do the
ICE" grades ICANS 4; oxygen by mask or positive pressure grades CRS without a flow.

The app's day is Tuesday 2026-12-15 (New York); next week's start is Tuesday 2026-12-22."""

from __future__ import annotations

import re
from datetime import date, datetime

from icalendar import Calendar

NEXT_WEEK = "2026-12-22"


def _enrol_for_next_week(as_role) -> int:  # type: ignore[no-untyped-def]
    r = as_role("scheduler").post("/patients/new", data={
        "mrn": "MRN200001", "family_name": "Lindqvist", "given_name": "Eva",
        "birth_date": "1961-03-09", "diagnosis": "ES-SCLC", "progressed": "yes",
        "start_date": NEXT_WEEK})
    assert r.status_code == 303, r.text[-2000:]
    return int(r.headers["location"].split("/patients/")[1].split("?")[0])


# --- the planned C1D1 date --------------------------------------------------------------------

def test_a_course_enrolled_for_next_week_is_not_on_todays_list(as_role) -> None:
    _enrol_for_next_week(as_role)
    html = as_role("nurse").get("/today").text
    assert "Lindqvist, Eva" not in html


def test_a_course_enrolled_for_next_week_is_on_the_list_of_its_start_date(as_role) -> None:
    patient = _enrol_for_next_week(as_role)
    r = as_role("nurse").get(f"/api/v1/worklist?site=DEMO&date={NEXT_WEEK}")
    assert r.status_code == 200, r.text
    items = [i for i in r.json()["items"] if i["patient_id"] == patient]
    assert [(i["decision"], i["slot"], i["dose_mg"], i["due_date"]) for i in items] == [
        ("give", "C1D1", 1, NEXT_WEEK)]


def test_the_patient_page_says_not_yet_with_the_start_date(as_role) -> None:
    patient = _enrol_for_next_week(as_role)
    html = as_role("nurse").get(f"/patients/{patient}").text
    assert "NOT YET" in html and ">GIVE<" not in html
    timeline = html.split('<ul class="timeline">')[1]
    first = re.search(r'<li class="due"><strong>([^<]+)</strong> —\s*(\S+) · (\d+) mg', timeline)
    assert first is not None
    assert first.group(2, 3) == ("C1D1", "1") and "22 Dec 2026" in first.group(1)


def test_the_calendar_of_a_course_starting_next_week_starts_on_the_start_date(as_role) -> None:
    patient = _enrol_for_next_week(as_role)
    r = as_role("nurse").get(f"/patients/{patient}/course.ics")
    assert r.status_code == 200
    events = list(Calendar.from_ical(r.content).walk("VEVENT"))
    first = events[0]
    assert str(first["SUMMARY"]) == "IMDELLTRA 1 mg infusion (C1D1)"
    assert first.decoded("DTSTART") == date(2026, 12, 22)
    doses = {str(e["SUMMARY"]): e.decoded("DTSTART") for e in events
             if "infusion (" in str(e["SUMMARY"])}
    # C1D8 and C1D15 follow 7 and 14 days after the planned C1D1.
    assert doses["IMDELLTRA 10 mg infusion (C1D8)"] == date(2026, 12, 29)
    assert doses["IMDELLTRA 10 mg infusion (C1D15)"] == date(2027, 1, 5)
    window = next(e for e in events if "48 h after the C1D1 dose" in str(e["SUMMARY"]))
    assert window.decoded("DTSTART").replace(tzinfo=None) == datetime(2026, 12, 22, 9, 0)
    assert min(e.decoded("DTSTART") for e in events if "infusion (" in str(e["SUMMARY"])
               ) == date(2026, 12, 22)


# --- ICANS: unarousable and unable to do the ICE ----------------------------------------------

def test_bedside_unable_to_do_the_ice_with_consciousness_left_normal_previews_grade_4(
        as_role, world) -> None:
    r = as_role("nurse").post(f"/bedside/{world.courses['new']}/icans/preview", data={
        "ice_unable": "on", "consciousness": "normal", "seizure": "none", "motor": "none",
        "cerebral_edema": "none"})
    assert r.status_code == 200
    assert 'data-grade="4"' in r.text


def test_bedside_unable_to_do_the_ice_while_awakening_to_voice_is_refused(as_role, world) -> None:
    r = as_role("nurse").post(f"/bedside/{world.courses['new']}/icans/preview", data={
        "ice_unable": "on", "consciousness": "awakens_to_voice", "seizure": "none",
        "motor": "none", "cerebral_edema": "none"})
    assert 'data-grade=' not in r.text
    assert "awakens_to_voice contradicts ice_unable" in r.text


def test_bedside_ice_answers_with_unable_ticked_are_refused(as_role, world) -> None:
    r = as_role("nurse").post(f"/bedside/{world.courses['new']}/icans/preview", data={
        "ice_unable": "on", "consciousness": "normal", "ice_writing": "1"})
    assert 'data-grade=' not in r.text
    assert "ICE answers were given" in r.text


def test_saving_unable_to_do_the_ice_charts_icans_grade_4(as_role, world) -> None:
    c = as_role("nurse")
    course = world.courses["new"]
    r = c.post(f"/bedside/{course}/icans", data={
        "assessed_at": "2026-12-15T08:30", "ice_unable": "on", "consciousness": "normal",
        "seizure": "none", "motor": "none", "cerebral_edema": "none", "grade_shown": "4"})
    assert r.status_code == 303, r.text[-2000:]
    saved = c.get(f"/api/v1/courses/{course}/assessments").json()["assessments"]
    icans = [a for a in saved if a["kind"] == "ICANS"]
    assert [(a["grade"], a["inputs"]["ice_unable"]) for a in icans] == [(4, True)]


def test_api_grades_unable_to_do_the_ice_as_grade_4(as_role) -> None:
    r = as_role("nurse").post("/api/v1/grade/icans", json={
        "ice_unable": True, "consciousness": "normal", "seizure": "none", "motor": "none",
        "cerebral_edema": "none"})
    assert r.status_code == 200, r.text
    assert r.json()["grade"] == 4 and r.json()["ice_score"] == 0


def test_api_refuses_an_ice_score_while_unable_naming_the_field(as_role) -> None:
    r = as_role("nurse").post("/api/v1/grade/icans", json={
        "ice_unable": True, "ice_score": 6, "consciousness": "normal", "seizure": "none",
        "motor": "none", "cerebral_edema": "none"})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "ice_score"


# --- CRS: the device sets the grade --------------------------------------------------------------

def test_api_grades_bipap_at_0_l_per_min_as_grade_4(as_role) -> None:
    r = as_role("nurse").post("/api/v1/grade/crs", json={
        "temperature_c": 38.6, "hypotension": False, "oxygen": "bipap",
        "oxygen_l_per_min": 0})
    assert r.status_code == 200, r.text
    assert r.json()["grade"] == 4


def test_bedside_non_rebreather_without_a_flow_previews_grade_3(as_role, world) -> None:
    r = as_role("nurse").post(f"/bedside/{world.courses['new']}/crs/preview", data={
        "temperature_c": "38.6", "oxygen": "non_rebreather", "oxygen_l_per_min": "",
        "vasopressors": "0"})
    assert 'data-grade="3"' in r.text
