"""The Charges page and API (issue 15): a billing user sees the site's encounters with JZ
lines, accepts and exports them once (CSV rows validate against the documented columns), and
bad input is a 4xx naming the field with nothing written."""

from __future__ import annotations

import csv
import io

from sqlalchemy import text

from tarla.domain.charges import EXPORT_COLUMNS, validate_export_row

RANGE = {"site": "DEMO", "from": "2026-11-15", "to": "2026-12-15"}


def _count(app, table: str) -> int:  # type: ignore[no-untyped-def]
    with app.state.bootstrapped.engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


def test_the_api_lists_the_encounters_with_jz_lines_and_the_kits_ndc(as_role) -> None:
    r = as_role("billing").get("/api/v1/charges", params=RANGE)
    assert r.status_code == 200, r.text
    lines = [x for e in r.json()["encounters"] for x in e["lines"]]
    assert lines and all(x["code"] == "J9026" for x in lines)
    assert {tuple(x["modifiers"]) for x in lines} == {("JZ",)}
    assert {x["claim_ndc"] for x in lines} <= {"N455513007701 UN1", "N455513005901 UN1"}


def test_a_billing_user_accepts_and_exports_once(as_role, app) -> None:
    c = as_role("billing")
    page = c.get("/charges", params=RANGE)
    assert page.status_code == 200 and "J9026" in page.text and "JZ" in page.text
    enc = c.get("/api/v1/charges", params=RANGE).json()["encounters"][0]
    r = c.post("/charges/review", data={**RANGE, "encounter_id": enc["encounter_id"],
                                        "action": "accept"})
    assert r.status_code == 303, r.text[-600:]
    r = c.post("/charges/export", data={**RANGE, "format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert rows and list(rows[0]) == list(EXPORT_COLUMNS)
    assert all(validate_export_row(row) == [] for row in rows)
    assert {row["encounter_id"] for row in rows} == {enc["encounter_id"]}
    again = c.post("/charges/export", data={**RANGE, "format": "json"})
    assert again.status_code == 303 and "done=nothing" in again.headers["location"]


def test_bad_input_is_a_4xx_naming_the_field_and_nothing_is_written(as_role, app) -> None:
    c = as_role("billing")
    r = c.get("/api/v1/charges", params={**RANGE, "from": "2025-01-01"})
    assert r.status_code == 422 and "to" in r.text
    r = c.get("/api/v1/charges", params={**RANGE, "site": "NOPE"})
    assert r.status_code == 404 and "site" in r.text
    enc = c.get("/api/v1/charges", params=RANGE).json()["encounters"][0]
    before = (_count(app, "charge_reviews"), _count(app, "audit_log"))
    r = c.post("/charges/review", data={**RANGE, "encounter_id": enc["encounter_id"],
                                        "action": "correct", "administered_mg": "5"})
    assert r.status_code == 422 and "reason" in r.text
    r = c.get("/charges", params={**RANGE, "to": "2028-01-01"})
    assert r.status_code == 422 and "over a year" in r.text
    assert (_count(app, "charge_reviews"), _count(app, "audit_log")) == before


def test_nurses_do_not_see_charges(as_role) -> None:
    assert as_role("nurse").get("/charges").status_code == 403
    assert as_role("nurse").get("/api/v1/charges", params=RANGE).status_code == 403
