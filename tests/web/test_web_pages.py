"""The screens: Today, Patient (+ .ics), Bedside, Rules, Users; forms re-render with errors;
names render inert. The bedside charts a dose by scanning the wristband and the bag label;
every refusal of the service is a hard stop (409) with each field's message beside it, and
nothing is written."""

from __future__ import annotations

import re

from icalendar import Calendar
from web_loop import administrations, chart, preparation, prepare_bag
from web_support import PASSWORD, USERS
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
    r = c.get("/today?site=NOPE")  # answered as another site's code is: not found
    assert r.status_code == 404 and "no site with code" in r.text
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


def _field_error(html: str, field: str) -> str:
    match = re.search(rf'<div class="field-error" id="e-{re.escape(field)}" role="alert">'
                      r'(.*?)</div>', html, re.S)
    assert match, f"no error next to {field}"
    return match.group(1)


def _banner(html: str) -> str:
    match = re.search(r'<div class="hard-stop" role="alert" id="hard-stop">(.*?)</div>',
                      html, re.S)
    assert match, "no hard-stop banner"
    return match.group(1)


def _decision(c, world, key: str) -> str:  # type: ignore[no-untyped-def]
    return c.get(f"/api/v1/patients/{world.patients[key]}/evaluation").json()["decision"]


def test_the_charting_form_scans_the_wristband_then_the_bag_and_shows_the_dose(as_role,
                                                                              world) -> None:
    html = as_role("nurse").get(f"/bedside/{world.courses['stepup']}").text
    form = html.split('id="dose"')[1].split("</section>")[0]
    wristband = re.search(r'<input id="f-patient_scan"[^>]*>', form, re.S).group(0)
    assert "autofocus" in wristband and 'data-enter-next="f-bag_scan"' in wristband
    bag = re.search(r'<input id="f-bag_scan"[^>]*>', form, re.S).group(0)
    assert "autofocus" not in bag
    assert form.index('id="f-patient_scan"') < form.index('id="f-bag_scan"')
    # the dose is the engine's, shown read-only: no dose selector
    assert "Dose due: C1D8 · 10 mg" in form and 'name="dose_mg"' not in form
    assert 'name="dose_mg_shown" value="10"' in form and 'name="slot_shown" value="C1D8"' in form
    assert "Cannot scan?" in form and 'name="scan_exception.witness"' in form


def test_a_held_dose_is_charted_only_after_a_physician_releases_it(as_role, world) -> None:
    course = world.courses["held"]
    nurse = as_role("nurse")
    r = chart(nurse, course, patient_scan="MRN100005", bag_scan="")
    assert r.status_code == 409 and "Dose on HOLD" in _banner(r.text)
    assert "GATE-HOLD" in _banner(r.text)
    assert nurse.post(f"/bedside/{course}/release", data={"reason": "x" * 20}).status_code == 403
    doc = as_role("physician")
    r = doc.post(f"/bedside/{course}/release", data={"reason": "short"})
    assert r.status_code == 422 and "10 characters" in _field_error(r.text, "reason")
    r = doc.post(f"/bedside/{course}/release",
                 data={"reason": "CRS resolved clinically this morning; benefit outweighs risk"})
    assert r.status_code == 200, r.text[-1500:]
    assert "C1D15 released for Tue 15 Dec 2026: covers GATE-HOLD (T5-CRS-G2)" in r.text
    line = "Released by <strong>Dr Aisha Khan</strong> at <strong>09:00 EST</strong> for C1D15"
    assert line in r.text and "benefit outweighs risk" in r.text
    today = nurse.get("/today").text.split(f'id="course-{course}"')[1].split("</tr>")[0]
    assert "HOLD" in today and "Released by <strong>Dr Aisha Khan</strong>" in today
    assert "GATE-HOLD (T5-CRS-G2)" in today
    bench = as_role("pharmacist").get("/pharmacy").text
    assert "Released by <strong>Dr Aisha Khan</strong>" in bench
    pid = prepare_bag(as_role, course)
    prep_page = as_role("pharmacist").get(f"/pharmacy/preparations/{pid}").text
    assert "Released by <strong>Dr Aisha Khan</strong>" in prep_page
    r = chart(nurse, course, patient_scan="MRN100005", bag_scan=f"PREP-{pid}")
    assert r.status_code == 200, r.text[-2000:]
    assert f"C1D15 10 mg charted as given from bag PREP-{pid}" in r.text


