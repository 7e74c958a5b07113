"""Pharmacy bench: start a preparation for a due dose, scan the kit, follow the recipe, run the
in-use clock, print the bag label and worksheet, and record the independent check.

Every act is a use case of :mod:`tarla.services.pharmacy` (or :mod:`tarla.services.bench`),
which judges it with the gates of :mod:`tarla.domain.release`: the dose and slot of a
preparation are the engine's, frozen when it starts; a scan is verified by the service from
the raw text the scanner typed; reconstitution waits for an accepted drug-vial scan. These
routes translate the form, call the service and show what it answered, a refusal included.
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

from tarla.adapters.barcode import label_catalog
from tarla.domain.bench import INSPECTION_QUESTIONS, BenchStep
from tarla.domain.errors import InvalidInput, NotEnoughInformation, ParseError
from tarla.domain.identification import label_barcode
from tarla.domain.preparation import plan_preparation
from tarla.schemas.pharmacy import prepare_to_json, product_name
from tarla.services import pharmacy, queries
from tarla.services.bench import bench_rows, confirm_step
from tarla.services.errors import Refused, ServiceError
from tarla.services.queries import evaluate_patient
from tarla.services.vocab import Role
from tarla.web.auth import ANY_ROLE, CurrentUser, allow
from tarla.web.esign import signing
from tarla.web.pages.common import (
    FormErrors,
    errors_of,
    form_status,
    is_htmx,
    local_moment,
    render,
    wall_now,
    web_of,
)
from tarla.web.present import prep_summary, refusal_view

__all__ = ["router", "wedge_text", "PHARMACIST_EVENTS"]

router = APIRouter(include_in_schema=False)
pharmacist = allow(Role.PHARMACIST)

#: the clock events a pharmacist records on the bench; the infusion's start and end are
#: charted at the bedside (:func:`tarla.services.clinical.record_administration`,
#: :func:`~tarla.services.clinical.complete_infusion`)
PHARMACIST_EVENTS = ("reconstituted", "bag_prepared", "refrigerated",
                     "removed_from_refrigerator", "discarded")
#: what keyboard-wedge scanners are often set to type for the GS1 separator (ASCII 29), which
#: a browser field cannot receive as such
_GS_STANDINS = ("<GS>", "{GS}", "[GS]", "\u241d", "^]")
_OPEN = ("ordered", "in_preparation", "prepared", "checked", "stored", "in_use")


def wedge_text(raw: str) -> str:
    """What the scanner meant: its stand-ins for the GS1 separator put back as ASCII 29.
    Nothing else is changed (the service reads and judges the text)."""
    text = raw
    for standin in _GS_STANDINS:
        text = text.replace(standin, "\x1d")
    return text


def _failure(exc: Exception) -> dict[str, Any]:
    """What a re-rendered page shows for a service's answer other than success: the field
    errors, and for a gate's refusal the hard-stop banner."""
    return {"errors": errors_of(exc),
            "refusal": refusal_view(exc) if isinstance(exc, Refused) else None}


# --------------------------------------------------------------------------- bench


def _bench(request: Request, user: CurrentUser, site: str | None, course: int | None,
           status: int = 200, **extra: Any) -> Response:
    from tarla.web.pages.today import worklist_view

    view = worklist_view(request, user, site, None)
    web = web_of(request)
    active = web.read.preparations_at_site(view["site"].id, list(_OPEN))
    zone = view["zone"]
    ctx = {"nav": "pharmacy", **view, "highlight": course,
           "active": [prep_summary(p, view["now"], zone) | {"course_id": p["course_id"]}
                      for p in active],
           "can_prepare": user.has(Role.PHARMACIST), "errors": {}, "refusal": None}
    ctx.update(extra)
    return render(request, "pharmacy.html", ctx, status=status)


@router.get("/pharmacy")
def bench(request: Request, site: str | None = None, course: int | None = None,
          user: CurrentUser = allow(*ANY_ROLE)) -> Response:
    return _bench(request, user, site, course)


@router.post("/pharmacy/preparations")
async def start(request: Request, user: CurrentUser = pharmacist) -> Response:
    form = await request.form()
    return await run_in_threadpool(_start, request, user, form)


