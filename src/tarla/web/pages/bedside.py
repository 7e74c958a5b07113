"""Bedside: record a dose (start/end) and CRS/ICANS assessments, graded as the nurse types.

The forms post to ``.../preview`` on every change (HTMX); the preview grades with the same
schema models and core calls as ``tarla grade`` and asks the course engine what the grade
means for the next dose (:func:`tarla.web.present.next_dose_if`). Saving re-grades in the
service (``record_assessment`` cross-checks the grade the nurse saw).
"""

from __future__ import annotations

import secrets
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from tarla.domain.errors import InvalidInput, NotEnoughInformation
from tarla.domain.grading import grade_crs, grade_icans
from tarla.domain.grading.astct import ICE_ITEMS
from tarla.schemas.toxicity import CrsInput, IcansInput
from tarla.services import clinical
from tarla.services.errors import ServiceError
from tarla.services.queries import evaluate_patient
from tarla.services.vocab import Role
from tarla.web.auth import CurrentUser, allow
from tarla.web.overrides import override_for, record_override, require_release
from tarla.web.pages.common import FormErrors, errors_of, local_moment, render, wall_now, web_of
from tarla.web.present import bag_refusal, next_dose_if

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
    if _flag(form, "ice_unable"):
        data["ice_score"] = 0
        return data
    ice: dict[str, int] = {}
    for item in ICE_ITEMS:
        raw = str(form.get(f"ice_{item.key}") or "").strip()
        if raw == "":
            continue
        try:
            ice[item.key] = int(raw)
        except ValueError:
            errors[f"ice.{item.key}"] = f"{raw!r} is not a number of points"
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


def _page(request: Request, user: CurrentUser, course_id: int, *,
          status: int = 200, **extra: Any) -> Response:
    web = web_of(request)
    now = web.now()
    decision = evaluate_patient(web.uow(), now=now, course_id=course_id)
    zone = ZoneInfo(decision["timezone"])
    uow = web.uow()
    with uow.readonly():
        patient = uow.patients.get(decision["patient_id"])
        ongoing = [e for e in uow.events.for_course(course_id) if e.resolved_at is None]
    preps = web.read.preparations_for_courses([course_id]).get(course_id, [])
    ready = [p for p in preps if p["status"] in ("checked", "stored")]
    running = [p for p in preps if p["status"] == "in_use"]
    nd = decision.get("next_dose") or {}
    wall = wall_now(now, zone)
    override = override_for(web.read.engine, course_id,
                            date.fromisoformat(decision["as_of_date"]))
    ctx: dict[str, Any] = {
        "nav": "today", "d": decision, "patient": patient, "course_id": course_id,
        "zone": zone, "ready_preps": ready, "running_preps": running,
        "admin_v": {"started_at": wall, "dose_mg": str(nd.get("dose_mg", "")),
                    "idempotency_key": secrets.token_urlsafe(16),
                    "preparation_id": str(ready[0]["id"]) if ready else ""},
        "admin_errors": {}, "crs_v": {"assessed_at": wall, "oxygen": "none",
                                      "vasopressors": "0"},
        "crs_errors": {}, "icans_v": {"assessed_at": wall, "consciousness": "normal",
                                      "seizure": "none", "motor": "none",
                                      "cerebral_edema": "none"},
        "icans_errors": {}, "ice_items": ICE_ITEMS, "OXYGEN_WORDS": OXYGEN_WORDS,
        "CONSCIOUSNESS_WORDS": CONSCIOUSNESS_WORDS, "SEIZURE_WORDS": SEIZURE_WORDS,
        "MOTOR_WORDS": MOTOR_WORDS, "EDEMA_WORDS": EDEMA_WORDS,
        "can_give": user.has(Role.NURSE), "ongoing": ongoing, "resolve_errors": {},
        "wall_now": wall, "override": override, "override_errors": {},
        "override_names": web.read.user_names([override.decided_by] if override else []),
        "can_override": user.has(Role.PHYSICIAN) and decision["decision"] == "hold",
    }
    ctx.update(extra)
    return render(request, "bedside.html", ctx, status=status)


@router.get("/bedside/{course_id}")
def bedside_page(request: Request, course_id: int, saved: str | None = None,
                 user: CurrentUser = bedside) -> Response:
    flash = {"dose": "Dose recorded.", "crs": "CRS assessment saved.",
             "icans": "ICANS assessment saved.",
             "resolved": "Event marked resolved.",
             "override": "Hold overridden for today by physician order.",
             "completed": "Infusion completion recorded on the bag's clock."}.get(saved or "")
    return _page(request, user, course_id, flash=flash)


