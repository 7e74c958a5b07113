"""The closed loop's unsafe attempts, as ONE table run by two suites: through the services on
the in-memory unit of work (``tests/unit/test_closed_loop.py``) and through the JSON API on the
web app (``tests/web/test_closed_loop_api.py``).

Each row arranges its world through the real use cases (:class:`LoopWorld`, on whichever unit
of work the suite gives it), then names ONE attempt (:class:`Act`) that each suite performs its
own way: a service call, or an HTTP request by the signed-in actor. Every attempt must be
refused naming the row's rule id, and must write nothing. The one exception is a kit scan: the
service keeps a refused scan on record (``verdict: refuse``, with its audit entry) as evidence
of the refusal, so those rows expect exactly that one stored refusal and nothing else.

A New York site, December 2026 (UTC-5). Day 0 is 2026-12-01: C1D1 1 mg; day 7 C1D8 10 mg;
day 14 C1D15 (label-facts §3). A bag started at 07:45 is reconstituted at 07:50, in its bag at
08:02 and checked at 08:12 (the steps of :meth:`LoopWorld.prepare`): 8 h at room temperature
runs out at 15:50 and its last safe start is 14:50 (label-facts §4).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from signing import SIGNED
from tarla.domain.bench import INSPECTION_QUESTIONS, steps_for
from tarla.domain.identification import label_barcode, wristband_barcode
from tarla.label.products import PRODUCTS
from tarla.services import admin, care, clinical, pharmacy
from tarla.services import bench as bench_service
from tarla.services.demo import kit_scan
from tarla.services.errors import Refused
from tarla.services.ports import UnitOfWork
from tarla.services.records import PreparationEventRecord
from tarla.services.scope import OPERATOR

ZONE = ZoneInfo("America/New_York")
DAY0 = date(2026, 12, 1)
#: a rule of its own for the one row that is not refused: the first preparation comes back
EXISTING = "returns the open preparation"
REASON = "wristband printer down; identity confirmed by name and birth date"


def at(day: int, hm: str = "09:00") -> datetime:
    """Day ``day`` of the course (day 0 = 2026-12-01) at local wall time ``hm``."""
    h, m = (int(x) for x in hm.split(":"))
    return datetime.combine(DAY0 + timedelta(days=day), time(h, m), ZONE)


@dataclass(frozen=True)
class Staff:
    site: str
    nurse: str
    nurse2: str
    pharmacist: str
    pharmacist2: str
    physician: str


def open_site(uow: Callable[[], UnitOfWork], staff: Staff, now: datetime) -> None:
    """A New York site with the staff (for a store that has none yet)."""
    admin.create_site(uow(), code=staff.site, name=staff.site, timezone=ZONE.key, now=now)
    for name, role in ((staff.nurse, "nurse"), (staff.nurse2, "nurse"),
                       (staff.pharmacist, "pharmacist"), (staff.pharmacist2, "pharmacist"),
                       (staff.physician, "physician")):
        admin.create_user(uow(), username=name, display_name=name, roles=[role], now=now,
                          site_code=staff.site)


@dataclass(frozen=True)
class Patient:
    patient_id: int
    course_id: int
    mrn: str


PANEL_VALUES = (("ANC", 3.2, "10^9/L", {"lln": 1.8}),
                ("platelets", 220.0, "10^9/L", {"lln": 150.0}),
                ("hemoglobin", 13.1, "g/dL", {"lln": 12.0}),
                ("ALT", 25.0, "U/L", {"uln": 40.0}),
                ("AST", 22.0, "U/L", {"uln": 40.0}),
                ("bilirubin", 0.6, "mg/dL", {"uln": 1.2}))


class LoopWorld:
    """The closed loop's steps as a site performs them, through the real use cases."""

    def __init__(self, uow: Callable[[], UnitOfWork], staff: Staff) -> None:
        self.uow = uow
        self.s = staff

    # ------------------------------------------------------------------ clinic
    def enrol(self, mrn: str, start: date = DAY0) -> Patient:
        r = clinical.enrol_patient(
            self.uow(), site_code=self.s.site, mrn=mrn, family_name="Doe", given_name=mrn,
            birth_date=date(1958, 4, 2), diagnosis="ES-SCLC", progressed_after_platinum=True,
            start_date=start, actor=self.s.physician,
            now=datetime.combine(start - timedelta(days=3), time(10), ZONE))
        return Patient(r.patient_id, r.course_id, mrn)

    def labs(self, p: Patient, collected: datetime, anc: float = 3.2) -> None:
        results = [{"test": t, "value": anc if t == "ANC" else v, "unit": u, **extra}
                   for t, v, u, extra in PANEL_VALUES]
        clinical.record_lab_panel(self.uow(), patient_id=p.patient_id, results=results,
                                  collected_at=collected, actor=self.s.nurse2,
                                  now=collected + timedelta(minutes=10))

    def crs_grade_2(self, p: Patient, onset: datetime) -> int:
        r = clinical.record_assessment(
            self.uow(), course_id=p.course_id, kind="CRS",
            inputs={"temperature_c": 38.9, "hypotension": True, "oxygen": "low_flow",
                    "oxygen_l_per_min": 2}, assessed_at=onset, actor=self.s.nurse,
            now=onset + timedelta(minutes=10))
        assert r.grade == 2 and r.adverse_event_id is not None
        return r.adverse_event_id

    def resolve(self, event_id: int, when: datetime, actor: str) -> str:
        return clinical.resolve_adverse_event(self.uow(), event_id=event_id, resolved_at=when,
                                              actor=actor, now=when + timedelta(minutes=5))

    def release(self, p: Patient, now: datetime, reason: str) -> clinical.ReleaseResult:
        return clinical.release_dose(self.uow(), course_id=p.course_id, reason=reason,
                                     actor=self.s.physician, now=now, signature=SIGNED)

    # ------------------------------------------------------------------ pharmacy
    def start(self, p: Patient, when: datetime, pharmacist: str | None = None) -> int:
        return pharmacy.start_preparation(self.uow(), course_id=p.course_id,
                                          actor=pharmacist or self.s.pharmacist,
                                          now=when).preparation_id

    def scan(self, pid: int, raw: str, when: datetime,
             pharmacist: str | None = None) -> pharmacy.ScanResult:
        return pharmacy.record_scan(self.uow(), preparation_id=pid, raw=raw, component="drug",
                                    actor=pharmacist or self.s.pharmacist, now=when)

    def event(self, pid: int, event: str, when: datetime, actor: str | None = None) -> str:
        return pharmacy.advance_preparation(self.uow(), preparation_id=pid, event=event,
                                            at=when, actor=actor or self.s.pharmacist,
                                            now=when).status

    def check(self, pid: int, when: datetime, checker: str | None = None) -> str:
        return pharmacy.check_preparation(self.uow(), preparation_id=pid,
                                          actor=checker or self.s.pharmacist2, now=when,
                                          signature=SIGNED).status

    def compound(self, pid: int, dose_mg: int, began: datetime, pharmacist: str) -> datetime:
        """Bench steps and clock events after an accepted kit scan: water +4 min, reconstituted
        +5, then a step every 2 minutes, the bag at +17. Returns when the bag was prepared."""
        minute = 4
        for spec in steps_for(dose_mg):
            when = began + timedelta(minutes=minute)
            bench_service.confirm_step(
                self.uow(), preparation_id=pid, step=spec.code, actor=pharmacist, now=when,
                measured_ml=float(spec.expected_ml) if spec.expected_ml else None,
                inspection={q[0]: True for q in INSPECTION_QUESTIONS}
                if spec.code == "inspected" else None)
            if spec.code == "water_added":
                minute += 1
                self.event(pid, "reconstituted", when + timedelta(minutes=1), pharmacist)
            minute += 2
        done = began + timedelta(minutes=minute)
        self.event(pid, "bag_prepared", done, pharmacist)
        return done

    def prepare(self, p: Patient, began: datetime, serial: str, *, checked: bool = True,
                compounder: str | None = None) -> int:
        """Start, scan the kit, compound and (unless ``checked`` is False) check the bag of
        the course's due dose: the second pharmacist checks 10 minutes after the bag."""
        prep = pharmacy.start_preparation(self.uow(), course_id=p.course_id,
                                          actor=self.s.pharmacist, now=began)
        pid = prep.preparation_id
        compounder = compounder or self.s.pharmacist
        scanned = self.scan(pid, kit_scan(prep.dose_mg, serial), began + timedelta(minutes=2),
                            compounder)
        assert scanned.verdict == "accept", scanned
        done = self.compound(pid, prep.dose_mg, began, compounder)
        if checked:
            self.check(pid, done + timedelta(minutes=10))
        return pid

    def force_events(self, pid: int, *events: tuple[str, datetime]) -> None:
        """Clock events written straight through the unit of work, around the services (as
        a record imported from an older system would arrive): the services refuse to write a
        violating clock, so this is the only way to put one on file."""
        with self.uow() as uow:
            for name, when in events:
                uow.preparations.add_event(PreparationEventRecord(
                    preparation_id=pid, event=name, at=when, recorded_by=1,
                    recorded_at=when))
            uow.commit()

    # ------------------------------------------------------------------ bedside
    def premedicate(self, p: Patient, started: datetime, nurse: str | None = None) -> None:
        """Chart the premedication the dose due lists (C1D1/C1D8 care: dexamethasone), given
        30 minutes before ``started`` (label-facts §3: within 1 hour before the infusion)."""
        given = started - timedelta(minutes=30)
        for med in care.premedication_due(self.uow(), course_id=p.course_id, now=given,
                                          viewer=OPERATOR):
            care.chart_premedication(self.uow(), course_id=p.course_id, rule_id=med.rule,
                                     given_at=given, actor=nurse or self.s.nurse,
                                     now=given + timedelta(minutes=2))

    def hang(self, p: Patient, pid: int, started: datetime, *, ended: datetime | None = None,
             now: datetime | None = None, nurse: str | None = None
             ) -> clinical.AdministrationResult:
        self.premedicate(p, started, nurse)
        return clinical.record_administration(
            self.uow(), course_id=p.course_id, started_at=started, ended_at=ended,
            actor=nurse or self.s.nurse, now=now or (ended or started) + timedelta(minutes=5),
            patient_scan=wristband_barcode(p.mrn), bag_scan=label_barcode(pid))

    def give(self, p: Patient, day: int, serial: str) -> clinical.AdministrationResult:
        """The whole loop for the dose due on ``day``: labs at 07:00, the bag from 07:45
        (checked 08:12), hung at 09:00 with both scans, infusion ended 10:00."""
        self.labs(p, at(day, "07:00"))
        pid = self.prepare(p, at(day, "07:45"), serial)
        return self.hang(p, pid, at(day, "09:00"), ended=at(day, "10:00"))


