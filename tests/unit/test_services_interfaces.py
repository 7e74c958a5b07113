"""Interface credentials and order advice at the use cases, on the in-memory unit of work:
a token is stored as a hash only, belongs to one site, is managed by that site's
administrator (another site's token is not found), stops authenticating when revoked; the
order advice reads the patient at the token's site only and compares the order with the
engine (C1D1 on day 0, nothing since: on day 20 Table 4 restarts the step-up at 1 mg)."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from decimal import Decimal

import pytest

from closed_loop_cases import LoopWorld, Staff, at, open_site
from tarla.domain.errors import InvalidInput
from tarla.services import admin, interfaces, order_advice
from tarla.services.errors import AlreadyRecorded, Forbidden, NotFound
from tarla.services.fakes import FakeStore, FakeUnitOfWork
from tarla.services.scope import Scope

A = Staff(site="NYC", nurse="rn.a", nurse2="rn2.a", pharmacist="rph.a", pharmacist2="rph2.a",
          physician="dr.a")
B = Staff(site="BRX", nurse="rn.b", nurse2="rn2.b", pharmacist="rph.b", pharmacist2="rph2.b",
          physician="dr.b")
SETUP = at(-30, "08:00")


@pytest.fixture
def uow():  # type: ignore[no-untyped-def]
    store = FakeStore()

    def make() -> FakeUnitOfWork:
        return FakeUnitOfWork(store)

    for staff in (A, B):
        open_site(make, staff, SETUP)
        admin.create_user(make(), username=f"admin.{staff.site.lower()}", display_name="admin",
                          roles=["admin"], now=SETUP, site_code=staff.site)
    return make


def _site(uow, code: str) -> int:  # type: ignore[no-untyped-def]
    with uow() as u:
        return u.sites.by_code(code).id


def test_the_token_is_returned_once_and_only_its_hash_is_kept(uow) -> None:
    made = interfaces.create_token(uow(), actor="admin.nyc", site_code="NYC", name="ehr",
                                   scopes=["read"], now=SETUP)
    assert made.token.startswith("tarla_") and len(made.token) > 40
    with uow() as u:
        stored = u.interface_tokens.get(made.record.id)
    assert stored.token_hash == hashlib.sha256(made.token.encode()).hexdigest()
    assert made.token not in repr(stored)
    with uow() as u:
        entries = [e for e in u.audit.entries() if e.entity_type == "interface_token"]
    assert [e.action for e in entries] == ["interface_token.create"]
    assert "token_hash" not in entries[0].after and made.token not in repr(entries[0].after)


def test_a_site_administrator_cannot_make_a_token_for_another_site(uow) -> None:
    with pytest.raises(NotFound) as exc:
        interfaces.create_token(uow(), actor="admin.nyc", site_code="BRX", name="ehr",
                                scopes=["read"], now=SETUP)
    assert exc.value.field == "site"


def test_only_an_administrator_manages_tokens(uow) -> None:
    with pytest.raises(Forbidden):
        interfaces.create_token(uow(), actor="rn.a", site_code="NYC", name="ehr",
                                scopes=["read"], now=SETUP)


@pytest.mark.parametrize(("name", "scopes", "field"), [
    ("", ["read"], "name"), ("ehr", [], "scopes"), ("ehr", ["write"], "scopes"),
    ("x" * 101, ["read"], "name"), ("ehr", "read", "scopes"),
])
def test_bad_input_names_the_field_and_writes_nothing(uow, name, scopes, field: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        interfaces.create_token(uow(), actor="admin.nyc", site_code="NYC", name=name,
                                scopes=scopes, now=SETUP)
    assert exc.value.field == field
    assert interfaces.list_tokens(uow(), actor="admin.nyc") == []


def test_authentication_gives_the_tokens_site_and_scopes_and_notes_the_last_use(uow) -> None:
    made = interfaces.create_token(uow(), actor="admin.nyc", site_code="NYC", name="ehr",
                                   scopes=["read", "lab-write"], now=SETUP)
    caller = interfaces.authenticate(uow(), token=made.token, now=SETUP + timedelta(hours=1))
    assert caller is not None and caller.site_code == "NYC"
    assert caller.scopes == frozenset({"read", "lab-write"})
    assert caller.scope == Scope(_site(uow, "NYC"))
    (record, _), = interfaces.list_tokens(uow(), actor="admin.nyc")
    assert record.last_used_at == SETUP + timedelta(hours=1)
    # within the minute: no write
    interfaces.authenticate(uow(), token=made.token, now=SETUP + timedelta(hours=1, seconds=30))
    (record, _), = interfaces.list_tokens(uow(), actor="admin.nyc")
    assert record.last_used_at == SETUP + timedelta(hours=1)


@pytest.mark.parametrize("value", ["", "tarla_wrong", "Bearer x", "x" * 500])
def test_an_unknown_or_malformed_token_authenticates_nobody(uow, value: str) -> None:
    assert interfaces.authenticate(uow(), token=value, now=SETUP) is None


def test_a_revoked_token_authenticates_nobody_and_is_revoked_once(uow) -> None:
    made = interfaces.create_token(uow(), actor="admin.nyc", site_code="NYC", name="ehr",
                                   scopes=["read"], now=SETUP)
    interfaces.revoke_token(uow(), actor="admin.nyc", token_id=made.record.id, now=SETUP)
    assert interfaces.authenticate(uow(), token=made.token, now=SETUP) is None
    with pytest.raises(AlreadyRecorded):
        interfaces.revoke_token(uow(), actor="admin.nyc", token_id=made.record.id, now=SETUP)


def test_another_sites_token_is_not_found_when_revoking_nor_listed(uow) -> None:
    made = interfaces.create_token(uow(), actor="admin.brx", site_code="BRX", name="ehr",
                                   scopes=["read"], now=SETUP)
    with pytest.raises(NotFound):
        interfaces.revoke_token(uow(), actor="admin.nyc", token_id=made.record.id, now=SETUP)
    assert interfaces.list_tokens(uow(), actor="admin.nyc") == []
    assert len(interfaces.list_tokens(uow(), actor="operator", operator=True)) == 1


def test_order_advice_corrects_a_10_mg_order_to_the_restart_1_mg(uow) -> None:
    w = LoopWorld(uow, A)
    p = w.enrol("MRN-R1")
    w.give(p, 0, "K-R1")  # C1D1, 1 mg, day 0 (2026-12-01)
    advice = order_advice.advise_order(uow, viewer=Scope(_site(uow, "NYC")), mrn="MRN-R1",
                                       ordered_mg=Decimal("10"), now=at(20, "09:00"))
    found = {f.code: f for f in advice.findings}
    assert found["dose-differs"].suggested_dose_mg == 1
    assert "T4-1MG-GT14" in found["restart-step-up"].rules
    assert advice.patient_id == p.patient_id


def test_order_advice_at_another_site_does_not_find_the_patient(uow) -> None:
    w = LoopWorld(uow, A)
    w.enrol("MRN-R2")
    with pytest.raises(NotFound):
        order_advice.advise_order(uow, viewer=Scope(_site(uow, "BRX")), mrn="MRN-R2",
                                  ordered_mg=Decimal("10"), now=at(1, "09:00"))
