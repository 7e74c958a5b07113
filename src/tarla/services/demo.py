"""Demo data: a realistic infusion centre, built through the real use cases (so every record
has its audit entry and every course its decision), deterministic for a seed and a 'today'.

Patients cycle through every stage of a course: new (C1D1 due today), step-up (C1D8 due
today), maintenance, restart after a long delay (Table 4 step-up), held for ongoing grade 2
CRS, discontinued after grade 4 CRS, and held for a low neutrophil count. Doses come with a
lab panel the morning of the dose; today's first doses have checked bags in the refrigerator; the
pharmacy has vials in stock (one with a temperature excursion). No label rule is signed off:
a sign-off is an e-signature that a pharmacist or physician makes on the Rules page.

Each demo site has staff of its own (:func:`demo_staff`): DEMO the names the guides use
(``rn.alvarez``, ``rph.okoro`` ...), any other site the same roles named after it
(``rn.north``, ``rph.north`` ...). Sites are walls: one site's staff cannot act on another's
patients, so each site's records are made by its own staff.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tarla.label.products import PRODUCTS
from tarla.services import admin, clinical, pharmacy
from tarla.services.capacity_demo import load_demo_centre
from tarla.services.errors import AlreadyRecorded
from tarla.services.ports import UnitOfWork

__all__ = ["STAGES", "DemoSummary", "load_demo_data", "lab_panel", "kit_scan",
           "prepare_checked_bag", "give_through_the_loop", "demo_staff", "DEMO_SITES",
           "premedicate"]

STAGES = ("new", "step_up", "maintenance", "restart", "held_crs", "discontinued", "lab_hold")
_FAMILY = ("Garcia", "Smith", "Nguyen", "Okafor", "Kowalski", "Haddad", "Rossi", "Tanaka",
           "Murphy", "Silva", "Novak", "Larsen", "Cohen", "Patel", "Dubois", "Ivanova")
_GIVEN = ("Ana", "James", "Linh", "Chidi", "Marta", "Omar", "Giulia", "Kenji", "Siobhan",
          "Joao", "Petra", "Erik", "Miriam", "Ravi", "Claire", "Olga")
_STAFF = (("rn.alvarez", "Rosa Alvarez, RN", ("nurse",)),
          ("rn.chen", "David Chen, RN", ("nurse",)),
          ("rph.okoro", "Ngozi Okoro, PharmD", ("pharmacist",)),
          ("rph.berg", "Lars Berg, PharmD", ("pharmacist",)),
          ("dr.khan", "Dr Aisha Khan", ("physician",)),
          ("sched.lee", "Min Lee", ("scheduler",)),
          ("admin", "Site administrator", ("admin",)),
          ("billing.demo", "Bea Billing, CPC", ("billing",)))
#: The sites ``make run`` loads: (code, name, IANA time zone).
DEMO_SITES = (("DEMO", "Demo infusion centre", "America/New_York"),
              ("NORTH", "North infusion centre", "America/Chicago"))
_NAMES = {code: name for code, name, _ in DEMO_SITES}


def demo_staff(site_code: str) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    """The demo users of a site as (username, display name, roles), in the order: nurse,
    second nurse, pharmacist, second pharmacist (the independent check), physician,
    scheduler, administrator, billing."""
    if site_code == "DEMO":
        return _STAFF
    tag, title = site_code.lower(), site_code.title()
    return ((f"rn.{tag}", f"{title} Nurse, RN", ("nurse",)),
            (f"rn2.{tag}", f"{title} Second Nurse, RN", ("nurse",)),
            (f"rph.{tag}", f"{title} Pharmacist, PharmD", ("pharmacist",)),
            (f"rph2.{tag}", f"{title} Second Pharmacist, PharmD", ("pharmacist",)),
            (f"dr.{tag}", f"Dr {title} Physician", ("physician",)),
            (f"sched.{tag}", f"{title} Scheduler", ("scheduler",)),
            (f"admin.{tag}", f"{title} site administrator", ("admin",)),
            (f"billing.{tag}", f"{title} Billing", ("billing",)))


@dataclass(frozen=True)
class _Crew:
    """Who does what at a demo site (usernames)."""

    nurse: str
    nurse2: str
    pharmacist: str
    pharmacist2: str
    physician: str


def _salt(site_code: str) -> int:
    """Another site, other patients (DEMO keeps the seeds it always had)."""
    return 0 if site_code == "DEMO" else zlib.crc32(site_code.encode())


def _mrn(site_code: str, i: int) -> str:
    return f"{'MRN' if site_code == 'DEMO' else site_code[:3]}{100000 + i}"


def _crew(site_code: str) -> _Crew:
    staff = [username for username, _, _ in demo_staff(site_code)]
    return _Crew(*staff[:5])


@dataclass
class DemoSummary:
    site: str
    today: date
    patients: int = 0
    stages: dict[str, int] = field(default_factory=dict)
    administrations: int = 0
    wasted_bags: int = 0
    preparations: int = 0


def lab_panel(rng: random.Random, *, anc: float | None = None) -> list[dict[str, Any]]:
    """A plausible CBC + liver panel (units the CTCAE grader accepts)."""
    return [
        {"test": "ANC", "value": anc if anc is not None else round(rng.uniform(2.0, 6.0), 1),
         "unit": "10^9/L", "lln": 1.8},
        {"test": "platelets", "value": float(rng.randint(160, 380)), "unit": "10^9/L",
         "lln": 150.0},
        {"test": "hemoglobin", "value": round(rng.uniform(12.1, 15.0), 1), "unit": "g/dL",
         "lln": 12.0},
        {"test": "ALT", "value": float(rng.randint(12, 38)), "unit": "U/L", "uln": 40.0},
        {"test": "AST", "value": float(rng.randint(12, 38)), "unit": "U/L", "uln": 40.0},
        {"test": "bilirubin", "value": round(rng.uniform(0.3, 1.1), 1), "unit": "mg/dL",
         "uln": 1.2},
    ]


def kit_scan(dose_mg: int, serial: str, *, lot: str = "DEMO1", expiry: str = "301231") -> str:
    """The GS1 text a scanner sends for a kit carton (human-readable form, AI 01/17/10/21)."""
    gtin = next(p.gtin for p in PRODUCTS if p.strength_mg == dose_mg)
    return f"(01){gtin}(17){expiry}(10){lot}(21){serial}"


def prepare_checked_bag(uow_factory: Callable[[], UnitOfWork], *, course_id: int,
                        at: datetime, serial: str, pharmacist: str = "rph.okoro",
                        checker: str = "rph.berg", refrigerate: bool = False) -> int:
    """The pharmacy's whole path for the course's due dose, through the real use cases, the
    engine choosing the dose: start at ``at``, scan the kit, the six bench steps with the
    recipe's volumes, reconstitution, the bag, and the independent check 10 minutes later;
    with ``refrigerate``, the checked bag goes into the refrigerator 5 minutes after that
    (it keeps for 7 days there; the pharmacy records it taken out when the nurse needs it).
    Returns the preparation id."""
    from tarla.domain.bench import INSPECTION_QUESTIONS, steps_for
    from tarla.services import bench

    prep = pharmacy.start_preparation(uow_factory(), course_id=course_id, actor=pharmacist,
                                      now=at)
    pid = prep.preparation_id
    pharmacy.record_scan(uow_factory(), preparation_id=pid, raw=kit_scan(prep.dose_mg, serial),
                         component="drug", actor=pharmacist, now=at + timedelta(minutes=2))
    minute = 4
    for spec in steps_for(prep.dose_mg):
        when = at + timedelta(minutes=minute)
        bench.confirm_step(uow_factory(), preparation_id=pid, step=spec.code, actor=pharmacist,
                           now=when,
                           measured_ml=float(spec.expected_ml) if spec.expected_ml else None,
                           inspection={q[0]: True for q in INSPECTION_QUESTIONS}
                           if spec.code == "inspected" else None)
        if spec.code == "water_added":
            minute += 1
            pharmacy.advance_preparation(uow_factory(), preparation_id=pid,
                                         event="reconstituted", at=when + timedelta(minutes=1),
                                         actor=pharmacist, now=when + timedelta(minutes=1))
        minute += 2
    done = at + timedelta(minutes=minute)
    pharmacy.advance_preparation(uow_factory(), preparation_id=pid, event="bag_prepared",
                                 at=done, actor=pharmacist, now=done)
    pharmacy.check_preparation(uow_factory(), preparation_id=pid, actor=checker,
                               now=done + timedelta(minutes=10),
                               signature=_demo_signature(done + timedelta(minutes=10)))
    if refrigerate:
        cold = done + timedelta(minutes=15)
        pharmacy.advance_preparation(uow_factory(), preparation_id=pid, event="refrigerated",
                                     at=cold, actor=checker, now=cold)
    return pid


def give_through_the_loop(uow_factory: Callable[[], UnitOfWork], *, course_id: int, mrn: str,
                          prepared_at: datetime, started_at: datetime, serial: str,
                          nurse: str = "rn.alvarez", minutes: int = 60,
                          idempotency_key: str | None = None,
                          pharmacist: str = "rph.okoro",
                          checker: str = "rph.berg") -> clinical.AdministrationResult:
    """Prepare and check the due dose's bag, then chart it at the bedside by scanning the
    wristband and the bag label, with the infusion's end ``minutes`` later."""
    from tarla.domain.identification import label_barcode, wristband_barcode

    pid = prepare_checked_bag(uow_factory, course_id=course_id, at=prepared_at, serial=serial,
                              pharmacist=pharmacist, checker=checker)
    premedicate(uow_factory, course_id=course_id, started_at=started_at, nurse=nurse)
    end = started_at + timedelta(minutes=minutes)
    return clinical.record_administration(
        uow_factory(), course_id=course_id, started_at=started_at, ended_at=end, actor=nurse,
        now=end + timedelta(minutes=15), patient_scan=wristband_barcode(mrn),
        bag_scan=label_barcode(pid), infusion_site="right forearm",
        idempotency_key=idempotency_key)