# --------------------------------------------------------------------------- attempts


@dataclass(frozen=True)
class Act:
    """One attempt: ``op`` is chart | start_preparation | scan | advance | check."""

    op: str
    actor: str
    now: datetime
    args: Mapping[str, Any] = field(default_factory=dict)


def chart(w: LoopWorld, p: Patient, now: datetime, **args: Any) -> Act:
    base: dict[str, Any] = {"course_id": p.course_id, "started_at": now,
                            "patient_scan": wristband_barcode(p.mrn)}
    return Act("chart", args.pop("actor", w.s.nurse), now, {**base, **args})


def act_through_services(act: Act, uow: Callable[[], UnitOfWork]) -> tuple[str, ...]:
    """Perform ``act`` with the use case; the rule ids it was refused with (``EXISTING`` when
    a start returned the open preparation). Anything accepted fails the test."""
    a = dict(act.args)
    try:
        if act.op == "chart":
            r: Any = clinical.record_administration(
                uow(), course_id=a["course_id"], started_at=a["started_at"], actor=act.actor,
                now=act.now, dose_mg=a.get("dose_mg"), patient_scan=a.get("patient_scan"),
                bag_scan=a.get("bag_scan"), preparation_id=a.get("preparation_id"),
                scan_exception_reason=a.get("reason"), witness=a.get("witness"),
                witness_signature=SIGNED)
        elif act.op == "start_preparation":
            r = pharmacy.start_preparation(uow(), course_id=a["course_id"], actor=act.actor,
                                           now=act.now)
            if r.existing:
                return (EXISTING,)
        elif act.op == "scan":
            r = pharmacy.record_scan(uow(), preparation_id=a["preparation_id"], raw=a["raw"],
                                     component="drug", actor=act.actor, now=act.now)
            if r.verdict == "refuse":
                return tuple(x["rule"] for x in r.reasons)
        elif act.op == "advance":
            r = pharmacy.advance_preparation(uow(), preparation_id=a["preparation_id"],
                                             event=a["event"], at=a["at"], actor=act.actor,
                                             now=act.now)
        elif act.op == "check":
            r = pharmacy.check_preparation(uow(), preparation_id=a["preparation_id"],
                                           actor=act.actor, now=act.now, signature=SIGNED)
        else:
            raise AssertionError(f"unknown attempt {act.op}")
    except Refused as exc:
        return exc.rules
    raise AssertionError(f"{act.op} was accepted: {r}")


