"""The screens: Today, Patient (+ .ics), Bedside, Rules, Users; forms re-render with errors;
names render inert."""

from __future__ import annotations

import re

from icalendar import Calendar
from web_support import USERS
from world import SCRIPT_NAME


def test_today_lists_who_is_due_with_decision_labs_and_bed(as_role, world) -> None:
    html = as_role("nurse").get("/today").text
    assert "Garcia, Ana" in html and "Haddad, Omar" in html
    row = html.split(f'id="course-{world.courses["new"]}"')[1].split("</tr>")[0]
    assert "C1D1" in row and "1 mg" in row and "GIVE" in row and "BED 22-24 h" in row
    row = html.split(f'id="course-{world.courses["nolabs"]}"')[1].split("</tr>")[0]
    assert "Labs missing: CBC, ALT, AST, bilirubin" in row and "Chair, observe 6-8 h" in row
    row = html.split(f'id="course-{world.courses["held"]}"')[1].split("</tr>")[0]
    assert "HOLD" in row


def test_today_filters_by_date_and_refuses_an_unknown_site(as_role) -> None:
    c = as_role("nurse")
    html = c.get("/today?date=2026-12-16").text
    assert "Wed 16 Dec 2026" in html
    r = c.get("/today?site=NOPE")
    assert r.status_code == 422 and "no site with code" in r.text
    assert c.get("/today?date=15/12/2026").status_code == 422


def test_reasons_on_demand_show_rule_tags_in_plain_words(as_role, world) -> None:
    html = as_role("nurse").get(f"/today/reasons/{world.courses['new']}").text
    assert "T1-C1D1" in html and "NOT CONFIRMED" in html


def test_a_script_in_a_patient_name_renders_inert(as_role, world) -> None:
    c = as_role("nurse")
    for path in ("/today", "/patients", f"/patients/{world.patients['script']}",
                 f"/bedside/{world.courses['script']}"):
        html = c.get(path).text
        assert SCRIPT_NAME not in html, path
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html, path
    r = c.get("/today")
    assert "script-src 'self'" in r.headers["content-security-policy"]


def test_patient_page_shows_the_course_as_a_timeline(as_role, world) -> None:
    html = as_role("nurse").get(f"/patients/{world.patients['held']}").text
    assert "C1D1 · 1 mg given" in html and "C1D8 · 10 mg given" in html
    assert "CRS grade 2" in html and "ONGOING" in html
    assert "HOLD" in html and "T5-CRS-G2" in html


def test_calendar_has_the_doses_and_the_48_h_caregiver_window(as_role, world) -> None:
    r = as_role("nurse").get(f"/patients/{world.patients['new']}/course.ics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/calendar")
    cal = Calendar.from_ical(r.content)
    events = [e for e in cal.walk("VEVENT")]
    summaries = [str(e["SUMMARY"]) for e in events]
    assert any("IMDELLTRA 1 mg infusion (C1D1)" in s for s in summaries)
    assert any("IMDELLTRA 10 mg infusion (C1D8)" in s for s in summaries)
    windows = [e for e in events if "Stay within 1 hour" in str(e["SUMMARY"])]
    assert {w["SUMMARY"].split("(")[-1] for w in windows} >= {"48 h after the C1D1 dose)",
                                                              "48 h after the C1D8 dose)"}
    for w in windows:
        span = w.decoded("DTEND") - w.decoded("DTSTART")
        assert span.total_seconds() == 48 * 3600
        assert "with a caregiver" in str(w["SUMMARY"])
    c1d15 = next(e for e in events if "(C1D15)" in str(e["SUMMARY"]))
    assert not any("C1D15 dose" in str(w["SUMMARY"]) for w in windows)
    assert c1d15.decoded("DTSTART").isoformat() == "2026-12-29"


def test_enrol_form_re_renders_with_field_errors(as_role) -> None:
    c = as_role("scheduler")
    r = c.post("/patients/new", data={"mrn": "", "family_name": "Doe", "given_name": "J",
                                      "birth_date": "not a date", "diagnosis": "ES-SCLC",
                                      "progressed": "yes", "start_date": "2026-12-20"})
    assert r.status_code == 422
    assert 'id="e-mrn"' in r.text and 'id="e-birth_date"' in r.text
    assert 'aria-invalid="true"' in r.text
    assert 'value="Doe"' in r.text  # what was typed is kept


def test_off_label_enrolment_needs_a_physician(as_role) -> None:
    data = {"mrn": "MRN9", "family_name": "Doe", "given_name": "J", "birth_date": "1960-01-01",
            "diagnosis": "LS-SCLC", "progressed": "yes", "start_date": "2026-12-20"}
    r = as_role("scheduler").post("/patients/new", data=data)
    assert r.status_code == 422 and "prescriber reason" in r.text
    r = as_role("scheduler").post("/patients/new", data={**data, "off_label_reason": "tumour board"})
    assert r.status_code == 422 and "only a physician" in r.text
    r = as_role("physician").post("/patients/new", data={**data, "off_label_reason":
                                                         "Tumour board: relapse, no option"})
    assert r.status_code == 303


def test_bedside_crs_grade_2_previews_the_hold_and_22_24_h_monitoring(as_role, world) -> None:
    c = as_role("nurse")
    course = world.courses["nolabs"]  # C1D15: normally a chair, observe 6-8 h
    r = c.post(f"/bedside/{course}/crs/preview",
               data={"temperature_c": "38.7", "hypotension": "on", "oxygen": "none",
                     "vasopressors": "0"}, headers={"HX-Request": "true"})
    assert r.status_code == 200
    assert 'data-grade="2"' in r.text and "HOLD" in r.text
    assert "Monitoring bed: 22-24 h" in r.text and "T5-CRS-G2" in r.text


