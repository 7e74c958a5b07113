"""Sites are walls, at the use cases (in-memory unit of work): a user of site A asking for a
record of site B is told exactly what they would be told about a record that does not exist
(``NotFound``, the same message), nothing is written, and the same act by site B's own staff
goes through. Reads take the viewer's scope the same way; a user without a site sees nothing.

Two New York sites, NYC and BRX, each with its own staff, December 2026 (day 0 = 2026-12-01,
C1D1 due; ``closed_loop_cases``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from closed_loop_cases import REASON, LoopWorld, Patient, Staff, at, open_site
from signing import SIGNED
from tarla.domain.identification import label_barcode, wristband_barcode
from tarla.label import all_rules
from tarla.label.products import PRODUCTS
from tarla.services import admin, bench, clinical, lab_entry, label, pharmacy, queries
from tarla.services.demo import kit_scan
from tarla.services.errors import Conflict, NotFound, Refused
from tarla.services.fakes import FakeStore, FakeUnitOfWork
from tarla.services.scope import OPERATOR, Scope

A = Staff(site="NYC", nurse="rn.a", nurse2="rn2.a", pharmacist="rph.a", pharmacist2="rph2.a",
          physician="dr.a")
B = Staff(site="BRX", nurse="rn.b", nurse2="rn2.b", pharmacist="rph.b", pharmacist2="rph2.b",
          physician="dr.b")
MISSING = 9999  # an id no record has
SETUP = at(-30, "08:00")


class Two:
    """Both sites on one store: ``a`` and ``b`` act as each site's own staff."""

    def __init__(self) -> None:
        self.store = FakeStore()
        self.a = LoopWorld(self.uow, A)
        self.b = LoopWorld(self.uow, B)
        for staff in (A, B):
            open_site(self.uow, staff, SETUP)
            admin.create_user(self.uow(), username=f"admin.{staff.site.lower()}",
                              display_name="admin", roles=["admin"], now=SETUP,
                              site_code=staff.site)
        admin.create_user(self.uow(), username="root", display_name="central administrator",
                          roles=["admin", "physician"], now=SETUP)

    def uow(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self.store)

    def site_id(self, code: str) -> int:
        with self.uow() as u:
            site = u.sites.by_code(code)
            assert site is not None and site.id is not None
            return site.id

    def snapshot(self) -> tuple[Any, ...]:
        return (tuple((name, dict(t.rows)) for name, t in self.store.tables.items()),
                len(self.store.audit), self.store.commits)


@pytest.fixture
def two() -> Two:
    return Two()


def _shape(message: str) -> str:
    """The message without the id or code it names."""
    return re.sub(r"'[^']*'", "'?'", re.sub(r"\d+", "N", message))


def behind_the_wall(two: Two, foreign: Callable[[], Any], missing: Callable[[], Any]) -> None:
    """``foreign`` (site A acting on site B's record) fails exactly as ``missing`` (the same
    act on a record that does not exist), and neither writes anything."""
    before = two.snapshot()
    with pytest.raises(NotFound) as theirs:
        foreign()
    with pytest.raises(NotFound) as nobodys:
        missing()
    assert (theirs.value.field, _shape(theirs.value.message)) == (
        nobodys.value.field, _shape(nobodys.value.message))
    assert two.snapshot() == before


def c1d1_bag(w: LoopWorld, mrn: str = "M1", *, checked: bool = True) -> tuple[Patient, int]:
    p = w.enrol(mrn)
    w.labs(p, at(0, "07:00"))
    pid = w.prepare(p, at(0, "07:45"), f"K-{w.s.site}-{mrn}", checked=checked)
    w.premedicate(p, at(0, "09:00"))  # C1D1 care: dexamethasone before the infusion
    return p, pid


def started(w: LoopWorld, mrn: str = "M1") -> tuple[Patient, int]:
    """A preparation just opened for the C1D1 dose (status ordered)."""
    p = w.enrol(mrn)
    w.labs(p, at(0, "07:00"))
    return p, w.start(p, at(0, "07:45"))


# --------------------------------------------------------------------------- bedside


def test_a_nurse_charts_no_dose_for_another_sites_patient(two: Two) -> None:
    p, pid = c1d1_bag(two.b)

    def chart(nurse: str, course_id: int) -> clinical.AdministrationResult:
        return clinical.record_administration(
            two.uow(), course_id=course_id, started_at=at(0, "09:00"), actor=nurse,
            now=at(0, "09:05"), patient_scan=wristband_barcode(p.mrn),
            bag_scan=label_barcode(pid), idempotency_key="tablet-1:first")

    behind_the_wall(two, lambda: chart(A.nurse, p.course_id), lambda: chart(A.nurse, MISSING))
    assert chart(B.nurse, p.course_id).slot == "C1D1"
    # a retry of that request by a nurse of the other site is not answered with its result
    behind_the_wall(two, lambda: chart(A.nurse, p.course_id), lambda: chart(A.nurse, MISSING))


