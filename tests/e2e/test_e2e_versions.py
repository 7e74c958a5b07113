"""A label revision in a real browser: a physician loads the revision shipped with Tarla on the
Rules page and reads its differences, moves one existing course to it (a reason and the
password re-entered), and that course's decision is then computed with the revision's rows
(its Cycle 1 Day 1/Day 8 monitoring row is UNVERIFIED there) while the other courses keep
theirs."""

from __future__ import annotations

import pytest
from e2e_support import PASSWORD, sign_in
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

SHIPPED = "US-PI-2026-UNCONFIRMED"


def _first_cycle_patient(page) -> str:  # type: ignore[no-untyped-def]
    """A patient whose next dose gets the Cycle 1 Day 1/Day 8 monitoring row."""
    page.goto("/patients")
    for link in page.locator("table a[href^='/patients/']").all():
        href = link.get_attribute("href")
        d = page.request.get(f"/api/v1{href}/evaluation").json()
        if d["decision"] in ("give", "wait") and any(
                r["rule"] == "T1-MON-C1D1-D8" for r in d["reasons"]):
            return str(href)
    raise AssertionError("the demo site has a patient due a Cycle 1 Day 1 or Day 8 dose")


def test_a_revision_is_loaded_compared_and_applied_to_one_course(  # type: ignore[no-untyped-def]
        new_page, shots) -> None:
    page = new_page()
    sign_in(page, "dr.khan")
    page.goto("/rules")
    page.select_option("select[name=shipped]", SHIPPED)
    page.locator("form:has(select[name=shipped]) button[type=submit]").click()
    page.wait_for_url("**/rules/diff**")
    changed = page.locator("#changed-T1-MON-C1D1-D8")
    expect(changed).to_contain_text("UNVERIFIED")
    expect(page.locator("body")).to_contain_text("computed with that version's rows")
    page.screenshot(path=str(shots / "40-rules-diff.png"), full_page=True)

    patient = _first_cycle_patient(page)
    before = page.request.get(f"/api/v1{patient}/evaluation").json()
    assert before["label_version"] == "US-PI-2025-11"
    assert {r["rule"]: r["tag"] for r in before["reasons"]}["T1-MON-C1D1-D8"] == "SEED"
    page.goto(patient)
    card = page.locator("#label-version")
    expect(card).to_contain_text("This course is on label version US-PI-2025-11")
    card.locator("select[name=label_version]").select_option(SHIPPED)
    card.locator("input[name=reason]").fill("")
    card.locator("input[name=password]").fill(PASSWORD)
    card.locator("button[type=submit]").click()
    expect(page.locator("#label-version")).to_contain_text("reason")  # refused: no reason
    page.screenshot(path=str(shots / "41-move-refused-no-reason.png"), full_page=True)
    card = page.locator("#label-version")
    card.locator("select[name=label_version]").select_option(SHIPPED)
    card.locator("input[name=reason]").fill("Pharmacy and therapeutics committee: follow the "
                                            "2026 revision for this patient")
    card.locator("input[name=password]").fill(PASSWORD)
    card.locator("button[type=submit]").click()
    expect(page.locator(".flash.ok")).to_contain_text(f"now on label version {SHIPPED}")
    expect(page.locator("#label-version")).to_contain_text(
        f"This course is on label version {SHIPPED}")
    expect(page.locator("#decision")).to_contain_text("UNCONFIRMED")
    page.screenshot(path=str(shots / "42-course-on-the-revision.png"), full_page=True)
    after = page.request.get(f"/api/v1{patient}/evaluation").json()
    assert after["label_version"] == SHIPPED
    assert {r["rule"]: r["tag"] for r in after["reasons"]}["T1-MON-C1D1-D8"] == "UNVERIFIED"
    assert "T1-MON-C1D1-D8" in after["unverified_unsigned"]