@dataclass(frozen=True)
class Unsafe:
    id: str
    arrange: Callable[[LoopWorld], Act]
    rule: str
    stored_refusal: bool = False  # a refused kit scan stays on record (and nothing else)


def _c1d1_bag(w: LoopWorld, mrn: str = "CL1", serial: str = "K-A", *, checked: bool = True
              ) -> tuple[Patient, int]:
    p = w.enrol(mrn)
    w.labs(p, at(0, "07:00"))
    return p, w.prepare(p, at(0, "07:45"), serial, checked=checked)


def ten_mg_bag_as_the_1_mg_step_up(w: LoopWorld) -> Act:
    # C1D1 given; a C1D8 bag prepared on day 14 and refrigerated; the patient comes on day 16,
    # more than 14 days after the 1 mg dose: the dose due is the restart 1 mg step-up.
    p = w.enrol("CL1")
    w.give(p, 0, "K-A")
    w.labs(p, at(14, "07:00"))
    pid = w.prepare(p, at(14, "07:45"), "K-B")
    assert w.event(pid, "refrigerated", at(14, "08:20")) == "stored"
    assert w.event(pid, "removed_from_refrigerator", at(16, "08:30")) == "checked"
    return chart(w, p, at(16, "09:00"), bag_scan=label_barcode(pid))


