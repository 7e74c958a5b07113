"""Inventory API under ``/api/v1/inventory``: kit cartons received by scanning their GS1
barcode, and their room-temperature excursions recorded per kit serial (label-facts §2: up to
24 h at 20-25 °C in the carton, never frozen). A kit whose excursions add up past the limit,
or that was frozen, is refused when it is scanned into a preparation (the pharmacy service
judges it there, :func:`tarla.domain.release.may_accept_kit`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictBool

from tarla.services import pharmacy
from tarla.services.vocab import Role
from tarla.web.auth import CurrentUser, allow
from tarla.web.pages.common import site_in_view, web_of

__all__ = ["router"]

_P = {"description": "Problem details (RFC 9457)",
      "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
router = APIRouter(prefix="/api/v1/inventory", tags=["inventory"],
                   responses={code: _P for code in (400, 401, 403, 404, 409, 422)})


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KitIn(_In):
    scan: str = Field(min_length=1, max_length=500, description="the carton's GS1 barcode text")
    location: str | None = Field(default=None, max_length=64)
    site: str | None = Field(default=None, max_length=32)


class ExcursionIn(_In):
    scan: str = Field(min_length=1, max_length=500, description="the carton's GS1 barcode text")
    started_at: AwareDatetime
    ended_at: AwareDatetime | None = None
    frozen: StrictBool = False
    min_c: float | None = Field(default=None, allow_inf_nan=False, ge=-80, le=60)
    max_c: float | None = Field(default=None, allow_inf_nan=False, ge=-80, le=60)
    note: str | None = Field(default=None, max_length=500)
    site: str | None = Field(default=None, max_length=32)


@router.post("/kits", status_code=201, summary="Receive a kit carton by scanning it")
def api_receive_kit(req: KitIn, request: Request,
                    user: CurrentUser = allow(Role.PHARMACIST)) -> JSONResponse:
    web = web_of(request)
    chosen, _ = site_in_view(request, user, req.site)
    vial_id = pharmacy.receive_kit(web.uow(), site_code=chosen.code, scan=req.scan,
                                   actor=user.username, now=web.now(), location=req.location)
    return JSONResponse({"vial_id": vial_id, "site": chosen.code}, status_code=201)


@router.post("/excursions", status_code=201,
             summary="Record a carton's time out of the refrigerator (or found frozen)")
def api_kit_excursion(req: ExcursionIn, request: Request,
                      user: CurrentUser = allow(Role.PHARMACIST, Role.NURSE)) -> JSONResponse:
    web = web_of(request)
    chosen, _ = site_in_view(request, user, req.site)
    excursion_id = pharmacy.record_kit_excursion(
        web.uow(), site_code=chosen.code, scan=req.scan, started_at=req.started_at,
        ended_at=req.ended_at, frozen=req.frozen, min_c=req.min_c, max_c=req.max_c,
        note=req.note, actor=user.username, now=web.now())
    return JSONResponse({"excursion_id": excursion_id, "site": chosen.code}, status_code=201)
