"""The Lab interface pages (issue 16): a nurse sees the site's work queue of laboratory
messages that could not be charted, applies one to a patient (the labs then go through the
lab-entry checks and the decision updates) or dismisses it with a reason; the LOINC table
is edited by a pharmacist, physician or administrator. Bad input is a 4xx naming the field
with nothing written; another site's item is a 404."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text
from web_support import NOW, TODAY

from tarla.services import labs_in

HL7 = Path(__file__).resolve().parents[1] / "data" / "hl7"


def _count(app: Any, table: str) -> int:
    with app.state.bootstrapped.engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def _message(name: str, mrn: str | None = None) -> str:
    raw = (HL7 / name).read_text(encoding="utf-8")
    # collected this morning at 06:40 (site time), after the world's last doses
    raw = raw.replace("20261202064000", TODAY.strftime("%Y%m%d") + "064000")
    if mrn is not None:
        raw = raw.replace("MRN999999", mrn).replace("|19580402|", "||")
    return raw


def _receive(app: Any, raw: str) -> labs_in.Ack:
    return labs_in.receive_hl7(app.state.bootstrapped.uow(), site_code="DEMO", raw=raw,
                               received_at=NOW - timedelta(minutes=30))


def test_a_nurse_sees_the_open_item_and_applies_it_to_the_patient_they_name(
        as_role, app, world) -> None:
    ack = _receive(app, _message("oru_unmatched_mrn.hl7"))
    assert ack.status == "queued"
    nurse = as_role("nurse")
    page = nurse.get("/labs/queue")
    assert page.status_code == 200
    assert f"#{ack.queue_item_id}" in page.text and "MRN999999" in page.text
    assert "No matching patient" in page.text and "751-8" in page.text
    assert 'href="/labs/queue"' in nurse.get("/today").text  # the nav link
    labs_before = _count(app, "lab_results")
    r = nurse.post(f"/labs/queue/{ack.queue_item_id}/apply", data={"patient_mrn": "MRN100003"})
    assert r.status_code == 303, r.text[-800:]
    assert _count(app, "lab_results") == labs_before + 6
    done = nurse.get("/labs/queue?show=all")
    assert "Applied" in done.text and "charted for MRN MRN100003" in done.text
    assert "by Rosa Alvarez, RN" in done.text
    # the patient's labs are no longer missing: the page of the course shows them on file
    sheet = nurse.get(f"/patients/{world.patients['nolabs']}/labs")
    assert "Missing since the last dose" not in sheet.text


def test_applying_to_an_unknown_mrn_is_a_404_naming_the_field_and_writes_nothing(
        as_role, app) -> None:
    ack = _receive(app, _message("oru_unmatched_mrn.hl7"))
    before = (_count(app, "lab_results"), _count(app, "interface_messages"))
    r = as_role("nurse").post(f"/labs/queue/{ack.queue_item_id}/apply",
                              data={"patient_mrn": "MRN000000"})
    assert r.status_code == 404 and "no patient with MRN MRN000000" in r.text
    r = as_role("nurse").post(f"/labs/queue/{ack.queue_item_id}/apply", data={})
    assert r.status_code == 422 and "choose the patient" in r.text
    assert (_count(app, "lab_results"), _count(app, "interface_messages")) == before
    assert "Apply" in as_role("nurse").get("/labs/queue").text  # still open


def test_a_value_the_grader_refuses_is_a_422_and_the_item_stays_open(as_role, app) -> None:
    raw = _message("oru_unmatched_mrn.hl7").replace("|250|10*9/L", "|250|furlongs")
    ack = _receive(app, raw)
    assert ack.status == "refused" and ack.field == "OBX[2]-6"  # refused before the queue
    raw = _message("oru_unknown_loinc.hl7").replace("M1^^^", "MRN100003^^^")
    raw = raw.replace("|19580402|", "||")
    ack = _receive(app, raw)
    assert ack.status == "queued"
    r = as_role("nurse").post(f"/labs/queue/{ack.queue_item_id}/apply", data={})
    assert r.status_code == 422 and "2345-7" in r.text
    assert _count(app, "lab_queue_items") == 1


def test_dismissing_needs_a_reason(as_role, app) -> None:
    ack = _receive(app, _message("oru_unmatched_mrn.hl7"))
    nurse = as_role("nurse")
    r = nurse.post(f"/labs/queue/{ack.queue_item_id}/dismiss", data={"reason": ""})
    assert r.status_code == 422 and "reason" in r.text
    r = nurse.post(f"/labs/queue/{ack.queue_item_id}/dismiss",
                   data={"reason": "sent to the wrong centre"})
    assert r.status_code == 303
    assert "No open items" in nurse.get("/labs/queue").text
    r = nurse.post(f"/labs/queue/{ack.queue_item_id}/dismiss", data={"reason": "again"})
    assert r.status_code == 409 and "already dismissed" in r.text


def test_an_item_that_does_not_exist_is_a_404(as_role) -> None:
    r = as_role("nurse").post("/labs/queue/987654/dismiss", data={"reason": "x"})
    assert r.status_code == 404


def test_schedulers_and_billing_do_not_see_the_queue(as_role) -> None:
    assert as_role("scheduler").get("/labs/queue").status_code == 403
    assert as_role("billing").get("/labs/loinc").status_code == 403


def test_a_pharmacist_maps_a_code_and_a_nurse_may_only_read_the_table(as_role, app) -> None:
    rph = as_role("pharmacist")
    page = rph.get("/labs/loinc")
    assert page.status_code == 200 and "718-7" in page.text and "UNVERIFIED" in page.text
    r = rph.post("/labs/loinc", data={"loinc": "2345-7", "test": "-"})
    assert r.status_code == 303
    assert "2345-7" in rph.get("/labs/loinc").text
    r = rph.post("/labs/loinc", data={"loinc": "glucose", "test": "ANC"})
    assert r.status_code == 422 and "not a LOINC code" in r.text
    nurse = as_role("nurse")
    assert nurse.get("/labs/loinc").status_code == 200
    assert nurse.post("/labs/loinc", data={"loinc": "26499-4", "test": "ANC"}).status_code == 403
    r = rph.post("/labs/loinc/2345-7/reset", data={})
    assert r.status_code == 303
    r = rph.post("/labs/loinc/2345-7/reset", data={})
    assert r.status_code == 404 and "no row of its own" in r.text

