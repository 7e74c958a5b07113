"""Labs in by interface in a real browser (issue 16): a laboratory message for an MRN the
site does not know arrives (``tarla hl7 import``, as the laboratory's file drop would), waits
in the work queue, and a nurse applies it on the Lab interface page to the patient whose
labs are missing; Today then shows that patient's dose as GIVE instead of GIVE AFTER LABS."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from e2e_support import sign_in
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

HL7 = Path(__file__).resolve().parents[1] / "data" / "hl7"


def _tarla(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TARLA_DATABASE_URL": f"sqlite:///{db}", "TARLA_SITE": "DEMO"}
    env.pop("TARLA_DEBUG", None)
    return subprocess.run([str(Path(sys.executable).with_name("tarla")), *args], env=env,
                          capture_output=True, text=True, timeout=120)


def _database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This module's live server's database (the ``clocked_server`` fixture's directory, the
    newest: the fixture is per module, so what this test charts stays in this module)."""
    found = list(tmp_path_factory.getbasetemp().glob("e2e-clocked*/tarla.sqlite3"))
    assert found, "the e2e server's database"
    return max(found, key=lambda p: p.parent.stat().st_mtime)


def test_a_nurse_applies_a_queued_lab_message_and_the_dose_is_given_after_labs(  # type: ignore[no-untyped-def]
        clocked_page, clocked_server, shots, tmp_path_factory, tmp_path) -> None:
    db = _database(tmp_path_factory)
    worklist = json.loads(_tarla(db, "worklist", "--json").stdout)
    missing = [i for i in worklist["items"] if i["decision"] == "give" and i["pending_checks"]]
    assert missing, "a demo patient due today whose labs are missing"
    patient = missing[0]
    drawn = (datetime.now(UTC) - timedelta(minutes=10)).strftime("%Y%m%d%H%M%S") + "+0000"
    raw = (HL7 / "oru_unmatched_mrn.hl7").read_text(encoding="utf-8")
    raw = raw.replace("20261202064000", drawn).replace("LAB0005", "E2E0005")
    message = tmp_path / "results.hl7"
    message.write_text(raw, encoding="utf-8")
    done = _tarla(db, "hl7", "import", str(message))
    assert done.returncode == 1 and "AE E2E0005: queued" in done.stdout, done.stdout

    page = clocked_page()
    sign_in(page, "rn.alvarez")
    row = page.locator("tr", has_text=patient["mrn"])
    expect(row).to_contain_text("GIVE AFTER LABS")
    page.click("nav >> text=Lab interface")
    page.wait_for_url("**/labs/queue**")
    item = page.locator("section.queue-item", has_text="E2E0005")
    expect(item).to_contain_text("No matching patient")
    expect(item).to_contain_text("MRN999999")
    page.screenshot(path=str(shots / "70-labs-queue-open-item.png"), full_page=True)

    # a mistyped MRN is refused, naming the field; nothing is charted
    item.locator("input[name=patient_mrn]").fill("MRN000000")
    item.locator("button", has_text="Apply").click()
    expect(page.locator("main")).to_contain_text("no patient with MRN MRN000000")
    page.screenshot(path=str(shots / "71-labs-queue-wrong-mrn.png"), full_page=True)

    item = page.locator("section.queue-item", has_text="E2E0005")
    item.locator("input[name=patient_mrn]").fill(patient["mrn"])
    item.locator("button", has_text="Apply").click()
    page.wait_for_url("**/labs/queue?done=applied")
    expect(page.locator(".flash")).to_contain_text("Results charted")
    page.goto("/labs/queue?show=all")
    expect(page.locator("section.queue-item", has_text="E2E0005")).to_contain_text(
        f"charted for MRN {patient['mrn']}")
    page.screenshot(path=str(shots / "72-labs-queue-applied.png"), full_page=True)

    page.click("nav >> text=Today")
    row = page.locator("tr", has_text=patient["mrn"])
    expect(row).not_to_contain_text("GIVE AFTER LABS")
    expect(row).to_contain_text("GIVE")
    expect(row).to_contain_text("Labs on file")
    page.screenshot(path=str(shots / "73-today-give-after-labs-arrived.png"), full_page=True)

    page.goto("/labs/loinc")
    expect(page.locator("table.loinc-table")).to_contain_text("718-7")
    page.screenshot(path=str(shots / "74-labs-loinc-table.png"), full_page=True)