def ten_mg_where_1_mg_is_due(w: LoopWorld) -> Act:
    p, pid = _c1d1_bag(w)
    return chart(w, p, at(0, "09:00"), bag_scan=label_barcode(pid), dose_mg=10)


def another_patients_bag(w: LoopWorld) -> Act:
    a, _ = _c1d1_bag(w, "CL1", "K-A")
    _, theirs = _c1d1_bag(w, "CL2", "K-B")
    return chart(w, a, at(0, "09:00"), bag_scan=label_barcode(theirs))


def no_bag_at_all(w: LoopWorld) -> Act:
    p = w.enrol("CL1")
    w.labs(p, at(0, "07:00"))
    return chart(w, p, at(0, "09:00"), reason=REASON, witness=w.s.nurse2)


def _c1d8_given(w: LoopWorld) -> tuple[Patient, int]:
    p = w.enrol("CL1")
    w.give(p, 0, "K-A")
    given = w.give(p, 7, "K-B")
    assert given.dose_mg == 10 and given.preparation_id is not None
    return p, given.preparation_id


def second_10_mg_same_day(w: LoopWorld) -> Act:
    p, pid = _c1d8_given(w)
    return chart(w, p, at(7, "14:00"), bag_scan=label_barcode(pid))


def third_10_mg_same_day_under_an_exception(w: LoopWorld) -> Act:
    p, pid = _c1d8_given(w)
    second = chart(w, p, at(7, "14:00"), bag_scan=label_barcode(pid))
    assert "GATE-NOT-DUE" in act_through_services(second, w.uow)
    return chart(w, p, at(7, "18:00"), patient_scan=None, preparation_id=pid, reason=REASON,
                 witness=w.s.nurse2)