def test_an_idempotency_key_used_at_another_site_names_nothing_of_it(two: Two) -> None:
    theirs, pid = c1d1_bag(two.b)
    mine, my_bag = c1d1_bag(two.a)
    clinical.record_administration(
        two.uow(), course_id=mine.course_id, started_at=at(0, "09:00"), actor=A.nurse,
        now=at(0, "09:05"), patient_scan=mine.mrn, bag_scan=label_barcode(my_bag),
        idempotency_key="key-of-nyc-1")
    before = two.snapshot()
    with pytest.raises(Conflict) as conflict:
        clinical.record_administration(
            two.uow(), course_id=theirs.course_id, started_at=at(0, "09:00"), actor=B.nurse,
            now=at(0, "09:05"), patient_scan=theirs.mrn, bag_scan=label_barcode(pid),
            idempotency_key="key-of-nyc-1")
    assert conflict.value.message == ("this key was already used for a different "
                                      "administration, of another course")
    assert two.snapshot() == before


def test_a_witness_from_another_site_does_not_make_a_scan_exception(two: Two) -> None:
    p, pid = c1d1_bag(two.a)
    with pytest.raises(Refused) as refused:
        clinical.record_administration(
            two.uow(), course_id=p.course_id, started_at=at(0, "09:00"), actor=A.nurse,
            now=at(0, "09:05"), preparation_id=pid, scan_exception_reason=REASON,
            witness=B.nurse)
    assert "GATE-ID-EXCEPTION" in refused.value.rules


def test_the_end_of_an_infusion_is_charted_only_at_its_own_site(two: Two) -> None:
    p, pid = c1d1_bag(two.b)
    two.b.hang(p, pid, at(0, "09:00"))

    def complete(nurse: str, prep: int) -> clinical.AdministrationResult:
        return clinical.complete_infusion(two.uow(), preparation_id=prep,
                                          ended_at=at(0, "10:00"), actor=nurse,
                                          now=at(0, "10:05"))

    behind_the_wall(two, lambda: complete(A.nurse, pid), lambda: complete(A.nurse, MISSING))
    assert complete(B.nurse, pid).course_status == "active"


def test_labs_are_charted_only_for_patients_of_the_users_site(two: Two) -> None:
    p = two.b.enrol("M1")
    panel = [{"test": "ANC", "value": 3.2, "unit": "10^9/L", "lln": 1.8}]

    def one(nurse: str, patient_id: int) -> clinical.LabResultOut:
        return clinical.record_lab(two.uow(), patient_id=patient_id, test="ANC", value=3.2,
                                   unit="10^9/L", lln=1.8, collected_at=at(0, "07:00"),
                                   actor=nurse, now=at(0, "07:10"))

    def many(nurse: str, patient_id: int) -> list[clinical.LabResultOut]:
        return clinical.record_lab_panel(two.uow(), patient_id=patient_id, results=panel,
                                         collected_at=at(0, "07:00"), actor=nurse,
                                         now=at(0, "07:10"))

    behind_the_wall(two, lambda: one(A.nurse, p.patient_id), lambda: one(A.nurse, MISSING))
    behind_the_wall(two, lambda: many(A.pharmacist, p.patient_id),
                    lambda: many(A.pharmacist, MISSING))
    assert one(B.nurse, p.patient_id).test == "ANC"
    assert len(many(B.pharmacist, p.patient_id)) == 1


def test_assessments_and_adverse_events_are_charted_only_at_the_users_site(two: Two) -> None:
    p = two.b.enrol("M1")
    two.b.give(p, 0, "K-B1")
    crs = {"temperature_c": 38.6, "hypotension": True, "oxygen": "none"}

    def assess(who: str, course_id: int) -> clinical.AssessmentResult:
        return clinical.record_assessment(two.uow(), course_id=course_id, kind="CRS",
                                          inputs=crs, assessed_at=at(0, "21:00"), actor=who,
                                          now=at(0, "21:10"))

    def event(who: str, course_id: int) -> int:
        return clinical.record_adverse_event(two.uow(), course_id=course_id, type="CRS",
                                             grade=1, onset=at(0, "20:00"), actor=who,
                                             now=at(0, "21:20"))

    behind_the_wall(two, lambda: assess(A.nurse, p.course_id), lambda: assess(A.nurse, MISSING))
    behind_the_wall(two, lambda: event(A.physician, p.course_id),
                    lambda: event(A.physician, MISSING))
    assert assess(B.nurse, p.course_id).grade == 2
    assert event(B.physician, p.course_id) > 0


