"""Bedside: chart the dose by scanning the wristband and the bag, record the end of the
infusion, CRS/ICANS assessments graded as the nurse types, the end of an adverse event, and a
physician's release of today's held dose.

Charting calls :func:`tarla.services.clinical.record_administration` with the raw scanned
texts: the service judges the patient, the bag, the dose and the day
(:func:`tarla.domain.release.may_administer`), hangs the bag, and writes nothing when it
refuses; the page shows the refusal as a hard stop (409), a form it cannot read as 422.

The assessment forms post to ``.../preview`` on every change (HTMX); the preview grades with
the same schema models and core calls as ``tarla grade`` and asks the course engine what the
grade means for the next dose (:func:`tarla.web.present.next_dose_if`). Saving re-grades in
the service (``record_assessment`` cross-checks the grade the nurse saw).
"""

from __future__ import annotations

import secrets
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from tarla.adapters.webhook import post_alert
from tarla.domain.errors import InvalidInput, NotEnoughInformation
from tarla.domain.grading import grade_crs, grade_icans
from tarla.domain.grading.astct import ICE_ITEMS
from tarla.schemas.toxicity import CrsInput, IcansInput
from tarla.services import clinical, queries
from tarla.services.errors import Conflict, Refused, ServiceError
from tarla.services.queries import evaluate_patient
from tarla.services.vocab import Role
from tarla.web.auth import CurrentUser, allow
from tarla.web.esign import signing
from tarla.web.pages.alerts import stop_infusion_alerts
from tarla.web.pages.common import (
    FormErrors,
    errors_of,
    form_status,
    local_moment,
    render,
    wall_now,
    web_of,
)
from tarla.web.present import next_dose_if, refusal_view

__all__ = ["router", "crs_inputs", "icans_inputs", "BEDSIDE_ROLES"]

router = APIRouter(include_in_schema=False)
BEDSIDE_ROLES = (Role.NURSE, Role.PHYSICIAN)
bedside = allow(*BEDSIDE_ROLES)
nurse_only = allow(Role.NURSE)

OXYGEN_WORDS = {
    "none": "None (room air)", "low_flow": "Low-flow nasal cannula (≤ 6 L/min)",
    "blow_by": "Blow-by", "high_flow": "High-flow nasal cannula (> 6 L/min)",
    "facemask": "Facemask", "non_rebreather": "Non-rebreather mask", "venturi": "Venturi mask",
    "cpap": "CPAP", "bipap": "BiPAP", "mechanical_ventilation": "Intubation / mechanical "
    "ventilation"}
CONSCIOUSNESS_WORDS = {
    "normal": "Normal, awake", "awakens_spontaneously": "Awakens spontaneously",
    "awakens_to_voice": "Awakens only to voice", "awakens_to_touch": "Awakens only to touch",
    "unarousable": "Unarousable, or needs vigorous/repetitive touch"}
SEIZURE_WORDS = {"none": "None", "rapidly_resolving": "Any clinical seizure that resolves "
                 "rapidly, or non-convulsive seizure on EEG resolving with intervention",
                 "prolonged_or_repetitive": "Prolonged (> 5 min) seizure, or repetitive "
                 "seizures without return to baseline in between"}
MOTOR_WORDS = {"none": "None", "deep_focal_weakness": "Deep focal motor weakness "
               "(hemiparesis, paraparesis)"}
EDEMA_WORDS = {"none": "None", "focal": "Focal/local oedema on imaging",
               "diffuse": "Diffuse cerebral oedema, decerebrate/decorticate posturing, "
                      "cranial nerve VI palsy, papilloedema or Cushing's triad"}


# --------------------------------------------------------------------------- form parsing


def _flag(form: Any, name: str) -> bool:
    return form.get(name) in ("on", "true", "1", "yes")


def _number(form: Any, name: str, errors: FormErrors, *, integer: bool = False) -> Any:
    raw = str(form.get(name) or "").strip().replace(",", ".")
    if not raw:
        return None
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        errors[name] = f"{raw!r} is not a {'whole ' if integer else ''}number"
        return None
    if not integer and (value != value or value in (float("inf"), float("-inf"))):
        errors[name] = f"{raw!r} is not a number"
        return None
    return value