def a_bag_for_a_third_10_mg_same_day(w: LoopWorld) -> Act:
    p, _ = _c1d8_given(w)
    return Act("start_preparation", w.s.pharmacist, at(7, "15:00"),
               {"course_id": p.course_id})


def re_refrigeration(w: LoopWorld) -> Act:
    _, pid = _c1d1_bag(w)
    w.event(pid, "refrigerated", at(0, "08:20"))
    w.event(pid, "removed_from_refrigerator", at(0, "10:00"))
    return Act("advance", w.s.pharmacist, at(0, "10:30"),
               {"preparation_id": pid, "event": "refrigerated", "at": at(0, "10:30")})


def check_of_a_bag_in_violation(w: LoopWorld) -> Act:
    _, pid = _c1d1_bag(w, checked=False)
    w.event(pid, "refrigerated", at(0, "08:10"))
    assert w.event(pid, "removed_from_refrigerator", at(0, "09:00")) == "prepared"
    w.force_events(pid, ("refrigerated", at(0, "09:10")),
                   ("removed_from_refrigerator", at(0, "09:30")))
    return Act("check", w.s.pharmacist2, at(0, "09:40"), {"preparation_id": pid})


def charting_a_bag_in_violation(w: LoopWorld) -> Act:
    p, pid = _c1d1_bag(w)
    w.event(pid, "refrigerated", at(0, "08:20"))
    assert w.event(pid, "removed_from_refrigerator", at(0, "08:40")) == "checked"
    w.force_events(pid, ("refrigerated", at(0, "08:45")),
                   ("removed_from_refrigerator", at(0, "08:55")))
    return chart(w, p, at(0, "09:00"), bag_scan=label_barcode(pid))


def check_after_8_hours_out(w: LoopWorld) -> Act:
    _, pid = _c1d1_bag(w, checked=False)  # reconstituted 07:50: discard 15:50
    return Act("check", w.s.pharmacist2, at(0, "16:00"), {"preparation_id": pid})


def hung_after_its_last_safe_start(w: LoopWorld) -> Act:
    p, pid = _c1d1_bag(w)  # last safe start 14:50
    return chart(w, p, at(0, "15:00"), bag_scan=label_barcode(pid))


def checked_by_nobody(w: LoopWorld) -> Act:
    p, pid = _c1d1_bag(w, checked=False)
    assert w.event(pid, "refrigerated", at(0, "08:10")) == "stored"
    assert w.event(pid, "removed_from_refrigerator", at(0, "08:40")) == "prepared"
    return chart(w, p, at(0, "09:00"), bag_scan=label_barcode(pid))


def second_check(w: LoopWorld) -> Act:
    _, pid = _c1d1_bag(w)
    return Act("check", w.s.pharmacist2, at(0, "08:20"), {"preparation_id": pid})


def one_kit_two_bags(w: LoopWorld) -> Act:
    _c1d1_bag(w, "CL1", "K-SAME")
    other = w.enrol("CL2")
    w.labs(other, at(0, "07:00"))
    pid = w.start(other, at(0, "08:30"))
    return Act("scan", w.s.pharmacist, at(0, "08:32"),
               {"preparation_id": pid, "raw": kit_scan(1, "K-SAME")})


