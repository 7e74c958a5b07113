"""The pharmacy bench through its forms: start (the engine's dose and slot, once per dose),
scan (the service verifies the raw text: GS separators, wrong strength, unreadable), the bench
steps and the clock events the service allows, label and worksheet PDFs (the label keeps the
slot it was prepared for), the independent check by another pharmacist."""

from __future__ import annotations

import subprocess
from pathlib import Path

from web_loop import chart, kit_scan, prep_id, preparation, prepare_bag, start

from helpers import read_barcodes, required_tool

KIT_10 = "]d2" + "0100355513077019" + "17271231" + "10LOT42\x1d" + "21SER1"
KIT_1 = "]d2" + "0100355513059015" + "17271231" + "10LOT7\x1d" + "21SER9"


def _pdf_text(body: bytes, tmp_path: Path) -> str:
    assert body.startswith(b"%PDF")
    pdf = tmp_path / "out.pdf"
    pdf.write_bytes(body)
    done = subprocess.run([required_tool("pdftotext", "poppler-utils"), "-layout", str(pdf),
                           "-"], capture_output=True, text=True, check=True)
    return done.stdout


def _open_preparations(app, course_id: int) -> list[dict]:  # type: ignore[no-untyped-def]
    rows = app.state.web.read.preparations_for_courses([course_id]).get(course_id, [])
    return [r for r in rows if r["status"] not in ("administered", "discarded")]


def test_the_bench_lists_due_doses_with_a_start_button(as_role, world) -> None:
    html = as_role("pharmacist").get("/pharmacy").text
    assert "Start 1 mg preparation" in html and "Start 10 mg preparation" in html


def test_the_order_and_its_slot_come_from_the_course_engine(as_role, world) -> None:
    c = as_role("pharmacist")
    page = c.get(start(c, world.courses["new"])).text
    assert "IMDELLTRA <span" in page and ">1 mg<" in page
    assert "<strong>C1D1 · 1 mg</strong>, the course engine's dose" in page
    assert "1.3 mL" in page and "14 mL" in page  # the 1 mg column of the recipe


def test_starting_a_preparation_twice_returns_the_same_one(as_role, world, app) -> None:
    course = world.courses["stepup"]
    first = start(as_role("pharmacist"), course)
    again = start(as_role("pharmacist2"), course)  # another pharmacist, a second click
    assert again == first
    assert [p["id"] for p in _open_preparations(app, course)] == [prep_id(first)]


def test_a_held_course_gets_no_preparation_and_the_bench_says_why(as_role, world, app) -> None:
    course = world.courses["held"]
    r = as_role("pharmacist").post("/pharmacy/preparations", data={"course_id": str(course)})
    assert r.status_code == 409
    assert 'class="hard-stop"' in r.text and "No preparation started" in r.text
    assert "Dose on HOLD" in r.text and "GATE-HOLD" in r.text and "T5-CRS-G2" in r.text
    assert _open_preparations(app, course) == []


def test_missing_labs_refuse_the_preparation(as_role, world, app) -> None:
    course = world.courses["nolabs"]
    r = as_role("pharmacist").post("/pharmacy/preparations", data={"course_id": str(course)})
    assert r.status_code == 409 and "GATE-LABS-MISSING" in r.text
    assert _open_preparations(app, course) == []


def test_full_preparation_with_scans_steps_clock_label_and_check(as_role, world,
                                                                 tmp_path) -> None:
    c = as_role("pharmacist")
    url = start(c, world.courses["stepup"])  # C1D8: 10 mg
    assert "· C1D8</h1>" in c.get(url).text
    # reconstitution before an accepted vial scan: the service refuses, the page says why
    r = c.post(url + "/events", data={"event": "reconstituted"})
    assert r.status_code == 409 and 'class="hard-stop"' in r.text
    assert "Drug vial not scanned" in r.text and "GATE-PREP-SCAN" in r.text
    # the 1 mg kit for a 10 mg order is refused, and the refusal is kept
    r = c.post(url + "/scan", data={"scan": KIT_1, "component": "drug"},
               headers={"HX-Request": "true"})
    assert "REFUSED" in r.text and "WRONG_STRENGTH" in r.text
    # GS typed by a keyboard wedge as <GS> works like ASCII 29
    r = c.post(url + "/scan", data={"scan": KIT_10.replace("\x1d", "<GS>"),
                                    "component": "drug"}, headers={"HX-Request": "true"})
    assert "ACCEPTED" in r.text and "LOT42" in r.text
    r = c.post(url + "/scan", data={"scan": "]d2010035551307701", "component": "drug"})
    assert r.status_code == 422 and "UNREADABLE" in r.text
    # the clock waits for the bench steps
    r = c.post(url + "/events", data={"event": "reconstituted"})
    assert r.status_code == 409 and "GATE-PREP-STEPS" in r.text and "water_added" in r.text
    assert c.post(url + "/steps", data={"step": "water_added",
                                        "measured_ml": "4.4"}).status_code == 303
    assert c.post(url + "/events", data={"event": "reconstituted"}).status_code == 303
    r = c.post(url + "/events", data={"event": "bag_prepared"})
    assert r.status_code == 409 and "Bench steps not confirmed" in r.text
    for step, extra in (("inspected", {"inspection.clear": "yes", "inspection.colourless": "yes",
                                       "inspection.no_particles": "yes"}),
                        ("saline_withdrawn", {"measured_ml": "17"}),
                        ("ivss_added", {"measured_ml": "13"}),
                        ("drug_added", {"measured_ml": "4.2"}), ("air_removed", {})):
        assert c.post(url + "/steps", data={"step": step, **extra}).status_code == 303
    assert c.post(url + "/events", data={"event": "bag_prepared"}).status_code == 303
    page = c.get(url).text
    assert "Discard after" in page and 'class="countdown"' in page and "Clock: OK" in page
    # the bench offers no infusion event, and refuses one posted anyway
    assert 'value="infusion_started"' not in page and 'value="infusion_completed"' not in page
    for event in ("infusion_started", "infusion_completed"):
        r = c.post(url + "/events", data={"event": event})
        assert r.status_code == 409 and "GATE-PREP-HANG" in r.text, event
    label = c.get(url + "/label.pdf")
    assert label.status_code == 200
    text = _pdf_text(label.content, tmp_path)
    assert "C1D8" in text and f"PREP-{prep_id(url)}" in text
    assert read_barcodes(tmp_path / "out.pdf", tmp_path) == [f"PREP-{prep_id(url)}"]
    ws = c.get(url + "/worksheet.pdf")
    assert ws.status_code == 200 and ws.content.startswith(b"%PDF")
    # the preparer cannot check their own bag: refused by the service, nothing written
    r = c.post(url + "/check", data={})
    assert r.status_code == 409 and "GATE-CHECK-FOUR-EYES" in r.text
    assert "neither started nor compounded" in r.text
    assert preparation(c, prep_id(url))["preparation"]["checked_by"] is None
    second = as_role("pharmacist2")
    assert second.post(url + "/check", data={}).status_code == 303
    assert "Checked by Lars Berg" in second.get(url).text
    r = second.post(url + "/check", data={})
    assert r.status_code == 409 and "GATE-CHECK-ONCE" in r.text


