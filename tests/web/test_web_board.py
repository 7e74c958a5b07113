"""The unit board in the web app: who is on the unit today, by state, refreshing itself; the
world of web_support (09:00 on 15 Dec 2026, New York) with Garcia's C1D1 given at 07:30."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from web_support import TODAY

from tarla.services import demo

ZONE = ZoneInfo("America/New_York")


def at(h: int, m: int = 0, day: int = 0) -> datetime:
    return datetime.combine(TODAY + timedelta(days=day), time(h, m), ZONE)


def test_a_nurse_lands_on_the_board_and_sees_the_waiting_and_the_ongoing(as_role: Any,
                                                                          world: Any) -> None:
    nurse = as_role("nurse")
    assert nurse.get("/").headers["location"] == "/board"
    assert as_role("pharmacist").get("/").headers["location"] == "/today"
    html = nurse.get("/board").text
    assert 'hx-trigger="every 30s"' in html and 'hx-get="/board/rows?site=DEMO"' in html
    ongoing = html[html.index('id="ongoing"'):]
    ongoing = ongoing[:ongoing.index("</section>")]
    assert "CRS GRADE 2" in ongoing and "Haddad, Omar" in ongoing
    waiting = html[html.index('id="state-waiting"'):]
    waiting = waiting[:waiting.index("</section>")]
    for name in ("Garcia, Ana", "Nguyen, Linh", "Haddad, Omar"):
        assert name in waiting
    held = waiting[waiting.index(f'id="board-{world.courses["held"]}"'):]
    held = held[:held.index("</tr>")]
    assert "HOLD" in held and "CRS grade 2" in held and "T5-CRS-G2" in held  # on the row


def test_a_first_dose_moves_to_a_monitoring_bed_that_ends_the_next_morning(
        as_role: Any, app: Any, world: Any, clock: Any) -> None:
    uow = app.state.bootstrapped.uow
    demo.give_through_the_loop(uow, course_id=world.courses["new"], mrn="MRN100001",
                               prepared_at=at(7, 5), started_at=at(7, 30), serial="WBOARD1",
                               nurse="rn.chen")
    nurse = as_role("nurse")
    board = nurse.get("/api/v1/board").json()
    row = next(r for r in board["rows"] if r["course_id"] == world.courses["new"])
    # C1D1 started 07:30, ended 08:30: the bed runs 22-24 h from the start
    assert (row["state"], row["slot"], row["monitoring"], row["monitoring_rule"]) == (
        "monitoring_bed", "C1D1", "facility 22-24 h", "T1-MON-C1D1-D8")
    assert (row["ends_at"], row["latest_end"]) == (at(5, 30, 1).isoformat(),
                                                   at(7, 30, 1).isoformat())
    assert row["remaining_minutes"] == 20 * 60 + 30  # from 09:00
    assert world.courses["new"] not in {r["course_id"] for r in board["rows"]
                                        if r["state"] == "waiting"}
    # no set charted yet: vital signs and ICE due 4 h after the start (the UNVERIFIED
    # site-policy default interval of the monitoring bed), 07:30 + 240 min = 11:30
    assert "vital signs due 11:30; ICE due 11:30" in row["notes"]
    assert "saline due" in row["notes"]  # C1D1 care: 0.9% sodium chloride after the infusion
    html = nurse.get("/board/rows").text
    bed = html[html.index('id="state-monitoring_bed"'):]
    assert "Garcia, Ana" in bed and "20 h 30 min left" in bed and "Wed 16 Dec" in bed
    clock.value = at(12, 0)
    row = next(r for r in nurse.get("/api/v1/board").json()["rows"]
               if r["course_id"] == world.courses["new"])
    assert "vital signs OVERDUE (due 11:30); ICE OVERDUE (due 11:30)" in row["notes"]
    assert row["overdue"] is True
    assert 'class="row-hold"' in nurse.get("/board/rows").text  # flagged on the board
    # the next morning at 06:00 the bed's 22 h are over: ready for discharge
    clock.value = at(6, 0, 1)
    r = as_role("nurse").get("/api/v1/board")  # a new shift, a new sign-in
    assert r.status_code == 200, r.text
    board = r.json()
    row = next(r for r in board["rows"] if r["course_id"] == world.courses["new"])
    assert (row["state"], row["since"]) == ("ready_for_discharge", at(5, 30, 1).isoformat())
