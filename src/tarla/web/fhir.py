"""FHIR R4, read-only, under ``/fhir/r4`` (issue 16): the routes translate, the mapping is
:mod:`tarla.adapters.fhir_out`, the reads are :mod:`tarla.services.fhir_read` (scoped to the
interface token's site).

    GET /fhir/r4/metadata                        CapabilityStatement (no credentials)
    GET /fhir/r4/Patient/{id}                    read
    GET /fhir/r4/Patient/{id}/$everything        the patient's chart as a searchset Bundle
    GET /fhir/r4/Patient?identifier=[system|]mrn search by MRN
    GET /fhir/r4/{type}/{id}                     CarePlan, MedicationRequest,
                                                 MedicationAdministration, Observation,
                                                 AdverseEvent
    GET /fhir/r4/{type}?patient={id}             search by patient

Everything but ``metadata`` needs an interface token with the ``read`` scope
(:mod:`tarla.web.interface_auth`). Answers are ``application/fhir+json``; errors are
``OperationOutcome`` (400 a malformed search, 401/403 credentials, 404 unknown or another
site's resource, 405 a method not supported).
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from tarla import __version__
from tarla.adapters import fhir_out
from tarla.services.errors import NotFound
from tarla.services.fhir_read import PatientChart, patient_chart, patient_id_by_mrn
from tarla.services.interfaces import READ, InterfaceCaller
from tarla.web.interface_auth import FHIR_JSON, InterfaceError, require_interface

__all__ = ["router", "install", "fhir_response"]

router = APIRouter(prefix="/fhir/r4", include_in_schema=False)
_reader = Depends(require_interface(READ))
_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_PID = re.compile(r"^(\d{1,18})(?:-|$)")
_BUILDERS = {
    "CarePlan": (fhir_out.care_plans,),
    "MedicationRequest": (fhir_out.medication_requests,),
    "MedicationAdministration": (fhir_out.medication_administrations,),
    "Observation": (fhir_out.lab_observations, fhir_out.grade_observations),
    "AdverseEvent": (fhir_out.adverse_events,),
}


def fhir_response(body: dict[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=FHIR_JSON)


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/fhir/r4"


def _chart(request: Request, caller: InterfaceCaller, patient_id: int) -> PatientChart:
    web = request.app.state.web
    try:
        return patient_chart(web.uow(), patient_id=patient_id, viewer=caller.scope,
                             now=web.now())
    except NotFound:
        raise InterfaceError(404, f"Patient/{patient_id} is not known here",
                             field="Patient.id") from None


def _patient_id(text: str, kind: str) -> int:
    """The patient id a resource id (or a ``patient`` search value) starts with."""
    m = _PID.match(text) if _ID.match(text) else None
    if m is None:
        raise InterfaceError(404, f"{kind}/{text} is not known here", field=f"{kind}.id")
    return int(m.group(1))


def _of_type(chart: PatientChart, kind: str) -> list[dict[str, Any]]:
    if kind == "Patient":
        return [fhir_out.patient(chart)]
    return [r for build in _BUILDERS[kind] for r in build(chart)]


@router.get("/metadata")
def metadata(request: Request) -> JSONResponse:
    now = request.app.state.web.now()
    return fhir_response(fhir_out.capability_statement(_base(request), now, __version__))


@router.get("/Patient/{patient_id}/$everything")
def everything(patient_id: str, request: Request,
               caller: InterfaceCaller = _reader) -> JSONResponse:
    if not patient_id.isdigit():
        raise InterfaceError(404, f"Patient/{patient_id} is not known here", field="Patient.id")
    chart = _chart(request, caller, int(patient_id))
    return fhir_response(fhir_out.bundle(fhir_out.chart_resources(chart), _base(request),
                                         self_url=str(request.url),
                                         now=request.app.state.web.now()))


@router.get("/Patient")
def search_patients(request: Request, caller: InterfaceCaller = _reader) -> JSONResponse:
    identifier = request.query_params.get("identifier")
    if not identifier:
        raise InterfaceError(400, "search Patient by identifier (the MRN: "
                                  "identifier=[system|]value)", field="identifier")
    system, _, value = identifier.rpartition("|")
    web = request.app.state.web
    found: list[dict[str, Any]] = []
    try:
        pid = patient_id_by_mrn(web.uow(), mrn=value, viewer=caller.scope)
    except NotFound:
        pid = None
    if pid is not None:
        chart = _chart(request, caller, pid)
        resource = fhir_out.patient(chart)
        if not system or system == resource["identifier"][0]["system"]:
            found.append(resource)
    return fhir_response(fhir_out.bundle(found, _base(request), self_url=str(request.url),
                                         now=web.now()))


@router.get("/{kind}/{rid}")
def read(kind: str, rid: str, request: Request,
         caller: InterfaceCaller = _reader) -> JSONResponse:
    if kind != "Patient" and kind not in _BUILDERS:
        raise InterfaceError(404, f"this server does not serve {kind} resources",
                             field="resourceType")
    chart = _chart(request, caller, _patient_id(rid, kind))
    for resource in _of_type(chart, kind):
        if resource["id"] == rid:
            return fhir_response(resource)
    raise InterfaceError(404, f"{kind}/{rid} is not known here", field=f"{kind}.id")


@router.get("/{kind}")
def search(kind: str, request: Request, caller: InterfaceCaller = _reader) -> JSONResponse:
    if kind not in _BUILDERS:
        raise InterfaceError(404, f"this server does not serve {kind} resources",
                             field="resourceType")
    value = request.query_params.get("patient") or request.query_params.get("subject")
    if not value:
        raise InterfaceError(400, f"search {kind} by patient (patient={{id}})", field="patient")
    value = value.removeprefix("Patient/")
    if not value.isdigit():
        raise InterfaceError(400, "patient: give the patient's id (e.g. patient=12)",
                             field="patient")
    chart = _chart(request, caller, int(value))
    return fhir_response(fhir_out.bundle(_of_type(chart, kind), _base(request),
                                         self_url=str(request.url),
                                         now=request.app.state.web.now()))


def _unsupported(rest: str, request: Request,
                 caller: InterfaceCaller = Depends(require_interface(None))) -> JSONResponse:
    if request.method == "GET":
        raise InterfaceError(404, f"nothing at /fhir/r4/{rest}", field="url")
    raise InterfaceError(405, f"{request.method} is not supported here", field="method")


def install(app: FastAPI) -> None:
    """Mount the read routes, then the receivers (``POST /Observation`` when the labs-in
    service exists: :mod:`tarla.web.fhir_labs`), then an OperationOutcome for anything else
    under ``/fhir/r4``."""
    from tarla.web import fhir_labs

    app.include_router(router)
    tail = APIRouter(prefix="/fhir/r4", include_in_schema=False)
    fhir_labs.install(tail)
    tail.add_api_route("/{rest:path}", _unsupported,
                       methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    app.include_router(tail)
