"""Small builders shared by the integration tests (plain functions, real use cases).

Doses go through the closed loop (``closed_loop_cases.LoopWorld``): the labs, a bag prepared
by one pharmacist and checked by the other, then the bedside scans of the wristband and the
bag label."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from closed_loop_cases import LoopWorld, Patient, Staff
from tarla.bootstrap import App
from tarla.domain.identification import label_barcode, wristband_barcode
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

    @property
    def loop(self) -> LoopWorld:
        return LoopWorld(self.app.uow, Staff(self.site, self.nurse, self.nurse2,
                                             self.pharmacist, self.pharmacist2,
                                             self.physician))


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


def patient_of(w: World, course_id: int) -> Patient:
    with w.app.uow().readonly() as uow:
        course = uow.courses.get(course_id)
        assert course is not None
        p = uow.patients.get(course.patient_id)
        assert p is not None
    return Patient(p.id, course_id, p.mrn)  # type: ignore[arg-type]


def bag(w: World, course_id: int, days: int) -> int:
    """The labs at 07:00 of day ``days`` (day 0 = T0's date), then the due dose's bag
    prepared from 07:45 and checked at 08:12. Returns the preparation id."""
    p = patient_of(w, course_id)
    drawn = T0 + timedelta(days=days, hours=-1)
    w.loop.labs(p, drawn)
    pid = w.loop.prepare(p, drawn + timedelta(minutes=45), f"K{course_id}-{days}")
    w.loop.premedicate(p, T0 + timedelta(days=days, hours=1))  # C1D1/C1D8 care (label §3)
    return pid


def chart(w: World, course_id: int, days: int, preparation_id: int, **kw: object
          ) -> clinical.AdministrationResult:
    """The bedside: wristband and bag label scanned, started at 09:00 of day ``days``."""
    p = patient_of(w, course_id)
    start = T0 + timedelta(days=days, hours=1)
    return clinical.record_administration(
        w.app.uow(), course_id=course_id, started_at=start, actor=w.nurse,
        now=start + timedelta(hours=2), patient_scan=wristband_barcode(p.mrn),
        bag_scan=label_barcode(preparation_id), **kw)  # type: ignore[arg-type]


def give(w: World, course_id: int, days: int, dose_mg: int, **kw: object
         ) -> clinical.AdministrationResult:
    """The whole loop for the dose due on day ``days``; ``dose_mg`` is what the engine must
    have chosen (checked here, not sent)."""
    result = chart(w, course_id, days, bag(w, course_id, days), **kw)
    assert result.dose_mg == dose_mg, result
    return result


def audit_count(w: World) -> int:
    with w.app.uow().readonly() as uow:
        return uow.audit.count()
