"""Billing in a real browser (issue 15): a billing user opens Charges for the past month of the
demo site, sees JZ lines for the normal doses and a JW line for the bag that was discarded,
is refused accepting that flagged encounter without a reason, accepts it with one, corrects
another dose to the mg given, and exports the accepted encounters as CSV, once; the file
validates against the documented columns."""

from __future__ import annotations

import csv
import io

import pytest
from e2e_support import sign_in
from playwright.sync_api import expect

from tarla.domain.charges import EXPORT_COLUMNS, validate_export_row

pytestmark = pytest.mark.e2e


def test_a_billing_user_reviews_and_exports_the_past_month(new_page, shots) -> None:  # type: ignore[no-untyped-def]
    page = new_page()
    sign_in(page, "billing.demo")
    page.click("nav >> text=Charges")
    page.wait_for_url("**/charges**")
    expect(page.locator("h1")).to_contain_text("Charges")
    expect(page.locator("tr.line.administered", has_text="JZ").first).to_be_visible()
    wasted = page.locator("section.charge", has_text="Bag wasted")
    expect(wasted.locator("tr.line.discarded")).to_contain_text("JW")
    page.screenshot(path=str(shots / "60-charges-past-month.png"), full_page=True)

    # a flagged encounter needs a reason: refused, nothing written
    wasted.locator("button[value=accept]").click()
    expect(page.locator(".flash.bad")).to_contain_text("reason")
    page.screenshot(path=str(shots / "61-charges-reason-required.png"), full_page=True)
    wasted = page.locator("section.charge", has_text="Bag wasted")
    wasted.locator("input[name=reason]").fill("Bag dropped before hanging; waste documented")
    wasted.locator("button[value=accept]").click()
    expect(page.locator("section.charge", has_text="Bag wasted")).to_contain_text("Accepted by")

    # a dose corrected to the mg given (an infusion stopped early): 7 units + JW 3
    ten = page.locator("section.charge.ready", has_text="N455513007701").first
    key = ten.get_attribute("id")
    ten.locator("input[name=administered_mg]").fill("7")
    ten.locator("input[name=reason]").fill("Pump alarm; infusion stopped at 7 mg")
    ten.locator("button[value=correct]").click()
    fixed = page.locator(f"#{key}")
    expect(fixed).to_contain_text("corrected to 7 mg given")
    expect(fixed.locator("tr.line.discarded")).to_contain_text("JW")
    # and one normal dose accepted as computed
    page.locator("section.charge.ready").first.locator("button[value=accept]").click()
    page.screenshot(path=str(shots / "62-charges-reviewed.png"), full_page=True)

    with page.expect_download() as info:
        page.click("button[value=csv]")
    rows = list(csv.DictReader(io.StringIO(open(info.value.path()).read())))
    assert len({r["encounter_id"] for r in rows}) == 3
    assert list(rows[0]) == list(EXPORT_COLUMNS)
    assert all(validate_export_row(r) == [] for r in rows)
    assert {r["modifiers"] for r in rows} >= {"JZ", "JW"}
    page.reload()
    expect(page.locator("section.charge.exported")).to_have_count(3)
    page.click("button[value=json]")  # nothing new: said so, no second file
    expect(page.locator(".flash")).to_contain_text("Nothing new to export")
    page.screenshot(path=str(shots / "63-charges-exported.png"), full_page=True)
