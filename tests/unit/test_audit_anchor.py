"""The anchored audit's checks on their own (issue 13), with an in-memory unit of work: rows
against their audited state, signed checkpoints against the chain, and the access log's
use cases (sites are walls). Golden values are written out by hand."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest

from tarla.domain.errors import InvalidInput
from tarla.services import admin, audit
from tarla.services.audit_anchor import (
    GRACE,
    check_checkpoints,
    compare_rows,
    key_id,
    make_checkpoint,
    verify_all,
    write_checkpoint,
)
from tarla.services.fakes import FakeStore, FakeUnitOfWork
from tarla.services.records import PatientRecord
from tarla.services.scope import OPERATOR, Scope

KEY = b"0123456789abcdef0123456789abcdef"
T = datetime(2026, 12, 1, 13, 0, tzinfo=UTC)


class MemoryLog:
    def __init__(self) -> None:
        self.lines: list[dict[str, object] | str] = []

    def append(self, checkpoint: dict[str, object]) -> None:
        self.lines.append(json.loads(json.dumps(checkpoint)))

    def read(self) -> list[dict[str, object] | str]:
        return list(self.lines)


# -- rows against their latest audited state


def test_a_row_equal_to_its_audited_state_passes() -> None:
    latest = {("lab_results", 7): (12, {"id": 7, "value": 3.1})}
    assert compare_rows(latest, [("lab_results", 7, {"id": 7, "value": 3.1})], {}) == ([], 0)


def test_a_changed_column_is_named_with_both_values() -> None:
    latest = {("lab_results", 7): (12, {"id": 7, "value": 3.1, "unit": "10^9/L"})}
    [p], _ = compare_rows(latest, [("lab_results", 7, {"id": 7, "value": 0.4,
                                                       "unit": "10^9/L"})], {})
    assert p.describe() == ("lab_results 7: differs from its audited state (entry 12); value: "
                            "audited 3.1, now 0.4")


def test_a_row_above_the_baseline_without_an_entry_is_a_problem_and_below_it_a_note() -> None:
    problems, unanchored = compare_rows({}, [("patients", 3, {}), ("patients", 4, {})],
                                        {"patients": 3})
    assert unanchored == 1
    assert [(p.table, p.id) for p in problems] == [("patients", 4)]


def test_an_audited_row_that_is_gone_is_missing_unless_an_entry_deleted_it() -> None:
    latest = {("billing_codes", 2): (5, None), ("vials", 9): (6, {"id": 9})}
    problems, _ = compare_rows(latest, [], {})
    assert [p.describe() for p in problems] == [
        "vials 9: missing: deleted behind the application's back (last audited by entry 6)"]


# -- checkpoints


def test_a_checkpoint_is_an_hmac_sha256_of_its_canonical_body() -> None:
    cp = make_checkpoint(head=(3, "ab" * 32), baseline={"patients": 0}, key=KEY, now=T)
    body = {k: v for k, v in cp.items() if k != "mac"}
    expected = hmac.new(KEY, json.dumps(body, sort_keys=True, separators=(",", ":")).encode(),
                        hashlib.sha256).hexdigest()
    assert cp["mac"] == expected
    assert cp["written_at"] == "2026-12-01T13:00:00.000000+00:00"
    assert cp["key_id"] == key_id(KEY) != key_id(b"another key, also 32 bytes long!")


def test_a_short_key_is_refused() -> None:
    with pytest.raises(InvalidInput, match="at least 16 bytes"):
        make_checkpoint(head=(0, audit.GENESIS_HASH), baseline={}, key=b"short", now=T)


def _check(cps: list[dict[str, object] | str], *, sealed: dict[int, str], last_id: int,
           later: list[tuple[int, datetime]] = (), key: bytes | None = KEY  # type: ignore[assignment]
           ) -> list[str]:
    baseline = make_checkpoint(head=(0, ""), baseline={}, key=KEY, now=T)["baseline"]
    problems, _, _ = check_checkpoints(cps, key, sealed=sealed, last_id=last_id,
                                       baseline=str(baseline), later=list(later), now=T)
    return problems


def test_a_checkpoint_matching_the_chain_passes() -> None:
    cp = make_checkpoint(head=(4, "h4"), baseline={}, key=KEY, now=T)
    assert _check([cp], sealed={4: "h4"}, last_id=6) == []


def test_a_checkpoint_past_the_end_of_the_chain_is_a_truncation() -> None:
    cp = make_checkpoint(head=(9, "h9"), baseline={}, key=KEY, now=T)
    assert _check([cp], sealed={}, last_id=6) == [
        "checkpoint 1 (written 2026-12-01T13:00:00.000000+00:00) sealed entry 9 but the chain "
        "ends at entry 6: entries deleted and the head rewound (truncation)"]


def test_a_checkpoint_whose_entry_changed_hash_is_a_rewrite() -> None:
    cp = make_checkpoint(head=(4, "h4"), baseline={}, key=KEY, now=T)
    [problem] = _check([cp], sealed={4: "recomputed"}, last_id=6)
    assert "entry 4 no longer has the hash it sealed" in problem


def test_an_edited_checkpoint_does_not_verify() -> None:
    cp = make_checkpoint(head=(4, "h4"), baseline={}, key=KEY, now=T)
    cp["head_id"] = 3
    assert _check([cp], sealed={3: "h4"}, last_id=6) == [
        "checkpoint 1: signature does not verify (forged, edited, or signed with another key)"]


def test_checkpoints_going_backwards_are_reported() -> None:
    first = make_checkpoint(head=(5, "h5"), baseline={}, key=KEY, now=T)
    second = make_checkpoint(head=(4, "h4"), baseline={}, key=KEY, now=T + timedelta(hours=1))
    assert _check([first, second], sealed={4: "h4", 5: "h5"}, last_id=6) == [
        "checkpoint 2: goes back from entry 5 to entry 4 (checkpoint log reordered?)"]


def test_an_entry_after_the_checkpoint_dated_before_it_beyond_the_grace_is_forged() -> None:
    cp = make_checkpoint(head=(4, "h4"), baseline={}, key=KEY, now=T)
    within = T - GRACE + timedelta(seconds=1)  # a transaction in flight: accepted
    beyond = T - GRACE - timedelta(seconds=1)
    problems = _check([cp], sealed={4: "h4"}, last_id=6, later=[(5, within), (6, beyond)])
    assert len(problems) == 1 and problems[0].startswith("entry 6: dated 2026-12-01T12:54:59")


def test_an_unreadable_checkpoint_line_is_reported() -> None:
    assert _check(["not json"], sealed={}, last_id=0) == [
        "checkpoint 1: unreadable line in the checkpoint log"]


# -- through the use cases, in memory


def _site(uow_store: FakeStore) -> None:
    admin.create_site(FakeUnitOfWork(uow_store), code="NYC", name="NYC",
                      timezone="America/New_York", now=T)
    admin.create_site(FakeUnitOfWork(uow_store), code="BRX", name="BRX",
                      timezone="America/New_York", now=T)


def test_verify_all_over_the_fake_passes_then_detects_a_rewound_head() -> None:
    store = FakeStore()
    _site(store)
    log = MemoryLog()
    write_checkpoint(FakeUnitOfWork(store), log, key=KEY, now=T)
    assert verify_all(FakeUnitOfWork(store), checkpoints=log.read(), key=KEY,
                      now=T).intact
    store.audit = store.audit[:1]
    store.audit_head = (1, store.audit[0].hash)
    report = verify_all(FakeUnitOfWork(store), checkpoints=log.read(), key=KEY, now=T)
    assert report.chain.intact and not report.intact
    assert "truncation" in report.checkpoint_problems[0]


def _patient(store: FakeStore, site_code: str, mrn: str) -> int:
    uow = FakeUnitOfWork(store)
    with uow:
        site = uow.sites.by_code(site_code)
        assert site is not None and site.id is not None
        p = uow.patients.add(PatientRecord(site.id, mrn, "Doe", "Jane", T.date(), "ES-SCLC",
                                           True, T, T))
        uow.commit()
    assert p.id is not None
    return p.id


def test_a_read_is_logged_with_its_patient_and_site_and_listed_within_the_site_only() -> None:
    store = FakeStore()
    _site(store)
    nyc, brx = _patient(store, "NYC", "M1"), _patient(store, "BRX", "M1")
    nyc_site = store.tables["patients"].rows[nyc].site_id
    brx_site = store.tables["patients"].rows[brx].site_id
    entry = audit.record_access(FakeUnitOfWork(store), actor="rn.a", user_id=7,
                                scope=Scope(nyc_site), what="patient page", channel="web",
                                address="10.0.0.9", at=T, patient_id=nyc)
    assert entry is not None and (entry.site_id, entry.patient_id) == (nyc_site, nyc)
    assert entry.after == {"what": "patient page", "channel": "web", "address": "10.0.0.9",
                           "user_id": 7, "path": None}
    # another site's patient: nothing is logged (the read itself was a 404)
    assert audit.record_access(FakeUnitOfWork(store), actor="rn.a", user_id=7,
                               scope=Scope(nyc_site), what="patient page", channel="web",
                               address="10.0.0.9", at=T, patient_id=brx) is None
    audit.record_access(FakeUnitOfWork(store), actor="rn.b", user_id=8, scope=Scope(brx_site),
                        what="patient", channel="api", address="10.0.0.8", at=T,
                        patient_id=brx)
    mine = audit.access_log(FakeUnitOfWork(store), viewer=Scope(nyc_site), mrn="M1")
    assert [(e.actor, e.mrn, e.what) for e in mine] == [("rn.a", "M1", "patient page")]
    everyone = audit.access_log(FakeUnitOfWork(store), viewer=OPERATOR, mrn="M1")
    assert [e.actor for e in everyone] == ["rn.b", "rn.a"]
    assert audit.access_log(FakeUnitOfWork(store), viewer=Scope(None), mrn="M1") == []


def test_sign_ins_are_logged_whether_they_succeed_fail_or_are_refused() -> None:
    store = FakeStore()
    _site(store)
    admin.create_user(FakeUnitOfWork(store), username="rn.a", display_name="RN",
                      roles=["nurse"], now=T, site_code="NYC")
    for ok, refused in ((False, False), (False, True), (True, False)):
        audit.record_sign_in(FakeUnitOfWork(store), username="rn.a", ok=ok, refused=refused,
                             address="10.0.0.9", channel="web", at=T)
    user_id = next(u.id for u in store.tables["users"].rows.values() if u.username == "rn.a")
    audit.record_sign_out(FakeUnitOfWork(store), user_id=user_id, address="10.0.0.9",
                          channel="web", at=T)
    events = [e.event for e in audit.access_log(FakeUnitOfWork(store), viewer=OPERATOR,
                                                username="rn.a")]
    assert events == ["signed out", "signed in", "sign-in refused (too many failures)",
                      "sign-in failed"]
    assert audit.verify_chain(FakeUnitOfWork(store)).intact


def test_a_limit_outside_its_range_is_refused_with_the_field_named() -> None:
    with pytest.raises(InvalidInput) as refused:
        audit.access_log(FakeUnitOfWork(), viewer=OPERATOR, limit=0)
    assert refused.value.field == "limit"
