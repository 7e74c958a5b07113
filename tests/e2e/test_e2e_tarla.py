"""The infusion centre in a real browser: sign-in, the worklist; the closed loop (the
pharmacist starts the due dose, scans the kit, confirms the bench steps, prepares the bag, a
second pharmacist checks it; the nurse scans the wristband and the bag label, a wrong
wristband being a hard stop, charts the dose and records the end of the infusion); and a
bedside CRS grading that turns the next dose into 22-24 h monitoring."""

from __future__ import annotations

import re
import time
from datetime import datetime

import pytest
from e2e_support import PASSWORD, sign_in
from playwright.sync_api import expect

from tarla.services.demo import kit_scan

pytestmark = pytest.mark.e2e


def test_sign_in_and_the_worklist(new_page, shots) -> None:  # type: ignore[no-untyped-def]
    page = new_page()
    page.goto("/")
    page.wait_for_url("**/sign-in**")
    page.fill("#username", "rn.alvarez")
    page.fill("#password", "not the password")
    page.click("button[type=submit]")
    expect(page.locator(".flash.bad")).to_contain_text("Wrong username or password")
    page.screenshot(path=str(shots / "01-sign-in-refused.png"), full_page=True)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/today**")
    expect(page.locator("table.worklist")).to_be_visible()
    expect(page.locator(".badge.give").first).to_be_visible()
    expect(page.locator("text=BED 22-24 h").first).to_be_visible()
    page.screenshot(path=str(shots / "02-today.png"), full_page=True)
    # reasons on demand (HTMX)
    page.locator("button", has_text="Why?").first.click()
    expect(page.locator(".why .reasons").first).to_be_visible()
    expect(page.locator(".why .tag").first).to_be_visible()
    page.screenshot(path=str(shots / "03-today-why.png"), full_page=True)
    # a patient from the list
    page.locator("table.worklist a").first.click()
    expect(page.locator("h2", has_text="Course timeline")).to_be_visible()
    page.screenshot(path=str(shots / "04-patient.png"), full_page=True)


def _wait_for_the_next_minute() -> None:
    """The bedside form's times are whole minutes: a bag prepared at 10:41:30 cannot be hung
    "at 10:41" (before its last clock event), so the nurse's page is opened a minute later."""
    time.sleep(61 - datetime.now().second)


def _confirm_the_bench_steps(page) -> None:  # type: ignore[no-untyped-def]
    """The six recipe steps, each with the volume the recipe gives; the vial is recorded
    reconstituted on the clock right after the water step."""
    for _ in range(6):
        row = page.locator("#bench-steps tr.next")
        code = row.get_attribute("id").removeprefix("step-")
        if code == "inspected":
            for box in row.locator("input[type=checkbox]").all():
                box.check()
        elif row.locator("input[name=measured_ml]").count():
            volume = row.locator("td").nth(2).locator("strong").inner_text()
            row.locator("input[name=measured_ml]").fill(volume.removesuffix(" mL"))
        row.locator("button", has_text="Confirm:").click()
        expect(page.locator(f"#step-{code}")).to_have_class("done")
        if code == "water_added":
            page.click("button:has-text('Vial reconstituted now')")
            expect(page.locator("#clock")).to_contain_text("Dilute into the bag by")


