"""Bench steps on the preparation page: each recipe step confirmed in order with the measured
volume, refusals shown next to the field, the confirmations on the page and the worksheet."""

from __future__ import annotations

import re

KIT_10 = "]d2" + "0100355513077019" + "17271231" + "10LOT42\x1d" + "21SER1"
ALL_YES = {"inspection.clear": "yes", "inspection.colourless": "yes",
           "inspection.no_particles": "yes"}


def _start(c, course_id: int) -> str:  # type: ignore[no-untyped-def]
    r = c.post("/pharmacy/preparations", data={"course_id": str(course_id)})
    assert r.status_code == 303, r.text[-500:]
    return r.headers["location"]


def _row(html: str, step: str) -> str:
    match = re.search(rf'<tr id="step-{step}"[^>]*>(.*?)</tr>', html, re.S)
    assert match, step
    return match.group(0)


def _field_error(html: str, field: str) -> str:
    match = re.search(rf'<div class="field-error" id="e-{re.escape(field)}" role="alert">'
                      r'(.*?)</div>', html, re.S)
    assert match, f"no error next to {field}"
    return match.group(1)


def test_the_page_lists_the_six_steps_with_the_volumes_of_the_dose(as_role, world) -> None:
    c = as_role("pharmacist")
    html = c.get(_start(c, world.courses["stepup"])).text  # C1D8: 10 mg
    assert "Bench steps · 10 mg" in html
    codes = re.findall(r'<tr id="step-(\w+)"', html)
    assert codes == ["water_added", "inspected", "saline_withdrawn", "ivss_added", "drug_added",
                     "air_removed"]
    assert "<strong>4.4 mL</strong>" in _row(html, "water_added")
    assert "± 0.22 mL" in _row(html, "water_added")
    assert "<strong>17 mL</strong>" in _row(html, "saline_withdrawn")
    assert "<strong>13 mL</strong>" in _row(html, "ivss_added")
    assert "<strong>4.2 mL</strong>" in _row(html, "drug_added")
    # only the next step has a form, and it asks for the measured volume
    assert 'name="measured_ml"' in _row(html, "water_added")
    assert "<form" not in _row(html, "inspected")
    assert "Scan the drug vial (accepted) first" in _row(html, "water_added")


def test_a_1_mg_preparation_shows_the_1_mg_column(as_role, world) -> None:
    c = as_role("pharmacist")
    html = c.get(_start(c, world.courses["new"])).text
    assert "<strong>1.3 mL</strong>" in _row(html, "water_added")
    assert "<strong>14 mL</strong>" in _row(html, "saline_withdrawn")
    assert "<strong>1.1 mL</strong>" in _row(html, "drug_added")


def test_the_bench_is_confirmed_in_order_and_refusals_sit_next_to_the_field(as_role,
                                                                          world) -> None:
    c = as_role("pharmacist")
    url = _start(c, world.courses["stepup"])
    # the water waits for an accepted drug vial scan
    r = c.post(url + "/steps", data={"step": "water_added", "measured_ml": "4.4"})
    assert r.status_code == 422 and "scan the drug vial first" in _row(r.text, "water_added")
    c.post(url + "/scan", data={"scan": KIT_10, "component": "drug"})
    # a volume outside the tolerance is refused, the value entered stays in the field
    r = c.post(url + "/steps", data={"step": "water_added", "measured_ml": "4.0"})
    assert r.status_code == 422
    assert _field_error(r.text, "measured_ml") == (
        "measured 4.0 mL; the recipe for 10 mg is 4.4 mL (± 5 %): 4.18 to 4.62 mL is accepted")
    assert 'value="4.0"' in _row(r.text, "water_added")
    r = c.post(url + "/steps", data={"step": "water_added", "measured_ml": "four"})
    assert r.status_code == 422 and "is not a number of mL" in _field_error(r.text,
                                                                           "measured_ml")
    assert c.post(url + "/steps", data={"step": "water_added",
                                        "measured_ml": "4.4"}).status_code == 303
    # a step out of order is refused, naming the step that comes first
    r = c.post(url + "/steps", data={"step": "ivss_added", "measured_ml": "13"})
    assert r.status_code == 422 and "(inspected) comes first" in r.text
    # the inspection waits for the reconstitution on the clock
    r = c.post(url + "/steps", data={"step": "inspected", **ALL_YES})
    assert r.status_code == 422 and "record the reconstitution" in r.text
    assert c.post(url + "/events", data={"event": "reconstituted"}).status_code == 303
    # an unticked inspection answer means: do not use
    r = c.post(url + "/steps", data={"step": "inspected", "inspection.clear": "yes",
                                     "inspection.colourless": "yes"})
    assert r.status_code == 422
    assert _field_error(r.text, "inspection-no_particles").startswith("do not use")
    assert c.post(url + "/steps", data={"step": "inspected", **ALL_YES}).status_code == 303
    for step, ml in (("saline_withdrawn", "17"), ("ivss_added", "13")):
        assert c.post(url + "/steps", data={"step": step, "measured_ml": ml}).status_code == 303
    r = c.post(url + "/steps", data={"step": "drug_added", "measured_ml": "3.9"})
    assert r.status_code == 422
    assert _field_error(r.text, "measured_ml").startswith(
        "measured 3.9 mL; the recipe for 10 mg is 4.2 mL (± 5 %)")
    assert c.post(url + "/steps", data={"step": "drug_added",
                                        "measured_ml": "4.18"}).status_code == 303
    assert c.post(url + "/steps", data={"step": "air_removed"}).status_code == 303
    html = c.get(url).text
    drug = _row(html, "drug_added")
    assert "<strong>4.18 mL</strong>" in drug and "Ngozi Okoro, PharmD" in drug
    assert "Tue 15 Dec 09:00 EST" in drug  # site-local
    assert "<form" not in html.split('id="bench-steps"')[1].split("</section>")[0]
    r = c.post(url + "/steps", data={"step": "air_removed"})
    assert r.status_code == 422 and "already confirmed" in r.text
    ws = c.get(url + "/worksheet.pdf")
    assert ws.status_code == 200 and ws.content.startswith(b"%PDF")


def test_only_a_pharmacist_confirms_a_step(as_role, world) -> None:
    c = as_role("pharmacist")
    url = _start(c, world.courses["stepup"])
    nurse = as_role("nurse")
    r = nurse.post(url + "/steps", data={"step": "water_added", "measured_ml": "4.4"})
    assert r.status_code == 403
    assert 'name="measured_ml"' not in nurse.get(url).text


def test_a_step_without_the_csrf_token_is_refused(as_role, world) -> None:
    c = as_role("pharmacist")
    url = _start(c, world.courses["stepup"])
    token = c.headers.pop("X-CSRF-Token")
    r = c.post(url + "/steps", data={"step": "water_added", "measured_ml": "4.4"})
    assert r.status_code == 403
    c.headers["X-CSRF-Token"] = token
