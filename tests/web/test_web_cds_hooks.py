"""CDS Hooks 2.0 (issue 16) through the real app, with the published request shapes
(tests/data/cds-hooks): discovery without credentials, cards from the course engine's
decision with their rule ids, a link to the patient and a dose suggestion.

Worked by hand (label-facts Table 4): the restart patient had C1D1 (1 mg) on 2026-11-25 and
nothing since; on 2026-12-15 that is 20 days, more than 14 after a 1 mg dose, so the next dose
is the restart step-up's 1 mg (rule T4-1MG-GT14). A 10 mg order must get a card suggesting
1 mg."""

from __future__ import annotations

import pytest
from interop_support import RESTART_MRN, bearer, cds_request, restart_patient, token


@pytest.fixture
def ehr(app, client):  # type: ignore[no-untyped-def]
    client.headers.update(bearer(token(app, "read")))
    return client


def _cards(r) -> list[dict]:  # type: ignore[no-untyped-def]
    assert r.status_code == 200, r.text[-800:]
    return r.json()["cards"]


def _finding(cards: list[dict], code: str) -> dict:
    found = [c for c in cards if c["extension"]["tarla-finding"] == code]
    assert len(found) == 1, [c["extension"]["tarla-finding"] for c in cards]
    return found[0]


def test_discovery_lists_both_hooks_without_credentials(client) -> None:
    r = client.get("/cds-services")
    assert r.status_code == 200
    services = {s["id"]: s for s in r.json()["services"]}
    assert {s["hook"] for s in services.values()} == {"order-select", "order-sign"}
    for s in services.values():
        assert s["description"] and s["prefetch"] == {"patient": "Patient/{{context.patientId}}"}


