"""Kit cartons through the JSON API: received by scanning, their excursions recorded per kit
serial, and a spoilt carton refused when it is scanned into a preparation (label-facts §2:
up to 24 hours at 20-25 °C in the carton; do not freeze)."""

from __future__ import annotations

from datetime import datetime, timedelta

KIT_10 = "(01)00355513077019(17)301231(10)LOT7(21){serial}"


def _start(c, world) -> int:
    r = c.post("/api/v1/preparations", json={"course_id": world.courses["stepup"]})
    assert r.status_code == 201, r.text
    return int(r.json()["preparation"]["id"])


def _received(c, serial: str) -> None:
    r = c.post("/api/v1/inventory/kits", json={"scan": KIT_10.format(serial=serial)})
    assert r.status_code == 201, r.text


def _excursion(c, serial: str, start: datetime, hours: float, **extra) -> None:
    body = {"scan": KIT_10.format(serial=serial), "started_at": start.isoformat(),
            "ended_at": (start + timedelta(hours=hours)).isoformat(), **extra}
    r = c.post("/api/v1/inventory/excursions", json=body)
    assert r.status_code == 201, r.text


def test_a_carton_out_for_25_hours_in_two_excursions_is_refused_at_the_scan(as_role, world,
                                                                           clock) -> None:
    c = as_role("pharmacist")
    _received(c, "EX1")
    now = clock()
    _excursion(c, "EX1", now - timedelta(days=3), 20)  # 20 h, then back in the fridge
    _excursion(c, "EX1", now - timedelta(days=1), 5)  # 5 h more: 25 h > 24 h
    pid = _start(c, world)
    scan = c.post(f"/api/v1/preparations/{pid}/scans", json={"scan": KIT_10.format(serial="EX1")})
    assert scan.status_code == 201, scan.text
    body = scan.json()
    assert body["verdict"] == "refuse"
    assert "GATE-KIT-EXCURSION" in {r["rule"] for r in body["reasons"]}


def test_a_carton_out_for_23_hours_is_still_accepted(as_role, world, clock) -> None:
    c = as_role("pharmacist")
    _received(c, "EX2")
    _excursion(c, "EX2", clock() - timedelta(days=2), 23)
    pid = _start(c, world)
    scan = c.post(f"/api/v1/preparations/{pid}/scans", json={"scan": KIT_10.format(serial="EX2")})
    assert scan.json()["verdict"] == "accept", scan.text


def test_a_carton_found_frozen_is_refused_at_the_scan(as_role, world, clock) -> None:
    c = as_role("pharmacist")
    _received(c, "EX3")
    _excursion(c, "EX3", clock() - timedelta(hours=5), 1, frozen=True)
    pid = _start(c, world)
    scan = c.post(f"/api/v1/preparations/{pid}/scans", json={"scan": KIT_10.format(serial="EX3")})
    assert "GATE-KIT-EXCURSION" in {r["rule"] for r in scan.json()["reasons"]}


def test_an_excursion_of_a_kit_not_in_stock_is_404_and_bad_input_names_the_field(as_role
                                                                                  ) -> None:
    c = as_role("nurse")
    r = c.post("/api/v1/inventory/excursions",
               json={"scan": KIT_10.format(serial="NOPE"), "started_at": "2026-11-30T10:00:00Z"})
    assert r.status_code == 404 and r.json()["errors"][0]["field"] == "scan"
    r = c.post("/api/v1/inventory/excursions",
               json={"scan": KIT_10.format(serial="NOPE"), "started_at": "yesterday"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"].endswith("started_at")
    assert as_role("nurse").post("/api/v1/inventory/kits",
                                 json={"scan": KIT_10.format(serial="X")}).status_code == 403
