"""A small, known infusion centre for the web tests, built through the real use cases."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tarla.services import admin, clinical, demo
from tarla.services.ports import UnitOfWork
from tarla.web.auth import hash_password

SCRIPT_NAME = "<script>alert('x')</script>"


@dataclass(frozen=True)
class Crew:
    """Who records the world's history (usernames of its site's staff)."""

    physician: str = "dr.khan"
    nurse: str = "rn.alvarez"
    nurse2: str = "rn.chen"
    pharmacist: str = "rph.okoro"
    pharmacist2: str = "rph.berg"


@dataclass
class World:
    site: str
    today: date
    patients: dict[str, int] = field(default_factory=dict)  # key -> patient id
    courses: dict[str, int] = field(default_factory=dict)  # key -> course id


def panel() -> list[dict[str, object]]:
    return [{"test": "ANC", "value": 3.2, "unit": "10^9/L", "lln": 1.8},
            {"test": "platelets", "value": 220.0, "unit": "10^9/L", "lln": 150.0},
            {"test": "hemoglobin", "value": 13.1, "unit": "g/dL", "lln": 12.0},
            {"test": "ALT", "value": 25.0, "unit": "U/L", "uln": 40.0},
            {"test": "AST", "value": 22.0, "unit": "U/L", "uln": 40.0},
            {"test": "bilirubin", "value": 0.6, "unit": "mg/dL", "uln": 1.2}]


def build_world(uow: Callable[[], UnitOfWork], *, today: date, zone: ZoneInfo,
                users: dict[str, tuple[str, tuple[str, ...]]], password: str,
                site: str = "DEMO", crew: Crew = Crew(),
                name: str = "Riverside infusion centre") -> World:
    at = lambda d, h, m=0: datetime.combine(d, time(h, m), zone)  # noqa: E731
    setup = at(today - timedelta(days=60), 8)
    admin.create_site(uow(), code=site, name=name, timezone=zone.key, now=setup)
    digest = hash_password(password)
    for username, (name, roles) in users.items():
        admin.create_user(uow(), username=username, display_name=name, roles=roles, now=setup,
                          site_code=site, password_hash=digest)
    w = World(site, today)
    mrns: dict[str, str] = {}

    def enrol(key: str, family: str, given: str, start: date, mrn: str) -> int:
        r = clinical.enrol_patient(uow(), site_code=site, mrn=mrn, family_name=family,
                                   given_name=given, birth_date=date(1958, 4, 2),
                                   diagnosis="ES-SCLC", progressed_after_platinum=True,
                                   start_date=start, actor=crew.physician,
                                   now=at(start - timedelta(days=5), 10))
        w.patients[key], w.courses[key] = r.patient_id, r.course_id
        mrns[key] = mrn
        return r.course_id

    def labs(key: str, day: date) -> None:
        clinical.record_lab_panel(uow(), patient_id=w.patients[key], results=panel(),
                                  collected_at=at(day, 7), actor=crew.nurse2,
                                  now=at(day, 7, 30))

    def give(key: str, day: date, dose: int) -> None:
        # through the closed loop: the bag prepared and checked, wristband and label scanned
        result = demo.give_through_the_loop(
            uow, course_id=w.courses[key], mrn=mrns[key], prepared_at=at(day, 7, 45),
            started_at=at(day, 9), serial=f"W{site}{w.courses[key]}{day:%m%d}",
            nurse=crew.nurse2, pharmacist=crew.pharmacist, checker=crew.pharmacist2)
        assert result.dose_mg == dose, (key, result)

    # C1D1 due today, labs drawn this morning: GIVE 1 mg, monitoring bed
    enrol("new", "Garcia", "Ana", today, "MRN100001")
    labs("new", today)
    # C1D8 due today, labs drawn: GIVE 10 mg, monitoring bed
    enrol("stepup", "Nguyen", "Linh", today - timedelta(days=7), "MRN100002")
    labs("stepup", today - timedelta(days=7))
    give("stepup", today - timedelta(days=7), 1)
    labs("stepup", today)
    # C1D15 due today but no labs since the last dose: pending checks
    enrol("nolabs", "Okafor", "Chidi", today - timedelta(days=14), "MRN100003")
    labs("nolabs", today - timedelta(days=14))
    give("nolabs", today - timedelta(days=14), 1)
    labs("nolabs", today - timedelta(days=7))
    give("nolabs", today - timedelta(days=7), 10)
    # C1D8 due today: the bedside CRS test grades it
    enrol("script", "Smith", SCRIPT_NAME, today - timedelta(days=7), "MRN100004")
    labs("script", today - timedelta(days=7))
    give("script", today - timedelta(days=7), 1)
    labs("script", today)
    # C1D15 due today, grade 2 CRS still ongoing after C1D8: HOLD
    enrol("held", "Haddad", "Omar", today - timedelta(days=14), "MRN100005")
    labs("held", today - timedelta(days=14))
    give("held", today - timedelta(days=14), 1)
    labs("held", today - timedelta(days=7))
    give("held", today - timedelta(days=7), 10)
    clinical.record_assessment(uow(), course_id=w.courses["held"], kind="CRS",
                               inputs={"temperature_c": 38.9, "hypotension": True,
                                       "oxygen": "low_flow", "oxygen_l_per_min": 2},
                               assessed_at=at(today - timedelta(days=6), 1), actor=crew.nurse,
                               now=at(today - timedelta(days=6), 1, 15))
    labs("held", today)
    return w