def test_the_bag_of_another_patient_is_a_hard_stop_and_nothing_is_written(as_role,
                                                                          world) -> None:
    other = prepare_bag(as_role, world.courses["new"])  # Garcia's C1D1 1 mg bag
    course = world.courses["stepup"]
    nurse = as_role("nurse")
    r = chart(nurse, course, patient_scan="MRN100002", bag_scan=f"PREP-{other}")
    assert r.status_code == 409
    banner = _banner(r.text)
    assert "Wrong patient: this bag was prepared for another patient" in banner
    assert "GATE-BAG-PATIENT" in banner
    assert f"bag PREP-{other} was prepared for another patient" in _field_error(r.text,
                                                                                 "bag_scan")
    assert 'value="PREP-' not in r.text.split('id="dose"')[1]  # rescan both, from empty fields
    assert len(administrations(nurse, course)) == 1  # C1D1 only
    assert preparation(nurse, other)["preparation"]["status"] == "checked"


def test_the_wristband_of_another_patient_is_a_hard_stop(as_role, world) -> None:
    course = world.courses["stepup"]
    pid = prepare_bag(as_role, course)
    nurse = as_role("nurse")
    r = chart(nurse, course, patient_scan="MRN100001", bag_scan=f"PREP-{pid}")
    assert r.status_code == 409
    assert "Wrong patient: the wristband scanned is not this patient" in _banner(r.text)
    assert "GATE-ID-WRISTBAND" in _banner(r.text)
    assert "wristband MRN MRN100001 is not this patient (MRN MRN100002" in _field_error(
        r.text, "patient_scan")
    assert len(administrations(nurse, course)) == 1
    assert preparation(nurse, pid)["preparation"]["status"] == "checked"


def test_a_dose_without_a_bag_is_refused(as_role, world) -> None:
    course = world.courses["stepup"]
    nurse = as_role("nurse")
    r = chart(nurse, course, patient_scan="MRN100002", bag_scan="")
    assert r.status_code == 409 and "GATE-ID-EXCEPTION" in _banner(r.text)
    assert "scan the bag label" in r.text
    r = chart(nurse, course, patient_scan="MRN100002", bag_scan="PREP-99999")
    assert r.status_code == 409
    assert "No bag: every dose is given from a prepared, checked bag" in _banner(r.text)
    assert "is not the label of a bag prepared here" in _field_error(r.text, "bag_scan")
    assert len(administrations(nurse, course)) == 1


def test_charting_before_the_dose_is_due_is_refused(as_role, world) -> None:
    course = world.courses["stepup"]  # C1D8 due today, 2026-12-15
    pid = prepare_bag(as_role, course)
    nurse = as_role("nurse")
    r = chart(nurse, course, patient_scan="MRN100002", bag_scan=f"PREP-{pid}",
              started_at="2026-12-14T09:30")
    assert r.status_code == 409 and "Dose not due yet" in _banner(r.text)
    assert "C1D8 is due on 2026-12-15" in _field_error(r.text, "started_at")
    assert len(administrations(nurse, course)) == 1
    assert preparation(nurse, pid)["preparation"]["status"] == "checked"


def test_an_unreadable_time_is_422_and_nothing_is_written(as_role, world) -> None:
    course = world.courses["stepup"]
    nurse = as_role("nurse")
    r = chart(nurse, course, patient_scan="MRN100002", bag_scan="PREP-1", started_at="soon")
    assert r.status_code == 422 and "is not a date and time" in _field_error(r.text,
                                                                              "started_at")
    assert 'id="hard-stop"' not in r.text
    assert len(administrations(nurse, course)) == 1


def test_a_scan_exception_needs_a_reason_and_a_second_nurse(as_role, world) -> None:
    course = world.courses["stepup"]
    pid = prepare_bag(as_role, course)
    nurse = as_role("nurse")  # rn.alvarez
    form = {"patient_scan": "", "bag_scan": "", "preparation_id": str(pid),
            "scan_exception.reason": "wristband barcode smudged, ID checked verbally",
            "scan_exception.witness": "rn.alvarez"}
    r = chart(nurse, course, **form)
    assert r.status_code == 409 and "Bedside scans missing" in _banner(r.text)
    assert "a second nurse" in _field_error(r.text, "exc-witness")
    assert '<details id="scan-exception" open>' in r.text
    assert len(administrations(nurse, course)) == 1
    r = chart(nurse, course, **{**form, "scan_exception.witness": "rn.chen"})
    assert r.status_code == 422 and "re-enter the password of rn.chen" in r.text  # unsigned
    assert len(administrations(nurse, course)) == 1
    r = chart(nurse, course, **{**form, "scan_exception.witness": "rn.chen",
                                "scan_exception.witness_password": PASSWORD})
    assert r.status_code == 200, r.text[-2000:]
    assert f"C1D8 10 mg charted as given from bag PREP-{pid}" in r.text
    given = administrations(nurse, course)[-1]
    assert given["slot"] == "C1D8" and given["preparation_id"] == pid
    assert given["scan_exception_reason"].startswith("wristband barcode smudged")


