"""The closed loop as a state machine (hypothesis): pharmacists start, scan, compound, store
and check bags, nurses chart doses with right or wrong scans at various times, physicians
release holds and resolve events, labs come back normal or with ANC 0.4; the clock moves on by
minutes, hours and days. Whatever the order, after every step:

- no two doses of a course are less than 7 days apart (site-local dates, label-facts §3);
- every dose is the dose the engine expected for it (``derive_slots`` re-derives the whole
  history: ``expected_dose_mg`` and the slot);
- every dose came from a bag of its own course, with its dose and slot, checked by a
  pharmacist who neither started nor compounded it, whose clock was usable when the infusion
  started (no violation, not expired, not after its last safe start: label-facts §4);
- a bag is hung only by charting, once, and an unchecked bag is never hung;
- a refused act wrote nothing (every table and the audit chain as they were).

Runs on the in-memory unit of work, bounded to stay under a minute.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from signing import SIGNED
from tarla.domain import course as core
from tarla.domain.bench import INSPECTION_QUESTIONS, steps_for
from tarla.domain.clock import ClockEvent, ClockStatus, EventKind, evaluate_clock
from tarla.domain.errors import TarlaError
from tarla.domain.identification import label_barcode
from tarla.services import admin, bench, clinical, pharmacy
from tarla.services.demo import kit_scan
from tarla.services.fakes import FakeStore, FakeUnitOfWork

ZONE = ZoneInfo("America/New_York")
DAY0 = date(2026, 12, 1)
NURSES = ("rn1", "rn2")
PHARMACISTS = ("ph1", "ph2", "ph3")
MRNS = ("M1", "M2")
EVENTS = ("reconstituted", "bag_prepared", "refrigerated", "removed_from_refrigerator",
          "discarded")
PANEL = (("ANC", 3.2, "10^9/L", {"lln": 1.8}), ("platelets", 220.0, "10^9/L", {"lln": 150.0}),
         ("hemoglobin", 13.1, "g/dL", {"lln": 12.0}), ("ALT", 25.0, "U/L", {"uln": 40.0}),
         ("AST", 22.0, "U/L", {"uln": 40.0}), ("bilirubin", 0.6, "mg/dL", {"uln": 1.2}))
REASON = "scanner broken at the bedside; identity checked by name and birth date"


class ClosedLoop(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.store = FakeStore()
        self.now = datetime.combine(DAY0 - timedelta(days=10), time(8), ZONE)
        admin.create_site(self.uow(), code="NYC", name="NYC", timezone=ZONE.key, now=self.now)
        staff = [*((n, "nurse") for n in NURSES), *((p, "pharmacist") for p in PHARMACISTS),
                 ("dr", "physician")]
        for name, role in staff:
            admin.create_user(self.uow(), username=name, display_name=name, roles=[role],
                              now=self.now, site_code="NYC")
        self.patients: list[tuple[int, int, str]] = []  # (patient id, course id, mrn)
        for mrn in MRNS:
            r = clinical.enrol_patient(
                self.uow(), site_code="NYC", mrn=mrn, family_name="Doe", given_name=mrn,
                birth_date=date(1958, 4, 2), diagnosis="ES-SCLC",
                progressed_after_platinum=True, start_date=DAY0, actor="dr", now=self.now)
            self.patients.append((r.patient_id, r.course_id, mrn))
        self.now = datetime.combine(DAY0, time(6), ZONE)
        self.serials: list[str] = []
        self.refused = 0

    # ------------------------------------------------------------------ plumbing
    def uow(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self.store)

    def tick(self, minutes: int = 1) -> datetime:
        self.now += timedelta(minutes=minutes)
        return self.now

    def snapshot(self) -> Any:
        return ({n: dict(t.rows) for n, t in self.store.tables.items()}, len(self.store.audit),
                self.store.audit_head)

    def attempt(self, act: Any, *args: Any, **kwargs: Any) -> Any:
        """Run a use case; a refusal (any error of our tree) must leave everything as it was."""
        before = self.snapshot()
        try:
            return act(*args, **kwargs)
        except TarlaError:
            self.refused += 1
            assert self.snapshot() == before, f"a refused {act.__name__} wrote something"
            return None

    def preps(self) -> list[Any]:
        return sorted(self.store.tables["preparations"].rows.values(), key=lambda p: p.id)

    def pick_prep(self, index: int) -> Any | None:
        preps = self.preps()
        return preps[index % len(preps)] if preps else None

    # ------------------------------------------------------------------ time and the clinic
    @rule(minutes=st.sampled_from([1, 20, 60, 3 * 60, 8 * 60, 24 * 60, 3 * 24 * 60,
                                   7 * 24 * 60, 15 * 24 * 60]))
    def time_passes(self, minutes: int) -> None:
        self.tick(minutes)

    @rule(who=st.integers(0, 1), low_anc=st.booleans())
    def labs_come_back(self, who: int, low_anc: bool) -> None:
        pid, _, _ = self.patients[who]
        results = [{"test": t, "value": 0.4 if t == "ANC" and low_anc else v, "unit": u, **x}
                   for t, v, u, x in PANEL]
        drawn = self.now
        self.attempt(clinical.record_lab_panel, self.uow(), patient_id=pid, results=results,
                     collected_at=drawn, actor="rn2", now=self.tick())

    @rule(who=st.integers(0, 1))
    def crs_grade_2(self, who: int) -> None:
        _, cid, _ = self.patients[who]
        self.attempt(clinical.record_assessment, self.uow(), course_id=cid, kind="CRS",
                     inputs={"temperature_c": 38.9, "hypotension": True, "oxygen": "low_flow",
                             "oxygen_l_per_min": 2}, assessed_at=self.now, actor="rn1",
                     now=self.tick())

    @rule(physician=st.booleans())
    def resolve_an_event(self, physician: bool) -> None:
        ongoing = [e for e in self.store.tables["events"].rows.values() if e.resolved_at is None]
        if ongoing:
            self.attempt(clinical.resolve_adverse_event, self.uow(), event_id=ongoing[0].id,
                         resolved_at=self.now, actor="dr" if physician else "rn1",
                         now=self.tick())

    @rule(who=st.integers(0, 1))
    def physician_releases(self, who: int) -> None:
        _, cid, _ = self.patients[who]
        self.attempt(clinical.release_dose, self.uow(), course_id=cid, actor="dr",
                     reason="reviewed at the bedside, benefit outweighs risk", now=self.tick())

    # ------------------------------------------------------------------ pharmacy
    @rule(who=st.integers(0, 1), pharmacist=st.sampled_from(PHARMACISTS))
    def start_a_preparation(self, who: int, pharmacist: str) -> None:
        _, cid, _ = self.patients[who]
        self.attempt(pharmacy.start_preparation, self.uow(), course_id=cid, actor=pharmacist,
                     now=self.tick())

    @rule(index=st.integers(0, 20), right_strength=st.booleans(), reuse=st.booleans(),
          pharmacist=st.sampled_from(PHARMACISTS))
    def scan_a_kit(self, index: int, right_strength: bool, reuse: bool, pharmacist: str) -> None:
        prep = self.pick_prep(index)
        if prep is None:
            return
        if reuse and self.serials:
            serial = self.serials[index % len(self.serials)]
        else:
            serial = f"S{len(self.serials)}"
            self.serials.append(serial)
        strength = prep.dose_mg if right_strength else (10 if prep.dose_mg == 1 else 1)
        self.attempt(pharmacy.record_scan, self.uow(), preparation_id=prep.id,
                     raw=kit_scan(strength, serial), component="drug", actor=pharmacist,
                     now=self.tick())

    def _next_step(self, prep: Any, pharmacist: str, right_volume: bool = True) -> None:
        done = {s.step for s in self.uow().preparations.steps(prep.id)}
        todo = [s for s in steps_for(prep.dose_mg) if s.code.value not in done]
        if not todo:
            return
        spec = todo[0]
        volume = None if spec.expected_ml is None else float(spec.expected_ml) * (
            1 if right_volume else 2)
        self.attempt(bench.confirm_step, self.uow(), preparation_id=prep.id, step=spec.code,
                     actor=pharmacist, now=self.tick(), measured_ml=volume,
                     inspection={q[0]: True for q in INSPECTION_QUESTIONS}
                     if spec.code == "inspected" else None)

    @rule(index=st.integers(0, 20), pharmacist=st.sampled_from(PHARMACISTS),
          right_volume=st.booleans())
    def confirm_a_bench_step(self, index: int, pharmacist: str, right_volume: bool) -> None:
        prep = self.pick_prep(index)
        if prep is not None:
            self._next_step(prep, pharmacist, right_volume)

    @rule(index=st.integers(0, 20), pharmacist=st.sampled_from(PHARMACISTS))
    def compound_the_rest(self, index: int, pharmacist: str) -> None:
        """Every remaining step and clock event up to the bag, as one pharmacist would."""
        prep = self.pick_prep(index)
        if prep is None:
            return
        for _ in range(6):
            self._next_step(prep, pharmacist)
            events = {e.event for e in self.uow().preparations.events(prep.id)}
            if "reconstituted" not in events:
                self.attempt(pharmacy.advance_preparation, self.uow(), preparation_id=prep.id,
                             event="reconstituted", at=self.now, actor=pharmacist,
                             now=self.tick())
        self.attempt(pharmacy.advance_preparation, self.uow(), preparation_id=prep.id,
                     event="bag_prepared", at=self.now, actor=pharmacist, now=self.tick())

    @rule(index=st.integers(0, 20), event=st.sampled_from(EVENTS),
          pharmacist=st.sampled_from(PHARMACISTS), minutes_ago=st.sampled_from([0, 0, 30]))
    def put_an_event_on_the_clock(self, index: int, event: str, pharmacist: str,
                                  minutes_ago: int) -> None:
        prep = self.pick_prep(index)
        if prep is not None:
            self.attempt(pharmacy.advance_preparation, self.uow(), preparation_id=prep.id,
                         event=event, at=self.now - timedelta(minutes=minutes_ago),
                         actor=pharmacist, now=self.tick())

    @rule(index=st.integers(0, 20), checker=st.sampled_from(PHARMACISTS))
    def check_a_bag(self, index: int, checker: str) -> None:
        prep = self.pick_prep(index)
        if prep is not None:
            self.attempt(pharmacy.check_preparation, self.uow(), preparation_id=prep.id,
                         actor=checker, now=self.tick())

    # ------------------------------------------------------------------ bedside
    def bag_for(self, who: int, choice: str, index: int) -> Any | None:
        """The latest bag of the patient's course, any of its bags, or another course's."""
        _, cid, _ = self.patients[who]
        own = [p for p in self.preps() if p.course_id == cid]
        other = [p for p in self.preps() if p.course_id != cid]
        pool = {"latest": own[-1:], "own": own, "other": other}[choice]
        return pool[index % len(pool)] if pool else None

    @rule(who=st.integers(0, 1), bag=st.sampled_from(["latest", "latest", "own", "other"]),
          index=st.integers(0, 20), wristband=st.sampled_from(["right", "right", "other"]),
          label=st.sampled_from(["right", "right", "none", "exception", "exception-self",
                                 "exception-short"]),
          nurse=st.sampled_from(NURSES), minutes_ago=st.sampled_from([0, 5, 45, 120]),
          ended=st.sampled_from([None, 60, 30]), cross_check=st.sampled_from([None, 1, 10]))
    def chart_a_dose(self, who: int, bag: str, index: int, wristband: str, label: str,
                     nurse: str, minutes_ago: int, ended: int | None,
                     cross_check: int | None) -> None:
        prep = self.bag_for(who, bag, index)
        if prep is None:
            return
        self.chart(who, prep.id, wristband=wristband, label=label, nurse=nurse,
                   minutes_ago=minutes_ago, ended=ended, cross_check=cross_check)

    @rule(who=st.integers(0, 1), wait=st.sampled_from([0, 60, 6 * 60, 7 * 60 + 30, 9 * 60,
                                                       30 * 60, 8 * 24 * 60]))
    def hang_the_latest_bag_later(self, who: int, wait: int) -> None:
        """The bag waits on the ward (minutes to days), then is hung with the right scans."""
        prep = self.bag_for(who, "latest", 0)
        if prep is not None:
            self.tick(wait)
            self.chart(who, prep.id)

    @rule(who=st.integers(0, 1), days=st.sampled_from([1, 2, 3, 6, 8]))
    def the_patient_comes_days_later(self, who: int, days: int) -> None:
        """The latest bag goes into the refrigerator, comes out ``days`` later and is hung
        (by then the dose due may be another: a restart step-up after a long delay)."""
        prep = self.bag_for(who, "latest", 0)
        if prep is None:
            return
        for event in ("refrigerated", "removed_from_refrigerator"):
            self.attempt(pharmacy.advance_preparation, self.uow(), preparation_id=prep.id,
                         event=event, at=self.now, actor="ph1", now=self.now)
            self.tick(days * 24 * 60 if event == "refrigerated" else 30)
        self.chart(who, prep.id)

    def chart(self, who: int, pid: int, *, wristband: str = "right", label: str = "right",
              nurse: str = "rn1", minutes_ago: int = 0, ended: int | None = None,
              cross_check: int | None = None) -> None:
        _, cid, mrn = self.patients[who]
        started = self.now - timedelta(minutes=minutes_ago)
        kwargs: dict[str, Any] = {
            "patient_scan": mrn if wristband == "right" else MRNS[1 - who],
            "bag_scan": label_barcode(pid) if label == "right" else None}
        if label.startswith("exception"):
            kwargs.update(preparation_id=pid, patient_scan=None,
                          scan_exception_reason="too short" if label == "exception-short"
                          else REASON, witness=nurse if label == "exception-self" else
                          next(n for n in NURSES if n != nurse), witness_signature=SIGNED)
        end = None
        if ended is not None and started + timedelta(minutes=ended) <= self.now:
            end = started + timedelta(minutes=ended)
        self.attempt(clinical.record_administration, self.uow(), course_id=cid,
                     started_at=started, ended_at=end, actor=nurse, now=self.tick(),
                     dose_mg=cross_check, **kwargs)

    @rule(index=st.integers(0, 20))
    def infusion_completed(self, index: int) -> None:
        running = [p for p in self.preps() if p.status == "in_use"]
        if running:
            prep = running[index % len(running)]
            self.attempt(clinical.complete_infusion, self.uow(), preparation_id=prep.id,
                         ended_at=self.now, actor="rn1", now=self.tick())

    def whole_bag(self, who: int, checker: str) -> int | None:
        """Start, scan, compound and check (ph1 at the bench, ``checker`` checks)."""
        _, cid, _ = self.patients[who]
        started = self.attempt(pharmacy.start_preparation, self.uow(), course_id=cid,
                               actor="ph1", now=self.tick())
        if started is None:
            return None
        serial = f"S{len(self.serials)}"
        self.serials.append(serial)
        self.attempt(pharmacy.record_scan, self.uow(), preparation_id=started.preparation_id,
                     raw=kit_scan(started.dose_mg, serial), component="drug", actor="ph1",
                     now=self.tick())
        self.compound_the_rest(self.preps().index(
            self.store.tables["preparations"].rows[started.preparation_id]), "ph1")
        self.attempt(pharmacy.check_preparation, self.uow(),
                     preparation_id=started.preparation_id, actor=checker, now=self.tick(5))
        return started.preparation_id

    @rule(who=st.integers(0, 1), checker=st.sampled_from(PHARMACISTS))
    def a_whole_bag_the_usual_way(self, who: int, checker: str) -> None:
        self.whole_bag(who, checker)

    @rule(who=st.integers(0, 1), ended=st.sampled_from([None, 60]))
    def a_dose_the_usual_way(self, who: int, ended: int | None) -> None:
        """Labs drawn, the bag prepared and checked by two pharmacists, hung 30 min later."""
        self.labs_come_back(who, low_anc=False)
        pid = self.whole_bag(who, "ph2")
        if pid is not None:
            self.tick(30)
            if ended is not None:
                self.tick(ended)
            self.chart(who, pid, minutes_ago=ended or 0, ended=ended)

    # ------------------------------------------------------------------ invariants
    @invariant()
    def doses_are_at_least_7_days_apart_and_what_the_engine_expected(self) -> None:
        for _, cid, _ in self.patients:
            given = self.uow().administrations.for_course(cid)
            days = [a.started_at.astimezone(ZONE).date() for a in given]
            assert all((b - a).days >= 7 for a, b in zip(days, days[1:])), days
            derived, _ = core.derive_slots(
                [core.Administration(a.started_at, a.dose_mg, a.ended_at) for a in given], ZONE)
            for a, d in zip(given, sorted(derived, key=lambda g: g.started_at)):
                assert (a.dose_mg, a.slot) == (d.expected_dose_mg, d.slot.label), (a, d)

    @invariant()
    def every_dose_came_from_its_own_checked_usable_bag(self) -> None:
        hung_from: dict[int, int] = {}
        users = self.store.tables["users"].rows
        for a in self.store.tables["administrations"].rows.values():
            assert a.preparation_id is not None
            hung_from[a.preparation_id] = hung_from.get(a.preparation_id, 0) + 1
            prep = self.store.tables["preparations"].rows[a.preparation_id]
            assert (prep.course_id, prep.dose_mg, prep.slot) == (a.course_id, a.dose_mg, a.slot)
            compounders = {s.confirmed_by for s in self.uow().preparations.steps(prep.id)}
            events = self.uow().preparations.events(prep.id)
            compounders |= {e.recorded_by for e in events
                            if e.event in ("reconstituted", "bag_prepared")}
            assert prep.checked_by is not None and prep.checked_by != prep.prepared_by
            assert prep.checked_by not in compounders
            assert "pharmacist" in users[prep.checked_by].roles
            before = [ClockEvent(EventKind(e.event), e.at) for e in events
                      if e.at < a.started_at or (e.at == a.started_at
                                                 and e.event != "infusion_started")]
            clock = evaluate_clock(before, a.started_at, ZONE)
            assert clock.status is ClockStatus.OK, clock.violations
            assert a.started_at <= clock.latest_infusion_start
        assert all(n == 1 for n in hung_from.values()), hung_from

    @invariant()
    def a_bag_is_hung_only_by_charting_and_never_unchecked(self) -> None:
        charted = {a.preparation_id for a in self.store.tables["administrations"].rows.values()}
        for prep in self.preps():
            events = [e.event for e in self.uow().preparations.events(prep.id)]
            hung = "infusion_started" in events
            assert hung == (prep.id in charted) == (prep.status in ("in_use", "administered")
                                                    or (prep.status == "discarded" and hung))
            assert events.count("infusion_started") <= 1
            if hung:
                assert prep.checked_by is not None and prep.checked_by != prep.prepared_by


ClosedLoop.TestCase.settings = settings(
    max_examples=300, stateful_step_count=60, deadline=None, derandomize=True, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
test_the_closed_loop_keeps_its_promises_in_any_order = ClosedLoop.TestCase