@router.post("/bedside/{course_id}/administration")
async def record_dose(request: Request, course_id: int,
                      user: CurrentUser = nurse_only) -> Response:
    form = await request.form()
    return await run_in_threadpool(_record_dose, request, course_id, user, dict(form))


def _record_dose(request: Request, course_id: int, user: CurrentUser,
                 form: dict[str, Any]) -> Response:
    web = web_of(request)
    values = {k: str(v) for k, v in form.items() if k != "csrf_token"}
    errors = FormErrors()
    decision = evaluate_patient(web.uow(), now=web.now(), course_id=course_id)
    zone = ZoneInfo(decision["timezone"])
    started = ended = None
    try:
        started = local_moment(values.get("started_at", ""), zone, "started_at")
    except InvalidInput as exc:
        errors[exc.field] = exc.message
    if values.get("ended_at", "").strip():
        try:
            ended = local_moment(values["ended_at"], zone, "ended_at")
        except InvalidInput as exc:
            errors[exc.field] = exc.message
    dose: int | None = None
    if values.get("dose_mg") not in ("1", "10"):
        errors["dose_mg"] = "choose 1 mg or 10 mg"
    else:
        dose = int(values["dose_mg"])
    prep_id = values.get("preparation_id", "").strip()
    bag = None
    if prep_id and not errors:
        rows = web.read.preparations_for_courses([course_id]).get(course_id, [])
        bag = next((r for r in rows if str(r["id"]) == prep_id), None)
        refusal = ("not a preparation of this course" if bag is None else
                   bag_refusal(bag, at=started, dose_mg=dose, zone=zone))  # type: ignore[arg-type]
        if refusal:
            errors["preparation_id"] = refusal
    if not errors:
        try:
            require_release(web.read.engine, decision, "recorded as given")
            result = clinical.record_administration(
                web.uow(), course_id=course_id, started_at=started, dose_mg=dose,  # type: ignore[arg-type]
                ended_at=ended, actor=user.username, now=web.now(),
                infusion_site=values.get("infusion_site", "").strip()[:64] or None,
                preparation_id=int(prep_id) if prep_id.isdigit() else None,
                idempotency_key=values.get("idempotency_key") or None)
        except (InvalidInput, NotEnoughInformation, ServiceError) as exc:
            errors.update(errors_of(exc))
        else:
            # Rendered here rather than redirected: the core's warnings about this dose (early,
            # late, unexpected strength) must reach the nurse. A resubmission replays the
            # idempotency key and records nothing twice.
            text = (f"{result.slot} {result.dose_mg} mg recorded as given"
                    + (" (already on record)" if result.replayed else "") + ".")
            warnings = list(result.warnings)
            if bag is not None and not result.replayed:
                warnings += _hang_bag(web, bag, started, ended, user.username)  # type: ignore[arg-type]
            if warnings:
                text += " Warning: " + " ".join(warnings)
            return _page(request, user, course_id, flash=text,
                         flash_kind="warn" if warnings else "ok")
    return _page(request, user, course_id, status=422, admin_v=values, admin_errors=errors)


def _hang_bag(web: Any, bag: dict[str, Any], started: Any, ended: Any,
              actor: str) -> list[str]:
    """Put the infusion on the bag's in-use clock (started, and completed when the end is
    known). The dose is already on record: a refusal here is reported, not raised."""
    from tarla.services import pharmacy

    out: list[str] = []
    version = bag["version"]
    for event, at in (("infusion_started", started), ("infusion_completed", ended)):
        if at is None:
            continue
        try:
            version = pharmacy.advance_preparation(
                web.uow(), preparation_id=bag["id"], event=event, at=at, actor=actor,
                now=web.now(), expected_version=version).version
        except (InvalidInput, ServiceError) as exc:
            out.append(f"the bag's clock was not updated ({event}: {exc.message}).")
            break
    return out


def _preview(request: Request, course_id: int, kind: str, form: Any) -> Response:
    web = web_of(request)
    errors = FormErrors()
    data = crs_inputs(form, errors) if kind == "CRS" else icans_inputs(form, errors)
    result, _ = _grade(kind, data, errors)
    meaning = None
    if result is not None:
        meaning = next_dose_if(web.uow(), course_id=course_id, kind=kind, grade=result.grade,
                               now=web.now())
    return render(request, "partials/grade.html", {"kind": kind, "result": result,
                                                   "errors": errors, "meaning": meaning})