def test_only_the_sites_own_physician_resolves_its_adverse_event(two: Two) -> None:
    p = two.b.enrol("M1")
    two.b.give(p, 0, "K-B1")
    event = two.b.crs_grade_2(p, at(0, "23:00"))

    def resolve(who: str, event_id: int) -> str:
        return clinical.resolve_adverse_event(two.uow(), event_id=event_id,
                                              resolved_at=at(2, "10:00"), actor=who,
                                              now=at(2, "10:05"), expected_version=1)

    behind_the_wall(two, lambda: resolve(A.physician, event), lambda: resolve(A.physician,
                                                                               MISSING))
    behind_the_wall(two, lambda: resolve(A.nurse, event), lambda: resolve(A.nurse, MISSING))
    assert resolve(B.physician, event) == "active"


def test_only_the_sites_own_physician_releases_its_held_dose(two: Two) -> None:
    p = two.b.enrol("M1")
    two.b.give(p, 0, "K-B1")
    two.b.crs_grade_2(p, at(0, "23:00"))
    two.b.labs(p, at(7, "07:00"))
    reason = "CRS settled on tocilizumab; benefit outweighs the risk"

    def release(who: str, course_id: int) -> clinical.ReleaseResult:
        return clinical.release_dose(two.uow(), course_id=course_id, reason=reason, actor=who,
                                     now=at(7, "07:30"), signature=SIGNED)

    behind_the_wall(two, lambda: release(A.physician, p.course_id),
                    lambda: release(A.physician, MISSING))
    assert release(B.physician, p.course_id).covers_rules


def test_a_dose_given_elsewhere_is_entered_only_at_the_patients_site(two: Two) -> None:
    p = two.b.enrol("M1", start=date(2026, 11, 1))

    def elsewhere(who: str, course_id: int) -> clinical.AdministrationResult:
        return clinical.record_external_dose(
            two.uow(), course_id=course_id, started_at=at(-30, "09:00"), dose_mg=1,
            source="Mercy Hospital MAR, faxed 2026-11-30", actor=who, now=at(0, "08:00"))

    behind_the_wall(two, lambda: elsewhere(A.physician, p.course_id),
                    lambda: elsewhere(A.physician, MISSING))
    assert elsewhere(B.physician, p.course_id).slot == "C1D1"


def test_a_patient_is_enrolled_only_at_the_users_own_site(two: Two) -> None:
    def enrol(who: str, site: str) -> clinical.EnrolResult:
        return clinical.enrol_patient(
            two.uow(), site_code=site, mrn="NEW1", family_name="Doe", given_name="Jo",
            birth_date=date(1958, 4, 2), diagnosis="ES-SCLC", progressed_after_platinum=True,
            start_date=date(2026, 12, 1), actor=who, now=at(-3, "10:00"))

    behind_the_wall(two, lambda: enrol(A.physician, "BRX"), lambda: enrol(A.physician, "ZZZ"))
    behind_the_wall(two, lambda: enrol("root", "BRX"), lambda: enrol("root", "ZZZ"))
    assert enrol(B.physician, "BRX").patient_id > 0


# --------------------------------------------------------------------------- pharmacy


def test_a_preparation_is_started_only_for_a_course_of_the_pharmacists_site(two: Two) -> None:
    p = two.b.enrol("M1")
    two.b.labs(p, at(0, "07:00"))

    def start(who: str, course_id: int) -> pharmacy.PreparationResult:
        return pharmacy.start_preparation(two.uow(), course_id=course_id, actor=who,
                                          now=at(0, "07:45"))

    behind_the_wall(two, lambda: start(A.pharmacist, p.course_id),
                    lambda: start(A.pharmacist, MISSING))
    assert start(B.pharmacist, p.course_id).status == "ordered"


def test_a_kit_is_scanned_only_into_a_preparation_of_the_pharmacists_site(two: Two) -> None:
    _, pid = started(two.b)

    def scan(who: str, prep: int) -> pharmacy.ScanResult:
        return pharmacy.record_scan(two.uow(), preparation_id=prep, raw=kit_scan(1, "K-B1"),
                                    component="drug", actor=who, now=at(0, "07:47"))

    behind_the_wall(two, lambda: scan(A.pharmacist, pid), lambda: scan(A.pharmacist, MISSING))
    assert scan(B.pharmacist, pid).verdict == "accept"


