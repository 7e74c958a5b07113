"""Pharmacy bench: start a preparation for a due dose, scan the kit, follow the recipe, run the
in-use clock, print the bag label and worksheet, and record the independent check.

Scans are verified by the pharmacy core (:func:`tarla.adapters.barcode.check_scan`) against
the dose ordered for the preparation and stored with their verdict (``record_scan``). The
vial must have been scanned and accepted before reconstitution can be recorded: the wrong
strength is the main medication-error risk (label-facts §4).
"""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from tarla.adapters.barcode import check_scan, label_catalog
from tarla.domain.clock import ClockEvent, EventKind, evaluate_clock
from tarla.domain.errors import InvalidInput, NotEnoughInformation, ParseError
from tarla.domain.preparation import plan_preparation
from tarla.label.products import Component
from tarla.schemas.pharmacy import prepare_to_json, product_name, scan_to_json
from tarla.services import pharmacy
from tarla.services.errors import ServiceError
from tarla.services.queries import evaluate_patient
from tarla.services.vocab import Role
from tarla.web.auth import ANY_ROLE, CurrentUser, allow
from tarla.web.pages.common import (
    FormErrors,
    errors_of,
    is_htmx,
    local_moment,
    render,
    wall_now,
    web_of,
)
from tarla.web.present import prep_summary

__all__ = ["router", "normalise_scan", "PHARMACIST_EVENTS", "start_for_next_dose",
           "verify_and_record", "drug_scan_ok"]

router = APIRouter(include_in_schema=False)
pharmacist = allow(Role.PHARMACIST)

#: the clock events a pharmacist records on the bench (the nurse records the infusion)
PHARMACIST_EVENTS = ("reconstituted", "bag_prepared", "refrigerated",
                     "removed_from_refrigerator", "discarded")
#: what scanners (or people) type instead of the GS1 separator, ASCII 29
_GS_STANDINS = ("<GS>", "{GS}", "[GS]", "\u241d", "^]")


def normalise_scan(raw: str) -> str:
    """Keyboard-wedge input as the barcode adapter expects it (GS stand-ins -> ASCII 29)."""
    text = raw
    for standin in _GS_STANDINS:
        text = text.replace(standin, "\x1d")
    return text.strip("\r\n\t ")


# --------------------------------------------------------------------------- bench


@router.get("/pharmacy")
def bench(request: Request, site: str | None = None, course: int | None = None,
          user: CurrentUser = allow(*ANY_ROLE)) -> Response:
    from tarla.web.pages.today import worklist_view

    view = worklist_view(request, user, site, None)
    web = web_of(request)
    active = web.read.preparations_at_site(
        view["site"].id, ["ordered", "in_preparation", "prepared", "checked", "stored",
                          "in_use"])
    zone = view["zone"]
    return render(request, "pharmacy.html", {
        "nav": "pharmacy", **view, "highlight": course,
        "active": [prep_summary(p, view["now"], zone) | {"course_id": p["course_id"]}
                   for p in active],
        "can_prepare": user.has(Role.PHARMACIST)})


@router.post("/pharmacy/preparations")
async def start(request: Request, user: CurrentUser = pharmacist) -> Response:
    form = await request.form()
    return await run_in_threadpool(_start, request, user, form)


def _start(request: Request, user: CurrentUser, form: Any) -> Response:
    raw = str(form.get("course_id") or "")
    if not raw.isdigit():
        raise InvalidInput("course_id", "choose a due dose to prepare")
    result = start_for_next_dose(web_of(request), int(raw), user.username)
    return RedirectResponse(f"/pharmacy/preparations/{result.preparation_id}", status_code=303)


def start_for_next_dose(web: Any, course_id: int, actor: str) -> Any:
    """Open a preparation of the course's next dose. The order is the course engine's next
    dose, never a number typed on the bench; a held or discontinued course gets none."""
    from tarla.web.overrides import require_release

    decision = evaluate_patient(web.uow(), now=web.now(), course_id=course_id)
    require_release(web.read.engine, decision, "prepared")
    nd = decision.get("next_dose")
    if nd is None:
        raise InvalidInput("course_id", "the course has no next dose: nothing to prepare")
    return pharmacy.start_preparation(web.uow(), course_id=course_id, dose_mg=nd["dose_mg"],
                                      actor=actor, now=web.now())


def verify_and_record(web: Any, *, preparation_id: int, dose_mg: int, zone: ZoneInfo,
                      raw: str, component: str, actor: str) -> dict[str, Any]:
    """Verify one scan for the preparation's dose and store it with its verdict. An
    unreadable scan raises :class:`ParseError` and stores nothing."""
    try:
        expect = Component(component)
    except ValueError:
        raise InvalidInput("component", f"{component!r} is not drug or ivss") from None
    now = web.now()
    scanned, verdict = check_scan(normalise_scan(raw), label_catalog(), dose_mg=dose_mg,
                                  expect=expect, at=now, zone=zone)
    result = scan_to_json(scanned, verdict)
    result["scan_id"] = pharmacy.record_scan(
        web.uow(), preparation_id=preparation_id, gtin=scanned.gtin, component=expect.value,
        verdict=result["verdict"], actor=actor, now=now, lot=scanned.lot,
        expiry=scanned.expiry, serial=scanned.serial,
        reasons=[r["text"] for r in result["reasons"]])
    return result