def crs_inputs(form: Any, errors: FormErrors) -> dict[str, Any]:
    """The CRS form as the input of ``tarla grade crs``."""
    data: dict[str, Any] = {
        "temperature_c": _number(form, "temperature_c", errors),
        "fever_masked": _flag(form, "fever_masked"),
        "hypotension": _flag(form, "hypotension"),
        "vasopressors": _number(form, "vasopressors", errors, integer=True) or 0,
        "vasopressin": _flag(form, "vasopressin"),
        "oxygen": str(form.get("oxygen") or "none"),
        "oxygen_l_per_min": _number(form, "oxygen_l_per_min", errors),
    }
    if data["temperature_c"] is None and not data["fever_masked"] and "temperature_c" not in errors:
        errors["temperature_c"] = ("is required (tick 'fever masked' if antipyretics or "
                                   "anti-cytokine treatment hide it)")
    return data


def icans_inputs(form: Any, errors: FormErrors) -> dict[str, Any]:
    """The ICANS form (ICE items answered one by one) as the input of ``tarla grade icans``."""
    data: dict[str, Any] = {
        "consciousness": str(form.get("consciousness") or ""),
        "seizure": str(form.get("seizure") or "none"),
        "motor": str(form.get("motor") or "none"),
        "cerebral_edema": str(form.get("cerebral_edema") or "none"),
    }
    if not data["consciousness"]:
        errors["consciousness"] = "is required"
    ice: dict[str, int] = {}
    for item in ICE_ITEMS:
        raw = str(form.get(f"ice_{item.key}") or "").strip()
        if raw == "":
            continue
        try:
            ice[item.key] = int(raw)
        except ValueError:
            errors[f"ice.{item.key}"] = f"{raw!r} is not a number of points"
    if _flag(form, "ice_unable"):
        # Unarousable and unable to do the ICE: the grader reads the consciousness domain as
        # unarousable. Answers given as well are sent on, and refused there as contradictory.
        data["ice_unable"] = True
        if ice:
            data["ice"] = ice
        return data
    data["ice"] = ice
    return data


def _grade(kind: str, data: dict[str, Any], errors: FormErrors) -> tuple[Any, dict[str, Any]]:
    """(graded result or None, the validated inputs as JSON) — errors go into ``errors``."""
    if errors:
        return None, data
    try:
        if kind == "CRS":
            model: CrsInput | IcansInput = CrsInput.model_validate(data)
            result = grade_crs(**model.model_dump())
        else:
            model = IcansInput.model_validate(data)
            result = grade_icans(**model.model_dump())
    except (ValidationError, InvalidInput) as exc:
        errors.update(errors_of(exc))
        return None, data
    return result, model.model_dump(mode="json", exclude_none=True)


# --------------------------------------------------------------------------- page

#: the fields of the charting form a refusal can name (others go to the banner only)
DOSE_FIELDS = ("patient_scan", "bag_scan", "started_at", "ended_at", "infusion_site",
               "scan_exception.reason", "scan_exception.witness",
               "scan_exception.witness_password", "preparation_id")


def _page(request: Request, user: CurrentUser, course_id: int, *,
          status: int = 200, **extra: Any) -> Response:
    web = web_of(request)
    now = web.now()
    decision = evaluate_patient(web.uow(), now=now, viewer=user.scope, course_id=course_id)
    zone = ZoneInfo(decision["timezone"])
    uow = web.uow()
    with uow.readonly():
        patient = uow.patients.get(decision["patient_id"])
        ongoing = [e for e in uow.events.for_course(course_id) if e.resolved_at is None]
    preps = web.read.preparations_for_courses([course_id]).get(course_id, [])
    # the bags a nurse may name under a scan exception: this course's, checked, not yet hung
    # (shown only; the service judges the bag named)
    ready = [p for p in preps if p["checked_by"] is not None
             and p["status"] in ("checked", "stored")]
    running = [p for p in preps if p["status"] == "in_use"]
    wall = wall_now(now, zone)
    releases = web.read.releases_on([course_id], date.fromisoformat(decision["as_of_date"]))
    names = web.read.user_names([e.resolution_proposed_by for e in ongoing])
    ctx: dict[str, Any] = {
        "nav": "today", "d": decision, "patient": patient, "course_id": course_id,
        "course_label_version": decision["course_label_version"],
        "zone": zone, "ready_preps": ready, "running_preps": running,
        "admin_v": {"started_at": wall, "idempotency_key": secrets.token_urlsafe(16)},
        "admin_errors": {}, "refusal": None,
        "crs_v": {"assessed_at": wall, "oxygen": "none", "vasopressors": "0"},
        "crs_errors": {}, "icans_v": {"assessed_at": wall, "consciousness": "normal",
                                      "seizure": "none", "motor": "none",
                                      "cerebral_edema": "none"},
        "icans_errors": {}, "ice_items": ICE_ITEMS, "OXYGEN_WORDS": OXYGEN_WORDS,
        "CONSCIOUSNESS_WORDS": CONSCIOUSNESS_WORDS, "SEIZURE_WORDS": SEIZURE_WORDS,
        "MOTOR_WORDS": MOTOR_WORDS, "EDEMA_WORDS": EDEMA_WORDS,
        "can_give": user.has(Role.NURSE), "is_physician": user.has(Role.PHYSICIAN),
        "ongoing": ongoing, "names": names, "resolve_errors": {}, "wall_now": wall,
        "proposed_wall": {e.id: wall_now(e.resolution_proposed_at, zone) for e in ongoing
                          if e.resolution_proposed_at is not None},
        "releases": releases.get(course_id, []), "release_errors": {}, "release_v": {},
        "complete_errors": {}, "DOSE_FIELDS": DOSE_FIELDS,
        # "Stop the infusion now": the course's open alerts raised while it was running
        "stop_alerts": stop_infusion_alerts(request, user, course_id),
    }
    from tarla.web.pages.care import care_context  # premedication, saline, discharge

    ctx.update(care_context(request, user, course_id, now))
    ctx.update(extra)
    return render(request, "bedside.html", ctx, status=status)


