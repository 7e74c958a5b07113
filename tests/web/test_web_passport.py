"""The patient's passport through the app: the wallet card PDF (roles, sites are walls, the
audit entry, the QR link it carries) and the phone page behind the link (no sign-in; valid,
tampered, foreign-key and expired links).

The suite's world at 09:00 on 15 Dec 2026: "held" had C1D1 (1 mg) on 1 Dec and C1D8 (10 mg)
on 8 Dec at 09:00, then a grade 2 CRS at 01:00 on 9 Dec, still ongoing. Moving the app's
clock to 9 Dec 15:00 puts the card inside that dose's 48 h window.
"""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi.testclient import TestClient
from sqlalchemy import text
from web_support import NOW, ZONE, Clock
from world import World

from helpers import read_barcodes, required_tool
from tarla.web.passport_links import read_link, sign_link

PHONE = "+1 (201) 555-0100 (demo number)"
IN_WINDOW = datetime(2026, 12, 9, 15, 0, tzinfo=ZONE)


def _set_phone(app: Any, policy: dict[str, Any]) -> None:
    with app.state.bootstrapped.engine.begin() as conn:
        conn.execute(text("UPDATE sites SET policy = :p WHERE code = 'DEMO'"),
                     {"p": json.dumps(policy)})


def _card(c: TestClient, patient_id: int) -> Any:
    r = c.get(f"/patients/{patient_id}/passport.pdf")
    assert r.status_code == 200, r.text[-600:]
    assert r.headers["content-type"] == "application/pdf" and r.content.startswith(b"%PDF")
    return r


def _text(pdf: Path) -> str:
    out = subprocess.run([required_tool("pdftotext", "poppler-utils"), "-layout", str(pdf), "-"],
                         capture_output=True, text=True, check=True).stdout
    return " ".join(out.split())


def _link_of(pdf_bytes: bytes, tmp_path: Path) -> str:
    pdf = tmp_path / "card.pdf"
    pdf.write_bytes(pdf_bytes)
    (url,) = read_barcodes(pdf, tmp_path)
    return url


def _audit(app: Any) -> list[Any]:
    with app.state.bootstrapped.engine.connect() as conn:
        return list(conn.execute(text(
            "SELECT actor, action, entity_type, entity_id, at, after FROM audit_log "
            "WHERE action = 'passport.issued' ORDER BY id")))


def test_a_nurse_prints_the_card_its_qr_opens_the_phone_page_and_the_issue_is_audited(
        app: Any, clock: Clock, world: World, as_role: Any, client: TestClient,
        tmp_path: Path) -> None:
    _set_phone(app, {"phone": PHONE})
    clock.value = IN_WINDOW
    pid = world.patients["held"]
    r = _card(as_role("nurse"), pid)
    pdf = tmp_path / "served.pdf"
    pdf.write_bytes(r.content)
    words = _text(pdf)
    assert "Haddad, Omar" in words and "MRN MRN100005" in words
    assert "Last dose: C1D8 10 mg" in words and "Started Tue 08 Dec 2026 09:00 EST" in words
    assert ("Until Thu 10 Dec 2026 09:00 EST: stay within 1 hour of an appropriate healthcare "
            "facility, with a caregiver.") in words
    assert "CRS grade 2, 09 Dec 2026 (ongoing)" in words
    assert PHONE in words and "window rule T1-MON-C1D1-D8 (SEED)" in words

    url = _link_of(r.content, tmp_path)
    parts = urlsplit(url)
    assert parts.path.startswith("/passport/") and parts.netloc == "testserver"
    page = client.get(parts.path)  # not signed in: the emergency department's phone
    assert page.status_code == 200, page.text[-500:]
    body = page.text
    assert "On tarlatamab (IMDELLTRA)" in body and "Haddad, Omar" in body
    assert "Last dose: C1D8 10 mg" in body and "with a caregiver" in body
    assert "CRS grade 2, 09 Dec 2026 (ongoing)" in body and PHONE in body
    assert 'href="tel:+12015550100"' in body
    assert "until Wed 23 Dec 2026 15:00 EST" in body and "UNVERIFIED" in body
    assert page.headers["x-robots-tag"] == "noindex, nofollow"
    assert "no-store" in page.headers["cache-control"]
    # no more than the card: nothing of the record beyond its facts
    for beyond in ("dr.khan", "rn.alvarez", "ANC", "bilirubin", "Bedside", "sign-out"):
        assert beyond not in body

    (entry,) = _audit(app)
    actor, action, etype, eid, at, after = entry
    after = json.loads(after) if isinstance(after, str) else after
    assert (actor, action, etype, eid) == ("rn.alvarez", "passport.issued", "patient", str(pid))
    assert after["valid_days"] == 14 and after["last_dose"]["slot"] == "C1D8"
    assert after["issued_at"].startswith("2026-12-09T20:00:00")
    link = read_link(app.state.web.secret_key, parts.path.rsplit("/", 1)[1])
    assert link is not None and link.nonce == after["nonce"] and link.patient_id == pid


