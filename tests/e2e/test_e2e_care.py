"""The care around a first dose in a real browser, on a server whose clock the test moves: a
C1D1 patient waits on the unit board, gets the dexamethasone premedication charted, the
infusion charted by scanning wristband and bag, the saline after it; in the 22-24 h bed a fever
with hypotension is charted on the flowsheet, graded CRS 2 and raised as an alert that a
physician acknowledges; discharge is refused before the monitoring period is over and the
checklist complete, then done the next morning, and the wallet card printed."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from e2e_support import PASSWORD
from playwright.sync_api import expect

from tarla.domain.identification import label_barcode, wristband_barcode

pytestmark = pytest.mark.e2e


def _sign_in(page, username: str) -> None:  # type: ignore[no-untyped-def]
    page.goto("/sign-in")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/today**")


def _wall(clock) -> str:  # type: ignore[no-untyped-def]
    return clock().strftime("%Y-%m-%dT%H:%M")


def test_a_first_dose_from_arrival_to_discharge_with_the_wallet_card(  # type: ignore[no-untyped-def]
        clocked_page, clocked_server, shots) -> None:
    _, clock = clocked_server
    nurse = clocked_page()
    _sign_in(nurse, "rn.alvarez")
    nurse.goto("/")
    nurse.wait_for_url("**/board**")
    board = nurse.request.get("/api/v1/board").json()
    row = next(r for r in board["rows"] if r["state"] == "waiting" and r["slot"] == "C1D1"
               and r["decision"] == "give" and not r["pending_checks"])
    course, mrn = row["course_id"], row["mrn"]
    expect(nurse.locator(f"#state-waiting #board-{course}")).to_contain_text("GIVE")
    nurse.screenshot(path=str(shots / "50-board-waiting.png"), full_page=True)

    # premedication, then the infusion by scanning the wristband and the bag label
    nurse.goto(f"/bedside/{course}")
    nurse.click("#chart-premedication")
    expect(nurse.locator("#premedication")).to_contain_text("given")
    nurse.screenshot(path=str(shots / "51-bedside-premedicated.png"), full_page=True)
    nurse.goto("/board")
    expect(nurse.locator(f"#state-premedicated #board-{course}")).to_be_visible()
    nurse.goto(f"/bedside/{course}")
    bag = nurse.locator("#f-preparation_id option").nth(1).get_attribute("value")
    assert bag
    # the pharmacy takes the checked bag out of the refrigerator for the infusion
    pharmacist = clocked_page()
    _sign_in(pharmacist, "rph.okoro")
    pharmacist.goto(f"/pharmacy/preparations/{bag}")
    pharmacist.locator("form:has(input[name=event][value=removed_from_refrigerator]) "
                       "button").click()
    expect(pharmacist.locator("body")).to_contain_text("emoved from")
    clock.offset = timedelta(minutes=2)  # started after the bag left the refrigerator
    nurse.goto(f"/bedside/{course}")
    nurse.fill("#f-patient_scan", wristband_barcode(mrn))
    nurse.fill("#f-bag_scan", label_barcode(int(bag)))
    nurse.fill("#f-started_at", _wall(clock))
    nurse.fill("#f-infusion_site", "left forearm")
    nurse.click("#dose button[type=submit]")
    expect(nurse.locator("#running")).to_be_visible()
    nurse.goto("/board")
    infusing = nurse.locator(f"#state-infusing #board-{course}")
    expect(infusing).to_contain_text("ends about")
    nurse.screenshot(path=str(shots / "52-board-infusing.png"), full_page=True)

    # an hour later the infusion ends: into the 22-24 h bed, saline due
    clock.offset = timedelta(minutes=63)
    nurse.goto(f"/bedside/{course}")
    nurse.click("#running button[type=submit]")
    expect(nurse.locator("#post-infusion")).to_contain_text("due")
    nurse.locator("#post-infusion button[type=submit]").click()
    expect(nurse.locator("#post-infusion")).to_contain_text("Started")
    nurse.goto("/board")
    bed = nurse.locator(f"#state-monitoring_bed #board-{course}")
    expect(bed).to_contain_text("left")
    nurse.screenshot(path=str(shots / "53-board-monitoring-bed.png"), full_page=True)

    # three hours into the bed: fever with hypotension, graded live as CRS 2, charted
    clock.offset = timedelta(hours=4)
    nurse.goto(f"/courses/{course}/flowsheet")
    nurse.fill("#f-taken_at", _wall(clock))
    nurse.fill("#f-temperature_c", "38.6")
    nurse.fill("#f-systolic_mmhg", "86")
    nurse.fill("#f-diastolic_mmhg", "50")
    nurse.fill("#f-heart_rate", "118")
    nurse.fill("#f-spo2", "96")
    nurse.check("#chart input[name=hypotension]")
    expect(nurse.locator("#vitals-result")).to_contain_text("grade 2")
    nurse.screenshot(path=str(shots / "54-flowsheet-crs-2.png"), full_page=True)
    nurse.locator("#chart button[type=submit]").click()
    expect(nurse.locator("#sets")).to_contain_text("38.6")
    nurse.goto("/alerts")
    expect(nurse.locator("body")).to_contain_text("CRS")
    expect(nurse.locator("body")).to_contain_text("grade 2")
    nurse.screenshot(path=str(shots / "55-alert.png"), full_page=True)
    physician = clocked_page()
    _sign_in(physician, "dr.khan")
    physician.goto("/alerts")
    physician.locator("form[action$='/acknowledge'] button").first.click()
    expect(physician.locator("body")).to_contain_text("cknowledged")

    # discharge now: refused (the 22-24 h are not over, the checklist is empty)
    nurse.goto(f"/bedside/{course}")
    nurse.fill("#f-discharged_at", _wall(clock))
    nurse.fill("#f-discharge-password", PASSWORD)  # signed in hours ago: the e-signature
    nurse.click("#discharge-button")
    expect(nurse.locator("#discharge")).to_contain_text("Not discharged")
    nurse.locator("#discharge").scroll_into_view_if_needed()
    nurse.screenshot(path=str(shots / "56-discharge-refused.png"), full_page=True)

    # the next morning, 23 h after the start: the CRS resolved, the checklist done
    clock.offset = timedelta(hours=23)
    physician = clocked_page()
    _sign_in(physician, "dr.khan")
    physician.goto(f"/bedside/{course}")
    physician.locator("#ongoing form button[type=submit]").first.click()
    expect(physician.locator("#ongoing")).to_have_count(0)
    nurse = clocked_page()
    _sign_in(nurse, "rn.alvarez")
    nurse.goto(f"/bedside/{course}")
    if nurse.locator("#post-infusion form[action$='/end'] button").count():
        nurse.locator("#post-infusion form[action$='/end'] button").click()
    counselled = (clock() - timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M")
    nurse.fill("#f-discharged_at", _wall(clock))
    nurse.fill("#f-patient_counselled_at", counselled)
    nurse.fill("#f-caregiver_counselled_at", counselled)
    nurse.check("#discharge input[name=no_driving_counselled]")
    nurse.fill("#f-caregiver_name", "Maria Example")
    nurse.fill("#f-caregiver_phone", "+1 201 555 0199")
    nurse.fill("#f-stay_address", "12 Example Street, Hoboken NJ")
    nurse.check("#discharge input[name=stay_address_confirmed]")
    nurse.check("#discharge input[name=reproductive_potential][value=no]")
    nurse.click("#discharge-button")  # signed in moments ago: that sign-in signs
    expect(nurse.locator("#discharge")).to_contain_text("Discharged")
    expect(nurse.locator("#discharge")).to_contain_text("meaning: discharged")
    nurse.locator("#discharge").scroll_into_view_if_needed()
    nurse.screenshot(path=str(shots / "57-discharged.png"), full_page=True)
    card = nurse.request.get(str(nurse.locator("#wallet-card").get_attribute("href")))
    assert card.status == 200 and card.headers["content-type"] == "application/pdf"
    pdf = shots / "58-wallet-card.pdf"
    pdf.write_bytes(card.body())
    assert pdf.read_bytes().startswith(b"%PDF")
    subprocess.run(["pdftoppm", "-png", "-r", "150", "-f", "1", "-l", "1", str(pdf),
                    str(shots / "58-wallet-card")], check=True, timeout=60)
    assert Path(f"{shots / '58-wallet-card'}-1.png").is_file()
    nurse.goto("/board")
    expect(nurse.locator(f"#state-discharged #board-{course}")).to_be_visible()
    nurse.screenshot(path=str(shots / "59-board-discharged.png"), full_page=True)
