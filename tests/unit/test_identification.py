"""Bedside identification: what the wristband and the bag label carry, what a keyboard-wedge
scanner types, and the right-patient / right-bag hard stop."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tarla.domain.errors import InvalidInput
from tarla.domain.identification import (
    ID_BAG,
    ID_WRISTBAND,
    IdentityCheck,
    check_identity,
    label_barcode,
    normalise_scan,
    read_label_barcode,
    wristband_barcode,
)

MRN, NAME, PREP = "MRN100002", "Nguyen, Linh", 9


def check(patient_scan: str, bag_scan: str) -> IdentityCheck:
    return check_identity(patient_scan=patient_scan, bag_scan=bag_scan, mrn=MRN,
                          preparation_id=PREP, patient_name=NAME)


# --------------------------------------------------------------------------- what is printed


def test_the_wristband_carries_the_mrn_without_surrounding_blanks() -> None:
    assert wristband_barcode("  MRN100002 \n") == "MRN100002"


@pytest.mark.parametrize("mrn", ["", "   ", "\t\r\n"])
def test_a_wristband_needs_an_mrn(mrn: str) -> None:
    with pytest.raises(InvalidInput) as error:
        wristband_barcode(mrn)
    assert error.value.field == "mrn"


def test_the_bag_label_carries_prep_and_the_preparation_id() -> None:
    assert label_barcode(42) == "PREP-42"
    assert label_barcode(1) == "PREP-1"


@pytest.mark.parametrize("preparation_id", [0, -3, True])
def test_a_bag_label_needs_a_real_preparation_id(preparation_id: int) -> None:
    with pytest.raises(InvalidInput) as error:
        label_barcode(preparation_id)
    assert error.value.field == "preparation_id"


# --------------------------------------------------------------------------- what is scanned


@pytest.mark.parametrize(("raw", "text"), [
    ("PREP-42", "PREP-42"),
    ("PREP-42\r\n", "PREP-42"),
    ("  MRN100002\n", "MRN100002"),
    ("]C0PREP-42\r", "PREP-42"),
    ("]d2MRN100002", "MRN100002"),
    ("]Q3MRN100002", "MRN100002"),
    ("\t]C0MRN100002\r\n", "MRN100002"),
    ("", ""),
    ("\r\n", ""),
    ("]C0", ""),
])
def test_a_scan_loses_blanks_enter_and_the_symbology_identifier(raw: str, text: str) -> None:
    assert normalise_scan(raw) == text


def test_a_bracket_that_is_not_a_symbology_identifier_is_kept() -> None:
    assert normalise_scan("]-0MRN1") == "]-0MRN1"


@pytest.mark.parametrize(("raw", "preparation_id"), [
    ("PREP-42", 42),
    ("prep-42", 42),
    ("Prep-7\r\n", 7),
    ("]C0PREP-123456", 123456),
])
def test_a_scanned_bag_label_gives_its_preparation_id(raw: str, preparation_id: int) -> None:
    assert read_label_barcode(raw) == preparation_id


@pytest.mark.parametrize("raw", ["MRN100002", "", "PREP-", "PREP-4a", "PREP 42", "PREP-42-1",
                                 "XPREP-42", "PREP-\u0664\u0662", "PREP-" + "9" * 19,
                                 "]d20100355513077019172712311012345A"])
def test_anything_else_is_not_a_bag_label(raw: str) -> None:
    assert read_label_barcode(raw) is None


@given(st.integers(min_value=1, max_value=10**18 - 1))
def test_every_printed_bag_label_reads_back_as_its_preparation(preparation_id: int) -> None:
    assert read_label_barcode("]C0" + label_barcode(preparation_id) + "\r\n") == preparation_id


# --------------------------------------------------------------------------- the hard stop


def test_the_right_wristband_and_the_right_bag_are_allowed() -> None:
    assert check("]C0MRN100002\r\n", "]C0PREP-9\r\n") == IdentityCheck(True, (), ())


def test_a_lower_case_bag_label_is_the_same_bag() -> None:
    assert check("MRN100002", "prep-9").allowed


def test_another_patients_wristband_is_refused_with_both_mrns_and_the_name() -> None:
    result = check("MRN100005", "PREP-9")
    assert result == IdentityCheck(False, (
        ("patient_scan", "wristband MRN MRN100005 is not this patient (MRN MRN100002, "
                         "Nguyen, Linh)"),), (ID_WRISTBAND,))


def test_another_preparations_bag_is_refused_with_both_labels() -> None:
    result = check("MRN100002", "PREP-7")
    assert result == IdentityCheck(False, (
        ("bag_scan", "bag label PREP-7 is not the bag prepared for this dose (PREP-9)"),),
        (ID_BAG,))


def test_wrong_patient_and_wrong_bag_are_reported_together() -> None:
    result = check("MRN100005", "prep-7")
    assert not result.allowed
    assert result.rules == ("GATE-ID-WRISTBAND", "GATE-ID-BAG")
    assert result.refusals == (
        ("patient_scan", "wristband MRN MRN100005 is not this patient (MRN MRN100002, "
                         "Nguyen, Linh)"),
        ("bag_scan", "bag label PREP-7 is not the bag prepared for this dose (PREP-9)"))


def test_a_swapped_pair_says_the_scans_look_swapped_in_both_fields() -> None:
    result = check("]C0PREP-9", "]C0MRN100002")
    assert result == IdentityCheck(False, (
        ("patient_scan", "this is a bag label (PREP-9), not a wristband; the two scans look "
                         "swapped: scan the wristband into the patient field and the bag label "
                         "into the bag field"),
        ("bag_scan", "this is the patient's wristband (MRN MRN100002), not a bag label; the two "
                     "scans look swapped: scan the wristband into the patient field and the "
                     "bag label into the bag field")), (ID_WRISTBAND, ID_BAG))


def test_the_wristband_scanned_twice_asks_for_the_bag_label() -> None:
    result = check("MRN100002", "MRN100002")
    assert result.refusals == (("bag_scan", "this is the patient's wristband (MRN MRN100002), "
                                            "not a bag label; scan the label on the bag (PREP-9)"),)
    assert result.rules == (ID_BAG,)


def test_the_bag_label_scanned_twice_asks_for_the_wristband() -> None:
    result = check("PREP-9", "PREP-9")
    assert result.refusals == (("patient_scan", "this is a bag label (PREP-9), not a wristband"),)
    assert result.rules == (ID_WRISTBAND,)


def test_a_vial_barcode_in_the_bag_field_is_not_a_bag_label() -> None:
    result = check("MRN100002", "]d20100355513077019172712311012345A\x1d21SER1")
    assert result.refusals == (("bag_scan", "0100355513077019172712311012345A<GS>21SER1 is not a "
                                            "bag label: scan the label on the bag (PREP-9)"),)


def test_empty_scans_ask_for_both_scans() -> None:
    result = check("\r\n", "")
    assert result == IdentityCheck(False, (
        ("patient_scan", "nothing was scanned: scan the patient's wristband"),
        ("bag_scan", "nothing was scanned: scan the label on the bag (PREP-9)")),
        (ID_WRISTBAND, ID_BAG))


def test_a_wristband_differing_only_in_case_is_refused_and_points_at_caps_lock() -> None:
    result = check("mrn100002", "PREP-9")
    assert result.refusals == (("patient_scan", "wristband MRN mrn100002 is not this patient "
                                "(MRN MRN100002, Nguyen, Linh); it differs only in upper/lower "
                                "case: check Caps Lock on the scanner's keyboard"),)


def test_the_patients_mrn_on_record_is_compared_without_surrounding_blanks() -> None:
    assert check_identity(patient_scan="MRN100002", bag_scan="PREP-9", mrn=" MRN100002 ",
                          preparation_id=9, patient_name=NAME).allowed


def test_an_mrn_that_is_only_a_prefix_of_the_scan_is_refused() -> None:
    assert check("MRN1000021", "PREP-9").rules == (ID_WRISTBAND,)
    assert check("MRN10000", "PREP-9").rules == (ID_WRISTBAND,)


def test_an_empty_mrn_on_record_is_invalid_input_not_a_refusal() -> None:
    with pytest.raises(InvalidInput) as error:
        check_identity(patient_scan="", bag_scan="PREP-9", mrn=" ", preparation_id=9,
                       patient_name=NAME)
    assert error.value.field == "mrn"


@pytest.mark.parametrize(("bag_scan", "text"), [
    ("PREP-9", "no bag is on record as prepared for this dose, so no bag label can match it "
               "(scanned PREP-9)"),
    ("", "no bag is on record as prepared for this dose, so no bag label can match it"),
])
def test_without_a_bag_on_record_every_bag_scan_is_refused_and_the_wristband_still_checked(
        bag_scan: str, text: str) -> None:
    result = check_identity(patient_scan="MRN100005", bag_scan=bag_scan, mrn=MRN,
                            preparation_id=0, patient_name=NAME)
    assert result == IdentityCheck(False, (
        ("patient_scan", "wristband MRN MRN100005 is not this patient (MRN MRN100002, "
                         "Nguyen, Linh)"),
        ("bag_scan", text)), (ID_WRISTBAND, ID_BAG))


@given(patient=st.text(max_size=30), bag=st.text(max_size=30))
def test_a_check_is_allowed_exactly_when_it_has_no_refusal(patient: str, bag: str) -> None:
    result = check(patient, bag)
    assert result.allowed is (not result.refusals)
    assert len(result.rules) == len(result.refusals)
    assert [f for f, _ in result.refusals] == [
        f for f, r in (("patient_scan", ID_WRISTBAND), ("bag_scan", ID_BAG)) if r in result.rules]
    assert result.allowed is (normalise_scan(patient) == MRN and read_label_barcode(bag) == PREP)