def premedicate(uow_factory: Callable[[], UnitOfWork], *, course_id: int,
                started_at: datetime, nurse: str = "rn.alvarez") -> None:
    """Chart the premedication the dose due lists (C1D1/C1D8 care), given 30 minutes before
    the infusion start (within its window, label-facts §3)."""
    from tarla.services import care
    from tarla.services.scope import OPERATOR

    given = started_at - timedelta(minutes=30)
    for med in care.premedication_due(uow_factory(), course_id=course_id, now=given,
                                      viewer=OPERATOR):
        care.chart_premedication(uow_factory(), course_id=course_id, rule_id=med.rule,
                                 given_at=given, actor=nurse, now=given + timedelta(minutes=2))


def _waste_a_bag(uow_factory: Callable[[], UnitOfWork], course_id: int, at: datetime,
                 serial: str, crew: _Crew) -> None:
    """A bag prepared for the dose and discarded before it was hung (it is replaced): the
    charges show its whole vial as a JW line for a biller to review (issue 15)."""
    pid = prepare_checked_bag(uow_factory, course_id=course_id, at=at, serial=serial,
                              pharmacist=crew.pharmacist, checker=crew.pharmacist2)
    gone = at + timedelta(minutes=30)
    pharmacy.advance_preparation(uow_factory(), preparation_id=pid, event="discarded", at=gone,
                                 actor=crew.pharmacist, now=gone)