@router.get("/bedside/{course_id}")
def bedside_page(request: Request, course_id: int, saved: str | None = None,
                 user: CurrentUser = bedside) -> Response:
    flash = {"crs": "CRS assessment saved.",
             "icans": "ICANS assessment saved.",
             "resolved": "Event resolved by a physician.",
             "proposed": "Entered as resolved: awaiting a physician's confirmation. The event "
                         "still holds the dose until a physician confirms it.",
             "completed": "Infusion completed: the end time is on the dose and on the bag's "
                          "clock."}.get(saved or "")
    return _page(request, user, course_id, flash=flash,
                 flash_kind="warn" if saved == "proposed" else "ok")


# --------------------------------------------------------------------------- the dose


@router.post("/bedside/{course_id}/administration")
async def record_dose(request: Request, course_id: int,
                      user: CurrentUser = nurse_only) -> Response:
    form = await request.form()
    return await run_in_threadpool(_record_dose, request, course_id, user, dict(form))


def _text(values: dict[str, str], name: str) -> str | None:
    return values.get(name, "").strip() or None


def _record_dose(request: Request, course_id: int, user: CurrentUser,
                 form: dict[str, Any]) -> Response:
    """Chart the dose from the scans as typed by the scanner. The dose is the engine's: the
    form sends back only the dose and slot it showed, as a cross-check."""
    web = web_of(request)
    values = {k: str(v) for k, v in form.items() if k != "csrf_token"}
    errors = FormErrors()
    zone = ZoneInfo(evaluate_patient(web.uow(), now=web.now(), viewer=user.scope,
                                     course_id=course_id)["timezone"])
    started: datetime | None = None
    ended: datetime | None = None
    try:
        started = local_moment(values.get("started_at", ""), zone, "started_at")
    except InvalidInput as exc:
        errors[exc.field] = exc.message
    if values.get("ended_at", "").strip():
        try:
            ended = local_moment(values["ended_at"], zone, "ended_at")
        except InvalidInput as exc:
            errors[exc.field] = exc.message
    shown_dose = values.get("dose_mg_shown", "").strip()
    bag = values.get("preparation_id", "").strip()
    if bag and not bag.isdigit():
        errors["preparation_id"] = "choose a bag from the list"
    if errors:
        return _page(request, user, course_id, status=422, admin_v=values, admin_errors=errors)
    witness_password = values.pop("scan_exception.witness_password", None)  # never re-shown
    try:
        with signing(request, user, witness_password) as witness_signature:
            result = clinical.record_administration(
                web.uow(), course_id=course_id, started_at=started,  # type: ignore[arg-type]
                actor=user.username, now=web.now(),
                dose_mg=int(shown_dose) if shown_dose.isdigit() else None,
                slot=_text(values, "slot_shown"),
                patient_scan=values.get("patient_scan") or None,
                bag_scan=values.get("bag_scan") or None,
                preparation_id=int(bag) if bag else None,
                scan_exception_reason=_text(values, "scan_exception.reason"),
                witness=_text(values, "scan_exception.witness"), ended_at=ended,
                infusion_site=(_text(values, "infusion_site") or "")[:64] or None,
                idempotency_key=values.get("idempotency_key") or None,
                witness_signature=witness_signature)
    except (InvalidInput, NotEnoughInformation, ServiceError) as exc:
        return _page(request, user, course_id, status=form_status(exc), admin_v=values,
                     admin_errors=errors_of(exc),
                     refusal=refusal_view(exc) if isinstance(exc, Refused | Conflict) else None,
                     refusal_title="STOP — do not give this dose. Nothing was charted.")
    # Rendered rather than redirected: the service's warnings about this dose (early, late, a
    # short infusion) must reach the nurse. A resubmission replays the idempotency key and
    # records nothing twice.
    bag_text = f" from bag PREP-{result.preparation_id}" if result.preparation_id else ""
    text = (f"{result.slot} {result.dose_mg} mg charted as given{bag_text}"
            + (" (already on record: nothing new was written)" if result.replayed else "")
            + ("; the infusion is running." if ended is None and not result.replayed else "."))
    if result.warnings:
        text += " Warning: " + " ".join(result.warnings)
    return _page(request, user, course_id, flash=text,
                 flash_kind="warn" if result.warnings else "ok")