# --------------------------------------------------------------------------- one preparation


def _load(request: Request, preparation_id: int) -> dict[str, Any]:
    web = web_of(request)
    now = web.now()
    uow = web.uow()
    with uow.readonly():
        prep = uow.preparations.get(preparation_id)
        if prep is None:
            from tarla.services.errors import NotFound

            raise NotFound("preparation_id", f"no preparation {preparation_id}")
        course = uow.courses.get(prep.course_id)
        assert course is not None
        patient = uow.patients.get(course.patient_id)
        site = uow.sites.get(prep.site_id)
        assert patient is not None and site is not None
    zone = ZoneInfo(site.timezone)
    rows = web.read.preparations_for_courses([prep.course_id]).get(prep.course_id, [])
    row = next(r for r in rows if r["id"] == preparation_id)
    summary = prep_summary(row, now, zone)
    decision = evaluate_patient(web.uow(), now=now, course_id=prep.course_id)
    scans = web.read.scans(preparation_id)
    names = web.read.user_names([prep.prepared_by, prep.checked_by]
                                + [s["scanned_by"] for s in scans])
    done = {e["event"] for e in row["events"]}
    accepted_drug = drug_scan_ok(scans)
    return {"prep": prep, "row": row, "summary": summary, "course": course,
            "patient": patient, "site": site, "zone": zone, "decision": decision,
            "recipe": prepare_to_json(plan_preparation(prep.dose_mg)), "scans": scans,
            "names": names, "done": done, "drug_ok": accepted_drug, "now": now,
            "wall_now": wall_now(now, zone), "events": PHARMACIST_EVENTS}


def drug_scan_ok(scans: list[dict[str, Any]]) -> bool:
    """The latest scan of the drug vial was accepted."""
    drug = [s for s in scans if s["component"] == Component.DRUG.value]
    return bool(drug) and drug[-1]["verdict"] == "accept"


def _page(request: Request, user: CurrentUser, preparation_id: int, status: int = 200,
          **extra: Any) -> Response:
    ctx = _load(request, preparation_id)
    ctx.update({"nav": "pharmacy", "errors": {}, "scan_result": None, "scan_error": None,
                "is_pharmacist": user.has(Role.PHARMACIST)})
    ctx.update(extra)
    return render(request, "preparation.html", ctx, status=status)


@router.get("/pharmacy/preparations/{preparation_id}")
def preparation_page(request: Request, preparation_id: int,
                     user: CurrentUser = allow(*ANY_ROLE)) -> Response:
    return _page(request, user, preparation_id)


@router.get("/pharmacy/preparations/{preparation_id}/clock")
def clock_panel(request: Request, preparation_id: int,
                user: CurrentUser = allow(*ANY_ROLE)) -> Response:
    ctx = _load(request, preparation_id)
    return render(request, "partials/clock.html", ctx)


@router.post("/pharmacy/preparations/{preparation_id}/scan")
async def scan(request: Request, preparation_id: int, user: CurrentUser = pharmacist) -> Response:
    form = await request.form()
    return await run_in_threadpool(_scan, request, preparation_id, user, form)


def _scan(request: Request, preparation_id: int, user: CurrentUser, form: Any) -> Response:
    web = web_of(request)
    ctx = _load(request, preparation_id)
    result, error = None, None
    try:
        result = verify_and_record(web, preparation_id=preparation_id,
                                   dose_mg=ctx["prep"].dose_mg, zone=ctx["zone"],
                                   raw=str(form.get("scan") or ""),
                                   component=str(form.get("component") or "drug"),
                                   actor=user.username)
    except ParseError as exc:
        error = (f"Could not read the barcode: {exc.message}. Scan again, or type the GS1 "
                 "text printed under the barcode.")
    status = 200 if error is None else 422
    if is_htmx(request):  # htmx swaps only 2xx answers: the refusal is in the content
        fresh = _load(request, preparation_id)
        return render(request, "partials/scan_result.html",
                      {**fresh, "scan_result": result, "scan_error": error})
    return _page(request, user, preparation_id, status=status, scan_result=result,
                 scan_error=error)


@router.post("/pharmacy/preparations/{preparation_id}/events")
async def event(request: Request, preparation_id: int,
                user: CurrentUser = pharmacist) -> Response:
    form = await request.form()
    return await run_in_threadpool(_event, request, preparation_id, user, form)


