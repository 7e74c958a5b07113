"""Label versions and sign-offs against the in-memory unit of work (tarla.services.label):
the e-signature (password re-entered, pinned to the content hash), revocation, registering a
revision, the version new courses start on, and the per-site map the screens read.

Two sites, NYC and BRX (New York time). Passwords are checked with the sign-in's own argon2
hasher. A C1D1 decision relies on two UNVERIFIED rows: T3-DEXAMETHASONE and T3-SALINE.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta
from importlib import resources
from zoneinfo import ZoneInfo

import pytest

from tarla.domain.errors import InvalidInput
from tarla.label import LABEL_VERSION
from tarla.label.value import current_label
from tarla.services import admin, clinical, label, queries
from tarla.services.errors import AlreadyRecorded, Forbidden, NotFound
from tarla.services.fakes import FakeStore, FakeUnitOfWork
from tarla.services.records import LabelVersionRecord, SignoffRecord
from tarla.services.scope import OPERATOR, Scope
from tarla.web.auth import hash_password, verify_password

ZONE = ZoneInfo("America/New_York")
T0 = datetime(2026, 12, 1, 8, 0, tzinfo=ZONE)
PASSWORD = "correct horse battery"
C1D1_UNVERIFIED = ["T3-DEXAMETHASONE", "T3-SALINE"]
SHIPPED = "US-PI-2026-UNCONFIRMED"
BUILT_IN_HASH = current_label().content_hash


def shipped_text() -> str:
    return resources.files("tarla.label").joinpath("versions", f"{SHIPPED}.json").read_text(
        encoding="utf-8")


@pytest.fixture
def store() -> FakeStore:
    s = FakeStore()
    digest = hash_password(PASSWORD)
    setup = T0 - timedelta(days=30)
    for site in ("NYC", "BRX"):
        admin.create_site(FakeUnitOfWork(s), code=site, name=site, timezone=ZONE.key, now=setup)
    for name, roles, site in (("rph1", ["pharmacist"], "NYC"), ("dr", ["physician"], "NYC"),
                              ("rn", ["nurse"], "NYC"), ("admin", ["admin"], "NYC"),
                              ("rph.brx", ["pharmacist"], "BRX"),
                              ("dr.brx", ["physician"], "BRX")):
        admin.create_user(FakeUnitOfWork(s), username=name, display_name=f"{name} (name)",
                          roles=roles, now=setup, site_code=site, password_hash=digest)
    return s


def uow(store: FakeStore) -> FakeUnitOfWork:
    return FakeUnitOfWork(store)


def sign(store: FakeStore, rules: list[str], *, actor: str = "rph1", site: str = "NYC",
         password: str = PASSWORD, at: datetime = T0, **kw: object) -> label.SignoffResult:
    return label.sign_off_label(uow(store), site_code=site, rule_ids=rules, actor=actor, now=at,
                                password=password, verify=verify_password,
                                comments="checked against the PI", **kw)  # type: ignore[arg-type]


def enrol(store: FakeStore, mrn: str, site: str = "NYC", actor: str = "dr") -> int:
    return clinical.enrol_patient(uow(store), site_code=site, mrn=mrn, family_name="Doe",
                                  given_name="Jane", birth_date=date(1958, 4, 2),
                                  diagnosis="ES-SCLC", progressed_after_platinum=True,
                                  start_date=date(2026, 12, 1), actor=actor, now=T0).course_id


def site_id(store: FakeStore, code: str) -> int:
    with uow(store) as u:
        site = u.sites.by_code(code)
        assert site is not None and site.id is not None
        return site.id


def signed_map(store: FakeStore, code: str = "NYC",
               version: str = LABEL_VERSION) -> dict[str, tuple[str, date]]:
    with uow(store).readonly() as u:
        found = label.signed_rules(u, site_id=site_id(store, code), label_version=version,
                                   zone=ZONE)
    return {r: (s.by, s.on) for r, s in found.items()}


def written(store: FakeStore) -> tuple[int, int, int]:
    return store.commits, len(store.audit), len(store.tables["signoffs"].rows)


# --------------------------------------------------------------------------- the e-signature


def test_a_sign_off_records_site_drug_version_hash_rules_signer_time_and_comment(
        store: FakeStore) -> None:
    res = sign(store, ["T3-SALINE", "T3-DEXAMETHASONE"])
    assert (res.label_version, res.content_hash, res.rule_ids) == (
        LABEL_VERSION, BUILT_IN_HASH, ("T3-DEXAMETHASONE", "T3-SALINE"))
    assert "T1-C1D1" in res.unsigned and "T3-SALINE" not in res.unsigned
    rec = store.tables["signoffs"].rows[res.signoff_id]
    assert (rec.site_id, rec.drug, rec.label_version, rec.content_hash, rec.rule_ids,
            rec.signed_at, rec.comments, rec.revoked_at) == (
        site_id(store, "NYC"), "tarlatamab", "US-PI-2025-11", BUILT_IN_HASH,
        ("T3-DEXAMETHASONE", "T3-SALINE"), T0, "checked against the PI", None)
    entry = store.audit[-1]
    assert (entry.action, entry.actor, entry.after["site"], entry.after["content_hash"],
            entry.after["rule_ids"], entry.after["signature"]) == (
        "label.sign_off", "rph1", "NYC", BUILT_IN_HASH, ["T3-DEXAMETHASONE", "T3-SALINE"],
        "password re-entered")


def test_a_wrong_password_refuses_the_sign_off_naming_the_password_and_writes_nothing(
        store: FakeStore) -> None:
    before = written(store)
    for wrong in ("correct horse batterY", ""):
        with pytest.raises(InvalidInput) as refused:
            sign(store, C1D1_UNVERIFIED, password=wrong)
        assert refused.value.field == "password"
    assert written(store) == before
    assert store.labels == {}  # not even the built-in version got registered


def test_a_user_without_a_password_cannot_sign(store: FakeStore) -> None:
    admin.create_user(uow(store), username="rph.nopw", display_name="No password",
                      roles=["pharmacist"], now=T0, site_code="NYC")
    with pytest.raises(InvalidInput) as refused:
        sign(store, C1D1_UNVERIFIED, actor="rph.nopw", password="anything at all")
    assert refused.value.field == "password"


@pytest.mark.parametrize("actor, site, error", [
    ("rn", "NYC", Forbidden),  # a nurse does not sign rules off
    ("admin", "NYC", Forbidden),
    ("rph.brx", "NYC", NotFound),  # another site's pharmacist: the site is not theirs
])
def test_only_a_pharmacist_or_physician_of_the_site_signs(store: FakeStore, actor: str,
                                                          site: str,
                                                          error: type[Exception]) -> None:
    before = written(store)
    with pytest.raises(error):
        sign(store, C1D1_UNVERIFIED, actor=actor, site=site)
    assert written(store) == before


@pytest.mark.parametrize("rules, field", [([], "rule_ids"), (["T3-SALINE", "T3-SALINE"],
                                                             "rule_ids"),
                                          (["T9-NOPE"], "rule_ids")])
def test_a_sign_off_names_known_rules_once_each(store: FakeStore, rules: list[str],
                                                 field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        sign(store, rules)
    assert refused.value.field == field
    assert store.tables["signoffs"].rows == {}


def test_the_map_says_who_signed_each_rule_for_that_site_only(store: FakeStore) -> None:
    sign(store, ["T3-SALINE"], at=T0)
    sign(store, ["T3-SALINE", "T3-DEXAMETHASONE"], actor="dr", at=T0 + timedelta(days=1))
    assert signed_map(store) == {"T3-SALINE": ("dr (name)", date(2026, 12, 2)),
                                 "T3-DEXAMETHASONE": ("dr (name)", date(2026, 12, 2))}
    assert signed_map(store, "BRX") == {}


# --------------------------------------------------------------------------- revoking


def test_revoking_a_sign_off_with_a_reason_is_audited_and_it_no_longer_counts(
        store: FakeStore) -> None:
    sid = sign(store, C1D1_UNVERIFIED).signoff_id
    with pytest.raises(InvalidInput) as no_reason:
        label.revoke_signoff(uow(store), site_code="NYC", signoff_id=sid, reason="  ",
                             actor="dr", now=T0)
    assert no_reason.value.field == "reason"
    with pytest.raises(Forbidden):
        label.revoke_signoff(uow(store), site_code="NYC", signoff_id=sid, reason="x",
                             actor="rn", now=T0)
    with pytest.raises(NotFound):  # BRX's pharmacist neither sees NYC nor its sign-offs
        label.revoke_signoff(uow(store), site_code="NYC", signoff_id=sid, reason="x",
                             actor="rph.brx", now=T0)
    with pytest.raises(NotFound):
        label.revoke_signoff(uow(store), site_code="BRX", signoff_id=sid, reason="x",
                             actor="rph.brx", now=T0)
    later = T0 + timedelta(hours=2)
    revoked = label.revoke_signoff(uow(store), site_code="NYC", signoff_id=sid,
                                   reason="signed against the wrong PI revision", actor="dr",
                                   now=later)
    assert (revoked.revoked_at, revoked.revoke_reason) == (
        later, "signed against the wrong PI revision")
    assert signed_map(store) == {}
    entry = store.audit[-1]
    assert (entry.action, entry.actor, entry.before, entry.after["reason"],
            entry.after["rule_ids"]) == ("label.revoke_sign_off", "dr", {"revoked_at": None},
                                         "signed against the wrong PI revision",
                                         C1D1_UNVERIFIED)
    with pytest.raises(AlreadyRecorded):
        label.revoke_signoff(uow(store), site_code="NYC", signoff_id=sid, reason="again",
                             actor="dr", now=later)


# --------------------------------------------------------------------------- the hash pin


def test_a_sign_off_of_other_rows_does_not_count(store: FakeStore) -> None:
    sign(store, ["T3-SALINE"])  # registers the built-in version too
    with uow(store) as u:
        u.label.add_signoff(SignoffRecord(
            site_id=site_id(store, "NYC"), label_version=LABEL_VERSION, signed_by=1,
            signed_at=T0, rule_ids=("T3-DEXAMETHASONE",), content_hash="0" * 64))
        u.label.add_signoff(SignoffRecord(  # made before e-signatures: no hash at all
            site_id=site_id(store, "NYC"), label_version=LABEL_VERSION, signed_by=1,
            signed_at=T0, rule_ids=("T1-C1D1",)))
        u.commit()
    assert set(signed_map(store)) == {"T3-SALINE"}


def test_signing_rows_that_changed_since_they_were_read_is_refused(store: FakeStore) -> None:
    before = written(store)
    with pytest.raises(InvalidInput) as refused:
        sign(store, C1D1_UNVERIFIED, content_hash="f" * 64)
    assert refused.value.field == "content_hash"
    assert written(store) == before
    assert sign(store, C1D1_UNVERIFIED, content_hash=BUILT_IN_HASH).content_hash == BUILT_IN_HASH


def test_a_built_in_version_edited_in_place_can_be_neither_signed_nor_counted(
        store: FakeStore) -> None:
    sign(store, ["T3-SALINE"])
    with uow(store) as u:  # the rows registered under the id are not the code's any more
        stored, rows = store.labels[LABEL_VERSION]
        u.state.labels = {LABEL_VERSION: (dataclasses.replace(stored, content_hash="e" * 64),
                                          rows)}
        u.commit()
    assert signed_map(store) == {}
    with pytest.raises(InvalidInput) as refused:
        sign(store, ["T3-DEXAMETHASONE"])
    assert refused.value.field == "label_version"


def test_a_version_registered_before_hashes_is_completed_from_identical_code_rows(
        store: FakeStore) -> None:
    label_now = current_label()
    with uow(store) as u:
        u.label.add_version(LabelVersionRecord(id=LABEL_VERSION, source="old", registered_at=T0),
                            [dataclasses.replace(r, label_table=None, fields_json=None)
                             for r in label._rule_records(label_now)])
        u.commit()
    sign(store, ["T3-SALINE"])
    stored, rows = store.labels[LABEL_VERSION]
    assert stored.content_hash == BUILT_IN_HASH
    assert {r.fields_json for r in rows if r.rule_id == "PREP-DILUTE-4H"} == {
        '{"limit":"PT4H","max_c":null,"min_c":null}'}


# --------------------------------------------------------------------------- versions


def test_loading_the_shipped_revision_registers_it_with_its_hash_and_audits_it(
        store: FakeStore) -> None:
    res = label.register_revision(uow(store), text=shipped_text(), actor="rph1", now=T0)
    assert (res.version, res.base_version) == (SHIPPED, LABEL_VERSION)
    assert [c.rule_id for c in res.diff.changed] == ["T1-MON-C1D1-D8"]
    stored, rows = store.labels[SHIPPED]
    assert (stored.content_hash, stored.base_version, stored.drug, stored.registered_by) == (
        res.content_hash, LABEL_VERSION, "tarlatamab", 1)
    assert len(rows) == len(current_label().rows)
    with uow(store).readonly() as u:  # read back whole: same rows, same hash
        assert label.label_of(u, SHIPPED).content_hash == res.content_hash
    entry = store.audit[-1]
    assert (entry.action, entry.entity_id, entry.after["changed"]) == (
        "label.register", SHIPPED, ["T1-MON-C1D1-D8"])
    with pytest.raises(AlreadyRecorded):
        label.register_revision(uow(store), text=shipped_text(), actor="dr", now=T0)


def test_a_tampered_revision_is_refused_and_nothing_is_registered(store: FakeStore) -> None:
    before = written(store)
    text = shipped_text().replace('"UNVERIFIED"', '"SEED"')
    with pytest.raises(InvalidInput) as refused:
        label.register_revision(uow(store), text=text, actor="rph1", now=T0)
    assert refused.value.field == "content_hash"
    assert written(store) == before and store.labels == {}
    with pytest.raises(Forbidden):  # nor may a nurse load one
        label.register_revision(uow(store), text=shipped_text(), actor="rn", now=T0)


def test_new_courses_start_on_the_version_the_site_chose_and_old_ones_keep_theirs(
        store: FakeStore) -> None:
    first = enrol(store, "M1")
    label.register_revision(uow(store), text=shipped_text(), actor="rph1", now=T0)
    res = label.set_new_course_version(uow(store), site_code="NYC", label_version=SHIPPED,
                                       actor="admin", now=T0)
    assert (res.previous, res.label_version, res.changed) == (LABEL_VERSION, SHIPPED, True)
    entry = store.audit[-1]
    assert (entry.action, entry.before["label_version"], entry.after["label_version"]) == (
        "label.set_site_version", LABEL_VERSION, SHIPPED)
    second = enrol(store, "M2")
    third = enrol(store, "M3", site="BRX", actor="dr.brx")  # BRX did not change
    courses = store.tables["courses"].rows
    assert [courses[c].label_version for c in (first, second, third)] == [
        LABEL_VERSION, SHIPPED, LABEL_VERSION]
    with uow(store).readonly() as u:
        assert u.label.pinned_courses(site_id(store, "NYC")) == {LABEL_VERSION: 1, SHIPPED: 1}
    before = written(store)
    again = label.set_new_course_version(uow(store), site_code="NYC", label_version=SHIPPED,
                                         actor="admin", now=T0)
    assert not again.changed and written(store) == before
    with pytest.raises(InvalidInput):
        label.set_new_course_version(uow(store), site_code="NYC", label_version="US-PI-2099",
                                     actor="admin", now=T0)


def test_a_course_on_a_revision_reads_the_sign_offs_of_that_version_and_hash(
        store: FakeStore) -> None:
    label.register_revision(uow(store), text=shipped_text(), actor="rph1", now=T0)
    label.set_new_course_version(uow(store), site_code="NYC", label_version=SHIPPED,
                                 actor="rph1", now=T0)
    course = enrol(store, "M1")
    sign(store, C1D1_UNVERIFIED)  # of the built-in version: not the course's
    d = queries.evaluate_patient(uow(store), now=T0, viewer=OPERATOR, course_id=course)
    # computed with the revision's rows: its C1D1 monitoring row is UNVERIFIED there
    assert d["unverified_unsigned"] == [*C1D1_UNVERIFIED, "T1-MON-C1D1-D8"]
    assert d["course_label_version"] == SHIPPED and d["label_version"] == SHIPPED
    res = sign(store, [*C1D1_UNVERIFIED, "T1-MON-C1D1-D8"], label_version=SHIPPED)
    assert res.content_hash != BUILT_IN_HASH
    d = queries.evaluate_patient(uow(store), now=T0, viewer=OPERATOR, course_id=course)
    assert d["unverified_unsigned"] == []
    assert {r["rule"]: r["signed_off"] for r in d["reasons"] if r["tag"] == "UNVERIFIED"} == {
        "T3-DEXAMETHASONE": {"by": "rph1 (name)", "on": "2026-12-01"},
        "T3-SALINE": {"by": "rph1 (name)", "on": "2026-12-01"},
        "T1-MON-C1D1-D8": {"by": "rph1 (name)", "on": "2026-12-01"}}


# --------------------------------------------------------------------------- the read layer


def test_the_worklist_says_which_unverified_rules_the_site_signed(store: FakeStore) -> None:
    enrol(store, "M1")
    enrol(store, "M2", site="BRX", actor="dr.brx")

    def item(site: str) -> queries.WorklistItem:
        (only,) = queries.worklist(uow(store), site_code=site, now=T0, viewer=OPERATOR).items
        return only

    assert item("NYC").unverified_unsigned == tuple(C1D1_UNVERIFIED)
    sign(store, ["T3-DEXAMETHASONE"])
    nyc = item("NYC")
    assert (nyc.unverified_unsigned, nyc.signed_off) == (
        ("T3-SALINE",), (label.SignedOff("T3-DEXAMETHASONE", "rph1 (name)", date(2026, 12, 1)),))
    sign(store, ["T3-SALINE"], actor="dr")
    assert item("NYC").unverified_unsigned == ()
    assert item("NYC").to_json()["signed_off"] == [
        {"rule": "T3-DEXAMETHASONE", "by": "rph1 (name)", "on": "2026-12-01"},
        {"rule": "T3-SALINE", "by": "dr (name)", "on": "2026-12-01"}]
    brx = item("BRX")  # a wall: NYC's sign-offs are not BRX's
    assert (brx.unverified_unsigned, brx.signed_off) == (tuple(C1D1_UNVERIFIED), ())


def test_the_rules_overview_counts_the_courses_pinned_to_each_version(store: FakeStore
                                                                      ) -> None:
    enrol(store, "M1")
    label.register_revision(uow(store), text=shipped_text(), actor="rph1", now=T0)
    view = label.rules_overview(uow(store), site_code="NYC", viewer=Scope(site_id(store, "NYC")),
                                label_version=SHIPPED)
    assert [(v.version, v.courses, v.new_courses) for v in view.versions] == [
        (LABEL_VERSION, 1, True), (SHIPPED, 0, False)]
    assert view.label.version == SHIPPED and view.in_force == view.label.content_hash
    with pytest.raises(NotFound):
        label.rules_overview(uow(store), site_code="NYC", viewer=Scope(site_id(store, "BRX")))


# --------------------------------------------------------------------------- moving a course

MOVE_REASON = "P&T adopted the 2026 revision for courses still in cycle 1"


def move(store: FakeStore, course: int, *, version: str = SHIPPED, actor: str = "dr",
         reason: str = MOVE_REASON, password: str = PASSWORD,
         at: datetime = T0 + timedelta(hours=1)) -> label.CourseVersionResult:
    return label.move_course_to_version(uow(store), course_id=course, label_version=version,
                                        actor=actor, reason=reason, password=password,
                                        password_check=verify_password, now=at)


def course_version(store: FakeStore, course: int) -> str:
    return store.tables["courses"].rows[course].label_version  # type: ignore[no-any-return]


def test_a_physician_moves_one_course_to_a_revision_with_a_reason_and_it_is_audited(
        store: FakeStore) -> None:
    first, second = enrol(store, "M1"), enrol(store, "M2")
    label.register_revision(uow(store), text=shipped_text(), actor="rph1", now=T0)
    with uow(store).readonly() as u:
        assert label.versions_to_move_to(u, course_id=first,
                                         viewer=Scope(site_id(store, "NYC"))) == (SHIPPED,)
    res = move(store, first)
    assert (res.course_id, res.previous, res.label_version) == (first, LABEL_VERSION, SHIPPED)
    assert [course_version(store, c) for c in (first, second)] == [SHIPPED, LABEL_VERSION]
    entry = store.audit[-1]
    assert (entry.action, entry.actor, entry.entity_type, entry.entity_id) == (
        "course.move_label_version", "dr", "course", str(first))
    assert (entry.before["label_version"], entry.after["label_version"], entry.after["reason"],
            entry.after["signature"], entry.after["site"]) == (
        LABEL_VERSION, SHIPPED, MOVE_REASON, "password re-entered", "NYC")
    with uow(store).readonly() as u:  # and back again: the built-in version is a choice now
        assert label.versions_to_move_to(u, course_id=first,
                                         viewer=Scope(site_id(store, "NYC"))) == (LABEL_VERSION,)
        assert u.label.pinned_courses(site_id(store, "NYC")) == {LABEL_VERSION: 1, SHIPPED: 1}
    assert move(store, first, version=LABEL_VERSION).label_version == LABEL_VERSION


@pytest.mark.parametrize("actor, error", [
    ("rn", Forbidden), ("rph1", Forbidden), ("admin", Forbidden),  # a physician's decision
    ("dr.brx", NotFound),  # another site's physician: the course is not theirs to see
])
def test_only_a_physician_of_the_courses_site_moves_it(store: FakeStore, actor: str,
                                                       error: type[Exception]) -> None:
    course = enrol(store, "M1")
    label.register_revision(uow(store), text=shipped_text(), actor="rph1", now=T0)
    before = written(store)
    with pytest.raises(error) as refused:
        move(store, course, actor=actor)
    if error is Forbidden:
        assert "needs the physician role" in str(refused.value)
    else:  # the very answer a course that does not exist gets
        with pytest.raises(NotFound) as nobodys:
            move(store, 999, actor=actor)
        assert str(refused.value) == str(nobodys.value).replace("999", str(course))
    assert written(store) == before and course_version(store, course) == LABEL_VERSION


@pytest.mark.parametrize("version, password, reason, field, error", [
    ("US-PI-2099", PASSWORD, MOVE_REASON, "label_version", InvalidInput),  # not registered
    ("", PASSWORD, MOVE_REASON, "label_version", InvalidInput),
    (LABEL_VERSION, PASSWORD, MOVE_REASON, "label_version", AlreadyRecorded),  # its own
    (SHIPPED, "correct horse batterY", MOVE_REASON, "password", InvalidInput),
    (SHIPPED, "", MOVE_REASON, "password", InvalidInput),
    (SHIPPED, PASSWORD, "   ", "reason", InvalidInput),
    (SHIPPED, PASSWORD, "x" * 2001, "reason", InvalidInput),
])
def test_a_move_is_refused_naming_the_field_and_nothing_changes(
        store: FakeStore, version: str, password: str, reason: str, field: str,
        error: type[Exception]) -> None:
    course = enrol(store, "M1")
    label.register_revision(uow(store), text=shipped_text(), actor="rph1", now=T0)
    before = written(store)
    with pytest.raises(error) as refused:
        move(store, course, version=version, password=password, reason=reason)
    assert refused.value.field == field  # type: ignore[attr-defined]
    assert written(store) == before and course_version(store, course) == LABEL_VERSION


def test_a_course_does_not_move_to_a_label_of_another_drug(store: FakeStore) -> None:
    course = enrol(store, "M1")
    with uow(store) as u:
        u.label.add_version(LabelVersionRecord(id="OTHER-PI-1", source="another drug's PI",
                                               registered_at=T0, drug="otherumab",
                                               content_hash="0" * 64), [])
        u.commit()
    with uow(store).readonly() as u:
        assert label.versions_to_move_to(u, course_id=course,
                                         viewer=Scope(site_id(store, "NYC"))) == ()
    before = written(store)
    with pytest.raises(InvalidInput) as refused:
        move(store, course, version="OTHER-PI-1")
    assert refused.value.field == "label_version" and "otherumab" in refused.value.message
    assert written(store) == before and course_version(store, course) == LABEL_VERSION
