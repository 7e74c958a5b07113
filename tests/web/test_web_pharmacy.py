"""The pharmacy bench through its forms: start, scan (GS separators, wrong strength), recipe,
clock events, label and worksheet PDFs, the independent check."""

from __future__ import annotations

import re

from web_support import sign_in

KIT_10 = "]d2" + "0100355513077019" + "17271231" + "10LOT42\x1d" + "21SER1"
KIT_1 = "]d2" + "0100355513059015" + "17271231" + "10LOT7\x1d" + "21SER9"


def _start(c, course_id: int) -> str:  # type: ignore[no-untyped-def]
    r = c.post("/pharmacy/preparations", data={"course_id": str(course_id)})
    assert r.status_code == 303, r.text[-500:]
    return r.headers["location"]


def test_the_bench_lists_due_doses_with_a_start_button(as_role, world) -> None:
    html = as_role("pharmacist").get("/pharmacy").text
    assert "Start 1 mg preparation" in html and "Start 10 mg preparation" in html


def test_the_order_comes_from_the_course_engine_not_the_bench(as_role, world) -> None:
    c = as_role("pharmacist")
    page = c.get(_start(c, world.courses["new"])).text
    assert "IMDELLTRA <span" in page and ">1 mg<" in page
    assert "1.3 mL" in page and "14 mL" in page  # the 1 mg column of the recipe


def test_full_preparation_with_scans_clock_label_and_check(as_role, world) -> None:
    c = as_role("pharmacist")
    url = _start(c, world.courses["stepup"])  # C1D8: 10 mg
    # reconstitution before an accepted vial scan is refused
    r = c.post(url + "/events", data={"event": "reconstituted"})
    assert r.status_code == 422 and "scan the drug vial first" in r.text
    # the 1 mg kit for a 10 mg order is refused, and the refusal is kept
    r = c.post(url + "/scan", data={"scan": KIT_1, "component": "drug"},
               headers={"HX-Request": "true"})
    assert "REFUSED" in r.text and "WRONG_STRENGTH" in r.text
    # GS typed by a keyboard wedge as <GS> works like ASCII 29
    r = c.post(url + "/scan", data={"scan": KIT_10.replace("\x1d", "<GS>"),
                                    "component": "drug"}, headers={"HX-Request": "true"})
    assert "ACCEPTED" in r.text and "LOT42" in r.text
    r = c.post(url + "/scan", data={"scan": "]d2010035551307701", "component": "drug"},
               headers={"HX-Request": "true"})
    assert "UNREADABLE" in r.text
    for event in ("reconstituted", "bag_prepared"):
        assert c.post(url + "/events", data={"event": event}).status_code == 303
    page = c.get(url).text
    assert "Discard after" in page and 'class="countdown"' in page
    assert "Clock: OK" in page
    pdf = c.get(url + "/label.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    ws = c.get(url + "/worksheet.pdf")
    assert ws.status_code == 200 and ws.content.startswith(b"%PDF")
    # the preparer cannot check their own bag
    r = c.post(url + "/check", data={})
    assert r.status_code == 403 and "someone other than the preparer" in r.text
    second = as_role("pharmacist2")
    assert second.post(url + "/check", data={}).status_code == 303
    assert "Checked by Lars Berg" in second.get(url).text


def test_a_held_course_gets_no_preparation(as_role, world) -> None:
    c = as_role("pharmacist")
    r = c.post("/pharmacy/preparations", data={"course_id": str(world.courses["held"])})
    assert r.status_code == 409 and "HOLD" in r.text


def test_nothing_to_print_before_reconstitution(as_role, world) -> None:
    c = as_role("pharmacist")
    url = _start(c, world.courses["script"])
    r = c.get(url + "/label.pdf")
    assert r.status_code == 422 and "reconstituted" in r.text


def test_api_scan_stores_refusals_too(as_role, world) -> None:
    c = as_role("pharmacist")
    pid = c.post("/api/v1/preparations", json={"course_id": world.courses["stepup"]}).json()[
        "preparation"]["id"]
    r = c.post(f"/api/v1/preparations/{pid}/scans", json={"scan": KIT_1})
    assert r.status_code == 201 and r.json()["verdict"] == "refuse"
    body = c.get(f"/api/v1/preparations/{pid}").json()
    assert [s["verdict"] for s in body["scans"]] == ["refuse"]
    r = c.post(f"/api/v1/preparations/{pid}/events", json={"event": "reconstituted"})
    assert r.status_code == 422


_ = (re, sign_in)


def _ready_bag(as_role, course_id: int) -> str:  # type: ignore[no-untyped-def]
    c = as_role("pharmacist")
    url = _start(c, course_id)
    c.post(url + "/scan", data={"scan": KIT_10, "component": "drug"})
    for event in ("reconstituted", "bag_prepared"):
        assert c.post(url + "/events", data={"event": event}).status_code == 303
    assert as_role("pharmacist2").post(url + "/check", data={}).status_code == 303
    return url.rsplit("/", 1)[1]


def test_the_nurse_hangs_a_checked_bag_and_its_clock_follows(as_role, world, clock) -> None:
    from datetime import timedelta

    prep = _ready_bag(as_role, world.courses["stepup"])
    nurse = as_role("nurse")
    r = nurse.post(f"/bedside/{world.courses['stepup']}/administration", data={
        "dose_mg": "10", "started_at": "2026-12-15T09:00", "preparation_id": prep,
        "idempotency_key": "hang-1"})
    assert r.status_code == 200 and "C1D8 10 mg recorded as given" in r.text
    assert "Warning" not in r.text
    assert "Infusion running" in r.text
    clock.value += timedelta(hours=1, minutes=5)
    r = nurse.post(f"/bedside/{world.courses['stepup']}/preparations/{prep}/completed",
                   data={"at": "2026-12-15T10:00"})
    assert r.status_code == 303
    page = as_role("pharmacist").get(f"/pharmacy/preparations/{prep}").text
    assert "Infusion completed" in page and "Given" in page


def test_a_bag_for_another_strength_is_refused_at_the_bedside(as_role, world) -> None:
    prep = _ready_bag(as_role, world.courses["stepup"])
    r = as_role("nurse").post(f"/bedside/{world.courses['stepup']}/administration", data={
        "dose_mg": "1", "started_at": "2026-12-15T09:00", "preparation_id": prep})
    assert r.status_code == 422 and "the bag holds 10 mg, not 1 mg" in r.text


def test_an_expired_bag_is_refused_at_the_bedside(as_role, world, clock) -> None:
    from datetime import timedelta

    prep = _ready_bag(as_role, world.courses["stepup"])
    clock.value += timedelta(hours=9)  # past the 8 h room-temperature budget
    r = as_role("nurse").post(f"/bedside/{world.courses['stepup']}/administration", data={
        "dose_mg": "10", "started_at": "2026-12-15T17:30", "preparation_id": prep})
    assert r.status_code == 422 and "expired" in r.text