@router.post("/bedside/{course_id}/crs/preview")
async def crs_preview(request: Request, course_id: int, user: CurrentUser = bedside) -> Response:
    form = await request.form()
    return await run_in_threadpool(_preview, request, course_id, "CRS", form)


@router.post("/bedside/{course_id}/icans/preview")
async def icans_preview(request: Request, course_id: int,
                        user: CurrentUser = bedside) -> Response:
    form = await request.form()
    return await run_in_threadpool(_preview, request, course_id, "ICANS", form)


def _save(request: Request, course_id: int, kind: str, user: CurrentUser, form: Any) -> Response:
    web = web_of(request)
    values = {k: str(v) for k, v in form.items() if k != "csrf_token"}
    errors = FormErrors()
    data = crs_inputs(form, errors) if kind == "CRS" else icans_inputs(form, errors)
    decision = evaluate_patient(web.uow(), now=web.now(), course_id=course_id)
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
                grade=int(shown) if shown.isdigit() else None)
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
    web = web_of(request)
    decision = evaluate_patient(web.uow(), now=web.now(), course_id=course_id)
    zone = ZoneInfo(decision["timezone"])
    errors = FormErrors()
    try:
        at = local_moment(str(form.get("resolved_at") or ""), zone, "resolved_at")
        version = str(form.get("version") or "")
        clinical.resolve_adverse_event(web.uow(), event_id=event_id, resolved_at=at,
                                       actor=user.username, now=web.now(),
                                       expected_version=int(version) if version.isdigit()
                                       else None)
    except (InvalidInput, NotEnoughInformation, ServiceError) as exc:
        errors.update(errors_of(exc))
        return _page(request, user, course_id, status=422, resolve_errors=errors)
    return RedirectResponse(f"/bedside/{course_id}?saved=resolved", status_code=303)


@router.post("/bedside/{course_id}/override")
async def override_hold(request: Request, course_id: int,
                        user: CurrentUser = allow(Role.PHYSICIAN)) -> Response:
    form = await request.form()
    return await run_in_threadpool(_override, request, course_id, user, form)


def _override(request: Request, course_id: int, user: CurrentUser, form: Any) -> Response:
    from tarla.web.overrides import hold_rules

    web = web_of(request)
    decision = evaluate_patient(web.uow(), now=web.now(), course_id=course_id)
    errors = FormErrors()
    if decision["decision"] != "hold":
        errors["decision"] = (f"the decision is {decision['decision']}, not hold: nothing to "
                              "override")
    else:
        try:
            record_override(web.uow(), course_id=course_id,
                            for_date=date.fromisoformat(decision["as_of_date"]),
                            reason=str(form.get("reason") or ""),
                            held_by=hold_rules(decision), actor=user.username, now=web.now())
        except (InvalidInput, ServiceError) as exc:
            errors.update(errors_of(exc))
    if errors:
        return _page(request, user, course_id, status=422, override_errors=errors,
                     override_v={"reason": str(form.get("reason") or "")})
    return RedirectResponse(f"/bedside/{course_id}?saved=override", status_code=303)


@router.post("/bedside/{course_id}/preparations/{preparation_id}/completed")
async def infusion_completed(request: Request, course_id: int, preparation_id: int,
                             user: CurrentUser = nurse_only) -> Response:
    form = await request.form()
    return await run_in_threadpool(_completed, request, course_id, preparation_id, user, form)


def _completed(request: Request, course_id: int, preparation_id: int, user: CurrentUser,
               form: Any) -> Response:
    """The end of a running infusion, on the bag's in-use clock."""
    from tarla.services import pharmacy

    web = web_of(request)
    decision = evaluate_patient(web.uow(), now=web.now(), course_id=course_id)
    zone = ZoneInfo(decision["timezone"])
    errors = FormErrors()
    rows = web.read.preparations_for_courses([course_id]).get(course_id, [])
    bag = next((r for r in rows if r["id"] == preparation_id), None)
    try:
        if bag is None:
            raise InvalidInput("preparation_id", "not a preparation of this course")
        at = local_moment(str(form.get("at") or ""), zone, "at")
        pharmacy.advance_preparation(web.uow(), preparation_id=preparation_id,
                                     event="infusion_completed", at=at, actor=user.username,
                                     now=web.now(), expected_version=bag["version"])
    except (InvalidInput, NotEnoughInformation, ServiceError) as exc:
        errors.update(errors_of(exc))
        return _page(request, user, course_id, status=422, admin_errors=errors)
    return RedirectResponse(f"/bedside/{course_id}?saved=completed", status_code=303)