@router.post("/bedside/{course_id}/preparations/{preparation_id}/completed")
async def infusion_completed(request: Request, course_id: int, preparation_id: int,
                             user: CurrentUser = nurse_only) -> Response:
    form = await request.form()
    return await run_in_threadpool(_completed, request, course_id, preparation_id, user, form)


def _completed(request: Request, course_id: int, preparation_id: int, user: CurrentUser,
               form: Any) -> Response:
    """"Infusion completed": the service writes the end on the dose and on the bag's clock,
    and says when the infusion was much shorter than the label's hour."""
    web = web_of(request)
    zone = ZoneInfo(evaluate_patient(web.uow(), now=web.now(), viewer=user.scope,
                                     course_id=course_id)["timezone"])
    version = str(form.get("version") or "")
    try:
        at = local_moment(str(form.get("at") or ""), zone, "at")
        result = clinical.complete_infusion(
            web.uow(), preparation_id=preparation_id, ended_at=at, actor=user.username,
            now=web.now(), expected_version=int(version) if version.isdigit() else None)
    except (InvalidInput, NotEnoughInformation, ServiceError) as exc:
        return _page(request, user, course_id, status=form_status(exc),
                     complete_errors=errors_of(exc),
                     refusal=refusal_view(exc) if isinstance(exc, Refused) else None)
    if result.warnings:
        return _page(request, user, course_id, flash_kind="warn", flash=(
            f"Infusion of {result.slot} {result.dose_mg} mg completed. Warning: "
            + " ".join(result.warnings)))
    return RedirectResponse(f"/bedside/{course_id}?saved=completed", status_code=303)


# --------------------------------------------------------------------------- assessments


def _preview(request: Request, user: CurrentUser, course_id: int, kind: str,
             form: Any) -> Response:
    web = web_of(request)
    # the course first: another site's (or none) is 404 whatever the form holds
    queries.course_of(web.uow(), course_id=course_id, viewer=user.scope)
    errors = FormErrors()
    data = crs_inputs(form, errors) if kind == "CRS" else icans_inputs(form, errors)
    result, _ = _grade(kind, data, errors)
    meaning = None
    if result is not None:
        meaning = next_dose_if(web.uow(), course_id=course_id, kind=kind, grade=result.grade,
                               now=web.now(), viewer=user.scope)
    return render(request, "partials/grade.html", {"kind": kind, "result": result,
                                                   "errors": errors, "meaning": meaning})


@router.post("/bedside/{course_id}/crs/preview")
async def crs_preview(request: Request, course_id: int, user: CurrentUser = bedside) -> Response:
    form = await request.form()
    return await run_in_threadpool(_preview, request, user, course_id, "CRS", form)


@router.post("/bedside/{course_id}/icans/preview")
async def icans_preview(request: Request, course_id: int,
                        user: CurrentUser = bedside) -> Response:
    form = await request.form()
    return await run_in_threadpool(_preview, request, user, course_id, "ICANS", form)