def test_the_link_carries_only_the_patient_id_the_issue_time_and_a_nonce(
        app: Any, world: World, as_role: Any, tmp_path: Path) -> None:
    import base64

    url = _link_of(_card(as_role("physician"), world.patients["held"]).content, tmp_path)
    token = url.rsplit("/", 1)[1]
    payload = token.split(".")[0]
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert data[0] == world.patients["held"] and data[1] == int(NOW.timestamp())
    assert len(data) == 3 and isinstance(data[2], str)
    assert "Haddad" not in token and "MRN" not in token


def test_a_tampered_foreign_or_garbled_link_is_a_bare_404(
        app: Any, world: World, as_role: Any, client: TestClient, tmp_path: Path) -> None:
    url = _link_of(_card(as_role("nurse"), world.patients["held"]).content, tmp_path)
    token = url.rsplit("/", 1)[1]
    ok = client.get(f"/passport/{token}")
    assert ok.status_code == 200
    secret = app.state.web.secret_key
    other_patient = sign_link("another key of at least thirty-two characters",
                              patient_id=world.patients["held"], issued_at=NOW, nonce="x")
    payload, sig = token.split(".")
    swapped = sign_link(secret, patient_id=world.patients["new"], issued_at=NOW,
                        nonce="x").split(".")[0] + "." + sig
    bodies = set()
    for bad in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), other_patient,
                swapped, "garbage", payload, "x" * 500):
        r = client.get(f"/passport/{bad}")
        assert r.status_code == 404, bad
        assert "Haddad" not in r.text and "expired" not in r.text.lower()
        bodies.add(r.text)
    assert len(bodies) == 1  # all alike: nothing says why


def test_a_link_works_until_its_validity_ends_then_is_the_same_404(
        app: Any, clock: Clock, world: World, as_role: Any, client: TestClient,
        tmp_path: Path) -> None:
    url = _link_of(_card(as_role("nurse"), world.patients["held"]).content, tmp_path)
    path = urlsplit(url).path
    clock.value = NOW + timedelta(days=14) - timedelta(seconds=1)
    assert client.get(path).status_code == 200
    clock.value = NOW + timedelta(days=14)
    expired = client.get(path)
    assert expired.status_code == 404
    assert expired.text == client.get("/passport/garbage").text
    # a link issued "in the future" (a clock put back) is refused too
    clock.value = NOW - timedelta(minutes=5)
    assert client.get(path).status_code == 404


def test_the_validity_is_the_sites_policy_but_never_shorter_than_the_48_h_window(
        app: Any, clock: Clock, world: World, as_role: Any, client: TestClient,
        tmp_path: Path) -> None:
    _set_phone(app, {"phone": PHONE, "passport_valid_days": 1})
    clock.value = IN_WINDOW  # 30 h into the C1D8 dose's 48 h window
    url = _link_of(_card(as_role("nurse"), world.patients["held"]).content, tmp_path)
    path = urlsplit(url).path
    clock.value = IN_WINDOW + timedelta(days=1, hours=1)  # past 1 day, not yet the window's end
    assert client.get(path).status_code == 404  # 1 day from 9 Dec 15:00 ends 10 Dec 15:00
    clock.value = IN_WINDOW + timedelta(hours=17)  # 10 Dec 08:00: both still valid
    assert client.get(path).status_code == 200


def test_a_card_without_a_dose_or_a_phone_says_so(
        app: Any, world: World, as_role: Any, client: TestClient, tmp_path: Path) -> None:
    r = _card(as_role("nurse"), world.patients["new"])
    pdf = tmp_path / "new.pdf"
    pdf.write_bytes(r.content)
    words = _text(pdf)
    assert "No dose given yet." in words and "phone not on record" in words
    assert "No stay-nearby rule" in words


def test_only_nurses_and_physicians_print_the_card_and_signing_in_is_required(
        app: Any, world: World, as_role: Any, client: TestClient) -> None:
    pid = world.patients["held"]
    assert client.get(f"/patients/{pid}/passport.pdf").status_code in (303, 401)
    for role in ("pharmacist", "scheduler", "admin"):
        assert as_role(role).get(f"/patients/{pid}/passport.pdf").status_code == 403
    assert as_role("physician").get(f"/patients/{pid}/passport.pdf").status_code == 200
    assert as_role("nurse").get("/patients/999999/passport.pdf").status_code == 404
    assert _audit(app)[-1][0] == "dr.khan" and len(_audit(app)) == 1


def test_the_patient_page_offers_the_wallet_card_to_nurses_and_physicians(
        world: World, as_role: Any) -> None:
    pid = world.patients["held"]
    link = f'href="/patients/{pid}/passport.pdf"'
    page = as_role("nurse").get(f"/patients/{pid}").text
    assert link in page and "Wallet card (PDF)" in page
    assert link not in as_role("pharmacist").get(f"/patients/{pid}").text
