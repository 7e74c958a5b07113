"""Small builders shared by the integration tests (plain functions, real use cases)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from tarla.bootstrap import App
from tarla.services import clinical

ZONE = ZoneInfo("America/New_York")
T0 = datetime(2026, 12, 1, 8, 0, tzinfo=ZONE)


@dataclass(frozen=True)
class World:
    app: App
    site: str = "NYC"
    nurse: str = "rn.a"
    nurse2: str = "rn.b"
    pharmacist: str = "rph.a"
    pharmacist2: str = "rph.b"
    physician: str = "dr.a"

PANEL = [
    {"test": "ANC", "value": 3.1, "unit": "10^9/L", "lln": 1.8},
    {"test": "platelets", "value": 210.0, "unit": "10^9/L", "lln": 150.0},
    {"test": "hemoglobin", "value": 13.1, "unit": "g/dL", "lln": 12.0},
    {"test": "ALT", "value": 22.0, "unit": "U/L", "uln": 40.0},
    {"test": "AST", "value": 25.0, "unit": "U/L", "uln": 40.0},
    {"test": "bilirubin", "value": 0.6, "unit": "mg/dL", "uln": 1.2},
]


def enrol(w: World, mrn: str = "MRN1", start: date = date(2026, 12, 1)) -> clinical.EnrolResult:
    return clinical.enrol_patient(
        w.app.uow(), site_code=w.site, mrn=mrn, family_name="Doe", given_name="Jane",
        birth_date=date(1958, 4, 2), diagnosis="ES-SCLC", progressed_after_platinum=True,
        start_date=start, actor=w.physician, now=T0)


def give(w: World, course_id: int, days: int, dose_mg: int, **kw: object
         ) -> clinical.AdministrationResult:
    start = T0 + timedelta(days=days, hours=1)
    return clinical.record_administration(
        w.app.uow(), course_id=course_id, started_at=start, dose_mg=dose_mg, actor=w.nurse,
        now=start + timedelta(hours=2), **kw)  # type: ignore[arg-type]


def audit_count(w: World) -> int:
    with w.app.uow().readonly() as uow:
        return uow.audit.count()
