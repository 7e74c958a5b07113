"""Lab entry (/patients/{id}/labs): the pre-dose panel charted in one go, graded as typed
(CTCAE v5.0, standards.md §3.2), refused whole when a row is wrong, and read by the decision."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from world import panel

COLLECTED = "2026-12-15T07:30"  # this morning, site time (web_support.NOW is 09:00)


def _form(results: list[dict[str, Any]], token: str | None = None,
          collected_at: str = COLLECTED) -> dict[str, str]:
    data = {"collected_at": collected_at}
    if token:
        data["csrf_token"] = token
    for r in results:
        for name in ("value", "unit", "lln", "uln", "baseline"):
            if name in r:
                data[f"{r['test']}-{name}"] = str(r[name])
    return data


def _labs_on_record(c: TestClient, patient_id: int) -> int:
    r = c.get(f"/api/v1/patients/{patient_id}/labs")
    assert r.status_code == 200
    return len(r.json()["labs"])


def _today_row(c: TestClient, course_id: int) -> str:
    html = c.get("/today").text
    return html.split(f'id="course-{course_id}"')[1].split("</tr>")[0]


def _grade_cell(html: str, test: str) -> str:
    return html.split(f'id="grade-{test}"')[1].split("</div>")[0]


@pytest.mark.parametrize("role", ["nurse", "physician", "pharmacist"])
def test_a_clinician_charts_the_panel_and_the_labs_are_no_longer_missing(as_role, world,
                                                                         role: str) -> None:
    c = as_role(role)
    pid, cid = world.patients["nolabs"], world.courses["nolabs"]
    assert "Labs missing: CBC, ALT, AST, bilirubin" in _today_row(c, cid)
    page = c.get(f"/patients/{pid}/labs").text
    assert "Missing since the last dose: CBC, ALT, AST, bilirubin" in page
    before = _labs_on_record(c, pid)

    r = c.post(f"/patients/{pid}/labs", data=_form(panel()))

    assert r.status_code == 303, r.text[:500]
    assert r.headers["location"] == f"/patients/{pid}/labs?charted=6"
    page = c.get(r.headers["location"]).text
    assert "6 results charted." in page
    assert "Missing since the last dose" not in page
    assert _labs_on_record(c, pid) == before + 6
    assert "Labs missing" not in _today_row(c, cid)
    assert "Labs on file" in _today_row(c, cid)
    patient_page = c.get(f"/patients/{pid}").text
    assert "Missing since the last dose" not in patient_page
    assert "GIVE AFTER LABS" not in patient_page


def test_labs_on_record_are_listed_newest_first_with_grade_and_term(as_role, world) -> None:
    c = as_role("nurse")
    pid = world.patients["nolabs"]
    results = [{"test": "ANC", "value": 0.4, "unit": "10^9/L"},
               {"test": "platelets", "value": 40, "unit": "10^9/L"}]
    assert c.post(f"/patients/{pid}/labs", data=_form(results)).status_code == 303
    html = c.get(f"/patients/{pid}/labs").text
    table = html.split('id="on-record"')[1]
    collected = re.findall(r"<td>(\w{3} \d\d \w{3} \d\d:\d\d \w+)</td>", table)
    assert collected[0] == "Tue 15 Dec 07:30 EST"
    assert collected == sorted(collected, key=lambda s: s[4:6], reverse=True)
    first = table.split("</tr>")[1]
    assert "G4" in first or "G3" in first
    assert "Neutrophil count decreased" in table and "Platelet count decreased" in table


@pytest.mark.parametrize(("results", "test", "grade", "term"), [
    # standards.md §3.2: ANC < 0.5 x10^9/L is grade 4; platelets < 50.0 - 25.0 x10^9/L grade 3
    ([{"test": "ANC", "value": 0.4, "unit": "10^9/L"}], "ANC", 4,
     "Neutrophil count decreased"),
    ([{"test": "platelets", "value": 40, "unit": "10^9/L"}], "platelets", 3,
     "Platelet count decreased"),
    # 1 cell/mm3 = 1 cell/uL (standards.md §3.2): 400/uL is 0.4 x10^9/L
    ([{"test": "ANC", "value": 400, "unit": "/uL"}], "ANC", 4, "Neutrophil count decreased"),
])
def test_preview_shows_each_rows_ctcae_grade_as_typed(as_role, world, results, test: str,
                                                      grade: int, term: str) -> None:
    c = as_role("nurse")
    pid = world.patients["nolabs"]
    before = _labs_on_record(c, pid)
    r = c.post(f"/patients/{pid}/labs/preview", data=_form(results),
               headers={"HX-Request": "true"})
    assert r.status_code == 200
    cell = _grade_cell(r.text, test)
    assert f'data-grade="{grade}"' in cell and 'hx-swap-oob="true"' in cell
    assert f"Grade {grade}" in cell and term in cell
    assert "1 result ready to chart" in r.text
    assert _labs_on_record(c, pid) == before  # a preview writes nothing


def test_preview_names_the_field_a_row_is_missing(as_role, world) -> None:
    c = as_role("physician")
    pid = world.patients["nolabs"]
    results = [{"test": "ALT", "value": 30, "unit": "U/L"},
               {"test": "hemoglobin", "value": 9, "unit": "g/dL"}]
    r = c.post(f"/patients/{pid}/labs/preview", data=_form(results))
    cell = _grade_cell(r.text, "ALT")
    assert 'data-field="ALT-uln"' in cell and "ULN: is required to grade ALT in U/L" in cell
    assert "data-grade" not in cell
    # the other rows are graded all the same; empty rows stay empty
    assert 'data-grade="2"' in _grade_cell(r.text, "hemoglobin")
    assert "data-grade" not in _grade_cell(r.text, "AST")
    assert "1 field to correct before saving" in r.text


def test_a_bad_row_refuses_the_whole_panel_with_the_error_at_its_field(as_role, world) -> None:
    c = as_role("nurse")
    pid = world.patients["nolabs"]
    before = _labs_on_record(c, pid)
    results = [{"test": "ANC", "value": 0.4, "unit": "10^9/L"},
               {"test": "ALT", "value": 30, "unit": "U/L", "uln": ""},
               {"test": "platelets", "value": "1,5", "unit": "10^9/L"}]

    r = c.post(f"/patients/{pid}/labs", data=_form(results))

    assert r.status_code == 422
    assert "Nothing was charted" in r.text
    assert re.search(r'id="e-ALT-uln"[^>]*>is required to grade ALT in U/L', r.text)
    assert re.search(r'id="e-platelets-value"[^>]*>&#39;1,5&#39; has a comma', r.text)
    assert re.search(r'name="ANC-value"[^>]*value="0.4"', r.text)  # values kept
    assert re.search(r'name="ALT-value"[^>]*value="30"', r.text)
    assert 'data-grade="4"' in _grade_cell(r.text, "ANC")
    assert _labs_on_record(c, pid) == before


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"collected_at": COLLECTED}, "results", "enter at least one value"),
    ({"collected_at": "2026-12-15T10:30", "ANC-value": "0.4", "ANC-unit": "10^9/L"},
     "collected_at", "is in the future"),
    ({"collected_at": "", "ANC-value": "0.4", "ANC-unit": "10^9/L"}, "collected_at",
     "is required"),
    ({"collected_at": COLLECTED, "ANC-value": "0.4", "ANC-unit": "g/dL"}, "ANC-unit",
     "'g/dL' is not a unit for cell count"),
    ({"collected_at": COLLECTED, "AST-value": "-3", "AST-unit": "U/L", "AST-uln": "40"},
     "AST-value", "is negative"),
])
def test_refused_submissions_name_the_field_and_write_nothing(as_role, world, data, field: str,
                                                              message: str) -> None:
    c = as_role("pharmacist")
    pid = world.patients["nolabs"]
    before = _labs_on_record(c, pid)
    r = c.post(f"/patients/{pid}/labs", data=data)
    assert r.status_code == 422
    shown = re.escape(str(escape(message)))  # as the page escapes it
    assert re.search(rf'id="e-{re.escape(field)}"[^>]*>[^<]*{shown}', r.text)
    assert _labs_on_record(c, pid) == before


@pytest.mark.parametrize("role", ["scheduler", "admin"])
def test_other_roles_read_the_labs_but_cannot_chart_or_preview(as_role, world,
                                                               role: str) -> None:
    c = as_role(role)
    pid = world.patients["nolabs"]
    before = _labs_on_record(c, pid)
    page = c.get(f"/patients/{pid}/labs")
    assert page.status_code == 200
    assert "Chart these results" not in page.text and 'id="on-record"' in page.text
    assert c.post(f"/patients/{pid}/labs", data=_form(panel())).status_code == 403
    assert c.post(f"/patients/{pid}/labs/preview", data=_form(panel())).status_code == 403
    assert _labs_on_record(c, pid) == before


def test_charting_needs_the_csrf_token(as_role, world) -> None:
    c = as_role("nurse")
    pid = world.patients["nolabs"]
    token = c.headers.pop("X-CSRF-Token")
    before = _labs_on_record(c, pid)
    assert c.post(f"/patients/{pid}/labs", data=_form(panel())).status_code == 403
    assert c.post(f"/patients/{pid}/labs",
                  data=_form(panel(), token="not-the-token")).status_code == 403
    assert _labs_on_record(c, pid) == before
    r = c.post(f"/patients/{pid}/labs", data=_form(panel(), token=token))  # the form field
    assert r.status_code == 303


def test_an_unknown_patient_is_404(as_role) -> None:
    c = as_role("nurse")
    assert c.get("/patients/999999/labs").status_code == 404
    assert c.post("/patients/999999/labs", data=_form(panel())).status_code == 404
    assert c.post("/patients/999999/labs/preview", data=_form(panel())).status_code == 404


def test_the_form_offers_the_label_panel_with_the_graders_units(as_role, world) -> None:
    c = as_role("nurse")
    html = c.get(f"/patients/{world.patients['nolabs']}/labs").text
    for test in ("ANC", "platelets", "hemoglobin", "ALT", "AST", "bilirubin"):
        assert f'id="row-{test}"' in html
    assert 'hx-post="/patients/' in html and 'hx-trigger="input changed delay:300ms"' in html
    unit_select = html.split('name="hemoglobin-unit"')[1].split("</select>")[0]
    assert re.findall(r'<option value="([^"]+)"', unit_select) == ["g/dL", "g/L", "mmol/L"]
    # where the grade may need them: LLN for the counts, ULN (and baseline) for liver tests
    assert 'name="ANC-lln"' in html and 'name="ANC-uln"' not in html
    assert 'name="ALT-uln"' in html and 'name="ALT-baseline"' in html
    assert 'name="bilirubin-lln"' not in html
    # unit and limits as on the last result (world.panel), still editable
    assert re.search(r'name="ALT-uln"[^>]*value="40"', html)
    assert re.search(r'<option value="g/dL" selected', unit_select)
    assert "from the patient's last result" in html


def test_the_patient_page_links_to_lab_entry(as_role, world) -> None:
    pid = world.patients["nolabs"]
    html = as_role("pharmacist").get(f"/patients/{pid}").text
    assert f'href="/patients/{pid}/labs">Enter labs</a>' in html
    html = as_role("scheduler").get(f"/patients/{pid}").text
    assert f'href="/patients/{pid}/labs">Labs</a>' in html
