"""The access log in a real browser (issue 13): a nurse signs in, opens a patient's page,
downloads the wristband and signs out; someone mistypes a password; the site's administrator
opens the Access log and finds exactly those reads and sign-ins, by user and by patient."""

from __future__ import annotations

import re

import pytest
from e2e_support import PASSWORD, sign_in
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def test_the_administrator_sees_who_read_a_patients_record(new_page, shots) -> None:  # type: ignore[no-untyped-def]
    nurse = new_page()
    sign_in(nurse, "rn.alvarez")
    nurse.goto("/patients")
    nurse.locator("table a[href^='/patients/']").first.click()
    nurse.wait_for_url(re.compile(r".*/patients/\d+$"))
    patient_url = nurse.url
    mrn = re.search(r"MRN\d+", nurse.content())
    assert mrn is not None
    nurse.screenshot(path=str(shots / "90-access-nurse-reads-patient.png"), full_page=True)
    pdf = nurse.request.get(patient_url + "/wristband.pdf")
    assert pdf.status == 200 and pdf.body().startswith(b"%PDF")
    nurse.click("form[action='/sign-out'] button")
    nurse.wait_for_url("**/sign-in**")

    stranger = new_page()
    stranger.goto("/sign-in")
    stranger.fill("#username", "rn.alvarez")
    stranger.fill("#password", PASSWORD + " wrong")
    stranger.click("button[type=submit]")
    expect(stranger.locator("body")).to_contain_text("Wrong username or password")
    stranger.screenshot(path=str(shots / "91-access-failed-sign-in.png"), full_page=True)

    admin = new_page()
    sign_in(admin, "admin")
    admin.click("nav >> text=Access log")
    admin.wait_for_url("**/admin/access**")
    expect(admin.locator("h1")).to_contain_text("Access log")
    admin.screenshot(path=str(shots / "92-access-log.png"), full_page=True)

    admin.fill("input[name=user]", "rn.alvarez")
    admin.click("form.filters button[type=submit]")
    rows = admin.locator("table.access-log tbody tr")
    expect(rows.first).to_contain_text("sign-in failed")
    events = [r.split("\t") for r in rows.evaluate_all(
        "rs => rs.map(r => [...r.cells].map(c => c.innerText).join('\\t'))")]
    assert [(e[3], e[5], e[6]) for e in events[:5]] == [
        ("sign-in failed", "", "web"), ("signed out", "", "web"),
        ("read", "wristband PDF", "export"), ("read", "patient page", "web"),
        ("signed in", "", "web")]
    admin.screenshot(path=str(shots / "93-access-log-by-user.png"), full_page=True)

    admin.fill("input[name=user]", "")
    admin.fill("input[name=mrn]", mrn.group(0))
    admin.click("form.filters button[type=submit]")
    newest = admin.locator("table.access-log tbody tr")
    expect(newest.nth(0)).to_contain_text("wristband PDF")
    expect(newest.nth(1)).to_contain_text("patient page")
    expect(newest.nth(0)).to_contain_text(f"MRN {mrn.group(0)}")
    admin.screenshot(path=str(shots / "94-access-log-by-patient.png"), full_page=True)