def _event(request: Request, preparation_id: int, user: CurrentUser, form: Any) -> Response:
    web = web_of(request)
    ctx = _load(request, preparation_id)
    errors = FormErrors()
    name = str(form.get("event") or "")
    if name not in PHARMACIST_EVENTS:
        errors["event"] = f"{name!r} is not a bench event"
    elif name == "reconstituted" and not ctx["drug_ok"]:
        errors["scan"] = ("scan the drug vial first: it must be accepted for the ordered "
                          f"{ctx['prep'].dose_mg} mg dose before reconstitution")
    at: datetime | None = None
    when = str(form.get("at") or "").strip()
    try:
        at = local_moment(when, ctx["zone"], "at") if when else web.now()
    except InvalidInput as exc:
        errors[exc.field] = exc.message
    version = str(form.get("version") or "")
    if not errors:
        try:
            pharmacy.advance_preparation(web.uow(), preparation_id=preparation_id, event=name,
                                         at=at, actor=user.username, now=web.now(),  # type: ignore[arg-type]
                                         expected_version=int(version) if version.isdigit()
                                         else None)
        except (InvalidInput, NotEnoughInformation, ServiceError) as exc:
            errors.update(errors_of(exc))
        else:
            return RedirectResponse(f"/pharmacy/preparations/{preparation_id}",
                                    status_code=303)
    return _page(request, user, preparation_id, status=422, errors=errors)


@router.post("/pharmacy/preparations/{preparation_id}/check")
async def independent_check(request: Request, preparation_id: int,
                            user: CurrentUser = pharmacist) -> Response:
    form = await request.form()
    return await run_in_threadpool(_check, request, preparation_id, user, form)


def _check(request: Request, preparation_id: int, user: CurrentUser, form: Any) -> Response:
    web = web_of(request)
    version = str(form.get("version") or "")
    try:
        pharmacy.check_preparation(web.uow(), preparation_id=preparation_id,
                                   actor=user.username, now=web.now(),
                                   expected_version=int(version) if version.isdigit() else None)
    except (InvalidInput, NotEnoughInformation, ServiceError) as exc:
        status = 403 if exc.__class__.__name__ == "Forbidden" else 422
        return _page(request, user, preparation_id, status=status, errors=errors_of(exc))
    return RedirectResponse(f"/pharmacy/preparations/{preparation_id}", status_code=303)


# --------------------------------------------------------------------------- PDFs


def _pdf(request: Request, preparation_id: int, kind: str) -> Response:
    from tarla.adapters import pdf

    ctx = _load(request, preparation_id)
    prep, patient, zone, now = ctx["prep"], ctx["patient"], ctx["zone"], ctx["now"]
    events = [ClockEvent(EventKind(e["event"]), e["at"]) for e in ctx["row"]["events"]]
    if not any(e.kind is EventKind.RECONSTITUTED for e in events):
        raise InvalidInput("preparation_id", "nothing to print before the vial is "
                                             "reconstituted (the clock starts then)")
    report = evaluate_clock(events, now, zone)
    catalog = label_catalog()
    records, refused = [], []
    for s in ctx["scans"]:
        entry = catalog.lookup(s["gtin"])
        records.append(pdf.ScanRecord(s["component"], s["gtin"],
                                      product_name(entry.product) if entry else "unknown",
                                      s["lot"], s["expiry"], s["serial"],
                                      "accepted" if s["verdict"] == "accept" else "REFUSED",
                                      True))
    if kind == "label":
        if not ctx["drug_ok"]:
            refused.append("the drug vial has no accepted scan")
        if not report.usable:
            refused.append(f"the preparation is not usable (clock {report.status.value}, "
                           f"{report.phase.value.replace('_', ' ')})")
        if prep.status not in ("prepared", "checked", "stored", "in_use"):
            refused.append(f"the bag is not prepared yet (status {prep.status})")
    if refused:
        raise InvalidInput("label", "no bag label: " + "; ".join(refused))
    bag_prepared = next((e.at.astimezone(zone) for e in events
                         if e.kind is EventKind.BAG_PREPARED), None)
    nd = ctx["decision"].get("next_dose") or {}
    data = pdf.LabelData(
        patient_name=f"{patient.family_name}, {patient.given_name}", mrn=patient.mrn,
        birth_date=patient.birth_date, order_id=f"PREP-{prep.id}", slot=nd.get("slot"),
        prescriber=None, plan=plan_preparation(prep.dose_mg), clock=report,
        bag_prepared_at=bag_prepared, scans=tuple(records),
        prepared_by=ctx["names"].get(prep.prepared_by),
        checked_by=ctx["names"].get(prep.checked_by) if prep.checked_by else None,
        bag_material=None, printed_at=now.astimezone(zone), zone=zone)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / f"{kind}.pdf"
        (pdf.render_bag_label if kind == "label" else pdf.render_worksheet)(data, out)
        body = out.read_bytes()
    return Response(body, media_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="prep-{prep.id}-{kind}.pdf"'})


@router.get("/pharmacy/preparations/{preparation_id}/label.pdf")
def label_pdf(request: Request, preparation_id: int, user: CurrentUser = pharmacist) -> Response:
    return _pdf(request, preparation_id, "label")


@router.get("/pharmacy/preparations/{preparation_id}/worksheet.pdf")
def worksheet_pdf(request: Request, preparation_id: int,
                  user: CurrentUser = pharmacist) -> Response:
    return _pdf(request, preparation_id, "worksheet")

