"""Tarla's records as FHIR R4 resources (read-only), built with ``fhir.resources``.

Which models: ``fhir.resources`` 8.x puts FHIR R5 at the top level (``fhir.resources.patient``)
and keeps older releases in sub-packages: ``fhir.resources.STU3`` and ``fhir.resources.R4B``
(FHIR 4.3.0). It ships no R4 (4.0.1) package. R4B changed none of the resources produced here
in a way that matters on the wire (Patient, MedicationRequest, MedicationAdministration,
Observation, AdverseEvent, CarePlan, Bundle, CapabilityStatement, OperationOutcome keep their
R4 elements and cardinalities; R4B's changes are in the medication-definition, evidence and
subscription resources), so every resource is built and checked with the R4B model and then
validated, in the tests, against the official R4 JSON schema (``fhir.schema.json`` 4.0) to
catch anything R4B would allow and R4 would not. ``CapabilityStatement.fhirVersion`` says
4.0.1: the server speaks R4.

Each builder takes plain records (:class:`tarla.services.fhir_read.PatientChart`), returns a
JSON-ready ``dict`` that went through the model (``model_validate`` then ``model_dump``), and
judges nothing: the next dose and its status are the course engine's decision.

Resource ids (``[A-Za-z0-9-.]{1,64}``) start with the patient's id, so a read of any resource
is answered from its patient's chart, under the same site scope:

    Patient/{pid}
    CarePlan/{pid}-course-{course}
    MedicationRequest/{pid}-c{course}-s{slot_seq}   a dose given (status completed)
    MedicationRequest/{pid}-c{course}-next          the engine's next dose (active / on-hold)
    MedicationAdministration/{pid}-adm-{administration}
    Observation/{pid}-lab-{lab}                     a lab value (LOINC, UNVERIFIED codes)
    Observation/{pid}-crs-{assessment}, {pid}-icans-{assessment}   an ASTCT grade
    AdverseEvent/{pid}-ae-{event}

Only the engine's *next* dose is a planned MedicationRequest: the engine decides one dose at a
time (what follows depends on what happens to this one: toxicity, delays, Table 4), so Tarla
has no further dose it could honestly order.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from fhir.resources.R4B.adverseevent import AdverseEvent
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.careplan import CarePlan
from fhir.resources.R4B.medicationadministration import MedicationAdministration
from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.patient import Patient

from tarla.adapters.fhir_codes import (
    LOCAL_SYSTEM,
    LOINC_SYSTEM,
    NDC_SYSTEM,
    UCUM,
    UCUM_SYSTEM,
    loinc_for,
)
from tarla.label.products import product_for_strength
from tarla.services.fhir_read import PatientChart

__all__ = ["MODELS", "RESOURCE_TYPES", "model_dict", "patient", "care_plans",
           "medication_requests", "medication_administrations", "lab_observations",
           "grade_observations", "adverse_events", "chart_resources", "bundle",
           "capability_statement", "operation_outcome", "mrn_system", "medication_concept",
           "FHIR_VERSION"]

FHIR_VERSION = "4.0.1"

MODELS: dict[str, Any] = {
    "Patient": Patient, "CarePlan": CarePlan, "MedicationRequest": MedicationRequest,
    "MedicationAdministration": MedicationAdministration, "Observation": Observation,
    "AdverseEvent": AdverseEvent, "Bundle": Bundle, "CapabilityStatement": CapabilityStatement,
    "OperationOutcome": OperationOutcome,
}
#: the types a client may read and search (``?patient=``)
RESOURCE_TYPES = ("Patient", "CarePlan", "MedicationRequest", "MedicationAdministration",
                  "Observation", "AdverseEvent")

_EVENT_TEXT = {"CRS": "Cytokine release syndrome",
               "ICANS": "Immune effector cell-associated neurotoxicity syndrome"}
#: the grade extension of the HL7 AE Clinical Research R4 backport IG (standards.md §7)
AE_GRADE_URL = "http://hl7.org/fhir/uv/ae-research-backport-ig/StructureDefinition/ae-grade"


def model_dict(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` through its ``fhir.resources`` model and back: a shape the model refuses
    raises (pydantic ``ValidationError``), which is a bug of this module, never of input."""
    model = MODELS[data["resourceType"]].model_validate(data)
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)  # type: ignore[no-any-return]


