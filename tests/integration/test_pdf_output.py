"""The bag label, the compounding worksheet and the wristband as real PDFs, read back with
poppler; the barcodes are decoded from a 300 dpi rendering with zbar, as a scanner would.

``pdftotext`` and ``pdftoppm`` (Debian poppler-utils) and ``zbarimg`` (zbar-tools) are
required: a missing tool is a failure, not a skip. PNG renderings are kept in
``test-artifacts/`` for a human to look at.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from helpers import read_barcodes
from tarla.adapters.pdf import LabelData, render_bag_label, render_worksheet, render_wristband
from tarla.cli import main
from tarla.domain.clock import ClockEvent, EventKind, evaluate_clock
from tarla.domain.errors import InvalidInput
from tarla.domain.preparation import plan_preparation

GS = "\x1d"
RECORD = {
    "timezone": "America/New_York", "now": "2026-12-15T08:45:00-05:00",
    "patient": {"name": "DOE, Jane", "mrn": "MRN-0042", "birth_date": "1958-04-02"},
    "order": {"dose_mg": 10, "order_id": "RX-7781", "slot": "C1D8", "prescriber": "Dr A. Smith"},
    "events": [{"event": "reconstituted", "at": "2026-12-15T08:00:00-05:00"},
               {"event": "bag_prepared", "at": "2026-12-15T08:30:00-05:00"}],
    "scans": [{"component": "drug",
               "raw": f"]d20100355513077019172712311012345A{GS}21SERIAL01"},
              {"component": "ivss", "gtin": "00355513077019", "lot": "IV778",
               "expiry": "2027-06-30"}],
    "prepared_by": "P. Pharmacist", "checked_by": "T. Technician", "bag_material": "polyolefin",
}


def tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is required (apt-get install poppler-utils); this test must not skip"
    return path


def render(kind: str, record: dict, out: Path, tmp_path: Path) -> Path:
    source = tmp_path / f"{kind}.json"
    source.write_text(json.dumps(record))
    code = main(["label", kind, str(source), "--out", str(out)])
    assert code == 0
    assert out.read_bytes().startswith(b"%PDF")
    return out


def text_of(pdf: Path) -> str:
    result = subprocess.run([tool("pdftotext"), "-layout", str(pdf), "-"], capture_output=True,
                            text=True, check=True)
    return " ".join(result.stdout.split())


def pngs(pdf: Path, artifacts: Path, stem: str) -> list[Path]:
    for old in artifacts.glob(f"{stem}-*.png"):
        old.unlink()
    subprocess.run([tool("pdftoppm"), "-png", "-r", "110", str(pdf), str(artifacts / stem)],
                   check=True, capture_output=True)
    images = sorted(artifacts.glob(f"{stem}-*.png"))
    assert images and all(p.stat().st_size > 5000 for p in images)
    return images


def test_bag_label_shows_patient_dose_discard_time_and_lot(tmp_path, artifacts, capsys):
    pdf = render("bag", RECORD, artifacts / "bag-label-10mg.pdf", tmp_path)
    text = text_of(pdf)
    for expected in ("DOE, Jane", "MRN-0042", "10 mg", "250.2 mL", "250 mL/h", "60 min",
                     "DISCARD AFTER", "Tue 15 Dec 2026 16:00", "EST (UTC-05:00)",
                     "Latest infusion start: Tue 15 Dec 2026 15:00 EST",
                     "DO NOT RE-REFRIGERATE", "12345A", "IV778", "20–25 °C", "µg/mL",
                     "P. Pharmacist", "T. Technician"):
        assert expected in text, expected
    images = pngs(pdf, artifacts, "bag-label-10mg")
    assert len(images) == 1  # one label, one page


def test_bag_label_discard_time_after_spring_forward_shows_edt(tmp_path, artifacts, capsys):
    record = {**RECORD, "now": "2026-03-08T01:00:00-05:00",
              "order": {"dose_mg": 1, "order_id": "RX-1", "slot": "C1D1"},
              "events": [{"event": "reconstituted", "at": "2026-03-07T21:30:00-05:00"},
                         {"event": "bag_prepared", "at": "2026-03-07T21:45:00-05:00"}],
              "scans": [{"component": "drug",
                         "raw": "(01)00355513059015(17)271231(10)LOT1MG(21)S1"}]}
    pdf = render("bag", record, artifacts / "bag-label-1mg-dst.pdf", tmp_path)
    text = text_of(pdf)
    assert "1 mg" in text and "250.1 mL" in text and "LOT1MG" in text
    assert "Sun 08 Mar 2026 06:30" in text and "EDT (UTC-04:00)" in text
    assert "Sat 07 Mar 2026 21:30 EST" in text  # reconstituted before the change
    pngs(pdf, artifacts, "bag-label-1mg-dst")


def test_worksheet_shows_recipe_volumes_scans_times_and_sign_off(tmp_path, artifacts, capsys):
    pdf = render("worksheet", RECORD, artifacts / "worksheet-10mg.pdf", tmp_path)
    text = text_of(pdf)
    for expected in ("compounding worksheet", "DOE, Jane", "MRN-0042", "RX-7781", "C1D8",
                     "NDC 55513-077-01", "00355513077019", "12345A", "2027-12-31", "SERIAL01",
                     "IV778", "accepted (scanned)", "accepted (typed)",
                     "4.4 mL", "17 mL", "13 mL", "4.2 mL", "against the glass wall",
                     "Remove air", "Prime the IV line", "2.4 mg/mL", "polyolefin",
                     "Closed system transfer devices", "Never reconstitute",
                     "Reconstituted", "Tue 15 Dec 2026 08:00 EST", "Dilute by",
                     "Tue 15 Dec 2026 12:00 EST", "DISCARD AFTER", "Tue 15 Dec 2026 16:00 EST",
                     "Latest infusion start", "Prepared by", "P. Pharmacist", "Checked by",
                     "T. Technician"):
        assert expected in text, expected
    pngs(pdf, artifacts, "worksheet-10mg")


def test_worksheet_lists_clock_violations(tmp_path, artifacts, capsys):
    record = {**RECORD, "now": "2026-12-15T13:00:00-05:00",
              "events": [{"event": "reconstituted", "at": "2026-12-15T08:00:00-05:00"},
                         {"event": "bag_prepared", "at": "2026-12-15T12:30:00-05:00"}]}
    text = text_of(render("worksheet", record, tmp_path / "late.pdf", tmp_path))
    assert "DILUTED_AFTER_4H" in text
    assert "diluted 4 h 30 min after reconstitution" in text


@pytest.mark.parametrize("kind", ["bag", "worksheet"])
def test_unwritable_output_path_is_exit_2(tmp_path, kind, capsys):
    source = tmp_path / "record.json"
    source.write_text(json.dumps(RECORD))
    with pytest.raises(SystemExit) as exit_:
        main(["label", kind, str(source), "--out", str(tmp_path / "missing" / "x.pdf")])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.startswith("error: out: ")


# --------------------------------------------------------------------------- barcodes

NY = ZoneInfo("America/New_York")
WRISTBAND_PX = (2953, 295)  # 250 x 25 mm at 300 dpi


def label_data(preparation_id: int | None, label_version: str = "US-PI-2025-11") -> LabelData:
    now = datetime(2026, 12, 15, 8, 45, tzinfo=NY)
    events = [ClockEvent(EventKind.RECONSTITUTED, datetime(2026, 12, 15, 8, 0, tzinfo=NY)),
              ClockEvent(EventKind.BAG_PREPARED, datetime(2026, 12, 15, 8, 30, tzinfo=NY))]
    return LabelData(
        patient_name="Nguyen, Linh", mrn="MRN100002", birth_date=date(1958, 4, 2),
        order_id="PREP-42", slot="C1D8", prescriber=None, plan=plan_preparation(10),
        clock=evaluate_clock(events, now, NY), bag_prepared_at=events[1].at, scans=(),
        prepared_by="Ngozi Okoro, PharmD", checked_by="Lars Berg, PharmD",
        bag_material="polyolefin", printed_at=now, zone=NY, label_version=label_version,
        preparation_id=preparation_id)


def test_bag_label_barcode_reads_back_as_prep_and_the_preparation_id(tmp_path, artifacts):
    pdf = render_bag_label(label_data(42), artifacts / "bag-label-prep-42.pdf")
    assert read_barcodes(pdf, tmp_path) == ["PREP-42"]
    text = text_of(pdf)
    assert "Nguyen, Linh MRN MRN100002 DOB 1958-04-02 PREP-42" in text  # PREP-42: under the bars
    assert "Order PREP-42 · C1D8" in text and "DISCARD AFTER" in text
    assert len(pngs(pdf, artifacts, "bag-label-prep-42")) == 1  # still one label, one page


def test_bag_label_barcode_of_a_long_preparation_id_reads_back(tmp_path):
    pdf = render_bag_label(label_data(123456789), tmp_path / "long.pdf")
    assert read_barcodes(pdf, tmp_path) == ["PREP-123456789"]


def test_bag_label_printed_outside_the_records_has_no_barcode_and_says_so(tmp_path):
    pdf = render("bag", RECORD, tmp_path / "cli-bag.pdf", tmp_path)
    assert read_barcodes(pdf, tmp_path) == []
    text = text_of(pdf)
    assert "No bag barcode: printed outside the records" in text
    assert "Label US-PI-2025-11 · " in text  # no course: the built-in label


@pytest.mark.parametrize(("render_pdf", "line"), [
    (render_bag_label, "Label US-PI-2026-UNCONFIRMED · "),
    (render_worksheet, "Label version US-PI-2026-UNCONFIRMED. Printed "),
])
def test_a_course_on_another_label_version_prints_that_version_not_the_built_in_one(
        tmp_path, render_pdf, line):
    pdf = render_pdf(label_data(42, label_version="US-PI-2026-UNCONFIRMED"), tmp_path / "x.pdf")
    text = text_of(pdf)
    assert line in text
    assert "US-PI-2025-11" not in text


def test_wristband_barcodes_read_back_as_the_mrn_on_both_halves_of_the_band(tmp_path, artifacts):
    pdf = render_wristband(patient_name="Nguyen, Linh", mrn=" MRN100002 ",
                           birth_date=date(1958, 4, 2), out=artifacts / "wristband-MRN100002.pdf")
    half = WRISTBAND_PX[0] // 2
    assert read_barcodes(pdf, tmp_path, (0, half)) == ["MRN100002"]
    assert read_barcodes(pdf, tmp_path, (half, WRISTBAND_PX[0] - half)) == ["MRN100002"]
    text = text_of(pdf)
    assert text.count("Nguyen, Linh") == 2 and text.count("DOB 1958-04-02") == 2
    assert text.count("MRN MRN100002") == 2
    images = pngs(pdf, artifacts, "wristband-MRN100002")
    assert len(images) == 1


def test_wristband_page_is_a_25_by_250_mm_band(tmp_path):
    pdf = render_wristband(patient_name="Nguyen, Linh", mrn="MRN100002",
                           birth_date=date(1958, 4, 2), out=tmp_path / "band.pdf")
    info = " ".join(subprocess.run([tool("pdfinfo"), str(pdf)], capture_output=True, text=True,
                                   check=True).stdout.split())
    assert "Pages: 1" in info and "Page size: 708.661 x 70.8661 pts" in info


def test_wristband_of_a_long_name_still_prints_the_whole_name(tmp_path):
    name = "Garcia-Fernandez de la Vega, Maria Josefina Alejandra"
    pdf = render_wristband(patient_name=name, mrn="MRN100009", birth_date=date(1970, 1, 31),
                           out=tmp_path / "long-name.pdf")
    assert text_of(pdf).count("Maria Josefina Alejandra") == 2
    assert read_barcodes(pdf, tmp_path, (0, WRISTBAND_PX[0] // 2)) == ["MRN100009"]


@pytest.mark.parametrize(("mrn", "message"), [
    ("MRN-Ø42", "'MRN-Ø42' cannot be printed as a Code 128 barcode (printable ASCII only)"),
    ("MRN\t42", "'MRN\\t42' cannot be printed as a Code 128 barcode (printable ASCII only)"),
    ("M" * 30, "MRN 'MMMMMMMMMMMMMMMMMMMMMMMMMMMMMM' is too long for a wristband barcode "
               "(98 mm at 0.254 mm a module; at most 64 mm fit)"),
    ("   ", "is empty: a wristband needs the patient's MRN"),
])
def test_a_wristband_refuses_an_mrn_it_cannot_print_as_scanned(tmp_path, mrn, message):
    out = tmp_path / "refused.pdf"
    with pytest.raises(InvalidInput) as error:
        render_wristband(patient_name="Nguyen, Linh", mrn=mrn, birth_date=date(1958, 4, 2),
                         out=out)
    assert (error.value.field, error.value.message) == ("mrn", message)
    assert not out.exists()


def test_a_wristband_refuses_a_name_too_long_for_the_band(tmp_path):
    with pytest.raises(InvalidInput) as error:
        render_wristband(patient_name="Abcdefghij " * 30, mrn="MRN1",
                         birth_date=date(1958, 4, 2), out=tmp_path / "x.pdf")
    assert error.value.field == "patient_name"
