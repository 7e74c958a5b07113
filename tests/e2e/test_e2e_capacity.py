"""Capacity in a real browser (issue 12, the done-when): a scheduler plans next week for the
demo centre with CP-SAT, reviews and accepts it, sees the 22-24 h monitoring beds crossing
midnight on the day board; a physician holds a patient's dose (a grade 2 CRS charted at the
bedside): the scheduler sees the booking flagged with the reason; the physician resolves the
event, so the next dose needs a 22-24 h bed; the scheduler re-plans and the booking moves
from a chair to a bed. A move by hand after closing is refused with the time named."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from e2e_support import sign_in
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def _week(page, monday: date) -> list[dict]:  # type: ignore[no-untyped-def, type-arg]
    r = page.request.get("/api/v1/appointments", params={
        "site": "DEMO", "from": monday.isoformat(),
        "to": (monday + timedelta(days=6)).isoformat()})
    assert r.ok, r.text()
    return r.json()["appointments"]  # type: ignore[no-any-return]


def test_a_scheduler_plans_next_week_sees_beds_cross_midnight_and_replans_a_hold(  # type: ignore[no-untyped-def]
        new_page, shots) -> None:
    sched = new_page()
    sign_in(sched, "sched.lee")
    sched.goto("/")
    sched.wait_for_url("**/schedule")
    expect(sched.locator("h1")).to_contain_text("Schedule")
    sched.screenshot(path=str(shots / "80-schedule-day-board.png"), full_page=True)

    # plan next week (the form's default: next Monday, 7 days) and review it
    monday = date.fromisoformat(sched.locator("#propose input[name=from]").input_value())
    assert monday.weekday() == 0
    sched.click("#propose button[type=submit]")
    sched.wait_for_url("**/schedule/plans/**")
    expect(sched.locator(".flash.ok")).to_contain_text("Plan proposed")
    expect(sched.locator("table.plan-diff")).to_contain_text("crosses midnight")
    expect(sched.locator("table.plan-diff tr.change-new").first).to_be_visible()
    sched.screenshot(path=str(shots / "81-plan-review.png"), full_page=True)
    sched.click("#accept button[type=submit]")
    sched.wait_for_url("**/schedule?**")
    expect(sched.locator(".flash.ok")).to_contain_text("Plan accepted")

    booked = _week(sched, monday)
    bed = next(a for a in booked if a["care_kind"] == "bed" and a["crosses_midnight"])
    day = bed["start"][:10]
    sched.goto(f"/schedule?date={day}")
    crossing = sched.locator(f"#appt-{bed['id']}")
    expect(crossing).to_contain_text("crosses midnight")
    expect(sched.locator("table.beds th.midnight")).to_have_count(1)
    crossing.scroll_into_view_if_needed()
    sched.screenshot(path=str(shots / "82-beds-cross-midnight.png"), full_page=True)
    sched.goto(f"/schedule/week?from={monday.isoformat()}")
    expect(sched.locator(".week-grid")).to_contain_text("bed(s) overnight")
    sched.screenshot(path=str(shots / "83-week-view.png"), full_page=True)

    # a physician holds a chair patient's dose: grade 2 CRS charted at the bedside
    chair = next(a for a in booked if a["care_kind"] == "chair" and a["slot"] != "C1D15")
    doc = new_page()
    sign_in(doc, "dr.khan")
    doc.goto(f"/bedside/{chair['course_id']}")
    doc.fill("#crs #f-temperature_c", "38.7")
    doc.check("#crs input[name=hypotension]")
    expect(doc.locator("#crs-result")).to_contain_text("CRS grade 2")
    doc.click("#crs button:has-text('Save CRS assessment')")
    expect(doc.locator(".flash.ok")).to_contain_text("CRS assessment saved")
    doc.screenshot(path=str(shots / "84-physician-holds-the-dose.png"), full_page=True)

    # the scheduler sees the booking flagged with the reason: it cannot be kept
    chair_day = chair["start"][:10]
    sched.goto(f"/schedule?date={chair_day}")
    flag = sched.locator(f"#flag-{chair['id']}")
    expect(flag).to_contain_text("the dose is now held")
    expect(flag).to_contain_text("cannot be kept")
    expect(sched.locator(f"#appt-{chair['id']}")).to_have_class("booking chair flagged")
    sched.screenshot(path=str(shots / "85-booking-flagged-after-hold.png"), full_page=True)

    # the event resolves: the next dose gets 22-24 h monitoring, so a bed instead of a chair
    doc.goto(f"/bedside/{chair['course_id']}")
    doc.click("button:has-text('Mark resolved')")
    expect(doc.locator(".flash.ok")).to_be_visible()
    sched.goto(f"/schedule?date={chair_day}")
    expect(sched.locator(f"#flag-{chair['id']}")).to_contain_text("to bed 24 h")
    sched.locator("#propose input[name=from]").fill(monday.isoformat())
    sched.click("#propose button[type=submit]")
    sched.wait_for_url("**/schedule/plans/**")
    row = sched.locator(f"#course-{chair['course_id']}")
    expect(row).to_contain_text("moved")
    expect(row).to_contain_text("bed")
    row.scroll_into_view_if_needed()
    sched.screenshot(path=str(shots / "86-replan-moves-the-booking.png"), full_page=True)
    sched.click("#accept button[type=submit]")
    sched.wait_for_url("**/schedule?**")
    now_booked = next(a for a in _week(sched, monday) if a["course_id"] == chair["course_id"])
    assert now_booked["care_kind"] == "bed" and not now_booked["flagged"]
    assert now_booked["rules"] == ["T1-INFUSION", "T1-MON-AFTER-G2"]
    sched.goto(f"/schedule?date={now_booked['start'][:10]}")
    expect(sched.locator(f"#appt-{now_booked['id']}")).to_contain_text("crosses midnight")
    sched.screenshot(path=str(shots / "87-booking-now-in-a-bed.png"), full_page=True)

    # a move by hand after closing is refused with the time named; nothing moves
    other = next(a for a in _week(sched, monday) if a["care_kind"] == "chair")
    other_day = other["start"][:10]
    sched.goto(f"/schedule?date={other_day}")
    form = sched.locator(f"#row-{other['id']} form.move-form")
    form.locator("input[name=start]").fill(f"{other_day}T17:45")
    form.locator("button").click()
    expect(sched.locator(".flash.bad")).to_contain_text("after closing at")
    sched.screenshot(path=str(shots / "88-move-refused-after-closing.png"), full_page=True)
    assert next(a for a in _week(sched, monday) if a["id"] == other["id"])["start"] == \
        other["start"]

    pdf = sched.request.get(f"/schedule/day.pdf?date={day}")
    assert pdf.ok and pdf.body().startswith(b"%PDF")
    sched.goto(f"/schedule?date={day}")
    sched.screenshot(path=str(shots / "89-day-board-final.png"), full_page=True)