def _intervals(n: int) -> list[int]:
    """Days between the first n planned doses (C1D1 -> C1D8 -> C1D15 -> every 14 days)."""
    return [7 if i < 2 else 14 for i in range(max(n - 1, 0))]


def _at(day: date, hour: int, minute: int, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(hour, minute), zone)


def load_demo_data(uow_factory: Callable[[], UnitOfWork], *, patients: int, seed: int = 1,
                   today: date, timezone: str = "America/New_York",
                   site_code: str = "DEMO") -> DemoSummary:
    if patients < 1:
        from tarla.domain.errors import InvalidInput

        raise InvalidInput("patients", "must be 1 or more")
    zone = ZoneInfo(timezone)
    setup_at = _at(today - timedelta(days=800), 8, 0, zone)
    now = _at(today, 8, 0, zone)
    with uow_factory() as probe:
        if probe.sites.by_code(site_code) is not None:
            raise AlreadyRecorded("site", f"site {site_code} already exists (demo data loaded?)"
                                  "; use another --site")
    admin.create_site(uow_factory(), code=site_code,
                      name=_NAMES.get(site_code, f"{site_code} infusion centre (demo)"),
                      timezone=timezone, now=setup_at,
                      policy={"restart_step_up_gets_cycle1_care": True,
                              # made up (555-01xx is reserved for fiction), and says so
                              "phone": f"+1 (201) 555-01{_salt(site_code) % 100:02d} "
                                       "(demo number)"})
    for username, name, roles in demo_staff(site_code):
        admin.create_user(uow_factory(), username=username, display_name=name, roles=roles,
                          now=setup_at, site_code=site_code, actor="admin")
    load_demo_centre(uow_factory, site_code=site_code,  # issue 12: chairs, beds, hours
                     actor=demo_staff(site_code)[6][0], now=setup_at)
    crew = _crew(site_code)
    # No rule is signed off: a sign-off is an e-signature (the signer re-enters their
    # password, tarla.services.label), and the demo staff have no password at this point.
    summary = DemoSummary(site_code, today)
    for i in range(patients):
        stage = STAGES[i % len(STAGES)]
        rng = random.Random(seed * 1_000_003 + i + _salt(site_code))
        _patient(uow_factory, rng, i, stage, today, now, zone, site_code, summary, crew)
        summary.patients += 1
        summary.stages[stage] = summary.stages.get(stage, 0) + 1
    _inventory(uow_factory, random.Random(seed), today, now, zone, site_code, crew)
    return summary


