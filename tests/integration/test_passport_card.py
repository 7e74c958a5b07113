"""The wallet card (the patient's passport) as a real PDF, read back with poppler, its QR code
decoded with zbar from a 300 dpi rendering as a phone camera would. The card is built by hand
here (the service's facts are tested in ``tests/web/test_web_passport.py``); PNG renderings
are kept in ``test-artifacts/`` (``passport-card-1.png`` the front, ``-2`` the back, and
``passport-card.png`` both on one image) for a human to look at.
"""

from __future__ import annotations

import subprocess
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from helpers import read_barcodes, required_tool
from tarla.adapters.passport_pdf import CARD_SIZE, render_passport
from tarla.domain.errors import InvalidInput
from tarla.label.rows import Provenance
from tarla.services.passport import ADVICE, EventLine, LastDose, PassportCard, ProximityWindow

ZONE = ZoneInfo("America/New_York")
START = datetime(2026, 12, 8, 9, 0, tzinfo=ZONE)
URL = "https://tarla.example.org/passport/WzEyLDE3NjU4MDAwMDAsImFiMTJjZDM0Il0.sig-of-the-link"


def card(**changes: object) -> PassportCard:
    base = PassportCard(
        patient_id=12, family_name="Haddad", given_name="Omar", birth_date=date(1958, 4, 2),
        mrn="MRN100005", site_name="Riverside infusion centre",
        site_phone="+1 (201) 555-0100 (demo number)", timezone="America/New_York",
        label_version="US-PI-2025-11", course_status="held",
        last_dose=LastDose("C1D8", 10, False, False, START),
        window=ProximityWindow(1, START + timedelta(hours=48), True, "T1-MON-C1D1-D8", Provenance.SEED),
        events=(EventLine("CRS", 2, START + timedelta(hours=16), None),),
        advice=ADVICE, as_of=START + timedelta(hours=30),
        issued_at=START + timedelta(hours=30), valid_until=START + timedelta(days=15, hours=6),
        valid_days=14, nonce="ab12cd34")
    return replace(base, **changes)  # type: ignore[arg-type]


def text_of(pdf: Path, page: int) -> str:
    result = subprocess.run([required_tool("pdftotext", "poppler-utils"), "-f", str(page),
                             "-l", str(page), "-layout", str(pdf), "-"],
                            capture_output=True, text=True, check=True)
    return " ".join(result.stdout.split())


def test_the_card_says_who_what_until_when_what_to_do_and_whom_to_call(tmp_path, artifacts):
    pdf = render_passport(card(), url=URL, out=artifacts / "passport-card.pdf")
    front, back = text_of(pdf, 1), text_of(pdf, 2)
    assert "On tarlatamab (IMDELLTRA)" in front and "bispecific T-cell engager" in front
    assert "Haddad, Omar" in front and "Born 1958-04-02 · MRN MRN100005" in front
    assert "Last dose: C1D8 10 mg" in front and "Started Tue 08 Dec 2026 09:00 EST" in front
    assert ("Until Thu 10 Dec 2026 09:00 EST: stay within 1 hour of an appropriate "
            "healthcare facility, with a caregiver.") in front
    assert "call the treatment centre now, or go to the nearest emergency department" in back
    assert "Do not drive" in back and "neurologic symptoms" in back
    assert "CRS grade 2, 09 Dec 2026 (ongoing)" in back
    assert "CALL Riverside infusion centre" in back
    assert "+1 (201) 555-0100 (demo number)" in back
    assert "valid until 23 Dec 2026 15:00" in back and "US-PI-2025-11" in back
    images = _pngs(pdf, artifacts)
    assert len(images) == 2


def test_the_qr_code_reads_back_as_the_link_to_the_phone_page(tmp_path):
    pdf = render_passport(card(), url=URL, out=tmp_path / "card.pdf")
    assert read_barcodes(pdf, tmp_path) == [URL]


def test_the_card_is_id1_size_front_and_back(tmp_path):
    pdf = render_passport(card(), url=URL, out=tmp_path / "card.pdf")
    info = subprocess.run([required_tool("pdfinfo", "poppler-utils"), "-f", "1", "-l", "2",
                           str(pdf)], capture_output=True, text=True, check=True).stdout
    assert "Pages:           2" in info
    sizes = [line.split(":", 1)[1].split("pts")[0].split(" x ") for line in info.splitlines()
             if line.startswith("Page") and "size:" in line]
    assert len(sizes) == 2
    for w, h in sizes:  # 85.6 x 54 mm in points
        assert (round(float(w), 1), round(float(h), 1)) == (round(CARD_SIZE[0], 1),
                                                            round(CARD_SIZE[1], 1))


def test_a_dose_without_the_stay_nearby_rule_says_so_and_a_long_history_is_cut(tmp_path):
    many = tuple(EventLine("CRS" if i % 2 else "ICANS", 1 + i % 3, START - timedelta(days=9 * i),
                           START - timedelta(days=9 * i - 2)) for i in range(12))
    pdf = render_passport(card(window=None, events=many,
                               last_dose=LastDose("C3D15", 10, False, False, START)),
                          url=URL, out=tmp_path / "card.pdf")
    front, back = text_of(pdf, 1), text_of(pdf, 2)
    assert "No stay-nearby rule after the last dose" in front and "Until" not in front
    assert "more (scan the QR code)" in back
    assert read_barcodes(pdf, tmp_path) == [URL]


def test_a_site_without_a_phone_number_on_record_says_so(tmp_path):
    pdf = render_passport(card(site_phone=None), url=URL, out=tmp_path / "card.pdf")
    assert "phone not on record" in text_of(pdf, 2)


def test_a_name_too_long_for_the_card_is_refused_not_cut(tmp_path):
    with pytest.raises(InvalidInput) as err:
        render_passport(card(family_name="X" * 400), url=URL, out=tmp_path / "card.pdf")
    assert err.value.field == "patient_name"


def _pngs(pdf: Path, artifacts: Path) -> list[Path]:
    """``passport-card-1.png`` (front), ``-2.png`` (back), and ``passport-card.png``: both
    sides one above the other, as the card is looked at."""
    from PIL import Image

    for old in artifacts.glob("passport-card-*.png"):
        old.unlink()
    subprocess.run([required_tool("pdftoppm", "poppler-utils"), "-png", "-r", "300", str(pdf),
                    str(artifacts / "passport-card")], check=True, capture_output=True)
    images = sorted(artifacts.glob("passport-card-*.png"))
    sides = [Image.open(p) for p in images]
    gap = 40
    both = Image.new("RGB", (max(i.width for i in sides) + 2 * gap,
                             sum(i.height for i in sides) + gap * (len(sides) + 1)), "#9aa0a6")
    y = gap
    for side in sides:
        both.paste(side, (gap, y))
        y += side.height + gap
    both.save(artifacts / "passport-card.png")
    return images