def _start(request: Request, user: CurrentUser, form: Any) -> Response:
    """Open the preparation of the course's due dose: the engine's dose and slot, judged by
    the service (a held, not yet due or discontinued dose gets none). A second start of the
    same dose returns its open preparation."""
    web = web_of(request)
    raw = str(form.get("course_id") or "")
    course = int(raw) if raw.isdigit() else None
    try:
        if course is None:
            raise InvalidInput("course_id", "choose a due dose to prepare")
        result = pharmacy.start_preparation(web.uow(), course_id=course, actor=user.username,
                                            now=web.now())
    except (InvalidInput, NotEnoughInformation, ServiceError) as exc:
        return _bench(request, user, None, course, status=form_status(exc), **_failure(exc))
    # the dose's open preparation, whether just started or already open (a second click)
    return RedirectResponse(f"/pharmacy/preparations/{result.preparation_id}",
                            status_code=303)


# --------------------------------------------------------------------------- one preparation


def _load(request: Request, user: CurrentUser, preparation_id: int) -> dict[str, Any]:
    web = web_of(request)
    now = web.now()
    prep = queries.preparation_of(web.uow(), preparation_id=preparation_id, viewer=user.scope)
    uow = web.uow()
    with uow.readonly():
        course = uow.courses.get(prep.course_id)
        assert course is not None
        patient = uow.patients.get(course.patient_id)
        site = uow.sites.get(prep.site_id)
        assert patient is not None and site is not None
        steps = uow.preparations.steps(preparation_id)
    zone = ZoneInfo(site.timezone)
    rows = web.read.preparations_for_courses([prep.course_id]).get(prep.course_id, [])
    row = next(r for r in rows if r["id"] == preparation_id)
    summary = prep_summary(row, now, zone)
    decision = evaluate_patient(web.uow(), now=now, viewer=user.scope, course_id=prep.course_id)
    scans = web.read.scans(preparation_id)
    names = web.read.user_names([prep.prepared_by, prep.checked_by]
                                + [s["scanned_by"] for s in scans]
                                + [s.confirmed_by for s in steps])
    done = {e["event"] for e in row["events"]}
    drug = [s for s in scans if s["component"] == "drug"]
    releases = web.read.releases_on([prep.course_id], now.astimezone(zone).date())
    return {"prep": prep, "row": row, "summary": summary, "course": course,
            "patient": patient, "site": site, "zone": zone, "decision": decision,
            "recipe": prepare_to_json(plan_preparation(prep.dose_mg),
                                      label_version=course.label_version), "scans": scans,
            "course_label_version": course.label_version,  # the footer's
            "names": names, "done": done, "now": now,
            # the stored verdict of the latest drug-vial scan, shown (the service judges)
            "latest_drug_scan": drug[-1] if drug else None,
            "drug_ok": bool(drug) and drug[-1]["verdict"] == "accept",
            "releases": releases.get(prep.course_id, []),
            "wall_now": wall_now(now, zone), "events": PHARMACIST_EVENTS,
            "bench": bench_rows(prep.dose_mg, steps, names),
            "inspection_questions": INSPECTION_QUESTIONS}


def _page(request: Request, user: CurrentUser, preparation_id: int, status: int = 200,
          **extra: Any) -> Response:
    ctx = _load(request, user, preparation_id)
    ctx.update({"nav": "pharmacy", "errors": {}, "refusal": None, "scan_result": None,
                "scan_error": None, "is_pharmacist": user.has(Role.PHARMACIST)})
    ctx.update(extra)
    return render(request, "preparation.html", ctx, status=status)


@router.get("/pharmacy/preparations/{preparation_id}")
def preparation_page(request: Request, preparation_id: int,
                     user: CurrentUser = allow(*ANY_ROLE)) -> Response:
    return _page(request, user, preparation_id)


@router.get("/pharmacy/preparations/{preparation_id}/clock")
def clock_panel(request: Request, preparation_id: int,
                user: CurrentUser = allow(*ANY_ROLE)) -> Response:
    ctx = _load(request, user, preparation_id)
    return render(request, "partials/clock.html", ctx)


@router.post("/pharmacy/preparations/{preparation_id}/scan")
async def scan(request: Request, preparation_id: int, user: CurrentUser = pharmacist) -> Response:
    form = await request.form()
    return await run_in_threadpool(_scan, request, preparation_id, user, form)


