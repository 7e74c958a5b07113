"""JSON API under ``/api/v1``: the public contracts (shared/contracts/README.md) and the records.

Contract endpoints take exactly the CLI's input models (:mod:`tarla.schemas`) and answer with
the same ``*_to_json`` renderings, so ``POST /api/v1/evaluate`` and ``tarla evaluate --json``
give the same object for the same input. Errors are RFC 9457 problem details
(:mod:`tarla.web.problems`).

Authentication: the session cookie of a signed-in user (``POST /api/v1/session`` with
``{"username", "password"}``, or the sign-in page). Every POST also needs the session's CSRF
token in the ``X-CSRF-Token`` header (returned by ``POST /api/v1/session`` and
``GET /api/v1/me``). Unauthenticated: 401; wrong role: 403; missing CSRF: 403.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictInt, field_validator

from tarla.adapters.barcode import check_scan, label_catalog
from tarla.domain.clock import evaluate_clock
from tarla.domain.course import evaluate
from tarla.domain.grading import grade_crs, grade_icans, grade_lab
from tarla.domain.preparation import check_dose, plan_preparation
from tarla.label.products import Component
from tarla.schemas import load_zone
from tarla.schemas.course import (
    EvaluateRequest,
    ScheduleRequest,
    decision_to_json,
    schedule_to_json,
    to_course_input,
)
from tarla.schemas.pharmacy import (
    CatalogItemIn,
    ClockRequest,
    clock_to_json,
    load_catalog_items,
    prepare_to_json,
    scan_to_json,
)
from tarla.schemas.toxicity import CrsInput, IcansInput, LabInput
from tarla.web.auth import ANY_ROLE, CurrentUser, allow, current_user

__all__ = ["router", "install", "ScanRequest", "PrepareRequest", "openapi_document", "ok"]

# The CLI's renderings of the grading results (one place for the contract's shape).
from tarla.schemas.toxicity import crs_to_json, icans_to_json, lab_to_json  # noqa: E402

PROBLEM = {"description": "Problem details (RFC 9457)",
           "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
_ERRORS: dict[int | str, dict[str, Any]] = {code: PROBLEM for code in (400, 401, 403, 422)}
_RECORD_ERRORS: dict[int | str, dict[str, Any]] = {code: PROBLEM
                                                   for code in (400, 401, 403, 404, 409, 422)}

router = APIRouter(prefix="/api/v1", responses=_ERRORS)
compute = allow(*ANY_ROLE)  # pure computations: any signed-in user


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PrepareRequest(_Model):
    dose_mg: StrictInt


class ScanRequest(_Model):
    """``tarla scan``: the raw scanner output and the ordered dose."""

    scan: str = Field(min_length=1, max_length=500,
                      description="raw scanner output; variable-length fields end with GS "
                                  "(ASCII 29, \\u001d)")
    dose_mg: StrictInt
    expect: Component = Component.DRUG
    at: AwareDatetime | None = Field(default=None, description="time of use (default: now)")
    timezone: str | None = Field(default=None, description="site zone for the expiry date")
    recalled_lots: list[str] = Field(default_factory=list, max_length=1000)
    catalog: list[CatalogItemIn] = Field(default_factory=list, max_length=100)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            load_zone(value)
        return value


def ok(body: dict[str, Any]) -> JSONResponse:
    """The answer as JSON, straight: the bodies are already plain JSON values (the
    ``*_to_json`` renderings), and FastAPI's generic encoder costs more than the work."""
    return JSONResponse(body)


def with_etag(request: Request, body: bytes, tagged: bytes | None = None) -> Response:
    """``body`` (JSON text) with a strong ``ETag``, the SHA-256 of ``tagged`` (the body less
    what changes on every read, such as the instant it was read; default the body), and
    ``304 Not Modified`` when the request's ``If-None-Match`` names it. The answer is private
    to the reader: ``Cache-Control: private, no-cache`` (a shared cache must not keep a
    patient list; a browser asks again each time, with the tag)."""
    import hashlib

    tag = '"' + hashlib.sha256(body if tagged is None else tagged).hexdigest()[:32] + '"'
    headers = {"ETag": tag, "Cache-Control": "private, no-cache", "Vary": "Cookie, Authorization"}
    sent = request.headers.get("if-none-match", "")
    if tag in {t.strip().removeprefix("W/") for t in sent.split(",")} or sent.strip() == "*":
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


# --------------------------------------------------------------------------- contracts


@router.post("/evaluate", summary="What happens next for one patient (tarla evaluate)",
             tags=["contracts"])
def api_evaluate(req: EvaluateRequest, user: CurrentUser = compute) -> JSONResponse:
    decision = evaluate(to_course_input(req))
    return ok(decision_to_json(decision, load_zone(req.timezone)))


@router.post("/schedule", summary="The planned course (tarla schedule)", tags=["contracts"])
def api_schedule(req: ScheduleRequest, user: CurrentUser = compute) -> JSONResponse:
    return ok(schedule_to_json(req))