def test_bench_steps_and_clock_events_stay_at_the_preparations_site(two: Two) -> None:
    _, pid = started(two.b)
    two.b.scan(pid, kit_scan(1, "K-B1"), at(0, "07:47"))

    def step(who: str, prep: int) -> list[dict[str, Any]]:
        return bench.confirm_step(two.uow(), preparation_id=prep, step="water_added",
                                  actor=who, now=at(0, "07:49"), measured_ml=1.3)

    def advance(who: str, prep: int) -> pharmacy.PreparationResult:
        return pharmacy.advance_preparation(two.uow(), preparation_id=prep,
                                            event="reconstituted", at=at(0, "07:50"),
                                            actor=who, now=at(0, "07:50"), expected_version=1)

    behind_the_wall(two, lambda: step(A.pharmacist, pid), lambda: step(A.pharmacist, MISSING))
    assert step(B.pharmacist, pid)[-1]["step"] == "water_added"
    behind_the_wall(two, lambda: advance(A.pharmacist, pid),
                    lambda: advance(A.pharmacist, MISSING))
    assert advance(B.pharmacist, pid).status == "in_preparation"


def test_the_independent_check_is_done_only_by_a_pharmacist_of_the_bags_site(two: Two) -> None:
    _, pid = c1d1_bag(two.b, checked=False)

    def check(who: str, prep: int) -> pharmacy.PreparationResult:
        return pharmacy.check_preparation(two.uow(), preparation_id=prep, actor=who,
                                          now=at(0, "08:20"), signature=SIGNED)

    behind_the_wall(two, lambda: check(A.pharmacist2, pid),
                    lambda: check(A.pharmacist2, MISSING))
    assert check(B.pharmacist2, pid).status == "checked"


def test_stock_and_its_excursions_belong_to_one_site(two: Two) -> None:
    gtin = next(x.gtin for x in PRODUCTS if x.strength_mg == 1)

    def receive(who: str, site: str) -> int:
        return pharmacy.receive_vial(two.uow(), site_code=site, gtin=gtin, lot="L1",
                                     serial=f"S-{who}", expiry=date(2030, 12, 31),
                                     component="drug", strength_mg=1, actor=who,
                                     now=at(-5, "10:00"))

    behind_the_wall(two, lambda: receive(A.pharmacist, "BRX"),
                    lambda: receive(A.pharmacist, "ZZZ"))
    vial = receive(B.pharmacist, "BRX")

    def excursion(who: str, vial_id: int) -> int:
        return pharmacy.record_excursion(two.uow(), vial_id=vial_id, started_at=at(-4, "08:00"),
                                         ended_at=at(-4, "09:00"), actor=who,
                                         now=at(-4, "09:05"))

    behind_the_wall(two, lambda: excursion(A.nurse, vial), lambda: excursion(A.nurse, MISSING))
    assert excursion(B.nurse, vial) > 0


# --------------------------------------------------------------------------- sign-off, users


def test_a_user_signs_off_the_label_rules_only_for_their_own_site(two: Two) -> None:
    rules = [r.rule_id for r in all_rules()][:3]

    def sign(who: str, site: str) -> label.SignoffResult:
        return label.sign_off_label(two.uow(), site_code=site, rule_ids=rules, actor=who,
                                    now=at(0, "08:00"), comments="checked against the PI",
                                    password="their password", verify=lambda _h, _p: True)

    behind_the_wall(two, lambda: sign(A.pharmacist, "BRX"), lambda: sign(A.pharmacist, "ZZZ"))
    behind_the_wall(two, lambda: sign("root", "BRX"), lambda: sign("root", "ZZZ"))
    assert sign(B.physician, "BRX").rule_ids == tuple(sorted(rules))