def test_order_sign_of_10_mg_for_a_patient_due_a_restart_suggests_1_mg(app, ehr) -> None:
    pid = restart_patient(app)
    cards = _cards(ehr.post("/cds-services/tarla-order-sign",
                            json=cds_request("order-sign", mrn=RESTART_MRN, dose=10)))
    card = _finding(cards, "dose-differs")
    assert card["indicator"] == "critical"
    assert card["summary"].startswith("Ordered 10 mg; the next dose is 1 mg")
    assert "T4-1MG-GT14" in card["extension"]["tarla-rules"]
    assert "T4-1MG-GT14" in card["detail"]
    assert card["links"] == [{"label": "Open the patient in Tarla",
                              "url": f"http://testserver/patients/{pid}", "type": "absolute"}]
    (suggestion,) = card["suggestions"]
    (action,) = suggestion["actions"]
    assert action["type"] == "update"
    fixed = action["resource"]
    assert fixed["id"] == "smart-MedicationRequest-103"
    assert fixed["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"] == {
        "value": 1, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"}
    assert card["selectionBehavior"] == "at-most-one"
    restart = _finding(cards, "restart-step-up")
    assert "T4-1MG-GT14" in restart["extension"]["tarla-rules"]
    bed = _finding(cards, "monitoring-bed")  # restart step-up doses get C1D1 care (policy)
    assert bed["summary"].startswith("22-24 h monitoring")


def test_the_suggested_order_is_a_valid_r4_medication_request(app, ehr) -> None:
    from fhir_schema import assert_valid_r4

    restart_patient(app)
    body = cds_request("order-select", mrn=RESTART_MRN, dose=10)
    card = _finding(_cards(ehr.post("/cds-services/tarla-order-select", json=body)),
                    "dose-differs")
    assert_valid_r4(card["suggestions"][0]["actions"][0]["resource"])


def test_order_select_reads_only_the_selected_orders(app, ehr) -> None:
    restart_patient(app)
    body = cds_request("order-select", mrn=RESTART_MRN, dose=10)
    body["context"]["selections"] = ["NutritionOrder/pureeddiet-simple"]
    assert _cards(ehr.post("/cds-services/tarla-order-select", json=body)) == []


def test_the_right_dose_gets_no_correction(app, ehr) -> None:
    restart_patient(app)
    cards = _cards(ehr.post("/cds-services/tarla-order-sign",
                            json=cds_request("order-sign", mrn=RESTART_MRN, dose=1)))
    codes = {c["extension"]["tarla-finding"] for c in cards}
    assert "dose-differs" not in codes and "restart-step-up" in codes
    assert all("suggestions" not in c for c in cards)


def test_a_held_dose_says_why(ehr) -> None:
    cards = _cards(ehr.post("/cds-services/tarla-order-sign",
                            json=cds_request("order-sign", mrn="MRN100005")))
    hold = _finding(cards, "on-hold")
    assert hold["indicator"] == "critical" and hold["extension"]["tarla-rules"] == ["T5-CRS-G2"]
    assert "CRS grade 2" in hold["detail"]


def test_missing_labs_are_a_card(ehr) -> None:
    cards = _cards(ehr.post("/cds-services/tarla-order-sign",
                            json=cds_request("order-sign", mrn="MRN100003")))
    labs = _finding(cards, "labs-missing")
    assert "CBC" in labs["summary"] and labs["extension"]["tarla-rules"] == ["LAB-TO-C5D15"]


def test_an_order_in_micrograms_is_not_read_as_mg(ehr) -> None:
    cards = _cards(ehr.post("/cds-services/tarla-order-sign",
                            json=cds_request("order-sign", mrn="MRN100002", dose=10000,
                                             unit="ug")))
    card = _finding(cards, "dose-differs")
    assert card["summary"].startswith("The order gives no dose in mg")
    assert card["suggestions"][0]["actions"][0]["resource"]["dosageInstruction"][0][
        "doseAndRate"][0]["doseQuantity"]["value"] == 10


def test_a_patient_tarla_does_not_know_gets_a_not_checked_card(ehr) -> None:
    cards = _cards(ehr.post("/cds-services/tarla-order-sign",
                            json=cds_request("order-sign", mrn="MRN-UNKNOWN")))
    assert [c["extension"]["tarla-finding"] for c in cards] == ["not-checked"]


def test_the_cds_services_need_a_read_token(app, client) -> None:
    body = cds_request("order-sign", mrn="MRN100002")
    assert client.post("/cds-services/tarla-order-sign", json=body).status_code == 401
    lab = bearer(token(app, "lab-write", name="lab"))
    r = client.post("/cds-services/tarla-order-sign", json=body, headers=lab)
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(("mutate", "field"), [
    (lambda b: b.pop("hookInstance"), "hookInstance"),
    (lambda b: b.update(hook="patient-view"), "hook"),
    (lambda b: b.pop("context"), "context"),
    (lambda b: b["context"].pop("draftOrders"), "context.draftOrders"),
])
def test_a_malformed_request_is_a_400_naming_the_field(ehr, mutate, field: str) -> None:
    body = cds_request("order-sign", mrn="MRN100002")
    mutate(body)
    r = ehr.post("/cds-services/tarla-order-sign", json=body)
    assert r.status_code == 400
    assert r.json()["errors"] == [{"field": field, "message": r.json()["errors"][0]["message"]}]


def test_a_body_that_is_not_json_is_400_and_an_unknown_service_404(ehr) -> None:
    r = ehr.post("/cds-services/tarla-order-sign", content=b"{not json",
                 headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert ehr.post("/cds-services/nope", json={}).status_code == 404


def test_a_cds_hooks_call_is_in_the_access_log_under_the_interfaces_name(app, ehr) -> None:
    from sqlalchemy import text

    pid = restart_patient(app)
    _cards(ehr.post("/cds-services/tarla-order-sign",
                    json=cds_request("order-sign", mrn=RESTART_MRN, dose=10)))
    with app.state.bootstrapped.engine.connect() as conn:
        (actor, entity, after), = list(conn.execute(text(
            "SELECT actor, entity_id, after FROM audit_log WHERE action = 'access.read' "
            "ORDER BY id DESC LIMIT 1")))
    assert actor.startswith("interface:") and entity == str(pid)
    assert '"what": "CDS Hooks order-sign"' in after and '"channel": "cds-hooks"' in after