def _save(request: Request, course_id: int, kind: str, user: CurrentUser, form: Any) -> Response:
    web = web_of(request)
    values = {k: str(v) for k, v in form.items() if k != "csrf_token"}
    errors = FormErrors()
    data = crs_inputs(form, errors) if kind == "CRS" else icans_inputs(form, errors)
    decision = evaluate_patient(web.uow(), now=web.now(), viewer=user.scope,
                                course_id=course_id)
    zone = ZoneInfo(decision["timezone"])
    assessed = None
    try:
        assessed = local_moment(values.get("assessed_at", ""), zone, "assessed_at")
    except InvalidInput as exc:
        errors[exc.field] = exc.message
    result, inputs = _grade(kind, data, errors)
    if result is not None and not errors:
        shown = values.get("grade_shown", "").strip()
        try:
            clinical.record_assessment(
                web.uow(), course_id=course_id, kind=kind, inputs=inputs,
                assessed_at=assessed, actor=user.username, now=web.now(),  # type: ignore[arg-type]
                grade=int(shown) if shown.isdigit() else None, notify=post_alert)
        except (InvalidInput, NotEnoughInformation, ServiceError) as exc:
            errors.update(errors_of(exc))
        else:
            return RedirectResponse(f"/bedside/{course_id}?saved={kind.lower()}",
                                    status_code=303)
    key = "crs" if kind == "CRS" else "icans"
    return _page(request, user, course_id, status=422, **{f"{key}_v": values,
                                                         f"{key}_errors": errors,
                                                         "open": key})


@router.post("/bedside/{course_id}/crs")
async def crs_save(request: Request, course_id: int, user: CurrentUser = bedside) -> Response:
    form = await request.form()
    return await run_in_threadpool(_save, request, course_id, "CRS", user, form)


@router.post("/bedside/{course_id}/icans")
async def icans_save(request: Request, course_id: int, user: CurrentUser = bedside) -> Response:
    form = await request.form()
    return await run_in_threadpool(_save, request, course_id, "ICANS", user, form)



@router.post("/bedside/{course_id}/events/{event_id}/resolve")
async def resolve_event(request: Request, course_id: int, event_id: int,
                        user: CurrentUser = bedside) -> Response:
    form = await request.form()
    return await run_in_threadpool(_resolve, request, course_id, event_id, user, form)


def _resolve(request: Request, course_id: int, event_id: int, user: CurrentUser,
             form: Any) -> Response:
    """"Mark resolved" (a nurse: a proposal a physician confirms) or "Confirm resolved" (a
    physician): the same service call; the service decides which it is."""
    web = web_of(request)
    decision = evaluate_patient(web.uow(), now=web.now(), viewer=user.scope,
                                course_id=course_id)
    zone = ZoneInfo(decision["timezone"])
    try:
        at = local_moment(str(form.get("resolved_at") or ""), zone, "resolved_at")
        version = str(form.get("version") or "")
        clinical.resolve_adverse_event(web.uow(), event_id=event_id, resolved_at=at,
                                       actor=user.username, now=web.now(),
                                       expected_version=int(version) if version.isdigit()
                                       else None)
    except (InvalidInput, NotEnoughInformation, ServiceError) as exc:
        return _page(request, user, course_id, status=form_status(exc),
                     resolve_errors=errors_of(exc))
    uow = web.uow()
    with uow.readonly():
        event = uow.events.get(event_id)
    done = event is not None and event.resolved_at is not None
    return RedirectResponse(f"/bedside/{course_id}?saved={'resolved' if done else 'proposed'}",
                            status_code=303)


@router.post("/bedside/{course_id}/release")
async def release_dose(request: Request, course_id: int,
                       user: CurrentUser = allow(Role.PHYSICIAN)) -> Response:
    form = await request.form()
    return await run_in_threadpool(_release, request, course_id, user, form)


def _release(request: Request, course_id: int, user: CurrentUser, form: Any) -> Response:
    """A physician releases today's dose; the service reads what it covers (the hold rules
    and missing labs present now) and the page says so."""
    web = web_of(request)
    reason = str(form.get("reason") or "")
    try:
        with signing(request, user, str(form.get("password") or "")) as signature:
            result = clinical.release_dose(web.uow(), course_id=course_id, reason=reason,
                                           actor=user.username, now=web.now(),
                                           signature=signature)
    except (InvalidInput, NotEnoughInformation, ServiceError) as exc:
        return _page(request, user, course_id, status=form_status(exc),
                     release_errors=errors_of(exc), release_v={"reason": reason},
                     refusal=refusal_view(exc) if isinstance(exc, Refused) else None)
    covers = [f"GATE-HOLD ({', '.join(result.covers_rules)})"] if result.covers_rules else []
    if result.covers_labs:
        covers.append(f"GATE-LABS-MISSING ({', '.join(result.covers_labs)})")
    return _page(request, user, course_id, flash_kind="warn", flash=(
        f"{result.slot} released for {result.for_date:%a %d %b %Y}: covers "
        f"{'; '.join(covers)}. A new hold reason needs a new release."))
