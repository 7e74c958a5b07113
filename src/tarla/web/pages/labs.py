"""Labs: a patient's results on record, and entry of the pre-dose panel, graded as typed.

The form offers one row per test the label requires before a dose (from
:func:`tarla.services.lab_entry.panel_tests`). Every change posts the form to ``.../preview``
(HTMX), which answers each row's CTCAE v5.0 grade, or the row's error naming its field,
through :func:`~tarla.services.lab_entry.preview_lab_grades`. Saving charts the filled rows as
one panel (:func:`tarla.services.clinical.record_lab_panel`, one transaction); empty rows are
ignored, and any bad row refuses the whole panel (422, nothing written).

Form fields are ``collected_at`` and ``{test}-{field}`` (``ANC-value``, ``ALT-uln`` ...);
errors are keyed the same way, so each one is shown next to its field.
"""

from __future__ import annotations

import math
import re
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from tarla.domain.errors import InvalidInput
from tarla.services import clinical
from tarla.services.lab_entry import LabSheet, PanelTest, lab_sheet, panel_tests
from tarla.services.lab_entry import preview_lab_grades as preview_grades
from tarla.services.vocab import Role
from tarla.web.auth import ANY_ROLE, CurrentUser, allow
from tarla.web.pages.common import FormErrors, local_moment, render, wall_now, web_of

__all__ = ["router", "LAB_ROLES", "TEST_NAMES"]

router = APIRouter(include_in_schema=False)
LAB_ROLES = (Role.NURSE, Role.PHYSICIAN, Role.PHARMACIST)
clinicians = allow(*LAB_ROLES)

#: How the screen names the grader's tests.
TEST_NAMES = MappingProxyType({"ANC": "Neutrophils (ANC)", "platelets": "Platelets",
                               "hemoglobin": "Haemoglobin", "ALT": "ALT", "AST": "AST",
                               "bilirubin": "Total bilirubin"})
FIELD_NAMES = MappingProxyType({"value": "Value", "unit": "Unit", "lln": "LLN", "uln": "ULN",
                                "baseline": "Baseline"})
SHOWN_LABS = 100
_PANEL_INDEX = re.compile(r"^results\[(\d+)\]\.(\w+)$")


# --------------------------------------------------------------------------- form parsing


def _key(test: str, name: str) -> str:
    return f"{test}-{name}"


def _number(raw: str, key: str, errors: FormErrors) -> float | None:
    """A typed number, or ``None`` when empty. A comma is refused rather than read as a
    decimal point or a thousands separator: '1,500' could be either."""
    text = raw.strip()
    if not text:
        return None
    if "," in text:
        errors[key] = (f"{text!r} has a comma: write a decimal point (1.5) and no thousands "
                       "separator")
        return None
    try:
        value = float(text)
    except ValueError:
        errors[key] = f"{text!r} is not a number"
        return None
    if not math.isfinite(value):
        errors[key] = f"{text!r} is not a number"
        return None
    return value


def _rows(form: Any, tests: tuple[PanelTest, ...],
          errors: FormErrors) -> list[tuple[PanelTest, dict[str, Any]]]:
    """The filled rows (a value typed) as ``record_lab_panel`` results; parse errors go into
    ``errors`` and leave the row out. A row with only a unit or limits is empty."""
    out = []
    for t in tests:
        raw = str(form.get(_key(t.test, "value")) or "")
        if not raw.strip():
            continue
        before = len(errors)
        result: dict[str, Any] = {"test": t.test,
                                  "value": _number(raw, _key(t.test, "value"), errors),
                                  "unit": str(form.get(_key(t.test, "unit")) or "").strip()}
        for name in t.limits:
            number = _number(str(form.get(_key(t.test, name)) or ""), _key(t.test, name),
                             errors)
            if number is not None:
                result[name] = number
        if len(errors) == before:
            out.append((t, result))
    return out


def _grade_rows(rows: list[tuple[PanelTest, dict[str, Any]]],
                errors: FormErrors) -> dict[str, dict[str, Any]]:
    """test -> preview of its row; a refused row's error goes into ``errors`` by its key."""
    previews = preview_grades([r for _, r in rows])
    out: dict[str, dict[str, Any]] = {}
    for (t, _), p in zip(rows, previews, strict=True):
        out[t.test] = p
        if p["field"]:
            errors[_key(t.test, p["field"])] = p["message"]
    return out


def _values(form: Any) -> dict[str, str]:
    return {k: str(v) for k, v in form.items() if k != "csrf_token"}


def _shown(x: float | None) -> str:
    if x is None:
        return ""
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def _prefill(sheet: LabSheet, tests: tuple[PanelTest, ...], zone: ZoneInfo,
             now: Any) -> dict[str, str]:
    """A fresh form: collected now, and each test's unit and limits as on its last result
    (a convenience the screen says it made; they stay editable)."""
    v = {"collected_at": wall_now(now, zone)}
    for t in tests:
        last = sheet.last.get(t.test)
        if last is None:
            continue
        if last.unit in t.units:
            v[_key(t.test, "unit")] = last.unit
        for name in t.limits:
            v[_key(t.test, name)] = _shown(getattr(last, name))
    return v