def reconstitution_after_the_reused_kit(w: LoopWorld) -> Act:
    scan = one_kit_two_bags(w)
    assert "GATE-KIT-ONCE" in act_through_services(scan, w.uow)
    return Act("advance", w.s.pharmacist, at(0, "08:35"),
               {"preparation_id": scan.args["preparation_id"], "event": "reconstituted",
                "at": at(0, "08:35")})


def two_starts_of_one_dose(w: LoopWorld) -> Act:
    p = w.enrol("CL1")
    w.labs(p, at(0, "07:00"))
    w.start(p, at(0, "07:45"))
    return Act("start_preparation", w.s.pharmacist2, at(0, "07:46"),
               {"course_id": p.course_id})


def start_without_labs(w: LoopWorld) -> Act:
    p = w.enrol("CL1")
    return Act("start_preparation", w.s.pharmacist, at(0, "07:45"),
               {"course_id": p.course_id})


def crs_release_does_not_cover_a_new_anc_hold(w: LoopWorld) -> Act:
    p = w.enrol("CL1")
    w.give(p, 0, "K-A")
    w.crs_grade_2(p, at(0, "23:00"))  # ongoing: C1D8 is held (T5-CRS-G2)
    w.labs(p, at(7, "07:00"))
    w.release(p, at(7, "07:30"), "CRS settled on tocilizumab; benefit outweighs the risk")
    pid = w.prepare(p, at(7, "07:45"), "K-B")  # the release lets the bag be prepared
    w.labs(p, at(7, "08:20"), anc=0.4)  # a second hold reason the same day (T7-NEUT)
    return chart(w, p, at(7, "09:00"), bag_scan=label_barcode(pid))


def nurse_marks_crs_resolved(w: LoopWorld) -> Act:
    p = w.enrol("CL1")
    w.give(p, 0, "K-A")
    event = w.crs_grade_2(p, at(0, "23:00"))
    assert w.resolve(event, at(2, "10:00"), w.s.nurse) == "held"  # a proposal only
    w.labs(p, at(7, "07:00"))
    return Act("start_preparation", w.s.pharmacist, at(7, "07:45"),
               {"course_id": p.course_id})


def wrong_wristband(w: LoopWorld) -> Act:
    p, pid = _c1d1_bag(w)
    w.enrol("CL2")
    return chart(w, p, at(0, "09:00"), patient_scan="CL2", bag_scan=label_barcode(pid))


def bag_label_of_another_preparation(w: LoopWorld) -> Act:
    p, mine = _c1d1_bag(w, "CL1", "K-A")
    _, other = _c1d1_bag(w, "CL2", "K-B")
    return chart(w, p, at(0, "09:00"), preparation_id=mine, bag_scan=label_barcode(other))


def exception_without_witness(w: LoopWorld) -> Act:
    p, pid = _c1d1_bag(w)
    return chart(w, p, at(0, "09:00"), patient_scan=None, preparation_id=pid, reason=REASON)


def exception_witnessed_by_the_charting_nurse(w: LoopWorld) -> Act:
    p, pid = _c1d1_bag(w)
    return chart(w, p, at(0, "09:00"), patient_scan=None, preparation_id=pid, reason=REASON,
                 witness=w.s.nurse)


def exception_with_a_short_reason(w: LoopWorld) -> Act:
    p, pid = _c1d1_bag(w)
    return chart(w, p, at(0, "09:00"), patient_scan=None, preparation_id=pid,
                 reason="no scan", witness=w.s.nurse2)


def reconstitution_before_a_drug_scan(w: LoopWorld) -> Act:
    p = w.enrol("CL1")
    w.labs(p, at(0, "07:00"))
    pid = w.start(p, at(0, "07:45"))
    return Act("advance", w.s.pharmacist, at(0, "07:50"),
               {"preparation_id": pid, "event": "reconstituted", "at": at(0, "07:50")})