def test_bedside_incomplete_ice_says_what_is_missing(as_role, world) -> None:
    c = as_role("nurse")
    r = c.post(f"/bedside/{world.courses['new']}/icans/preview",
               data={"consciousness": "normal", "ice_orientation_year": "1"})
    assert "Not graded yet" in r.text and "orientation month" in r.text


def test_bedside_icans_with_every_ice_answer_is_graded(as_role, world) -> None:
    c = as_role("nurse")
    answers = {f"ice_{k}": "1" for k in ("orientation_year", "orientation_month",
                                          "orientation_city", "orientation_hospital",
                                          "follows_commands", "writing", "attention")}
    r = c.post(f"/bedside/{world.courses['new']}/icans/preview",
               data={**answers, "ice_naming": "1", "consciousness": "normal", "seizure": "none",
                     "motor": "none", "cerebral_edema": "none"})
    assert 'data-grade="1"' in r.text and "ICE 8/10" in r.text


def test_saving_crs_grade_2_holds_the_next_dose(as_role, world) -> None:
    c = as_role("nurse")
    course = world.courses["nolabs"]
    r = c.post(f"/bedside/{course}/crs", data={
        "assessed_at": "2026-12-15T08:30", "temperature_c": "38.7", "hypotension": "on",
        "oxygen": "none", "vasopressors": "0", "grade_shown": "2"})
    assert r.status_code == 303, r.text[-2000:]
    html = c.get(f"/patients/{world.patients['nolabs']}").text
    assert "HOLD" in html and "Monitoring bed: 22-24 h" in html


def test_crs_form_with_a_bad_temperature_re_renders_with_the_field_error(as_role, world) -> None:
    r = as_role("nurse").post(f"/bedside/{world.courses['new']}/crs", data={
        "assessed_at": "2026-12-15T08:30", "temperature_c": "hot", "oxygen": "none"})
    assert r.status_code == 422
    assert "&#39;hot&#39; is not a number" in r.text


def test_a_held_dose_cannot_be_recorded_until_a_physician_overrides(as_role, world) -> None:
    course = world.courses["held"]
    nurse = as_role("nurse")
    data = {"dose_mg": "10", "started_at": "2026-12-15T08:45", "idempotency_key": "k-held-1"}
    r = nurse.post(f"/bedside/{course}/administration", data=data)
    assert r.status_code == 422 and "on HOLD" in r.text
    assert nurse.post(f"/bedside/{course}/override", data={"reason": "x" * 20}).status_code == 403
    doc = as_role("physician")
    r = doc.post(f"/bedside/{course}/override", data={"reason": "short"})
    assert r.status_code == 422 and "10 characters" in r.text
    r = doc.post(f"/bedside/{course}/override",
                 data={"reason": "CRS resolved clinically this morning; benefit outweighs risk"})
    assert r.status_code == 303
    r = nurse.post(f"/bedside/{course}/administration", data=data)
    assert r.status_code == 200, r.text[-1500:]
    assert "C1D15 10 mg recorded as given" in r.text


def test_recording_a_dose_twice_is_refused_with_the_slot(as_role, world) -> None:
    nurse = as_role("nurse")
    course = world.courses["stepup"]
    data = {"dose_mg": "10", "started_at": "2026-12-15T08:30"}
    assert "C1D8 10 mg recorded as given" in nurse.post(f"/bedside/{course}/administration",
                                                        data=data).text
    r = nurse.post(f"/bedside/{course}/administration", data=data)
    assert r.status_code == 422 and "already recorded" in r.text


def test_rules_page_lists_every_rule_with_its_tag(as_role) -> None:
    from tarla.label import all_rules

    html = as_role("nurse").get("/rules").text
    for row in all_rules():
        assert row.rule_id in html
    assert "NOT CONFIRMED" in html and "Only a pharmacist or a physician" in html


def test_a_pharmacist_signs_rules_off_and_the_trail_shows_it(as_role) -> None:
    c = as_role("pharmacist")
    r = c.post("/rules/sign-off", data={"rule_id": ["T5-CRS-G3", "T6-ICANS-G2"],
                                        "comments": "Checked against PI rev 11/2025 s.2.3"})
    assert r.status_code == 303
    html = c.get("/rules").text
    assert "Checked against PI rev 11/2025 s.2.3" in html and "label.sign_off" in html
    r = c.post("/rules/sign-off", data={"rule_id": ["T5-CRS-G4"], "comments": ""})
    assert r.status_code == 422 and "say what you checked" in r.text
    r = c.post("/rules/sign-off", data={"comments": "none ticked"})
    assert r.status_code == 422 and "at least one rule" in r.text


def test_admin_adds_a_user_and_bad_input_re_renders(as_role) -> None:
    c = as_role("admin")
    r = c.post("/admin/users", data={"username": "rn new!", "display_name": "",
                                     "password": "short"})
    assert r.status_code == 422
    assert len(re.findall(r'class="field-error"', r.text)) >= 3
    r = c.post("/admin/users", data={"username": "rn.new", "display_name": "New Nurse",
                                     "roles": ["nurse"], "password": "a long enough pw"})
    assert r.status_code == 303
    from fastapi.testclient import TestClient
    from web_support import sign_in

    with TestClient(c.app) as other:
        sign_in(other, "rn.new", "a long enough pw")
        assert other.get("/api/v1/me").json()["roles"] == ["nurse"]


def test_unknown_pages_are_404_pages_not_tracebacks(as_role) -> None:
    c = as_role("nurse")
    r = c.get("/patients/999999")
    assert r.status_code == 404 and "Traceback" not in r.text
    r = c.get("/api/v1/patients/999999")
    assert r.status_code == 404 and r.json()["errors"][0]["field"] == "patient_id"


_ = USERS
