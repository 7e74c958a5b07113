"""What the outputs about a course say its label version is: the version the course started on
(``treatment_courses.label_version``), not the built-in one, once a site has moved its new
courses to the shipped 2026 revision.

The fixture registers US-PI-2026-UNCONFIRMED, makes it the DEMO site's version for new
courses and enrols a patient whose C1D1 is due today (labs drawn this morning); the demo
world's courses stay on the built-in US-PI-2025-11.
"""

from __future__ import annotations

import subprocess
from datetime import date, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from icalendar import Calendar
from web_loop import prepare_bag
from web_support import NOW, TODAY, USERS
from world import panel

from helpers import required_tool
from tarla.services import clinical

BUILT_IN = "US-PI-2025-11"
SHIPPED = "US-PI-2026-UNCONFIRMED"


class Pinned(NamedTuple):
    patient_id: int
    course_id: int


@pytest.fixture
def pinned(app: Any, as_role: Any, world: Any) -> Pinned:
    """A patient enrolled after the site chose the 2026 revision for new courses."""
    admin = as_role("admin")
    assert admin.post("/rules/versions", data={"shipped": SHIPPED}).status_code == 303
    assert admin.post("/rules/new-courses", data={"label_version": SHIPPED}).status_code == 303
    uow = app.state.bootstrapped.uow
    enrolled = clinical.enrol_patient(
        uow(), site_code="DEMO", mrn="MRN-2026", family_name="Varga", given_name="Eszter",
        birth_date=date(1962, 3, 8), diagnosis="ES-SCLC", progressed_after_platinum=True,
        start_date=TODAY, actor=USERS["physician"], now=NOW - timedelta(days=3))
    clinical.record_lab_panel(uow(), patient_id=enrolled.patient_id, results=panel(),
                              collected_at=NOW - timedelta(hours=2), actor=USERS["nurse"],
                              now=NOW - timedelta(hours=1))
    with uow().readonly() as u:
        assert u.courses.get(enrolled.course_id).label_version == SHIPPED  # type: ignore[union-attr]
    return Pinned(enrolled.patient_id, enrolled.course_id)


def _descriptions(body: bytes) -> list[str]:
    cal = Calendar.from_ical(body)
    return [str(ev.get("description")) for ev in cal.walk("VEVENT")
            if "infusion (" in str(ev.get("summary"))]


def _pdf_text(body: bytes, tmp_path: Path) -> str:
    assert body.startswith(b"%PDF")
    pdf = tmp_path / "out.pdf"
    pdf.write_bytes(body)
    done = subprocess.run([required_tool("pdftotext", "poppler-utils"), "-layout", str(pdf),
                           "-"], capture_output=True, text=True, check=True)
    return " ".join(done.stdout.split())


def test_the_calendar_of_a_course_on_the_2026_revision_names_that_revision(
        as_role: Any, pinned: Pinned) -> None:
    r = as_role("nurse").get(f"/patients/{pinned.patient_id}/course.ics")
    assert r.status_code == 200
    doses = _descriptions(r.content)
    assert doses and all(d.endswith(f"Label {SHIPPED}.") for d in doses)
    assert BUILT_IN not in r.content.decode()


def test_the_calendar_of_a_course_on_the_built_in_label_still_names_the_built_in_label(
        as_role: Any, world: Any, pinned: Pinned) -> None:
    r = as_role("nurse").get(f"/patients/{world.patients['stepup']}/course.ics")
    doses = _descriptions(r.content)
    assert doses and all(d.endswith(f"Label {BUILT_IN}.") for d in doses)


def test_the_patient_page_footer_names_the_course_version(as_role: Any, world: Any,
                                                          pinned: Pinned) -> None:
    nurse = as_role("nurse")
    page = nurse.get(f"/patients/{pinned.patient_id}").text
    assert f"label {SHIPPED} · times in" in page
    assert f"Label version {SHIPPED} (this course)" in page
    other = nurse.get(f"/patients/{world.patients['stepup']}").text
    assert f"Label version {BUILT_IN} (this course)" in other


def test_the_bedside_and_labs_pages_name_the_course_version(as_role: Any,
                                                            pinned: Pinned) -> None:
    nurse = as_role("nurse")
    assert (f"Label version {SHIPPED} (this course)"
            in nurse.get(f"/bedside/{pinned.course_id}").text)
    assert (f"Label version {SHIPPED} (this course)"
            in nurse.get(f"/patients/{pinned.patient_id}/labs").text)


def test_today_names_each_row_s_version_when_they_differ_and_the_site_s_new_course_version(
        as_role: Any, world: Any, pinned: Pinned) -> None:
    html = as_role("nurse").get("/today").text
    row = html[html.index(f'id="course-{pinned.course_id}"'):]
    assert f"MRN MRN-2026 · label {SHIPPED}</small>" in row[:row.index("</tr>")]
    old = html[html.index(f'id="course-{world.courses["stepup"]}"'):]
    assert f"· label {BUILT_IN}</small>" in old[:old.index("</tr>")]
    assert f"New courses start on label {SHIPPED}" in html
    assert "Every course listed is on label" not in html


def test_today_says_once_that_every_course_is_on_the_built_in_label(as_role: Any,
                                                                    world: Any) -> None:
    html = as_role("nurse").get("/today").text
    assert f"Every course listed is on label {BUILT_IN}." in html
    assert f"· label {BUILT_IN}</small>" not in html
    assert f"New courses start on label {BUILT_IN}" in html


def test_the_worklist_api_gives_each_course_s_version(as_role: Any, world: Any,
                                                      pinned: Pinned) -> None:
    body = as_role("nurse").get("/api/v1/worklist").json()
    versions = {i["course_id"]: i["label_version"] for i in body["items"]}
    assert versions[pinned.course_id] == SHIPPED
    assert versions[world.courses["stepup"]] == BUILT_IN
    assert body["new_course_label_version"] == SHIPPED


def test_the_enrol_page_says_which_version_a_new_course_starts_on(as_role: Any,
                                                                  pinned: Pinned) -> None:
    page = as_role("physician").get("/patients/new").text
    assert f"New courses start on label {SHIPPED}" in page


def test_bag_label_worksheet_and_clock_of_a_course_on_the_2026_revision_name_it(
        as_role: Any, pinned: Pinned, tmp_path: Path) -> None:
    pid = prepare_bag(as_role, pinned.course_id, serial="KIT-2026")
    c = as_role("pharmacist")
    url = f"/pharmacy/preparations/{pid}"
    label = _pdf_text(c.get(url + "/label.pdf").content, tmp_path)
    assert f"Label {SHIPPED} · " in label and BUILT_IN not in label
    worksheet = _pdf_text(c.get(url + "/worksheet.pdf").content, tmp_path)
    assert f"Label version {SHIPPED}. Printed " in worksheet and BUILT_IN not in worksheet
    assert c.get(f"/api/v1/preparations/{pid}").json()["clock"]["label_version"] == SHIPPED
    assert f"Label version {SHIPPED} (this course)" in c.get(url).text


def test_bag_label_of_a_course_on_the_built_in_label_names_the_built_in_label(
        as_role: Any, world: Any, pinned: Pinned, tmp_path: Path) -> None:
    pid = prepare_bag(as_role, world.courses["stepup"])
    c = as_role("pharmacist")
    label = _pdf_text(c.get(f"/pharmacy/preparations/{pid}/label.pdf").content, tmp_path)
    assert f"Label {BUILT_IN} · " in label and SHIPPED not in label
    assert c.get(f"/api/v1/preparations/{pid}").json()["clock"]["label_version"] == BUILT_IN
