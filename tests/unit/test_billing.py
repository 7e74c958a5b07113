"""Claim lines (J9026, JW/JZ, N4 NDC) and the NDC/GTIN helper (standards.md §4-§5)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tarla.domain.billing import LineKind, Outcome, PackageUse, claim_lines
from tarla.domain.errors import InvalidInput
from tarla.domain.ndc import (
    gs1_check_digit,
    gtin_from_ndc,
    is_valid_gtin,
    ndc_digits_from_gtin,
    parse_ndc,
    to_ndc11,
)
from tarla.label.products import PRODUCTS


def use(dose: int, outcome: Outcome = Outcome.COMPLETED, given: str | None = None,
        vial: int | None = None) -> PackageUse:
    amount = Decimal(given) if given is not None else (
        Decimal(dose) if outcome is Outcome.COMPLETED else Decimal(0))
    return PackageUse(dose, vial or dose, outcome, amount, "B1")


def summary(claim) -> list[tuple[str, tuple[str, ...], int, str, bool, bool]]:
    return [(line.hcpcs, line.modifiers, line.units, line.claim_ndc, line.billable,
             line.needs_review) for line in claim.lines]


# --------------------------------------------------------------------------- claim lines


def test_a_full_10_mg_dose_is_10_units_of_j9026_with_jz():
    assert summary(claim_lines([use(10)])) == [
        ("J9026", ("JZ",), 10, "N455513007701 UN1", True, False)]


def test_a_full_1_mg_dose_is_1_unit_of_j9026_with_jz():
    claim = claim_lines([use(1)])
    assert summary(claim) == [("J9026", ("JZ",), 1, "N455513005901 UN1", True, False)]
    line = claim.lines[0]
    assert (line.ndc_qualifier, line.ndc11, line.ndc_unit, line.ndc_quantity) == (
        "N4", "55513005901", "UN", 1)
    assert claim.billed_units == 1 and not claim.needs_review


def test_an_infusion_stopped_early_rounds_given_up_and_waste_down_and_holds_the_waste():
    claim = claim_lines([use(10, Outcome.STOPPED_EARLY, "6.5")])
    assert summary(claim) == [
        ("J9026", (), 7, "N455513007701 UN1", True, False),
        ("J9026", ("JW",), 3, "N455513007701 UN1", False, True),
    ]
    assert claim.lines[1].kind is LineKind.DISCARDED
    assert claim.billed_units == 7 and claim.needs_review


def test_less_than_one_whole_unit_left_gives_no_jw_line_but_jz_under_review():
    claim = claim_lines([use(10, Outcome.STOPPED_EARLY, "9.5")])
    assert summary(claim) == [("J9026", ("JZ",), 10, "N455513007701 UN1", True, True)]


def test_a_prepared_dose_that_was_not_given_is_waste_not_billable_and_needs_review():
    claim = claim_lines([use(10, Outcome.NOT_GIVEN)])
    assert summary(claim) == [("J9026", ("JW",), 10, "N455513007701 UN1", False, True)]
    assert claim.billed_units == 0
    assert "not given" in claim.lines[0].note


def test_a_1_mg_dose_from_a_10_mg_vial_bills_the_discard_but_asks_for_review():
    claim = claim_lines([use(1, vial=10)])
    assert summary(claim) == [
        ("J9026", (), 1, "N455513007701 UN1", True, True),
        ("J9026", ("JW",), 9, "N455513007701 UN1", True, True),
    ]


def test_each_package_gets_its_own_lines_in_input_order():
    claim = claim_lines([use(1), use(10)])
    assert [(line.units, line.ndc11) for line in claim.lines] == [
        (1, "55513005901"), (10, "55513007701")]
    assert claim.billed_units == 11


def test_claims_cite_the_hcpcs_and_product_rows():
    assert [c.rule for c in claim_lines([use(10)]).reasons] == ["B-J9026", "P-10MG"]


@pytest.mark.parametrize(("package", "field"), [
    (PackageUse(5, 10, Outcome.COMPLETED, Decimal(5)), "preparations[0].dose_mg"),
    (PackageUse(10, 1, Outcome.COMPLETED, Decimal(10)), "preparations[0].vial_strength_mg"),
    (PackageUse(10, 10, Outcome.STOPPED_EARLY, Decimal(11)), "preparations[0].administered_mg"),
    (PackageUse(10, 10, Outcome.STOPPED_EARLY, Decimal(-1)), "preparations[0].administered_mg"),
    (PackageUse(10, 10, Outcome.STOPPED_EARLY, Decimal(10)), "preparations[0].administered_mg"),
    (PackageUse(10, 10, Outcome.COMPLETED, Decimal(6)), "preparations[0].administered_mg"),
    (PackageUse(10, 10, Outcome.NOT_GIVEN, Decimal(1)), "preparations[0].administered_mg"),
    (PackageUse(10, 10, Outcome.STOPPED_EARLY, Decimal("NaN")),
     "preparations[0].administered_mg"),
])
def test_impossible_uses_are_refused_naming_the_field(package, field):
    with pytest.raises(InvalidInput) as err:
        claim_lines([package])
    assert err.value.field == field


def test_an_encounter_without_packages_is_refused():
    with pytest.raises(InvalidInput) as err:
        claim_lines([])
    assert err.value.field == "preparations"


# --------------------------------------------------------------------------- NDC / GTIN


@pytest.mark.parametrize(("ndc", "eleven"), [
    ("55513-059-01", "55513005901"),   # 5-3-2: zero in front of the product code
    ("55513-077-01", "55513007701"),
    ("1234-5678-90", "01234567890"),   # 4-4-2: zero in front of the labeler
    ("12345-6789-1", "12345678901"),   # 5-4-1: zero in front of the package
    ("55513-0059-01", "55513005901"),  # already 5-4-2
    ("55513005901", "55513005901"),    # 11 plain digits
    ("055513-0059-01", "55513005901"),  # the coming 6-4-2 form
])
def test_ndc_to_11_digit_billing_form(ndc, eleven):
    assert to_ndc11(ndc) == eleven


def test_ndc_12_digit_form_pads_every_segment():
    assert parse_ndc("55513-059-01").hyphenated12 == "055513-0059-01"
    assert parse_ndc("55513-059-01").hyphenated11 == "55513-0059-01"


@pytest.mark.parametrize("ndc", ["5551305901", "55513-59-01", "abc", "55513-059-001",
                                 "155513-0059-01"])
def test_ambiguous_or_malformed_ndcs_are_refused(ndc):
    with pytest.raises(InvalidInput):
        parse_ndc(ndc)


def test_gs1_check_digits_of_the_worked_examples():
    assert gs1_check_digit("0035551305901") == 5
    assert gs1_check_digit("0035551307701") == 9
    assert is_valid_gtin("00355513059015") and not is_valid_gtin("00355513059016")


def test_gtin_14_from_the_ndc_and_back():
    assert gtin_from_ndc("55513-059-01") == "00355513059015"
    assert gtin_from_ndc("55513-077-01") == "00355513077019"
    assert ndc_digits_from_gtin("00355513059015") == "5551305901"
    assert ndc_digits_from_gtin("355513077019") == "5551307701"


@pytest.mark.parametrize("gtin", ["00355513059016", "00012345678905", "12"])
def test_a_gtin_that_carries_no_valid_ndc_is_refused(gtin):
    with pytest.raises(InvalidInput):
        ndc_digits_from_gtin(gtin)


@pytest.mark.parametrize("product", PRODUCTS, ids=lambda p: p.rule_id)
def test_label_products_carry_the_derived_codes_this_helper_computes(product):
    assert to_ndc11(product.ndc10) == product.ndc11
    assert gtin_from_ndc(product.ndc10) == product.gtin