def test_the_closed_loop_from_the_bench_to_the_bedside(new_page, shots) -> None:  # type: ignore[no-untyped-def]
    # --- the pharmacist starts the due dose of a patient whose labs are on file
    page = new_page()
    sign_in(page, "rph.okoro")
    page.goto("/pharmacy")
    row = page.locator("tr.row-give", has=page.locator("button", has_text="preparation")) \
        .filter(has_not_text="Labs missing").first
    expect(row).to_be_visible()
    page.screenshot(path=str(shots / "10-pharmacy-bench.png"), full_page=True)
    mrn = re.search(r"MRN (\S+)", row.inner_text()).group(1)
    course = row.locator("input[name=course_id]").get_attribute("value")
    start = row.locator("button", has_text="preparation")
    dose = int(re.search(r"Start (\d+) mg", start.inner_text()).group(1))
    start.click()
    page.wait_for_url(re.compile(r".*/pharmacy/preparations/\d+$"))
    url = page.url
    prep = int(url.rsplit("/", 1)[1])
    expect(page.locator("h1")).to_contain_text(f"{dose} mg")
    # --- the kit: the other strength first (refused, in words), then the right one
    serial = f"E2E{int(time.time())}"
    scan = page.locator("#f-scan")
    scan.click()
    page.keyboard.type(kit_scan(1 if dose == 10 else 10, serial + "W"))
    page.keyboard.press("Enter")
    expect(page.locator(".verdict-refuse")).to_contain_text("WRONG_STRENGTH")
    page.screenshot(path=str(shots / "11-scan-refused.png"), full_page=True)
    scan.click()
    page.keyboard.type(kit_scan(dose, serial))
    page.keyboard.press("Enter")
    expect(page.locator(".verdict-accept")).to_contain_text(serial)
    page.reload()
    # --- the six bench steps, reconstitution and the bag
    _confirm_the_bench_steps(page)
    page.click("button:has-text('Bag prepared now')")
    expect(page.locator("#clock")).to_contain_text("Discard after")
    expect(page.locator("#clock .countdown")).to_contain_text("left")
    page.screenshot(path=str(shots / "12-preparation-clock.png"), full_page=True)
    response = page.request.get(url + "/label.pdf")
    assert response.status == 200 and response.body().startswith(b"%PDF")
    (shots / "13-bag-label.pdf").write_bytes(response.body())
    worksheet = page.request.get(url + "/worksheet.pdf")
    assert worksheet.status == 200 and worksheet.body().startswith(b"%PDF")
    (shots / "13-worksheet.pdf").write_bytes(worksheet.body())
    expect(page.locator("text=A second pharmacist")).to_be_visible()
    # --- the independent check by another pharmacist
    other = new_page()
    sign_in(other, "rph.berg")
    other.goto(url)
    other.fill("#f-check-password", PASSWORD)  # the e-signature: "checked"
    other.click("button:has-text('Sign the independent check')")
    expect(other.locator("text=Checked by Lars Berg").first).to_be_visible()
    expect(other.locator("text=meaning: checked").first).to_be_visible()
    other.screenshot(path=str(shots / "14-preparation-checked.png"), full_page=True)
    _wait_for_the_next_minute()
    # --- the bedside: another patient's wristband is a hard stop, nothing is charted
    nurse = new_page()
    sign_in(nurse, "rn.alvarez")
    nurse.goto(f"/bedside/{course}")
    # --- C1D1/C1D8 care: the dexamethasone is charted before the infusion (label-facts §3);
    # without it the infusion start is refused (CARE-PREMED)
    premedication = nurse.locator("#chart-premedication")
    if premedication.count():
        premedication.click()
        expect(nurse.locator("#premedication")).to_contain_text("dexamethasone 8 mg IV given")
        nurse.screenshot(path=str(shots / "29-bedside-premedication.png"), full_page=True)
    expect(nurse.locator("#f-patient_scan")).to_be_focused()
    wrong = "MRN100000" if mrn != "MRN100000" else "MRN100001"
    nurse.keyboard.type(wrong)
    nurse.keyboard.press("Enter")  # the scanner's Enter moves on, it does not submit
    expect(nurse.locator("#f-bag_scan")).to_be_focused()
    nurse.keyboard.type(f"PREP-{prep}")
    nurse.keyboard.press("Enter")
    expect(nurse.locator("#f-infusion_site")).to_be_focused()
    nurse.fill("#f-infusion_site", "left forearm")
    nurse.locator("#dose button[type=submit]").click()
    stop = nurse.locator("#hard-stop")
    expect(stop).to_contain_text("Wrong patient: the wristband scanned is not this patient's")
    expect(stop).to_contain_text(f"wristband MRN {wrong} is not this patient")
    expect(nurse.locator("#e-patient_scan")).to_contain_text(wrong)
    nurse.screenshot(path=str(shots / "30-bedside-wrong-wristband.png"), full_page=True)
    nurse.locator("#dose").screenshot(path=str(shots / "31-bedside-wrong-wristband-form.png"))
    # --- the right wristband and the bag's label: charted, the bag hung
    expect(nurse.locator("#f-patient_scan")).to_be_focused()
    nurse.keyboard.type(mrn)
    nurse.keyboard.press("Enter")
    nurse.keyboard.type(f"PREP-{prep}")
    nurse.keyboard.press("Enter")
    nurse.fill("#f-infusion_site", "left forearm")
    nurse.screenshot(path=str(shots / "32-bedside-scanned.png"), full_page=True)
    nurse.locator("#dose button[type=submit]").click()
    expect(nurse.locator(".flash.ok, .flash.warn").first).to_contain_text(
        f"charted as given from bag PREP-{prep}")
    expect(nurse.locator("#running")).to_contain_text(f"Bag PREP-{prep}")
    nurse.screenshot(path=str(shots / "33-bedside-charted.png"), full_page=True)
    # --- infusion completed
    nurse.locator("#running button", has_text="Infusion completed").click()
    expect(nurse.locator(".flash").first).to_contain_text("nfusion")
    expect(nurse.locator("#running")).to_have_count(0)
    nurse.screenshot(path=str(shots / "34-infusion-completed.png"), full_page=True)
    bag = nurse.request.get(f"/api/v1/preparations/{prep}").json()
    assert bag["preparation"]["status"] == "administered"
    assert [e["event"] for e in bag["events"]][-2:] == ["infusion_started",
                                                       "infusion_completed"]


def test_bedside_crs_grade_2_turns_the_next_dose_into_22_24_h_monitoring(  # type: ignore[no-untyped-def]
        new_page, shots) -> None:
    page = new_page()
    sign_in(page, "rn.alvarez")
    page.goto("/patients")
    # a maintenance patient: chair, observation tier
    chair = None
    for link in page.locator("table a[href^='/patients/']").all():
        href = link.get_attribute("href")
        decision = page.request.get(f"/api/v1{href}/evaluation").json()
        care = decision.get("care") or {}
        if decision["decision"] in ("give", "wait") and \
                (care.get("monitoring") or {}).get("kind") == "observe":
            chair = href
            break
    assert chair is not None, "the demo site has a patient in the chair tier"
    page.goto(chair)
    page.screenshot(path=str(shots / "20-patient-before.png"), full_page=True)
    page.click("a:has-text('Bedside')")
    page.wait_for_url("**/bedside/**")
    page.fill("#crs #f-temperature_c", "38.7")
    page.check("#crs input[name=hypotension]")
    result = page.locator("#crs-result")
    expect(result).to_contain_text("CRS grade 2")
    expect(result).to_contain_text("HOLD")
    expect(result).to_contain_text("Monitoring bed: 22-24 h")
    page.locator("#crs").scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "21-bedside-crs-grade-2.png"), full_page=True)
    page.click("#crs button:has-text('Save CRS assessment')")
    expect(page.locator(".flash.ok")).to_contain_text("CRS assessment saved")
    page.goto(chair)
    decision = page.locator("#decision")
    expect(decision).to_contain_text("HOLD")
    expect(decision).to_contain_text("Monitoring bed: 22-24 h")
    page.screenshot(path=str(shots / "22-patient-after-crs.png"), full_page=True)