def reconstitution_after_a_refused_drug_scan(w: LoopWorld) -> Act:
    p = w.enrol("CL1")
    w.labs(p, at(0, "07:00"))
    pid = w.start(p, at(0, "07:45"))
    assert w.scan(pid, kit_scan(10, "K-10"), at(0, "07:47")).verdict == "refuse"  # 1 mg due
    return Act("advance", w.s.pharmacist, at(0, "07:50"),
               {"preparation_id": pid, "event": "reconstituted", "at": at(0, "07:50")})


def bench_event_before_the_preparation(w: LoopWorld) -> Act:
    p = w.enrol("CL1")
    w.labs(p, at(0, "07:00"))
    pid = w.start(p, at(0, "07:45"))
    assert w.scan(pid, kit_scan(1, "K-A"), at(0, "07:47")).verdict == "accept"
    bench_service.confirm_step(w.uow(), preparation_id=pid, step="water_added",
                               actor=w.s.pharmacist, now=at(0, "07:49"), measured_ml=1.3)
    return Act("advance", w.s.pharmacist, at(0, "07:50"),
               {"preparation_id": pid, "event": "reconstituted", "at": at(0, "07:40")})


def infusion_started_at_the_bench(w: LoopWorld) -> Act:
    _, pid = _c1d1_bag(w)
    return Act("advance", w.s.pharmacist, at(0, "09:00"),
               {"preparation_id": pid, "event": "infusion_started", "at": at(0, "09:00")})


def check_by_the_compounder(w: LoopWorld) -> Act:
    p = w.enrol("CL1")
    w.labs(p, at(0, "07:00"))
    pid = w.prepare(p, at(0, "07:45"), "K-A", checked=False, compounder=w.s.pharmacist2)
    return Act("check", w.s.pharmacist2, at(0, "08:20"), {"preparation_id": pid})


def kit_out_of_the_fridge_25_hours(w: LoopWorld) -> Act:
    gtin = next(x.gtin for x in PRODUCTS if x.strength_mg == 1)
    vial = pharmacy.receive_vial(w.uow(), site_code=w.s.site, gtin=gtin, lot="DEMO1",
                                 serial="K-WARM", expiry=date(2030, 12, 31), component="drug",
                                 strength_mg=1, actor=w.s.pharmacist, now=at(-5, "10:00"))
    for start, end in ((at(-4, "08:00"), at(-3, "06:00")), (at(-2, "08:00"), at(-2, "11:00"))):
        pharmacy.record_excursion(w.uow(), vial_id=vial, started_at=start, ended_at=end,
                                  actor=w.s.pharmacist, now=end + timedelta(minutes=5))
    p = w.enrol("CL1")
    w.labs(p, at(0, "07:00"))
    pid = w.start(p, at(0, "07:45"))
    return Act("scan", w.s.pharmacist, at(0, "07:47"),
               {"preparation_id": pid, "raw": kit_scan(1, "K-WARM")})


def infusion_without_its_premedication(w: LoopWorld) -> Act:
    # C1D1 care lists dexamethasone 8 mg IV within 1 hour before the infusion (label-facts
    # §3); it was given 2 hours before: outside its window, so the start is refused.
    p, pid = _c1d1_bag(w)
    care.chart_premedication(w.uow(), course_id=p.course_id, given_at=at(0, "07:00"),
                             actor=w.s.nurse, now=at(0, "07:05"))
    return chart(w, p, at(0, "09:00"), bag_scan=label_barcode(pid))