def test_an_administrator_manages_the_users_of_their_own_site_only(two: Two) -> None:
    def add(who: str, site: str | None, name: str) -> Any:
        return admin.add_user(two.uow(), actor=who, username=name, display_name=name,
                              roles=["nurse"], now=at(0, "08:00"), site_code=site)

    behind_the_wall(two, lambda: add("admin.nyc", "BRX", "x1"), lambda: add("admin.nyc", "ZZZ",
                                                                              "x2"))
    assert add("admin.nyc", None, "rn.new").site_id == two.site_id("NYC")  # their own site
    assert add("admin.brx", "BRX", "rn.new2").site_id == two.site_id("BRX")
    with two.uow() as u:
        nyc_admin = u.users.by_username("admin.nyc")
        assert nyc_admin is not None
        with pytest.raises(NotFound) as theirs:
            admin.managed_user(u, nyc_admin, B.nurse)
        with pytest.raises(NotFound) as nobodys:
            admin.managed_user(u, nyc_admin, "nobody")
        assert _shape(theirs.value.message) == _shape(nobodys.value.message)
        with pytest.raises(NotFound):  # nor the administrator of the whole installation
            admin.managed_user(u, nyc_admin, "root")
        assert admin.managed_user(u, nyc_admin, A.nurse).username == A.nurse
        root = u.users.by_username("root")
        assert root is not None
        assert {admin.managed_user(u, root, n).username for n in (A.nurse, B.nurse)} == {
            A.nurse, B.nurse}
    assert admin.managed_scope(two.uow(), actor="admin.nyc") == admin.UserReach(
        two.site_id("NYC"))
    assert admin.managed_scope(two.uow(), actor="root").every_site
    # the administrator without a site names any site, or none
    assert add("root", "BRX", "rn.new3").site_id == two.site_id("BRX")
    assert add("root", None, "root2").site_id is None


# --------------------------------------------------------------------------- reads


def test_reads_take_the_viewers_scope_and_a_user_without_a_site_sees_no_patient(two: Two
                                                                                ) -> None:
    p = two.b.enrol("M1")
    two.b.labs(p, at(0, "07:00"))
    nyc, brx = Scope(two.site_id("NYC")), Scope(two.site_id("BRX"))
    for viewer in (nyc, Scope(None)):
        behind_the_wall(
            two, lambda v=viewer: queries.evaluate_patient(two.uow(), now=at(0, "08:00"),
                                                           viewer=v, course_id=p.course_id),
            lambda v=viewer: queries.evaluate_patient(two.uow(), now=at(0, "08:00"), viewer=v,
                                                      course_id=MISSING))
        behind_the_wall(
            two, lambda v=viewer: queries.evaluate_patient(two.uow(), now=at(0, "08:00"),
                                                           viewer=v, patient_id=p.patient_id),
            lambda v=viewer: queries.evaluate_patient(two.uow(), now=at(0, "08:00"), viewer=v,
                                                      patient_id=MISSING))
        behind_the_wall(
            two, lambda v=viewer: queries.worklist(two.uow(), site_code="BRX",
                                                   now=at(0, "08:00"), viewer=v),
            lambda v=viewer: queries.worklist(two.uow(), site_code="ZZZ", now=at(0, "08:00"),
                                              viewer=v))
        behind_the_wall(
            two, lambda v=viewer: lab_entry.lab_sheet(two.uow(), patient_id=p.patient_id,
                                                      now=at(0, "08:00"), viewer=v),
            lambda v=viewer: lab_entry.lab_sheet(two.uow(), patient_id=MISSING,
                                                 now=at(0, "08:00"), viewer=v))
        for read in (queries.patient_of, queries.labs_of):
            behind_the_wall(two, lambda r=read, v=viewer: r(two.uow(), patient_id=p.patient_id,
                                                            viewer=v),
                            lambda r=read, v=viewer: r(two.uow(), patient_id=MISSING, viewer=v))
        for read in (queries.course_of, queries.administrations_of):
            behind_the_wall(two, lambda r=read, v=viewer: r(two.uow(), course_id=p.course_id,
                                                            viewer=v),
                            lambda r=read, v=viewer: r(two.uow(), course_id=MISSING, viewer=v))
    assert queries.evaluate_patient(two.uow(), now=at(0, "08:00"), viewer=brx,
                                    course_id=p.course_id)["decision"] == "give"
    assert [i.course_id for i in queries.worklist(two.uow(), site_code="BRX",
                                                  now=at(0, "08:00"), viewer=brx).items] == [
        p.course_id]
    assert len(queries.labs_of(two.uow(), patient_id=p.patient_id, viewer=brx)) == 6
    # the operator at the command line holds the database: every site
    assert queries.worklist(two.uow(), site_code="BRX", now=at(0, "08:00"),
                            viewer=OPERATOR).items


def test_a_preparation_is_read_only_at_its_site(two: Two) -> None:
    _, pid = started(two.b)
    behind_the_wall(
        two, lambda: queries.preparation_of(two.uow(), preparation_id=pid,
                                            viewer=Scope(two.site_id("NYC"))),
        lambda: queries.preparation_of(two.uow(), preparation_id=MISSING,
                                       viewer=Scope(two.site_id("NYC"))))
    assert queries.preparation_of(two.uow(), preparation_id=pid,
                                  viewer=Scope(two.site_id("BRX"))).id == pid