def _patient(uow_factory: Callable[[], UnitOfWork], rng: random.Random, i: int, stage: str,
             today: date, now: datetime, zone: ZoneInfo, site: str,
             summary: DemoSummary, crew: _Crew) -> None:
    if stage == "new":
        doses, gap_after = 0, 0
    elif stage == "step_up":
        doses, gap_after = 1, 7
    elif stage == "maintenance":
        doses, gap_after = rng.randint(4, 14), rng.choice((0, 14, 14, 14))
        gap_after = 14 if gap_after else 0
    elif stage == "restart":
        doses, gap_after = rng.randint(3, 8), rng.randint(31, 45)
    elif stage == "held_crs":
        doses, gap_after = 2, 7
    elif stage == "discontinued":
        doses, gap_after = rng.randint(1, 3), rng.randint(3, 10)
    else:  # lab_hold
        doses, gap_after = 5, 14
    gaps = _intervals(doses)
    first = today - timedelta(days=sum(gaps) + (gap_after if doses else 0))
    if stage == "maintenance" and gap_after == 0:
        first += timedelta(days=rng.choice((3, 7)))  # next dose later this week or next
        first -= timedelta(days=14)
        gaps = _intervals(doses)
    enrol_day = first - timedelta(days=rng.randint(3, 10))
    born = today.replace(year=today.year - rng.randint(45, 80)) - timedelta(days=rng.randint(0, 300))
    family, given = rng.choice(_FAMILY), rng.choice(_GIVEN)
    off_label = stage == "maintenance" and rng.random() < 0.2
    enrolled = clinical.enrol_patient(
        uow_factory(), site_code=site, mrn=_mrn(site, i), family_name=family,
        given_name=given, birth_date=born, diagnosis="LS-SCLC" if off_label else "ES-SCLC",
        progressed_after_platinum=True, start_date=first if doses else today,
        actor=crew.physician, now=_at(enrol_day, 10, 0, zone),
        off_label_reason="Tumour board 2026-03: limited-stage relapse after platinum, no "
                         "alternative; patient consented" if off_label else None)
    course_id, patient_id = enrolled.course_id, enrolled.patient_id
    day = first
    for n in range(doses):
        if n:
            day = day + timedelta(days=gaps[n - 1])
        clinical.record_lab_panel(uow_factory(), patient_id=patient_id, results=lab_panel(rng),
                                  collected_at=_at(day, 7, rng.randint(0, 40), zone),
                                  actor=crew.nurse2, now=_at(day, 7, 45, zone))
        start = _at(day, 9, rng.randint(0, 50), zone)
        prepared_at = _at(day, 7, 50, zone)
        if stage == "maintenance" and n == doses - 1 and not summary.wasted_bags:
            _waste_a_bag(uow_factory, course_id, _at(day, 7, 46, zone),
                         f"K{site}{i:04d}{n:03d}W", crew)
            summary.wasted_bags += 1
            prepared_at = _at(day, 8, 20, zone)  # the replacement bag
        give_through_the_loop(
            uow_factory, course_id=course_id, mrn=_mrn(site, i),
            prepared_at=prepared_at, started_at=start,
            serial=f"K{site}{i:04d}{n:03d}", nurse=rng.choice((crew.nurse, crew.nurse2)),
            idempotency_key=f"demo-{site}-{i}-{n}", pharmacist=crew.pharmacist,
            checker=crew.pharmacist2)
        summary.administrations += 1
        if n == 0 and rng.random() < 0.4:  # grade 1 CRS the night after the step-up dose
            onset = start + timedelta(hours=14)
            res = clinical.record_assessment(
                uow_factory(), course_id=course_id, kind="CRS",
                inputs={"temperature_c": 38.3, "hypotension": False, "oxygen": "none"},
                assessed_at=onset, actor=crew.nurse, now=onset + timedelta(minutes=10))
            if res.adverse_event_id is not None:
                clinical.resolve_adverse_event(
                    uow_factory(), event_id=res.adverse_event_id,
                    resolved_at=onset + timedelta(hours=20), actor=crew.physician,
                    now=onset + timedelta(hours=21))
    last_start = _at(day, 9, 30, zone)
    if stage == "held_crs":
        onset = last_start + timedelta(hours=11)
        clinical.record_assessment(
            uow_factory(), course_id=course_id, kind="CRS",
            inputs={"temperature_c": 38.9, "hypotension": True, "oxygen": "low_flow",
                    "oxygen_l_per_min": 2}, assessed_at=onset, actor=crew.nurse2,
            now=onset + timedelta(minutes=15))
    elif stage == "discontinued":
        onset = last_start + timedelta(hours=9)
        clinical.record_assessment(
            uow_factory(), course_id=course_id, kind="CRS",
            inputs={"temperature_c": 39.6, "hypotension": True, "vasopressors": 2,
                    "oxygen": "bipap"}, assessed_at=onset, actor=crew.nurse,
            now=onset + timedelta(minutes=15))
    elif stage == "lab_hold":
        clinical.record_lab_panel(uow_factory(), patient_id=patient_id,
                                  results=lab_panel(rng, anc=0.4),
                                  collected_at=_at(today, 6, 45, zone), actor=crew.nurse2,
                                  now=now - timedelta(minutes=30))
    elif stage in ("new", "step_up"):
        clinical.record_lab_panel(uow_factory(), patient_id=patient_id, results=lab_panel(rng),
                                  collected_at=_at(today, 6, 50, zone), actor=crew.nurse2,
                                  now=now - timedelta(minutes=40))
        prepare_checked_bag(uow_factory, course_id=course_id,
                            at=now - timedelta(minutes=38), serial=f"K{site}{i:04d}T",
                            pharmacist=crew.pharmacist, checker=crew.pharmacist2,
                            refrigerate=True)
        summary.preparations += 1