TABLE: tuple[Unsafe, ...] = (
    Unsafe("checked-10-mg-bag-as-the-1-mg-step-up", ten_mg_bag_as_the_1_mg_step_up,
           "GATE-BAG-DOSE"),
    Unsafe("10-mg-charted-where-1-mg-was-due", ten_mg_where_1_mg_is_due, "GATE-DOSE"),
    Unsafe("another-patients-bag", another_patients_bag, "GATE-BAG-PATIENT"),
    Unsafe("no-bag-at-all", no_bag_at_all, "GATE-BAG-REQUIRED"),
    Unsafe("second-10-mg-the-same-day", second_10_mg_same_day, "GATE-NOT-DUE"),
    Unsafe("third-10-mg-the-same-day", third_10_mg_same_day_under_an_exception,
           "GATE-NOT-DUE"),
    Unsafe("bag-for-a-third-10-mg-the-same-day", a_bag_for_a_third_10_mg_same_day,
           "GATE-NOT-DUE"),
    Unsafe("re-refrigeration", re_refrigeration, "GATE-PREP-CLOCK"),
    Unsafe("check-of-a-bag-in-violation", check_of_a_bag_in_violation, "GATE-PREP-CLOCK"),
    Unsafe("charting-a-bag-in-violation", charting_a_bag_in_violation, "GATE-BAG-CLOCK"),
    Unsafe("check-after-8-hours-at-room-temperature", check_after_8_hours_out,
           "GATE-PREP-CLOCK"),
    Unsafe("hung-after-its-last-safe-start", hung_after_its_last_safe_start, "GATE-BAG-CLOCK"),
    Unsafe("refrigerated-and-removed-but-never-checked", checked_by_nobody,
           "GATE-BAG-CHECKED"),
    Unsafe("second-check-of-a-checked-bag", second_check, "GATE-CHECK-ONCE"),
    Unsafe("one-kit-serial-two-bags", one_kit_two_bags, "GATE-KIT-ONCE", stored_refusal=True),
    Unsafe("reconstitution-after-the-reused-kit", reconstitution_after_the_reused_kit,
           "GATE-PREP-SCAN"),
    Unsafe("two-preparations-for-one-dose", two_starts_of_one_dose, EXISTING),
    Unsafe("preparation-while-labs-are-missing", start_without_labs, "GATE-LABS-MISSING"),
    Unsafe("crs-release-does-not-cover-a-new-anc-hold", crs_release_does_not_cover_a_new_anc_hold,
           "GATE-HOLD"),
    Unsafe("nurse-marks-crs-grade-2-resolved", nurse_marks_crs_resolved, "GATE-HOLD"),
    Unsafe("wrong-wristband", wrong_wristband, "GATE-ID-WRISTBAND"),
    Unsafe("bag-label-of-another-preparation", bag_label_of_another_preparation, "GATE-ID-BAG"),
    Unsafe("scan-exception-without-witness", exception_without_witness, "GATE-ID-EXCEPTION"),
    Unsafe("scan-exception-witnessed-by-the-charting-nurse",
           exception_witnessed_by_the_charting_nurse, "GATE-ID-EXCEPTION"),
    Unsafe("scan-exception-with-a-short-reason", exception_with_a_short_reason,
           "GATE-ID-EXCEPTION"),
    Unsafe("reconstitution-before-a-drug-scan", reconstitution_before_a_drug_scan,
           "GATE-PREP-SCAN"),
    Unsafe("reconstitution-after-a-refused-drug-scan", reconstitution_after_a_refused_drug_scan,
           "GATE-PREP-SCAN"),
    Unsafe("bench-event-before-the-preparation-existed", bench_event_before_the_preparation,
           "GATE-PREP-TIME"),
    Unsafe("infusion-started-through-the-bench-events", infusion_started_at_the_bench,
           "GATE-PREP-HANG"),
    Unsafe("check-by-the-compounding-pharmacist", check_by_the_compounder,
           "GATE-CHECK-FOUR-EYES"),
    Unsafe("kit-out-of-the-fridge-25-hours", kit_out_of_the_fridge_25_hours,
           "GATE-KIT-EXCURSION", stored_refusal=True),
    Unsafe("infusion-started-2-hours-after-its-dexamethasone",
           infusion_without_its_premedication, "CARE-PREMED-WINDOW"),
)

assert len({row.id for row in TABLE}) == len(TABLE)
