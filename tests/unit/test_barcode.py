"""GS1 scans (parsed by biip), the GTIN catalog and the scan verification.

GTINs: 00355513059015 (1 mg kit) and 00355513077019 (10 mg kit) are the DERIVED values of
standards.md §5.2. Inner-vial GTINs below are invented test data (built from made-up NDC
product codes 900-903 with a correct GS1 check digit): the real ones are not known.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tarla.adapters.barcode import InMemoryCatalog, label_catalog, parse_scan
from tarla.domain.errors import InvalidInput, ParseError
from tarla.domain.ndc import gtin_from_ndc
from tarla.domain.verification import PackageLevel, RefusalCode, ScannedItem, verify_scan
from tarla.label.products import Component
from tarla.label.rows import Provenance

GS = "\x1d"
NY = ZoneInfo("America/New_York")
KIT_1MG, KIT_10MG = "00355513059015", "00355513077019"
AT = datetime.fromisoformat("2026-12-15T09:00:00-05:00")


def site_catalog() -> InMemoryCatalog:
    catalog = label_catalog()
    catalog.add(gtin_from_ndc("55513-900-01"), 1, ["drug"])
    catalog.add(gtin_from_ndc("55513-901-01"), 1, ["ivss"])
    catalog.add(gtin_from_ndc("55513-902-01"), 10, ["drug"])
    catalog.add(gtin_from_ndc("55513-903-01"), 10, ["ivss"])
    return catalog


def verify(gtin: str, *, dose: int = 1, expect: Component = Component.DRUG,
           expiry: date | None = date(2027, 12, 31), lot: str | None = "12345A",
           at: datetime = AT, zone=NY, recalled=(), catalog: InMemoryCatalog | None = None):
    cat = catalog or site_catalog()
    return verify_scan(ScannedItem(gtin, expiry, lot, "SERIAL01"), cat.lookup(gtin), dose_mg=dose,
                       expect=expect, at=at, zone=zone, recalled_lots=recalled)


# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize("raw", [
    f"]d20100355513059015172712311012345A{GS}21SERIAL01",
    f"]C10100355513059015172712311012345A{GS}21SERIAL01",
    f"]Q30100355513059015172712311012345A{GS}21SERIAL01",
    f"0100355513059015172712311012345A{GS}21SERIAL01",
    f"01003555130590151727123121SERIAL01{GS}1012345A",
    "(01)00355513059015(17)271231(10)12345A(21)SERIAL01",
    "(01) 00355513059015 (17) 271231 (10) 12345A (21) SERIAL01",
    f"]d20100355513059015172712311012345A{GS}21SERIAL01\r\n",
], ids=["datamatrix", "gs1-128", "gs1-qr", "no-prefix", "serial-before-lot", "hri",
        "hri-with-blanks", "trailing-enter"])
def test_every_scan_form_gives_the_same_gtin_expiry_lot_and_serial(raw):
    scan = parse_scan(raw)
    assert (scan.gtin, scan.expiry, scan.lot, scan.serial) == (
        KIT_1MG, date(2027, 12, 31), "12345A", "SERIAL01")


def test_symbology_identifier_is_kept():
    assert parse_scan(f"]d20100355513059015172712311012345A{GS}21S").symbology == "]d2"
    assert parse_scan(f"]C10100355513059015172712311012345A{GS}21S").symbology == "]C1"
    assert parse_scan("0100355513059015172712311012345A").symbology is None


@pytest.mark.parametrize(("yymmdd", "expiry"), [
    ("271100", date(2027, 11, 30)), ("280200", date(2028, 2, 29)), ("270200", date(2027, 2, 28)),
    ("271231", date(2027, 12, 31)),
])
def test_expiry_day_00_means_the_last_day_of_the_month(yymmdd, expiry):
    assert parse_scan(f"010035551307701917{yymmdd}10L1").expiry == expiry


def test_a_linear_barcode_gives_the_gtin_without_expiry_or_lot():
    scan = parse_scan("355513077019")
    assert (scan.gtin, scan.expiry, scan.lot) == (KIT_10MG, None, None)


@pytest.mark.parametrize("raw", [
    "0100355513059016172712311012345A",          # GTIN check digit 6, should be 5
    "00355513059016",                            # bare GTIN, bad check digit
    "0100355513059015170000001012345A",          # 17 = 000000
    "0100355513059015172713401012345A",          # month 13
    "0100355513059015172702301012345A",          # 30 February
    "01003555130590151727",                      # truncated date
    "0100355513059015172712311",                 # truncated lot AI
    "01003555130590",                            # truncated GTIN
    "1712311012345A",                            # no GTIN
    "(01)00355513059015(17)271231(10)AB(CD",     # unreadable human-readable form
    "(01)00355513059015(17)000000",
    "]d1hello",                                  # not GS1 data
    "garbage",
    "",
    "   ",
], ids=["check-digit", "bare-check-digit", "date-000000", "month-13", "feb-30",
        "truncated-date", "truncated-lot", "truncated-gtin", "no-gtin", "hri-junk",
        "hri-date-000000", "non-gs1", "garbage", "empty", "blank"])
def test_unreadable_or_partial_scans_are_parse_errors(raw):
    with pytest.raises(ParseError) as err:
        parse_scan(raw)
    assert err.value.field == "scan"
    assert isinstance(err.value, InvalidInput)  # -> exit 2


# --------------------------------------------------------------------------- catalog


def test_label_catalog_holds_the_two_derived_kit_gtins():
    catalog = label_catalog()
    entries = {e.gtin: e for e in catalog}
    assert set(entries) == {KIT_1MG, KIT_10MG}
    for entry in entries.values():
        assert entry.derived and entry.tag is Provenance.DERIVED
        assert entry.level is PackageLevel.KIT
        assert entry.components == {Component.DRUG, Component.IVSS}
        assert "not read from a physical package" in entry.text
    assert entries[KIT_1MG].product.strength_mg == 1
    assert entries[KIT_10MG].product.strength_mg == 10


def test_a_site_can_add_inner_vial_gtins_which_are_unverified_until_signed_off():
    catalog = label_catalog()
    entry = catalog.add("00355513090018", 10, ["ivss"])
    assert catalog.lookup("00355513090018") == entry
    assert catalog.lookup("355513090018") == entry  # GTIN-12 form
    assert entry.tag is Provenance.UNVERIFIED and not entry.derived
    assert entry.source == "site" and entry.level is PackageLevel.VIAL


def test_adding_the_same_gtin_twice_is_idempotent_but_a_conflicting_entry_is_refused():
    catalog = label_catalog()
    catalog.add("00355513090018", 10, ["ivss"])
    catalog.add("00355513090018", 10, ["ivss"])
    with pytest.raises(InvalidInput):
        catalog.add("00355513090018", 1, ["ivss"])
    with pytest.raises(InvalidInput):
        catalog.add(KIT_1MG, 1, ["drug"])


@pytest.mark.parametrize(("gtin", "strength", "components"), [
    ("00355513090013", 10, ["ivss"]),   # check digit (should be 8)
    ("123", 10, ["ivss"]),
    ("00355513090018", 5, ["ivss"]),
    ("00355513090018", 10, ["water"]),
    ("00355513090018", 10, []),
])
def test_a_bad_site_gtin_entry_is_refused(gtin, strength, components):
    with pytest.raises(InvalidInput):
        label_catalog().add(gtin, strength, components)


# --------------------------------------------------------------------------- verification


def test_the_1_mg_kit_is_accepted_for_a_1_mg_order():
    verdict = verify(KIT_1MG, dose=1)
    assert verdict.accepted and verdict.refusals == ()
    assert verdict.entry is not None and verdict.entry.product.ndc10 == "55513-059-01"


def test_the_1_mg_kit_is_refused_for_a_10_mg_order_naming_the_strength():
    verdict = verify(KIT_1MG, dose=10)
    assert [r.code for r in verdict.refusals] == [RefusalCode.WRONG_STRENGTH]
    assert "1 mg package" in verdict.refusals[0].text
    assert "the order is 10 mg" in verdict.refusals[0].text
    assert verdict.refusals[0].citation.rule == "SCAN-STRENGTH"


def test_an_ivss_vial_where_the_drug_vial_is_expected_is_refused_and_the_reverse():
    ivss = gtin_from_ndc("55513-901-01")
    drug = gtin_from_ndc("55513-900-01")
    wrong_ivss = verify(ivss, dose=1, expect=Component.DRUG)
    wrong_drug = verify(drug, dose=1, expect=Component.IVSS)
    assert [r.code for r in wrong_ivss.refusals] == [RefusalCode.WRONG_COMPONENT]
    assert "IVSS" in wrong_ivss.refusals[0].text and "drug vial is expected" in \
        wrong_ivss.refusals[0].text
    assert [r.code for r in wrong_drug.refusals] == [RefusalCode.WRONG_COMPONENT]
    assert verify(ivss, dose=1, expect=Component.IVSS).accepted
    assert verify(drug, dose=1, expect=Component.DRUG).accepted


def test_a_vial_is_usable_on_its_expiry_date_and_refused_the_next_local_day():
    on_the_day = datetime.fromisoformat("2027-12-31T23:59:00-05:00")
    next_day = datetime.fromisoformat("2028-01-01T00:00:00-05:00")
    assert verify(KIT_1MG, at=on_the_day).accepted
    refused = verify(KIT_1MG, at=next_day)
    assert [r.code for r in refused.refusals] == [RefusalCode.EXPIRED]
    assert "expired on 2027-12-31" in refused.refusals[0].text


def test_expiry_is_compared_in_the_sites_local_date():
    at = datetime.fromisoformat("2028-01-01T03:00:00+00:00")  # still 31 Dec in New York
    assert verify(KIT_1MG, at=at, zone=NY).accepted
    assert not verify(KIT_1MG, at=at, zone=ZoneInfo("UTC")).accepted


def test_a_recalled_lot_is_refused_whatever_its_case():
    verdict = verify(KIT_10MG, dose=10, recalled=[" 12345a "])
    assert [r.code for r in verdict.refusals] == [RefusalCode.RECALLED_LOT]
    assert "lot 12345A is recalled" in verdict.refusals[0].text


def test_an_unknown_gtin_is_refused():
    verdict = verify("00012345678905")
    assert [r.code for r in verdict.refusals] == [RefusalCode.UNKNOWN_GTIN]
    assert verdict.entry is None
    assert "00012345678905" in verdict.refusals[0].text


def test_a_scan_without_expiry_cannot_be_accepted():
    verdict = verify(KIT_1MG, expiry=None)
    assert [r.code for r in verdict.refusals] == [RefusalCode.EXPIRY_NOT_SCANNED]


def test_a_scan_without_lot_is_refused_only_while_a_recall_list_is_in_force():
    assert verify(KIT_1MG, lot=None).accepted
    refused = verify(KIT_1MG, lot=None, recalled=["X1"])
    assert [r.code for r in refused.refusals] == [RefusalCode.LOT_NOT_SCANNED]


def test_every_reason_that_applies_is_reported():
    verdict = verify(KIT_1MG, dose=10, at=datetime.fromisoformat("2028-06-01T09:00:00-04:00"),
                     recalled=["12345A"])
    assert {r.code for r in verdict.refusals} == {
        RefusalCode.WRONG_STRENGTH, RefusalCode.EXPIRED, RefusalCode.RECALLED_LOT}


def test_a_site_added_vial_makes_the_verdict_unverified():
    assert verify(gtin_from_ndc("55513-900-01"), dose=1).unverified
    assert not verify(KIT_1MG, dose=1).unverified


def test_the_order_dose_must_be_a_tarlatamab_dose():
    with pytest.raises(InvalidInput) as err:
        verify(KIT_1MG, dose=5)
    assert err.value.field == "dose_mg"


_CATALOG = site_catalog()
_ENTRIES = sorted(_CATALOG, key=lambda e: e.gtin)


@settings(max_examples=500, deadline=None)
@given(
    entry=st.sampled_from(_ENTRIES),
    dose=st.sampled_from([1, 10]),
    expect=st.sampled_from(list(Component)),
    expiry=st.dates(min_value=date(2026, 1, 1), max_value=date(2029, 12, 31)),
    at=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2029, 12, 31),
                    timezones=st.just(NY)),
    lot=st.sampled_from(["12345A", "B777", "recalled-1"]),
    recalled=st.lists(st.sampled_from(["RECALLED-1", "OTHER"]), max_size=2),
)
def test_a_mis_picked_vial_can_never_pass(entry, dose, expect, expiry, at, lot, recalled):
    verdict = verify_scan(ScannedItem(entry.gtin, expiry, lot, None), _CATALOG.lookup(entry.gtin),
                          dose_mg=dose, expect=expect, at=at, zone=NY, recalled_lots=recalled)
    right_strength = entry.product.strength_mg == dose
    right_component = expect in entry.components
    in_date = at.date() <= expiry
    not_recalled = lot.casefold() not in {r.casefold() for r in recalled}
    assert verdict.accepted == (right_strength and right_component and in_date and not_recalled)


@pytest.mark.parametrize("entry", _ENTRIES, ids=lambda e: f"{e.level}-{e.gtin}")
@pytest.mark.parametrize("dose", [1, 10])
@pytest.mark.parametrize("expect", list(Component))
def test_every_product_dose_and_component_combination_is_decided_by_strength_and_component(
        entry, dose, expect):
    verdict = verify(entry.gtin, dose=dose, expect=expect)
    should_pass = entry.product.strength_mg == dose and expect in entry.components
    assert verdict.accepted is should_pass
