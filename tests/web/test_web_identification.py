"""Bedside identification through the web: the wristband PDF a nurse prints, the bag label PDF
the pharmacist prints, and the barcode texts the JSON API gives for them. The PDFs are read
back with zbar at 300 dpi (zbar-tools and poppler-utils are required: never skipped)."""

from __future__ import annotations

from pathlib import Path

import pytest
from web_support import ROLES

from helpers import read_barcodes

KIT_10 = "]d2" + "0100355513077019" + "17271231" + "10LOT42\x1d" + "21SER1"
WRISTBAND_HALF = 1476  # pixels: half of a 250 mm band at 300 dpi


def _save(body: bytes, path: Path) -> Path:
    assert body.startswith(b"%PDF")
    path.write_bytes(body)
    return path


@pytest.mark.parametrize("role", ROLES)
def test_any_signed_in_role_prints_the_wristband_and_its_barcode_reads_as_the_mrn(
        as_role, world, role, tmp_path) -> None:
    r = as_role(role).get(f"/patients/{world.patients['stepup']}/wristband.pdf")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"] == \
        f'inline; filename="wristband-{world.patients["stepup"]}.pdf"'
    pdf = _save(r.content, tmp_path / "band.pdf")
    assert read_barcodes(pdf, tmp_path, (0, WRISTBAND_HALF)) == ["MRN100002"]
    assert read_barcodes(pdf, tmp_path, (WRISTBAND_HALF, WRISTBAND_HALF + 1)) == ["MRN100002"]


def test_the_wristband_of_a_missing_patient_is_404(as_role) -> None:
    assert as_role("nurse").get("/patients/999999/wristband.pdf").status_code == 404


def test_the_patient_page_links_to_the_wristband(as_role, world) -> None:
    patient_id = world.patients["stepup"]
    html = as_role("scheduler").get(f"/patients/{patient_id}").text
    assert f'href="/patients/{patient_id}/wristband.pdf"' in html
    assert "Print wristband (PDF)" in html


def test_the_patient_json_gives_the_wristband_barcode_next_to_the_patient(as_role, world):
    body = as_role("nurse").get(f"/api/v1/patients/{world.patients['stepup']}").json()
    assert body["wristband_barcode"] == "MRN100002"
    assert body["patient"]["mrn"] == "MRN100002"


def test_the_preparation_json_gives_the_label_barcode_and_the_printed_label_carries_it(
        as_role, world, tmp_path) -> None:
    c = as_role("pharmacist")
    r = c.post("/api/v1/preparations", json={"course_id": world.courses["stepup"]})
    assert r.status_code == 201, r.text
    preparation_id = r.json()["preparation"]["id"]
    assert r.json()["label_barcode"] == f"PREP-{preparation_id}"
    url = f"/api/v1/preparations/{preparation_id}"
    assert as_role("nurse").get(url).json()["label_barcode"] == f"PREP-{preparation_id}"
    assert c.post(url + "/scans", json={"scan": KIT_10}).json()["verdict"] == "accept"
    # The 10 mg recipe (label-facts §4): 4.4 mL water, 17 mL saline out, 13 mL IVSS, 4.2 mL drug.
    steps = [{"step": "water_added", "measured_ml": 4.4}, "reconstituted",
             {"step": "inspected", "inspection": {"clear": True, "colourless": True,
                                                   "no_particles": True}},
             {"step": "saline_withdrawn", "measured_ml": 17}, {"step": "ivss_added",
                                                               "measured_ml": 13},
             {"step": "drug_added", "measured_ml": 4.2}, {"step": "air_removed"},
             "bag_prepared"]
    for step in steps:
        if isinstance(step, dict):
            done = c.post(url + "/steps", json=step)
            assert done.status_code == 201, done.text
            continue
        done = c.post(url + "/events", json={"event": step})
        assert done.status_code == 200, done.text
        assert done.json()["label_barcode"] == f"PREP-{preparation_id}"
    label = c.get(f"/pharmacy/preparations/{preparation_id}/label.pdf")
    assert label.status_code == 200, label.text
    pdf = _save(label.content, tmp_path / "label.pdf")
    assert read_barcodes(pdf, tmp_path) == [f"PREP-{preparation_id}"]