def _scan_view(r: pharmacy.ScanResult) -> dict[str, Any]:
    entry = label_catalog().lookup(r.gtin)
    return {"verdict": r.verdict, "gtin": r.gtin, "component": r.component, "lot": r.lot,
            "expiry": r.expiry, "serial": r.serial, "reasons": list(r.reasons),
            "replayed": r.replayed,
            "product_name": product_name(entry.product) if entry is not None else None}


def _scan(request: Request, preparation_id: int, user: CurrentUser, form: Any) -> Response:
    """One scanned component, verified and stored by the service (a refused scan is stored
    too, with its reasons); an unreadable scan stores nothing."""
    web = web_of(request)
    result: dict[str, Any] | None = None
    error: str | None = None
    refusal = None
    status = 200
    try:
        result = _scan_view(pharmacy.record_scan(
            web.uow(), preparation_id=preparation_id, raw=wedge_text(str(form.get("scan") or "")),
            component=str(form.get("component") or "drug"), actor=user.username,
            now=web.now()))
    except ParseError as exc:
        status = 422
        error = (f"Could not read the barcode: {exc.message}. Scan again, or type the GS1 "
                 "text printed under the barcode.")
    except Refused as exc:
        status, refusal = 409, refusal_view(exc)
    except (InvalidInput, NotEnoughInformation, ServiceError) as exc:
        status, error = form_status(exc), f"{exc.field}: {exc.message}"
    if is_htmx(request):  # htmx swaps only 2xx answers: the refusal is in the content
        fresh = _load(request, user, preparation_id)
        return render(request, "partials/scan_result.html",
                      {**fresh, "scan_result": result, "scan_error": error,
                       "scan_refusal": refusal})
    return _page(request, user, preparation_id, status=status, scan_result=result,
                 scan_error=error, scan_refusal=refusal)


@router.post("/pharmacy/preparations/{preparation_id}/events")
async def event(request: Request, preparation_id: int,
                user: CurrentUser = pharmacist) -> Response:
    form = await request.form()
    return await run_in_threadpool(_event, request, preparation_id, user, form)


def _event(request: Request, preparation_id: int, user: CurrentUser, form: Any) -> Response:
    """One event on the bag's in-use clock, judged by the service (order, time, the accepted
    drug scan and the bench steps before it, the clock)."""
    web = web_of(request)
    zone = _load(request, user, preparation_id)["zone"]
    name = str(form.get("event") or "")
    when = str(form.get("at") or "").strip()
    version = str(form.get("version") or "")
    try:
        at: datetime = local_moment(when, zone, "at") if when else web.now()
        pharmacy.advance_preparation(web.uow(), preparation_id=preparation_id, event=name,
                                     at=at, actor=user.username, now=web.now(),
                                     expected_version=int(version) if version.isdigit()
                                     else None)
    except (InvalidInput, NotEnoughInformation, ServiceError) as exc:
        return _page(request, user, preparation_id, status=form_status(exc), **_failure(exc))
    return RedirectResponse(f"/pharmacy/preparations/{preparation_id}", status_code=303)


@router.post("/pharmacy/preparations/{preparation_id}/steps")
async def bench_step(request: Request, preparation_id: int,
                     user: CurrentUser = pharmacist) -> Response:
    form = await request.form()
    return await run_in_threadpool(_bench_step, request, preparation_id, user, form)


def _bench_step(request: Request, preparation_id: int, user: CurrentUser, form: Any) -> Response:
    """Confirm the next bench step; the service and the core judge it (order, prerequisites,
    the measured volume against the recipe)."""
    web = web_of(request)
    errors = FormErrors()
    step = str(form.get("step") or "")
    raw = str(form.get("measured_ml") or "").strip()
    measured: float | None = None
    if raw:
        try:
            measured = float(raw)
        except ValueError:
            errors["measured_ml"] = f"{raw!r} is not a number of mL"
    inspection = ({name: form.get(f"inspection.{name}") == "yes"
                   for name, _, _ in INSPECTION_QUESTIONS}
                  if step == BenchStep.INSPECTED.value else None)
    note = str(form.get("note") or "").strip() or None
    entered = {"measured_ml": raw, "note": note or ""}
    if not errors:
        try:
            confirm_step(web.uow(), preparation_id=preparation_id, step=step,
                         actor=user.username, now=web.now(), measured_ml=measured,
                         inspection=inspection, note=note)
        except (InvalidInput, NotEnoughInformation, ServiceError) as exc:
            return _page(request, user, preparation_id, status=form_status(exc),
                         errors=errors_of(exc), step_values=entered)
        return RedirectResponse(f"/pharmacy/preparations/{preparation_id}", status_code=303)
    return _page(request, user, preparation_id, status=422, errors=errors, step_values=entered)


