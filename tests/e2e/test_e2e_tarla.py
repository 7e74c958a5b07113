"""The infusion centre in a real browser: sign-in, the worklist, a full preparation with
scans and the label PDF, and a bedside CRS grading that turns the next dose into 22-24 h
monitoring."""

from __future__ import annotations

import re

import pytest
from e2e_support import PASSWORD, sign_in
from playwright.sync_api import expect

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


def test_a_full_preparation_with_scans_and_the_label(new_page, shots, server,  # type: ignore[no-untyped-def]
                                                     tmp_path) -> None:
    page = new_page()
    sign_in(page, "rph.okoro")
    page.goto("/pharmacy")
    start = page.locator("button", has_text=re.compile(r"Start (1|10) mg preparation")).first
    expect(start).to_be_visible()
    page.screenshot(path=str(shots / "10-pharmacy-bench.png"), full_page=True)
    dose = int(re.search(r"Start (\d+) mg", start.inner_text()).group(1))
    start.click()
    page.wait_for_url(re.compile(r".*/pharmacy/preparations/\d+$"))
    url = page.url
    wrong, right = ("0100355513059015", "0100355513077019") if dose == 10 else \
        ("0100355513077019", "0100355513059015")
    scan = page.locator("#f-scan")
    # the wrong strength first: refused, in words
    scan.click()
    page.keyboard.type("]d2" + wrong + "17281231" + "10LOTW1")
    page.keyboard.press("Control+BracketRight")  # the scanner's GS (ASCII 29)
    page.keyboard.type("21SERW1")
    page.keyboard.press("Enter")
    expect(page.locator(".verdict-refuse")).to_contain_text("WRONG_STRENGTH")
    page.screenshot(path=str(shots / "11-scan-refused.png"), full_page=True)
    expect(page.locator("button", has_text="Vial reconstituted now")).to_be_disabled()
    scan.click()
    page.keyboard.type("]d2" + right + "17281231" + "10LOTOK1")
    page.keyboard.press("Control+BracketRight")
    page.keyboard.type("21SEROK1")
    page.keyboard.press("Enter")
    expect(page.locator(".verdict-accept")).to_contain_text("LOTOK1")
    page.reload()
    page.click("button:has-text('Vial reconstituted now')")
    expect(page.locator("#clock")).to_contain_text("Dilute into the bag by")
    page.click("button:has-text('Bag prepared now')")
    expect(page.locator("#clock")).to_contain_text("Discard after")
    expect(page.locator("#clock .countdown")).to_contain_text("left")
    page.screenshot(path=str(shots / "12-preparation-clock.png"), full_page=True)
    # the label PDF
    response = page.request.get(url + "/label.pdf")
    assert response.status == 200 and response.body().startswith(b"%PDF")
    (shots / "13-bag-label.pdf").write_bytes(response.body())
    worksheet = page.request.get(url + "/worksheet.pdf")
    assert worksheet.status == 200 and worksheet.body().startswith(b"%PDF")
    (shots / "13-worksheet.pdf").write_bytes(worksheet.body())
    expect(page.locator("text=A second pharmacist")).to_be_visible()
    # the independent check by another pharmacist
    other = new_page()
    sign_in(other, "rph.berg")
    other.goto(url)
    other.click("button:has-text('Record independent check')")
    expect(other.locator("text=Checked by Lars Berg").first).to_be_visible()
    other.screenshot(path=str(shots / "14-preparation-checked.png"), full_page=True)


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