def test_a_nurse_resolving_a_crs_event_does_not_turn_hold_into_give(as_role, world) -> None:
    course = world.courses["held"]
    nurse, doc = as_role("nurse"), as_role("physician")
    page = nurse.get(f"/bedside/{course}").text
    event = re.search(r'/events/(\d+)/resolve', page).group(1)
    version = re.search(r'name="version" value="(\d+)"', page.split('id="ongoing"')[1]).group(1)
    r = nurse.post(f"/bedside/{course}/events/{event}/resolve",
                   data={"resolved_at": "2026-12-15T08:00", "version": version})
    assert r.status_code == 303 and r.headers["location"].endswith("?saved=proposed")
    page = nurse.get(r.headers["location"]).text
    assert "awaiting physician confirmation" in page and "Confirm resolved" not in page
    assert _decision(nurse, world, "held") == "hold"
    today = nurse.get("/today").text.split(f'id="course-{course}"')[1].split("</tr>")[0]
    assert "HOLD" in today
    assert chart(nurse, course, patient_scan="MRN100005").status_code == 409
    # the physician confirms it, keeping the nurse's time
    page = doc.get(f"/bedside/{course}").text
    confirm = page.split(f'id="event-{event}"')[1].split("</div>")[0]
    assert "Confirm resolved" in confirm and 'value="2026-12-15T08:00"' in confirm
    version = re.search(r'name="version" value="(\d+)"', confirm).group(1)
    r = doc.post(f"/bedside/{course}/events/{event}/resolve",
                 data={"resolved_at": "2026-12-15T08:00", "version": version})
    assert r.status_code == 303 and r.headers["location"].endswith("?saved=resolved")
    assert _decision(doc, world, "held") != "hold"


def test_recording_a_dose_twice_is_refused_with_the_slot(as_role, world) -> None:
    course = world.courses["stepup"]
    pid = prepare_bag(as_role, course)
    nurse = as_role("nurse")
    fields = {"patient_scan": "MRN100002", "bag_scan": f"PREP-{pid}"}
    r = chart(nurse, course, idempotency_key="twice-1", **fields)
    assert r.status_code == 200 and "C1D8 10 mg charted as given" in r.text
    assert "Infusion running" in r.text
    r = chart(nurse, course, idempotency_key="twice-1", **fields)  # the same form again
    assert r.status_code == 200 and "already on record: nothing new was written" in r.text
    r = chart(nurse, course, **fields)  # a new form for the same dose
    assert r.status_code == 409 and "Already on record" in _banner(r.text)
    assert "C1D8 of this course is on record as given" in _banner(r.text)
    assert len(administrations(nurse, course)) == 2


def test_infusion_completed_warns_of_a_short_infusion(as_role, world, clock) -> None:
    from datetime import timedelta

    course = world.courses["stepup"]
    pid = prepare_bag(as_role, course)
    nurse = as_role("nurse")
    assert chart(nurse, course, patient_scan="MRN100002",
                 bag_scan=f"PREP-{pid}").status_code == 200
    clock.value += timedelta(minutes=25)
    r = nurse.post(f"/bedside/{course}/preparations/{pid}/completed",
                   data={"at": "2026-12-15T09:20"})
    assert r.status_code == 200 and "Infusion of C1D8 10 mg completed. Warning:" in r.text
    assert administrations(nurse, course)[-1]["ended_at"] is not None
    r = nurse.post(f"/bedside/{course}/preparations/{pid}/completed",
                   data={"at": "2026-12-15T09:20"})
    assert r.status_code == 409 and "not running" in r.text


def test_an_expired_bag_is_refused_at_the_bedside(as_role, world, clock) -> None:
    from datetime import timedelta

    course = world.courses["stepup"]
    pid = prepare_bag(as_role, course)
    clock.value += timedelta(hours=9)  # past the 8 h room-temperature budget
    nurse = as_role("nurse")
    r = chart(nurse, course, patient_scan="MRN100002", bag_scan=f"PREP-{pid}",
              started_at="2026-12-15T17:30")
    assert r.status_code == 409 and "GATE-BAG-CLOCK" in _banner(r.text)
    assert len(administrations(nurse, course)) == 1


def test_rules_page_lists_every_rule_with_its_tag(as_role) -> None:
    from tarla.label import all_rules

    html = as_role("nurse").get("/rules").text
    for row in all_rules():
        assert row.rule_id in html
    assert "NOT CONFIRMED" in html and "Only a pharmacist or a physician" in html


def test_a_pharmacist_signs_rules_off_and_the_trail_shows_it(as_role) -> None:
    c = as_role("pharmacist")
    r = c.post("/rules/sign-off", data={"rule_id": ["T5-CRS-G3", "T6-ICANS-G2"],
                                        "comments": "Checked against PI rev 11/2025 s.2.3",
                                        "password": PASSWORD})
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
