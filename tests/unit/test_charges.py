"""Charge capture (issue 15): the encounter's lines from the billing core, the flags a biller
reviews, the export rows against the documented columns, and the review workflow over the
demo site's records (fakes)."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tarla.domain.charges import (
    EXPORT_COLUMNS,
    AdminCode,
    CodeBasis,
    EncounterFacts,
    Flag,
    check_range,
    encounter,
    export_rows,
    validate_export_row,
)
from tarla.domain.errors import InvalidInput
from tarla.services import charges
from tarla.services.demo import load_demo_data
from tarla.services.errors import Conflict, Forbidden, NotFound
from tarla.services.fakes import FakeStore, FakeUnitOfWork
from tarla.services.scope import OPERATOR, Scope

ZONE = ZoneInfo("America/New_York")
TODAY = date(2026, 12, 15)
NOW = datetime.combine(TODAY, time(10), ZONE)
MONTH = (date(2026, 11, 15), TODAY)
DOCS = Path(__file__).resolve().parents[2] / "docs" / "billing-export.md"


def facts(dose: int = 10, *, kit: int | None = 10, given: bool = True, ended: bool = True,
          exception: str | None = None, corrected: str | None = None) -> EncounterFacts:
    start = datetime(2026, 12, 1, 9, 0, tzinfo=ZONE)
    end = datetime(2026, 12, 1, 10, 5, tzinfo=ZONE) if given and ended else None
    return EncounterFacts("A1", "C2D1", dose, kit, given, start if given else None, end,
                          exception, None if corrected is None else Decimal(corrected))


def lines(e):  # type: ignore[no-untyped-def]
    return [(x.code, x.modifiers, x.units, x.claim_ndc, x.billable) for x in e.lines]


# --------------------------------------------------------------------------- the domain


def test_a_completed_10_mg_dose_is_10_units_with_jz_and_the_kits_ndc():
    e = encounter(facts())
    assert lines(e) == [("J9026", ("JZ",), 10, "N455513007701 UN1", True)]
    assert e.flags == () and not e.needs_review


def test_a_1_mg_dose_is_1_unit_with_jz():
    assert lines(encounter(facts(1, kit=1))) == [
        ("J9026", ("JZ",), 1, "N455513005901 UN1", True)]


def test_a_bag_prepared_and_never_given_is_a_jw_line_for_the_whole_vial_held_for_review():
    e = encounter(facts(given=False))
    assert lines(e) == [("J9026", ("JW",), 10, "N455513007701 UN1", False)]
    assert e.flags == (Flag.BAG_WASTED,) and e.needs_review


def test_an_infusion_without_an_end_is_flagged_interrupted_and_corrected_to_the_mg_given():
    e = encounter(facts(ended=False))
    assert Flag.INTERRUPTED in e.flags and e.needs_review
    fixed = encounter(facts(ended=False, corrected="6"))
    assert lines(fixed) == [("J9026", (), 6, "N455513007701 UN1", True),
                            ("J9026", ("JW",), 4, "N455513007701 UN1", True)]


def test_no_kit_scan_and_an_exception_charted_dose_are_flagged():
    e = encounter(facts(kit=None, exception="label torn; second nurse confirmed"))
    assert e.flags == (Flag.NO_KIT_SCAN, Flag.EXCEPTION_CHARTED)
    assert lines(e) == [("J9026", ("JZ",), 10, "N455513007701 UN1", True)]


def test_a_correction_above_the_dose_is_refused_naming_the_field():
    with pytest.raises(InvalidInput) as err:
        encounter(facts(corrected="11"))
    assert err.value.field == "administered_mg"


def test_the_sites_administration_codes_are_added_per_encounter_or_per_started_hour():
    codes = [AdminCode("SITE-1", "infusion, first hour", CodeBasis.ENCOUNTER),
             AdminCode("SITE-2", "infusion, per hour", CodeBasis.HOUR)]
    e = encounter(facts(), codes)
    assert [(x.code, x.units, x.claim_ndc) for x in e.lines[1:]] == [("SITE-1", 1, ""),
                                                                      ("SITE-2", 2, "")]
    assert [x.code for x in encounter(facts(given=False), codes).lines] == ["J9026"]


@pytest.mark.parametrize(("start", "end", "ok"), [
    (date(2026, 1, 1), date(2026, 12, 31), True),
    (date(2026, 1, 1), date(2027, 1, 1), False),
    (date(2026, 2, 1), date(2026, 1, 31), False)])
def test_a_range_is_at_most_a_year_and_in_order(start, end, ok):
    if ok:
        check_range(start, end)
    else:
        with pytest.raises(InvalidInput) as err:
            check_range(start, end)
        assert err.value.field == "to"


def _documented_columns() -> list[str]:
    text = DOCS.read_text()
    return re.findall(r"^\| `([a-z0-9_]+)` \|", text, flags=re.M)


def test_the_export_columns_are_the_documented_ones_in_order():
    assert _documented_columns() == list(EXPORT_COLUMNS)


def test_export_rows_validate_against_the_documented_columns():
    codes = [AdminCode("SITE-1", "infusion", CodeBasis.ENCOUNTER)]
    rows = (export_rows(encounter(facts(), codes), site="DEMO", mrn="M1",
                        service_date=date(2026, 12, 1), reviewed_by="b", reason=None)
            + export_rows(encounter(facts(given=False)), site="DEMO", mrn="M1",
                          service_date=date(2026, 12, 1), reviewed_by="b", reason="wasted"))
    assert [r["modifiers"] for r in rows] == ["JZ", "", "JW"]
    for row in rows:
        assert validate_export_row(row, _documented_columns()) == []
    bad = dict(rows[0], lin02_product_id_qualifier="ME")
    assert validate_export_row(bad) == ["lin02_product_id_qualifier"]


# --------------------------------------------------------------------------- the service


@pytest.fixture
def store() -> FakeStore:
    s = FakeStore()
    load_demo_data(lambda: FakeUnitOfWork(s), patients=12, today=TODAY)
    return s


def sheet(store: FakeStore) -> charges.ChargeSheet:
    return charges.charge_sheet(FakeUnitOfWork(store), site_code="DEMO", start=MONTH[0],
                                end=MONTH[1], viewer=OPERATOR)


def act(store: FakeStore, key: str, action: str, **kw):  # type: ignore[no-untyped-def]
    return charges.review(FakeUnitOfWork(store), site_code="DEMO", encounter_id=key,
                          action=action, actor=kw.pop("actor", "billing.demo"), now=NOW,
                          start=MONTH[0], end=MONTH[1], **kw)


def test_the_demo_sites_past_month_has_jz_doses_and_a_wasted_bag_as_jw(store):
    views = sheet(store).encounters
    mods = [x.modifiers for v in views for x in v.encounter.lines]
    assert ("JZ",) in mods and ("JW",) in mods
    wasted = [v for v in views if Flag.BAG_WASTED in v.encounter.flags]
    assert len(wasted) == 1 and wasted[0].status == "to_review"


def test_a_flagged_encounter_needs_a_reason_and_a_refusal_writes_nothing(store):
    key = next(v.encounter.key for v in sheet(store).encounters if v.encounter.needs_review)
    audit, commits = len(store.audit), store.commits
    with pytest.raises(InvalidInput) as err:
        act(store, key, "accept")
    assert err.value.field == "reason"
    with pytest.raises(InvalidInput) as err:
        act(store, key, "correct", administered_mg="0")
    assert err.value.field == "reason"
    assert (len(store.audit), store.commits) == (audit, commits)
    done = act(store, key, "accept", reason="bag dropped on the floor; waste documented")
    assert done.status == "accepted" and store.audit[-1].action == "charge.accept"


def test_a_correction_recomputes_the_lines_and_is_audited(store):
    key = next(v.encounter.key for v in sheet(store).encounters
               if v.encounter.lines[0].units == 10 and not v.encounter.flags)
    v = act(store, key, "correct", administered_mg="7", reason="pump alarm, infusion stopped")
    assert [(x.modifiers, x.units) for x in v.encounter.lines] == [((), 7), (("JW",), 3)]
    assert store.audit[-1].action == "charge.correct"
    assert store.audit[-1].after["corrected_mg"] == "7"


def test_export_is_idempotent_until_an_encounter_is_reopened(store):
    keys = [v.encounter.key for v in sheet(store).encounters if not v.encounter.needs_review]
    for key in keys[:3]:
        act(store, key, "accept")
    first = charges.export(FakeUnitOfWork(store), site_code="DEMO", start=MONTH[0],
                           end=MONTH[1], actor="billing.demo", now=NOW)
    assert first.batch and len(first.rows) == 3
    for row in csv.DictReader(io.StringIO(charges.to_csv(first.rows))):
        assert validate_export_row(row) == []
    again = charges.export(FakeUnitOfWork(store), site_code="DEMO", start=MONTH[0],
                           end=MONTH[1], actor="billing.demo", now=NOW)
    assert again.batch is None and again.rows == ()
    with pytest.raises(Conflict):
        act(store, keys[0], "accept")
    act(store, keys[0], "reopen", reason="payer asked for a resubmission")
    act(store, keys[0], "accept")
    third = charges.export(FakeUnitOfWork(store), site_code="DEMO", start=MONTH[0],
                           end=MONTH[1], actor="billing.demo", now=NOW)
    assert [r["encounter_id"] for r in third.rows] == [keys[0]]


def test_bad_input_is_refused_naming_the_field(store):
    with pytest.raises(InvalidInput) as err:
        charges.charge_sheet(FakeUnitOfWork(store), site_code="DEMO", start=date(2025, 1, 1),
                             end=TODAY, viewer=OPERATOR)
    assert err.value.field == "to"
    with pytest.raises(NotFound) as nf:
        charges.charge_sheet(FakeUnitOfWork(store), site_code="NOPE", start=MONTH[0],
                             end=MONTH[1], viewer=OPERATOR)
    assert nf.value.field == "site"
    with pytest.raises(NotFound):  # another site's records are not there for this reader
        charges.charge_sheet(FakeUnitOfWork(store), site_code="DEMO", start=MONTH[0],
                             end=MONTH[1], viewer=Scope(999))


def test_only_billing_staff_review(store):
    key = sheet(store).encounters[0].encounter.key
    with pytest.raises(Forbidden):
        act(store, key, "accept", actor="rn.alvarez")