def _instant(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _day(d: date) -> str:
    return d.isoformat()


def _ref(kind: str, rid: str, display: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"reference": f"{kind}/{rid}"}
    if display:
        out["display"] = display
    return out


def mrn_system(chart_site_code: str, policy: dict[str, Any] | None = None) -> str:
    """The identifier system of a site's MRNs: ``policy["mrn_system"]`` (the URI the EHR
    uses), else a URN of this installation."""
    configured = (policy or {}).get("mrn_system")
    return str(configured) if configured else f"urn:tarla:site:{chart_site_code}:mrn"


def medication_concept(dose_mg: int | None) -> dict[str, Any]:
    """Tarlatamab, with the NDC of the package of that strength when known (no RxNorm code
    was found: standards.md §7)."""
    concept: dict[str, Any] = {"text": "tarlatamab-dlle (IMDELLTRA)"}
    if dose_mg is not None:
        try:
            product = product_for_strength(dose_mg)
        except KeyError:
            return concept
        concept["coding"] = [{"system": NDC_SYSTEM, "code": product.ndc10,
                              "display": f"IMDELLTRA {product.strength_mg} mg kit"}]
    return concept


def _mg(value: float | int) -> dict[str, Any]:
    return {"value": value, "unit": "mg", "system": UCUM_SYSTEM, "code": "mg"}


def _subject(chart: PatientChart) -> dict[str, Any]:
    p = chart.patient
    return _ref("Patient", str(p.id), f"{p.family_name}, {p.given_name}")


# --------------------------------------------------------------------------- Patient


def patient(chart: PatientChart) -> dict[str, Any]:
    p = chart.patient
    return model_dict({
        "resourceType": "Patient", "id": str(p.id),
        "meta": {"lastUpdated": _instant(p.updated_at)},
        "identifier": [{
            "use": "usual",
            "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                 "code": "MR", "display": "Medical record number"}]},
            "system": mrn_system(chart.site.code, chart.site.policy), "value": p.mrn}],
        "active": True,
        "name": [{"use": "official", "family": p.family_name, "given": [p.given_name]}],
        "birthDate": _day(p.birth_date),
        "managingOrganization": {"display": chart.site.name},
    })


# --------------------------------------------------------------------------- CarePlan


_CAREPLAN_STATUS = {"active": "active", "held": "on-hold", "discontinued": "revoked"}


def _pid(chart: PatientChart) -> str:
    return str(chart.patient.id)


def care_plans(chart: PatientChart) -> list[dict[str, Any]]:
    out = []
    pid = _pid(chart)
    for course in chart.courses:
        cid = course.id
        activities = [{"reference": _ref("MedicationRequest", f"{pid}-c{cid}-s{a.slot_seq}")}
                      for a in chart.administrations.get(cid or 0, [])]
        if _next_request_status(chart, course) is not None:
            activities.append({"reference": _ref("MedicationRequest", f"{pid}-c{cid}-next")})
        out.append(model_dict({
            "resourceType": "CarePlan", "id": f"{pid}-course-{cid}",
            "status": _CAREPLAN_STATUS.get(course.status, "unknown"), "intent": "plan",
            "title": "Tarlatamab course",
            "description": f"Tarlatamab (IMDELLTRA) course computed by Tarla on label version "
                           f"{course.label_version}; doses given: {course.doses_given}",
            "subject": _subject(chart),
            "period": {"start": _day(course.start_date)},
            "created": _instant(course.created_at),
            **({"activity": activities} if activities else {}),
        }))
    return out


# --------------------------------------------------------------------------- MedicationRequest


def _current_course_id(chart: PatientChart) -> int | None:
    return None if chart.decision is None else chart.decision.get("course_id")


def _next_request_status(chart: PatientChart, course: Any) -> str | None:
    """active (give / wait) or on-hold (hold) for the current course; None: no next dose."""
    d = chart.decision
    if d is None or course.id != _current_course_id(chart) or d.get("next_dose") is None:
        return None
    return {"give": "active", "wait": "active", "hold": "on-hold"}.get(d["decision"])


def _dosage(dose_mg: int, text: str, when: str | None) -> dict[str, Any]:
    dosage: dict[str, Any] = {
        "text": text,
        "route": {"text": "intravenous infusion"},
        "doseAndRate": [{"doseQuantity": _mg(dose_mg)}],
    }
    if when:
        dosage["timing"] = {"event": [when]}
    return dosage


def medication_requests(chart: PatientChart) -> list[dict[str, Any]]:
    out = []
    pid = _pid(chart)
    for course in chart.courses:
        cid = course.id
        plan = _ref("CarePlan", f"{pid}-course-{cid}")
        for a in chart.administrations.get(cid or 0, []):
            out.append(model_dict({
                "resourceType": "MedicationRequest", "id": f"{pid}-c{cid}-s{a.slot_seq}",
                "status": "completed", "intent": "order",
                "medicationCodeableConcept": medication_concept(a.dose_mg),
                "subject": _subject(chart), "basedOn": [plan],
                "groupIdentifier": {"system": "urn:tarla:course", "value": str(cid)},
                "dosageInstruction": [_dosage(a.dose_mg, f"{a.dose_mg} mg IV, {a.slot} "
                                                         f"({a.kind})",
                                              _instant(a.started_at))],
            }))
        status = _next_request_status(chart, course)
        if status is None or chart.decision is None:
            continue
        d = chart.decision
        nd = d["next_dose"]
        notes = [{"text": f"Tarla decision: {d['decision']} (label {d['label_version']}); "
                          f"rules: {', '.join(r['rule'] for r in d['reasons'])}"}]
        if d.get("pending_checks"):
            notes.append({"text": "Labs missing: " + ", ".join(d["pending_checks"])})
        request: dict[str, Any] = {
            "resourceType": "MedicationRequest", "id": f"{pid}-c{cid}-next",
            "status": status, "intent": "plan",
            "medicationCodeableConcept": medication_concept(nd["dose_mg"]),
            "subject": _subject(chart), "basedOn": [plan],
            "groupIdentifier": {"system": "urn:tarla:course", "value": str(cid)},
            "dosageInstruction": [_dosage(
                nd["dose_mg"], f"{nd['dose_mg']} mg IV, {nd['slot']} ({nd['kind']}), due "
                               f"{nd['due_date']}", nd["due_date"])],
            "note": notes,
        }
        if chart.as_of is not None:
            request["authoredOn"] = _instant(chart.as_of)
        if status == "on-hold":
            held = chart.engine.hold_reasons if chart.engine is not None else ()
            request["statusReason"] = {
                "text": "; ".join(f"{c.text} [{c.rule}]" for c in held)
                or "held by the course engine"}
        out.append(model_dict(request))
    return out


# --------------------------------------------------------------------------- Administration


def medication_administrations(chart: PatientChart) -> list[dict[str, Any]]:
    out = []
    pid = _pid(chart)
    for course in chart.courses:
        cid = course.id
        for a in chart.administrations.get(cid or 0, []):
            med: dict[str, Any] = {"resourceType": "Medication", "id": "drug",
                                   "code": medication_concept(a.dose_mg)}
            notes = []
            bag = None
            if a.preparation_id is not None:
                bag = f"PREP-{a.preparation_id}"
                scans = chart.drug_scans.get(a.preparation_id, [])
                if scans and scans[0].lot:
                    med["batch"] = {"lotNumber": scans[0].lot}
                    if scans[0].expiry:
                        med["batch"]["expirationDate"] = _day(scans[0].expiry)
            if a.scan_exception_reason:
                notes.append({"text": f"Charted by documented scan exception: "
                                      f"{a.scan_exception_reason}"})
            resource: dict[str, Any] = {
                "resourceType": "MedicationAdministration", "id": f"{pid}-adm-{a.id}",
                "contained": [med],
                "status": "completed" if a.ended_at else "in-progress",
                "medicationReference": {"reference": "#drug"},
                "subject": _subject(chart),
                "effectivePeriod": {"start": _instant(a.started_at),
                                    **({"end": _instant(a.ended_at)} if a.ended_at else {})},
                "performer": [{"function": {"text": "administering nurse"},
                               "actor": {"display": chart.performers.get(a.nurse_id,
                                                                         f"user {a.nurse_id}")}}],
                "request": _ref("MedicationRequest", f"{pid}-c{cid}-s{a.slot_seq}"),
                "dosage": {"text": f"{a.dose_mg} mg IV, {a.slot}",
                           "route": {"text": "intravenous infusion"},
                           "dose": _mg(a.dose_mg),
                           **({"site": {"text": a.infusion_site}} if a.infusion_site else {})},
            }
            if bag:
                resource["device"] = [{"identifier": {"system": "urn:tarla:bag", "value": bag},
                                       "display": f"infusion bag {bag}"}]
            if notes:
                resource["note"] = notes
            out.append(model_dict(resource))
    return out


# --------------------------------------------------------------------------- Observation


def _quantity(value: float, unit: str) -> dict[str, Any]:
    q: dict[str, Any] = {"value": value, "unit": unit}
    if unit in UCUM:
        q.update({"system": UCUM_SYSTEM, "code": UCUM[unit]})
    return q


def lab_observations(chart: PatientChart) -> list[dict[str, Any]]:
    out = []
    pid = _pid(chart)
    for lab in chart.labs:
        row = loinc_for(lab.test, lab.unit)
        code: dict[str, Any] = {"text": lab.test}
        if row is not None:
            code["coding"] = [{"system": LOINC_SYSTEM, "code": row.loinc, "display": row.name}]
        rng: dict[str, Any] = {}
        if lab.lln is not None:
            rng["low"] = _quantity(lab.lln, lab.unit)
        if lab.uln is not None:
            rng["high"] = _quantity(lab.uln, lab.unit)
        resource: dict[str, Any] = {
            "resourceType": "Observation", "id": f"{pid}-lab-{lab.id}", "status": "final",
            "category": [{"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                "code": "laboratory"}]}],
            "code": code, "subject": _subject(chart),
            "effectiveDateTime": _instant(lab.collected_at), "issued": _instant(lab.charted_at),
            "performer": [{"display": chart.performers.get(lab.charted_by,
                                                           f"user {lab.charted_by}")}],
            "valueQuantity": _quantity(lab.value, lab.unit),
        }
        if rng:
            resource["referenceRange"] = [rng]
        if lab.ctcae_grade is not None:
            resource["note"] = [{"text": f"CTCAE v5.0 grade {lab.ctcae_grade}"
                                         + (f" ({lab.ctcae_term})" if lab.ctcae_term else "")}]
        out.append(model_dict(resource))
    return out


def grade_observations(chart: PatientChart) -> list[dict[str, Any]]:
    out = []
    pid = _pid(chart)
    for cid, items in chart.assessments.items():
        for a in items:
            kind = a.kind.lower()
            out.append(model_dict({
                "resourceType": "Observation", "id": f"{pid}-{kind}-{a.id}", "status": "final",
                "category": [{"coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                    "code": "exam"}]}],
                "code": {"coding": [{"system": LOCAL_SYSTEM, "code": f"{a.kind}-grade",
                                     "display": f"{a.kind} grade ({a.system})"}],
                         "text": f"{_EVENT_TEXT.get(a.kind, a.kind)} grade ({a.system})"},
                "subject": _subject(chart),
                "effectiveDateTime": _instant(a.assessed_at), "issued": _instant(a.charted_at),
                "method": {"text": a.system},
                "valueInteger": a.grade,
                "basedOn": [_ref("CarePlan", f"{pid}-course-{cid}")],
            }))
    return out


# --------------------------------------------------------------------------- AdverseEvent


def _suspect(chart: PatientChart, cid: int, onset: datetime) -> str | None:
    """The administration of the course that preceded the onset, if any."""
    before = [a for a in chart.administrations.get(cid, []) if a.started_at <= onset]
    return None if not before else f"{_pid(chart)}-adm-{before[-1].id}"


def adverse_events(chart: PatientChart) -> list[dict[str, Any]]:
    out = []
    pid = _pid(chart)
    for cid, items in chart.events.items():
        for e in items:
            text = _EVENT_TEXT.get(e.type, e.type.replace("_", " "))
            resource: dict[str, Any] = {
                "resourceType": "AdverseEvent", "id": f"{pid}-ae-{e.id}",
                "extension": [{"url": AE_GRADE_URL, "valueCodeableConcept": {
                    "coding": [{"system": LOCAL_SYSTEM, "code": f"grade-{e.grade}"}],
                    "text": f"Grade {e.grade}"}}],
                "actuality": "actual",
                "event": {"coding": [{"system": LOCAL_SYSTEM, "code": e.type,
                                      "display": text}], "text": f"{text}, grade {e.grade}"},
                "subject": _subject(chart),
                "date": _instant(e.onset), "detected": _instant(e.onset),
                "recordedDate": _instant(e.charted_at),
                "outcome": {"coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/adverse-event-outcome",
                    "code": "resolved" if e.resolved_at else "ongoing"}]},
            }
            suspect = _suspect(chart, cid, e.onset)
            if suspect:
                resource["suspectEntity"] = [{"instance": _ref("MedicationAdministration",
                                                               suspect)}]
            out.append(model_dict(resource))
    return out


# --------------------------------------------------------------------------- bundles


def chart_resources(chart: PatientChart) -> list[dict[str, Any]]:
    """Every resource of the patient's chart ($everything), Patient first."""
    return ([patient(chart)] + care_plans(chart) + medication_requests(chart)
            + medication_administrations(chart) + lab_observations(chart)
            + grade_observations(chart) + adverse_events(chart))


def bundle(resources: Iterable[dict[str, Any]], base: str, *, kind: str = "searchset",
           self_url: str | None = None, now: datetime | None = None) -> dict[str, Any]:
    entries = [{"fullUrl": f"{base}/{r['resourceType']}/{r['id']}", "resource": r,
                "search": {"mode": "match"}} for r in resources]
    data: dict[str, Any] = {"resourceType": "Bundle", "type": kind, "total": len(entries),
                            "entry": entries}
    if kind != "searchset":
        data.pop("total")
        for e in entries:
            e.pop("search")
    if self_url:
        data["link"] = [{"relation": "self", "url": self_url}]
    if now is not None:
        data["timestamp"] = _instant(now)
    if not entries:
        data.pop("entry")
    return model_dict(data)


def capability_statement(base: str, now: datetime, software_version: str) -> dict[str, Any]:
    search = {"MedicationRequest", "MedicationAdministration", "Observation", "AdverseEvent",
              "CarePlan"}
    resources = []
    for kind in RESOURCE_TYPES:
        item: dict[str, Any] = {"type": kind,
                                "interaction": [{"code": "read"}, {"code": "search-type"}]}
        if kind in search:
            item["searchParam"] = [{"name": "patient", "type": "reference",
                                    "documentation": "the patient's id (required)"}]
        else:
            item["searchParam"] = [{"name": "identifier", "type": "token",
                                    "documentation": "the MRN (system|value or value)"}]
            item["operation"] = [{
                "name": "everything",
                "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything"}]
        resources.append(item)
    return model_dict({
        "resourceType": "CapabilityStatement", "status": "active",
        "date": _instant(now), "kind": "instance", "publisher": "Tarla",
        "software": {"name": "Tarla", "version": software_version},
        "implementation": {"description": "Tarla: tarlatamab therapy in an infusion centre "
                                          "(read-only FHIR R4)", "url": base},
        "fhirVersion": FHIR_VERSION, "format": ["json"],
        "rest": [{"mode": "server",
                  "documentation": "Read-only. Every request but this one needs an interface "
                                   "token of the site, with the 'read' scope, as "
                                   "'Authorization: Bearer <token>'.",
                  "security": {"description": "Bearer interface token (Tarla admin page "
                                              "/admin/interfaces or 'tarla interface "
                                              "create'); user sessions are not accepted."},
                  "resource": resources}],
    })


#: FHIR issue-type codes (http://hl7.org/fhir/issue-type) per HTTP status
_ISSUE_CODE = {400: "structure", 401: "login", 403: "forbidden", 404: "not-found",
               405: "not-supported", 406: "not-supported", 409: "conflict", 415: "not-supported",
               422: "invalid", 500: "exception", 501: "not-supported"}


def operation_outcome(status: int, detail: str, field: str | None = None) -> dict[str, Any]:
    """An error as an OperationOutcome (``field``: the FHIRPath of what was wrong)."""
    issue: dict[str, Any] = {"severity": "error" if status < 500 else "fatal",
                             "code": _ISSUE_CODE.get(status, "processing"),
                             "diagnostics": detail}
    if field:
        issue["expression"] = [field]
    return model_dict({"resourceType": "OperationOutcome", "issue": [issue]})