def _inventory(uow_factory: Callable[[], UnitOfWork], rng: random.Random, today: date,
               now: datetime, zone: ZoneInfo, site: str, crew: _Crew) -> None:
    received = now - timedelta(days=3)
    first_vial = None
    for product in PRODUCTS:
        for k in range(3 if product.strength_mg == 10 else 2):
            vial = pharmacy.receive_vial(
                uow_factory(), site_code=site, gtin=product.gtin,
                lot=f"L{rng.randint(10000, 99999)}",
                serial=f"S{site}{product.strength_mg:02d}{k:04d}",
                expiry=today + timedelta(days=rng.randint(120, 400)), component="drug",
                strength_mg=product.strength_mg, location="Pharmacy fridge 2",
                actor=crew.pharmacist2, now=received)
            first_vial = first_vial or vial
    assert first_vial is not None
    start = _at(today - timedelta(days=1), 14, 5, zone)
    pharmacy.record_excursion(uow_factory(), vial_id=first_vial, started_at=start,
                              ended_at=start + timedelta(minutes=50), min_c=8.5, max_c=11.2,
                              note="Fridge door left ajar during restock; vial kept in carton",
                              actor=crew.pharmacist2, now=start + timedelta(hours=1))


def _demo_signature(at: datetime) -> Any:
    """The demo data's e-signatures (issue 13): the synthetic staff have no password yet, so
    each signs as one freshly signed in (method ``fresh-sign-in``); real signatures come from
    a signer's password or session."""
    from tarla.services.signatures import SignatureIn

    return SignatureIn(password=None, check=lambda _stored, _password: False,
                       authenticated_at=at)
