"""E-signatures through the services on the in-memory unit of work (issue 13): the independent
check of a bag and a physician's release of a held dose are refused, writing nothing, unless
the signer re-entered their password or signed in within the site's few minutes; the
signature keeps the signer's name, the meaning and the hash of the record it signs."""

from __future__ import annotations

from datetime import timedelta

import pytest

from closed_loop_cases import LoopWorld as World
from closed_loop_cases import Staff, at, open_site
from signing import SIGN_PASSWORD, SIGNED, UNSIGNED
from tarla.domain.errors import InvalidInput
from tarla.services import clinical, pharmacy
from tarla.services.fakes import FakeStore, FakeUnitOfWork
from tarla.services.records import UserRecord
from tarla.services.signatures import SignatureIn, matches, verify

STAFF = Staff(site="NYC", nurse="rn.a", nurse2="rn.b", pharmacist="rph.a",
              pharmacist2="rph.b", physician="dr.a")


def _world() -> tuple[FakeStore, World]:
    store = FakeStore()
    w = World(lambda: FakeUnitOfWork(store), STAFF)
    open_site(w.uow, STAFF, at(-30))
    return store, w


def _unchecked(w: World) -> int:
    p = w.enrol("ES1")
    w.labs(p, at(0, "07:00"))
    return w.prepare(p, at(0, "07:45"), "K-ES", checked=False)


def _rows(store: FakeStore, table: str) -> dict:  # type: ignore[type-arg]
    found = store.tables.get(table)
    return dict(found.rows) if found else {}


def _check(w: World, pid: int, signature: SignatureIn | None) -> pharmacy.PreparationResult:
    return pharmacy.check_preparation(w.uow(), preparation_id=pid, actor=STAFF.pharmacist2,
                                      now=at(0, "08:20"), signature=signature)


@pytest.mark.parametrize("signature", [None, UNSIGNED], ids=["no signature", "no password"])
def test_an_unsigned_check_is_refused_naming_the_password_and_writes_nothing(
        signature: SignatureIn | None) -> None:
    store, w = _world()
    pid = _unchecked(w)
    before = (_rows(store, "preparations"), len(store.audit))
    with pytest.raises(InvalidInput) as refused:
        _check(w, pid, signature)
    assert refused.value.field == "password" and "re-enter the password of rph.b" in \
        refused.value.message
    assert (_rows(store, "preparations"), len(store.audit)) == before
    assert _rows(store, "esignatures") == {}


def test_a_wrong_password_signs_nothing() -> None:
    store, w = _world()
    pid = _unchecked(w)
    wrong = SignatureIn(password="not it", check=SIGNED.check)
    with pytest.raises(InvalidInput, match="is not the password of rph.b"):
        _check(w, pid, wrong)
    assert _rows(store, "esignatures") == {}


def test_a_signed_check_keeps_the_signers_name_meaning_time_and_the_records_hash() -> None:
    store, w = _world()
    pid = _unchecked(w)
    done = _check(w, pid, SIGNED)
    assert done.status == "checked"
    (sig,) = _rows(store, "esignatures").values()
    assert (sig.signer_name, sig.meaning, sig.entity_type, sig.entity_id, sig.method,
            sig.signed_at) == ("rph.b", "checked", "preparation", pid, "password",
                               at(0, "08:20"))
    assert len(sig.content_hash) == 64
    from tarla.services._common import record_json

    checked = store.tables["preparations"].rows[pid]
    assert matches(sig, record_json(checked))
    # an edit of the signed record no longer matches its signature
    import dataclasses

    edited = dataclasses.replace(checked, dose_mg=checked.dose_mg * 10)
    assert not matches(sig, record_json(edited))


def test_a_release_of_a_held_dose_needs_the_physicians_signature() -> None:
    store, w = _world()
    p = w.enrol("ES2")
    event = w.crs_grade_2(p, at(1, "20:00"))
    assert event
    with pytest.raises(InvalidInput) as refused:
        clinical.release_dose(w.uow(), course_id=p.course_id, actor=STAFF.physician,
                              now=at(7, "07:30"), reason="CRS resolved; benefit outweighs risk")
    assert refused.value.field == "password"
    assert _rows(store, "releases") == {} and _rows(store, "esignatures") == {}


_USER = UserRecord(username="rph.b", display_name="Lars", roles=frozenset({"pharmacist"}),
                   site_id=1, created_at=at(-30), id=7, password_hash="h")


@pytest.mark.parametrize(("ago", "fresh", "signs"), [
    (timedelta(minutes=4, seconds=59), timedelta(minutes=5), True),
    (timedelta(minutes=5), timedelta(minutes=5), True),
    (timedelta(minutes=5, seconds=1), timedelta(minutes=5), False),
    (timedelta(0), timedelta(0), False),  # the site's policy: always re-enter the password
    (-timedelta(minutes=1), timedelta(minutes=5), False),  # a sign-in "in the future"
])
def test_a_sign_in_within_the_sites_window_signs_without_the_password(
        ago: timedelta, fresh: timedelta, signs: bool) -> None:
    now = at(0, "10:00")
    given = SignatureIn(password=None, check=SIGNED.check, authenticated_at=now - ago,
                        fresh_for=fresh)
    if signs:
        assert verify(_USER, given, now) == "fresh-sign-in"
    else:
        with pytest.raises(InvalidInput, match="re-enter the password"):
            verify(_USER, given, now)


def test_the_password_signs_whenever_it_was_signed_in() -> None:
    given = SignatureIn(password=SIGN_PASSWORD, check=SIGNED.check,
                        authenticated_at=at(0, "01:00"))
    assert verify(_USER, given, at(0, "10:00")) == "password"


def _exception_chart(w: World, signature: SignatureIn | None) -> object:
    p = w.enrol("ES3")
    w.labs(p, at(0, "07:00"))
    pid = w.prepare(p, at(0, "07:45"), "K-EX")
    w.premedicate(p, at(0, "09:00"))
    return clinical.record_administration(
        w.uow(), course_id=p.course_id, started_at=at(0, "09:00"), actor=STAFF.nurse,
        now=at(0, "09:05"), preparation_id=pid, scan_exception_reason="wristband printer "
        "down; identity confirmed verbally", witness=STAFF.nurse2,
        witness_signature=signature)


def test_a_scan_exception_needs_the_second_nurses_own_password() -> None:
    store, w = _world()
    fresh = SignatureIn(password=None, check=SIGNED.check, authenticated_at=at(0, "09:04"))
    with pytest.raises(InvalidInput) as refused:  # the charting nurse's fresh sign-in is
        _exception_chart(w, fresh)                 # not the witness's signature
    assert refused.value.field == "scan_exception.witness_password"
    assert "re-enter the password of rn.b" in refused.value.message
    assert _rows(store, "administrations") == {}
    assert [s.meaning for s in _rows(store, "esignatures").values()] == ["checked"]  # the bag's


def test_a_witnessed_scan_exception_is_signed_by_the_second_nurse() -> None:
    store, w = _world()
    _exception_chart(w, SIGNED)
    (record,) = _rows(store, "administrations").values()
    (sig,) = [s for s in _rows(store, "esignatures").values()
              if s.entity_type == "administration"]
    assert (sig.signer_name, sig.meaning, sig.entity_type, sig.entity_id, sig.method) == (
        "rn.b", "witnessed scan exception", "administration", record.id, "password")