@router.post("/grade/crs", summary="CRS grade, ASTCT 2019 (tarla grade crs)",
             tags=["contracts"])
def api_grade_crs(req: CrsInput, user: CurrentUser = compute) -> JSONResponse:
    return ok(crs_to_json(grade_crs(**req.model_dump())))


@router.post("/grade/icans", summary="ICANS grade, ASTCT 2019 (tarla grade icans)",
             tags=["contracts"])
def api_grade_icans(req: IcansInput, user: CurrentUser = compute) -> JSONResponse:
    return ok(icans_to_json(grade_icans(**req.model_dump())))


@router.post("/grade/lab", summary="One lab value, CTCAE v5.0 (tarla grade lab)",
             tags=["contracts"])
def api_grade_lab(req: LabInput, user: CurrentUser = compute) -> JSONResponse:
    graded = grade_lab(req.test, req.value, req.unit, uln=req.uln, lln=req.lln,
                       baseline=req.baseline, symptomatic=req.symptomatic)
    return ok(lab_to_json(graded, req))


@router.post("/prepare", summary="The pharmacy recipe for one dose (tarla prepare)",
             tags=["contracts"])
def api_prepare(req: PrepareRequest, user: CurrentUser = compute) -> JSONResponse:
    return ok(prepare_to_json(plan_preparation(check_dose(req.dose_mg))))


@router.get("/prepare", summary="The pharmacy recipe for one dose (tarla prepare)",
            tags=["contracts"])
def api_prepare_get(dose_mg: int = Query(description="ordered dose: 1 or 10"),
                    user: CurrentUser = compute) -> JSONResponse:
    return ok(prepare_to_json(plan_preparation(check_dose(dose_mg))))


@router.post("/clock", summary="The in-use clock of one preparation (tarla clock)",
             tags=["contracts"])
def api_clock(req: ClockRequest, user: CurrentUser = compute) -> JSONResponse:
    return ok(clock_to_json(evaluate_clock(req.clock_events(), req.now, req.zone)))


@router.post("/scan", summary="Verify one scanned component against the ordered dose "
             "(tarla scan); a refusal is 200 with verdict 'refuse', an unreadable scan 422",
             tags=["contracts"])
def api_scan(req: ScanRequest, request: Request, user: CurrentUser = compute) -> JSONResponse:
    dose = check_dose(req.dose_mg)
    web = request.app.state.web
    at = req.at or web.now()
    zone = load_zone(req.timezone) if req.timezone else (at.tzinfo or UTC)
    catalog = label_catalog()
    load_catalog_items(catalog, list(req.catalog))
    scan, verdict = check_scan(req.scan, catalog, dose_mg=dose, expect=req.expect, at=at,
                               zone=zone, recalled_lots=req.recalled_lots)
    return ok(scan_to_json(scan, verdict))


# --------------------------------------------------------------------------- who am I


@router.get("/me", summary="The signed-in user and the CSRF token for POST requests",
            tags=["session"])
def api_me(user: CurrentUser = Depends(current_user)) -> JSONResponse:
    return ok({"username": user.username, "display_name": user.display_name,
               "roles": sorted(user.roles), "csrf_token": user.csrf_token})


def _problem_schema() -> dict[str, Any]:
    return {"type": "object", "required": ["type", "title", "status", "detail", "errors"],
            "properties": {
                "type": {"type": "string"}, "title": {"type": "string"},
                "status": {"type": "integer"}, "detail": {"type": "string"},
                "errors": {"type": "array", "items": {
                    "type": "object", "required": ["field", "message"],
                    "properties": {"field": {"type": "string"},
                                   "message": {"type": "string"}}}}}}


def install(app: FastAPI) -> None:
    """Add the API routers and serve their OpenAPI document at ``/api/v1/openapi.json``."""
    from tarla.web import api_inventory, api_records, api_session

    app.include_router(api_session.router)
    app.include_router(router)
    app.include_router(api_records.router)
    app.include_router(api_inventory.router)
    cache: dict[str, Any] = {}

    @app.get("/api/v1/openapi.json", include_in_schema=False)
    def openapi(user: CurrentUser = Depends(current_user)) -> JSONResponse:
        if "doc" not in cache:
            cache["doc"] = openapi_document(app)
        return JSONResponse(cache["doc"])


def openapi_document(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document of the ``/api/v1`` routes (served to signed-in users only)."""
    doc = get_openapi(title="Tarla API", version="1", description=__doc__ or "",
                      routes=app.routes)
    doc.setdefault("components", {}).setdefault("schemas", {})["Problem"] = _problem_schema()
    doc["components"]["securitySchemes"] = {
        "session": {"type": "apiKey", "in": "cookie", "name": "tarla_session"},
        "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token"}}
    doc["security"] = [{"session": [], "csrf": []}]
    return doc