@router.post("/pharmacy/preparations/{preparation_id}/check")
async def independent_check(request: Request, preparation_id: int,
                            user: CurrentUser = pharmacist) -> Response:
    form = await request.form()
    return await run_in_threadpool(_check, request, preparation_id, user, form)


def _check(request: Request, preparation_id: int, user: CurrentUser, form: Any) -> Response:
    """The independent check, judged by the service (another pharmacist, once, a usable bag)."""
    web = web_of(request)
    version = str(form.get("version") or "")
    try:
        with signing(request, user, str(form.get("password") or "")) as signature:
            pharmacy.check_preparation(web.uow(), preparation_id=preparation_id,
                                       actor=user.username, now=web.now(),
                                       expected_version=int(version) if version.isdigit()
                                       else None, signature=signature)
    except (InvalidInput, NotEnoughInformation, ServiceError) as exc:
        return _page(request, user, preparation_id, status=form_status(exc), **_failure(exc))
    return RedirectResponse(f"/pharmacy/preparations/{preparation_id}", status_code=303)


# --------------------------------------------------------------------------- PDFs


def _pdf(request: Request, user: CurrentUser, preparation_id: int, kind: str) -> Response:
    from tarla.adapters import pdf

    ctx = _load(request, user, preparation_id)
    prep, patient, zone, now = ctx["prep"], ctx["patient"], ctx["zone"], ctx["now"]
    report = pharmacy.print_check(web_of(request).uow(), preparation_id=preparation_id,
                                  kind=kind, viewer=user.scope, now=now)
    catalog = label_catalog()
    records = []
    for s in ctx["scans"]:
        entry = catalog.lookup(s["gtin"])
        records.append(pdf.ScanRecord(s["component"], s["gtin"],
                                      product_name(entry.product) if entry else "unknown",
                                      s["lot"], s["expiry"], s["serial"],
                                      "accepted" if s["verdict"] == "accept" else "REFUSED",
                                      True))
    bag_prepared = next((e["at"].astimezone(zone) for e in ctx["row"]["events"]
                         if e["event"] == "bag_prepared"), None)
    data = pdf.LabelData(
        patient_name=f"{patient.family_name}, {patient.given_name}", mrn=patient.mrn,
        birth_date=patient.birth_date, order_id=label_barcode(prep.id), slot=prep.slot,
        prescriber=None, plan=plan_preparation(prep.dose_mg), clock=report,
        bag_prepared_at=bag_prepared, scans=tuple(records),
        prepared_by=ctx["names"].get(prep.prepared_by),
        checked_by=ctx["names"].get(prep.checked_by) if prep.checked_by else None,
        bag_material=None, printed_at=now.astimezone(zone), zone=zone,
        label_version=ctx["course"].label_version, preparation_id=prep.id)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / f"{kind}.pdf"
        if kind == "label":
            pdf.render_bag_label(data, out)
        else:
            pdf.render_worksheet(data, out, bench=tuple(
                pdf.BenchRow(b["title"], b["expected_ml"], b["measured_ml"],
                             b["confirmed_by_name"], b["confirmed_at"]) for b in ctx["bench"]))
        body = out.read_bytes()
    return Response(body, media_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="prep-{prep.id}-{kind}.pdf"'})


@router.get("/pharmacy/preparations/{preparation_id}/label.pdf")
def label_pdf(request: Request, preparation_id: int, user: CurrentUser = pharmacist) -> Response:
    return _pdf(request, user, preparation_id, "label")


@router.get("/pharmacy/preparations/{preparation_id}/worksheet.pdf")
def worksheet_pdf(request: Request, preparation_id: int,
                  user: CurrentUser = pharmacist) -> Response:
    return _pdf(request, user, preparation_id, "worksheet")