# --------------------------------------------------------------------------- page


def _page(request: Request, user: CurrentUser, sheet: LabSheet, *, values: dict[str, str],
          errors: FormErrors, grades: dict[str, dict[str, Any]], status: int = 200,
          flash: str | None = None) -> Response:
    web = web_of(request)
    labs = sheet.labs[:SHOWN_LABS]
    tests = panel_tests()
    return render(request, "labs.html", {
        "nav": "patients", "patient": sheet.patient, "zone": ZoneInfo(sheet.timezone),
        "labs": labs, "lab_count": len(sheet.labs), "decision": sheet.decision,
        "course_label_version": (sheet.decision or {}).get("course_label_version"),
        "names": web.read.user_names([x.charted_by for x in labs]),
        "tests": tests, "limit_needs": {k: w for t in tests for k, w in t.needs.items()},
        "v": values, "errors": errors, "grades": grades,
        "TEST_NAMES": TEST_NAMES, "FIELD_NAMES": FIELD_NAMES,
        "can_chart": user.has(*LAB_ROLES), "prefilled": bool(sheet.last) and not errors,
        "flash": flash}, status=status)


@router.get("/patients/{patient_id}/labs")
def labs_page(request: Request, patient_id: int, charted: int = 0,
              user: CurrentUser = allow(*ANY_ROLE)) -> Response:
    web = web_of(request)
    now = web.now()
    sheet = lab_sheet(web.uow(), patient_id=patient_id, now=now, viewer=user.scope)
    values = _prefill(sheet, panel_tests(), ZoneInfo(sheet.timezone), now)
    flash = (f"{charted} result{'' if charted == 1 else 's'} charted." if charted > 0
             else None)
    return _page(request, user, sheet, values=values, errors=FormErrors(), grades={},
                 flash=flash)


@router.post("/patients/{patient_id}/labs/preview")
async def labs_preview(request: Request, patient_id: int,
                       user: CurrentUser = clinicians) -> Response:
    form = await request.form()
    return await run_in_threadpool(_preview, request, user, patient_id, form)


def _preview(request: Request, user: CurrentUser, patient_id: int, form: Any) -> Response:
    web = web_of(request)
    # 404 for a patient unknown here (none, or another site's)
    lab_sheet(web.uow(), patient_id=patient_id, now=web.now(), viewer=user.scope)
    tests = panel_tests()
    errors = FormErrors()
    rows = _rows(form, tests, errors)
    grades = _grade_rows(rows, errors)
    filled = sum(1 for t in tests if str(form.get(_key(t.test, "value")) or "").strip())
    return render(request, "partials/lab_grades.html", {
        "tests": tests, "grades": grades, "errors": errors, "filled": filled,
        "TEST_NAMES": TEST_NAMES, "FIELD_NAMES": FIELD_NAMES})


@router.post("/patients/{patient_id}/labs")
async def labs_save(request: Request, patient_id: int,
                    user: CurrentUser = clinicians) -> Response:
    form = await request.form()
    return await run_in_threadpool(_save, request, patient_id, user, form)


def _save(request: Request, patient_id: int, user: CurrentUser, form: Any) -> Response:
    web = web_of(request)
    sheet = lab_sheet(web.uow(), patient_id=patient_id, now=web.now(), viewer=user.scope)
    zone = ZoneInfo(sheet.timezone)
    tests = panel_tests()
    values = _values(form)
    errors = FormErrors()
    collected = None
    try:
        collected = local_moment(values.get("collected_at", ""), zone, "collected_at")
    except InvalidInput as exc:
        errors[exc.field] = exc.message
    rows = _rows(form, tests, errors)
    grades = _grade_rows(rows, errors)
    if not rows and not errors:
        errors["results"] = "enter at least one value (empty rows are ignored)"
    if not errors:
        try:
            saved = clinical.record_lab_panel(
                web.uow(), patient_id=patient_id, results=[r for _, r in rows],
                collected_at=collected, actor=user.username, now=web.now())  # type: ignore[arg-type]
        except InvalidInput as exc:
            errors[_field_of(exc.field, rows)] = exc.message
        else:
            return RedirectResponse(f"/patients/{patient_id}/labs?charted={len(saved)}",
                                    status_code=303)
    return _page(request, user, sheet, values=values, errors=errors, grades=grades,
                 status=422)


def _field_of(field: str, rows: list[tuple[PanelTest, dict[str, Any]]]) -> str:
    """The form field of a service error: ``results[2].uln`` -> ``hemoglobin-uln``."""
    m = _PANEL_INDEX.match(field)
    if m and int(m.group(1)) < len(rows):
        return _key(rows[int(m.group(1))][0].test, m.group(2))
    return field