def test_nothing_to_print_before_reconstitution(as_role, world) -> None:
    c = as_role("pharmacist")
    url = start(c, world.courses["script"])
    r = c.get(url + "/label.pdf")
    assert r.status_code == 409 and "reconstituted" in r.text and "GATE-PRINT" in r.text
    assert c.get(url + "/worksheet.pdf").status_code == 409


def test_api_scan_stores_refusals_too(as_role, world) -> None:
    c = as_role("pharmacist")
    pid = c.post("/api/v1/preparations", json={"course_id": world.courses["stepup"]}).json()[
        "preparation"]["id"]
    r = c.post(f"/api/v1/preparations/{pid}/scans", json={"scan": KIT_1})
    assert r.status_code == 201 and r.json()["verdict"] == "refuse"
    body = c.get(f"/api/v1/preparations/{pid}").json()
    assert [s["verdict"] for s in body["scans"]] == ["refuse"]
    r = c.post(f"/api/v1/preparations/{pid}/events", json={"event": "reconstituted"})
    assert r.status_code == 409 and r.json()["errors"][0]["rule"] == "GATE-PREP-SCAN"


def test_a_kit_serial_fills_one_bag(as_role, world) -> None:
    prepare_bag(as_role, world.courses["stepup"], serial="ONCE-1")
    c = as_role("pharmacist")
    url = start(c, world.courses["script"])  # C1D8 10 mg of another patient
    r = c.post(url + "/scan", data={"scan": kit_scan(10, "ONCE-1"), "component": "drug"},
               headers={"HX-Request": "true"})
    assert "REFUSED" in r.text and "GATE-KIT-ONCE" in r.text


def test_a_reprinted_label_keeps_the_slot_it_was_prepared_for(as_role, world,
                                                              tmp_path) -> None:
    course = world.courses["stepup"]
    pid = prepare_bag(as_role, course)
    r = chart(as_role("nurse"), course, patient_scan="MRN100002", bag_scan=f"PREP-{pid}")
    assert r.status_code == 200, r.text[-2000:]
    c = as_role("pharmacist")
    nd = c.get(f"/api/v1/patients/{world.patients['stepup']}/evaluation").json()["next_dose"]
    assert nd["slot"] == "C1D15"  # the engine has moved on
    text = _pdf_text(c.get(f"/pharmacy/preparations/{pid}/label.pdf").content, tmp_path)
    assert "C1D8" in text and "C1D15" not in text


def test_the_bag_clock_follows_the_bedside(as_role, world, clock) -> None:
    from datetime import timedelta

    course = world.courses["stepup"]
    pid = prepare_bag(as_role, course)
    nurse = as_role("nurse")
    r = chart(nurse, course, patient_scan="MRN100002", bag_scan=f"PREP-{pid}")
    assert r.status_code == 200 and "C1D8 10 mg charted as given" in r.text
    page = as_role("pharmacist").get(f"/pharmacy/preparations/{pid}").text
    assert "Infusion started" in page and "Infusion running" in page
    clock.value += timedelta(hours=1, minutes=5)
    r = nurse.post(f"/bedside/{course}/preparations/{pid}/completed",
                   data={"at": "2026-12-15T10:00"})
    assert r.status_code == 303
    page = as_role("pharmacist").get(f"/pharmacy/preparations/{pid}").text
    assert "Infusion completed" in page and "Given" in page
