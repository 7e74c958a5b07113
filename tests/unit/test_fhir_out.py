"""Tarla's records as FHIR R4 resources (tarla.adapters.fhir_out): each mapping checked field
by field on a small hand-built chart, every resource valid against the official R4 JSON schema
and unchanged by a round trip through the fhir.resources models."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from course_builders import NY, decide, doses

from fhir_schema import assert_valid_r4, round_trip
from tarla.adapters import fhir_out
from tarla.schemas.course import decision_to_json
from tarla.services.fhir_read import PatientChart
from tarla.services.records import (
    AdministrationRecord,
    AdverseEventRecord,
    AssessmentRecord,
    CourseRecord,
    LabRecord,
    PatientRecord,
    PreparationRecord,
    ScanRecord,
    SiteRecord,
)

T0 = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
C1D1 = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)  # 09:00 New York


def _chart(*, decision: dict | None = None, ended: bool = True) -> PatientChart:
    site = SiteRecord("DEMO", "Riverside infusion centre", "America/New_York", T0, id=1)
    patient = PatientRecord(1, "MRN100001", "Garcia", "Ana", date(1958, 4, 2), "ES-SCLC", True,
                            T0, T0, id=7)
    course = CourseRecord(7, 1, "US-PI-2025-11", "active", date(2026, 12, 1), T0, T0,
                          doses_given=1, id=3)
    adm = AdministrationRecord(3, 0, "C1D1", 1, 1, 1, "planned", C1D1, nurse_id=5,
                               recorded_at=C1D1, ended_at=C1D1.replace(hour=15) if ended
                               else None, preparation_id=11, id=21)
    prep = PreparationRecord(3, 1, 1, "administered", 6, T0, T0, slot="C1D1", id=11)
    scan = ScanRecord(11, "00355513059015", "drug", "accept", [], 6, T0, lot="LOT1",
                      expiry=date(2027, 12, 31), serial="S1", id=2)
    lab_ = LabRecord(7, "ALT", 25.0, "U/L", C1D1.replace(hour=12), 5, C1D1.replace(hour=12),
                     uln=40.0, ctcae_grade=0, id=31)
    crs = AssessmentRecord(3, "CRS", {}, 2, "ASTCT-2019", [], C1D1.replace(day=2), 5,
                           C1D1.replace(day=2), id=41)
    ae = AdverseEventRecord(3, "CRS", 2, C1D1.replace(day=2), 5, C1D1.replace(day=2),
                            assessment_id=41, id=51)
    return PatientChart(site, patient, [course], {3: [adm]}, {11: prep}, {11: [scan]}, [lab_],
                        {3: [crs]}, {3: [ae]}, {5: "Rosa Alvarez, RN"}, decision, None,
                        datetime(2026, 12, 8, 14, 0, tzinfo=UTC))


def _next(action_as_of: str = "2026-12-08 09:00") -> dict:
    d = decision_to_json(decide(action_as_of, doses(("2026-12-01 09:00", 1))), NY)
    d.update({"course_id": 3, "patient_id": 7})
    return d


def test_the_patient_carries_the_mrn_as_an_mr_identifier_of_the_sites_system() -> None:
    p = fhir_out.patient(_chart())
    assert p["id"] == "7" and p["birthDate"] == "1958-04-02"
    ident = p["identifier"][0]
    assert ident["value"] == "MRN100001" and ident["system"] == "urn:tarla:site:DEMO:mrn"
    assert ident["type"]["coding"][0]["code"] == "MR"
    assert p["name"] == [{"use": "official", "family": "Garcia", "given": ["Ana"]}]


def test_a_site_names_its_own_mrn_system_in_its_policy() -> None:
    assert fhir_out.mrn_system("DEMO", {"mrn_system": "urn:oid:1.2.3"}) == "urn:oid:1.2.3"


def test_the_dose_given_is_a_completed_request_and_an_administration_with_lot_bag_and_nurse(
        ) -> None:
    chart = _chart()
    given = fhir_out.medication_requests(chart)[0]
    assert given["id"] == "7-c3-s0" and given["status"] == "completed"
    assert given["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"] == 1
    assert given["medicationCodeableConcept"]["coding"][0]["code"] == "55513-059-01"
    adm = fhir_out.medication_administrations(chart)[0]
    assert adm["id"] == "7-adm-21" and adm["status"] == "completed"
    assert adm["effectivePeriod"] == {"start": "2026-12-01T14:00:00Z",
                                      "end": "2026-12-01T15:00:00Z"}
    assert adm["contained"][0]["batch"] == {"lotNumber": "LOT1", "expirationDate": "2027-12-31"}
    assert adm["device"][0]["identifier"]["value"] == "PREP-11"
    assert adm["performer"][0]["actor"]["display"] == "Rosa Alvarez, RN"
    assert adm["dosage"]["dose"]["value"] == 1 and adm["dosage"]["dose"]["code"] == "mg"
    assert adm["request"]["reference"] == "MedicationRequest/7-c3-s0"


def test_an_infusion_still_running_is_in_progress_without_an_end() -> None:
    adm = fhir_out.medication_administrations(_chart(ended=False))[0]
    assert adm["status"] == "in-progress" and "end" not in adm["effectivePeriod"]


def test_the_engines_next_dose_is_an_active_planned_request_with_its_rules() -> None:
    # C1D1 on 2026-12-01: the next dose is C1D8, 10 mg, due 2026-12-08 (Table 1)
    reqs = fhir_out.medication_requests(_chart(decision=_next()))
    nxt = next(r for r in reqs if r["id"] == "7-c3-next")
    assert nxt["status"] == "active" and nxt["intent"] == "plan"
    dosage = nxt["dosageInstruction"][0]
    assert dosage["doseAndRate"][0]["doseQuantity"]["value"] == 10
    assert dosage["timing"]["event"] == ["2026-12-08"]
    assert "T1-C1D8" in nxt["note"][0]["text"]


def test_a_lab_is_a_loinc_observation_with_its_reference_range() -> None:
    obs = fhir_out.lab_observations(_chart())[0]
    assert obs["id"] == "7-lab-31"
    assert obs["code"]["coding"][0] == {"system": "http://loinc.org", "code": "1742-6",
                                        "display": obs["code"]["coding"][0]["display"]}
    assert obs["valueQuantity"] == {"value": 25.0, "unit": "U/L",
                                    "system": "http://unitsofmeasure.org", "code": "U/L"}
    assert obs["referenceRange"][0]["high"]["value"] == 40.0


def test_crs_is_a_grade_observation_and_an_adverse_event_with_the_grade() -> None:
    chart = _chart()
    obs = fhir_out.grade_observations(chart)[0]
    assert obs["id"] == "7-crs-41" and obs["valueInteger"] == 2
    assert obs["code"]["coding"][0]["code"] == "CRS-grade"
    ae = fhir_out.adverse_events(chart)[0]
    assert ae["id"] == "7-ae-51" and ae["actuality"] == "actual"
    assert ae["extension"][0]["valueCodeableConcept"]["text"] == "Grade 2"
    assert ae["outcome"]["coding"][0]["code"] == "ongoing"
    assert ae["suspectEntity"][0]["instance"]["reference"] == "MedicationAdministration/7-adm-21"


def test_the_course_is_a_care_plan_listing_its_requests() -> None:
    plan = fhir_out.care_plans(_chart(decision=_next()))[0]
    assert plan["id"] == "7-course-3" and plan["status"] == "active"
    assert plan["period"] == {"start": "2026-12-01"}
    assert [a["reference"]["reference"] for a in plan["activity"]] == [
        "MedicationRequest/7-c3-s0", "MedicationRequest/7-c3-next"]


def _every_resource() -> list[dict]:
    chart = _chart(decision=_next())
    everything = fhir_out.bundle(fhir_out.chart_resources(chart), "http://testserver/fhir/r4")
    return [*fhir_out.chart_resources(chart), everything,
            fhir_out.capability_statement("http://testserver/fhir/r4",
                                          datetime(2026, 12, 8, tzinfo=UTC), "0.1.0"),
            fhir_out.operation_outcome(404, "Patient/9 is not known here", "Patient.id")]


@pytest.mark.parametrize("resource", _every_resource(),
                         ids=lambda r: f"{r['resourceType']}-{r.get('id', '')}")
def test_every_resource_is_valid_r4_and_survives_a_round_trip(resource: dict) -> None:
    assert_valid_r4(resource)
    assert round_trip(resource) == resource


def test_the_schema_check_is_real_an_r5_only_element_fails_it() -> None:
    from fhir_schema import schema_errors

    ae = fhir_out.adverse_events(_chart())[0]
    assert schema_errors({**ae, "supportingInfo": [{"reference": "Observation/x"}]})
