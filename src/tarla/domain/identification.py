"""Bedside identification: is this the right patient and the right bag? (a hard stop)

Before a dose is charted the nurse scans the patient's wristband and the bag's label. What
each barcode carries is decided here, so the printer (the PDF adapter) and the checker agree:

- the wristband carries the MRN itself (:func:`wristband_barcode`);
- the bag label carries ``PREP-<preparation id>`` (:func:`label_barcode`).

A keyboard-wedge scanner types the barcode text, often with an AIM symbology identifier in
front (``]C0`` for Code 128) and Enter after it; :func:`normalise_scan` removes both.

Refusals (each is ``(field, text)``; both are reported when both apply):

- ``GATE-ID-WRISTBAND`` (field ``patient_scan``): nothing scanned, a bag label scanned where
  the wristband belongs, or a wristband of another MRN;
- ``GATE-ID-BAG`` (field ``bag_scan``): nothing scanned, the wristband scanned where the bag
  label belongs, something that is not a bag label, the label of another preparation, or no
  bag on record for the dose at all (``preparation_id`` below 1).

These are site gates, not label rules: there is no row of the prescribing information behind
them, so they are constants here rather than rows in :mod:`tarla.label`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tarla.domain.errors import InvalidInput

__all__ = ["ID_WRISTBAND", "ID_BAG", "IdentityCheck", "wristband_barcode", "label_barcode",
           "normalise_scan", "read_label_barcode", "check_identity"]

ID_WRISTBAND = "GATE-ID-WRISTBAND"
ID_BAG = "GATE-ID-BAG"

_LABEL_PREFIX = "PREP-"
# ISO/IEC 15424: "]" + symbology code character + modifier character
_AIM_PREFIX = re.compile(r"\][A-Za-z][0-9A-Za-z]")
# at most 18 digits: any id we will print, and no huge number to parse from a stray scan
_LABEL = re.compile(r"PREP-([0-9]{1,18})", re.IGNORECASE | re.ASCII)
_SCANNER_BLANKS = " \t\r\n"
_SWAPPED = ("the two scans look swapped: scan the wristband into the patient field and the "
            "bag label into the bag field")


@dataclass(frozen=True, slots=True)
class IdentityCheck:
    """``allowed`` only when both scans match; ``rules`` names the gate behind each refusal."""

    allowed: bool
    refusals: tuple[tuple[str, str], ...]  # (field, text)
    rules: tuple[str, ...]


def wristband_barcode(mrn: str) -> str:
    """The text encoded on the patient's wristband: the MRN, without surrounding blanks."""
    text = mrn.strip()
    if not text:
        raise InvalidInput("mrn", "is empty: a wristband needs the patient's MRN")
    return text


def label_barcode(preparation_id: int) -> str:
    """The text encoded on a bag label, e.g. ``PREP-42`` for preparation 42."""
    if isinstance(preparation_id, bool) or preparation_id < 1:
        raise InvalidInput("preparation_id", f"{preparation_id!r} is not a preparation id")
    return f"{_LABEL_PREFIX}{preparation_id}"


def normalise_scan(raw: str) -> str:
    """What a keyboard-wedge scanner typed, without blanks, CR/LF or an AIM prefix (``]C0``)."""
    text = raw.strip(_SCANNER_BLANKS)
    if _AIM_PREFIX.match(text):
        text = text[3:].strip(_SCANNER_BLANKS)
    return text


def read_label_barcode(raw: str) -> int | None:
    """The preparation id of a scanned bag label (``PREP-42``, any case); None otherwise."""
    found = _LABEL.fullmatch(normalise_scan(raw))
    return int(found.group(1)) if found else None


def _shown(text: str) -> str:
    """A scan as a person can read it (a GS1 separator shows as <GS>)."""
    return "".join(c if c.isprintable() else ("<GS>" if c == "\x1d" else f"<0x{ord(c):02X}>")
                   for c in text)


def _patient_refusal(scan: str, bag_scan: str, wristband: str, patient_name: str) -> str | None:
    if scan == wristband:
        return None
    if not scan:
        return "nothing was scanned: scan the patient's wristband"
    label = read_label_barcode(scan)
    if label is not None:
        swapped = f"; {_SWAPPED}" if bag_scan == wristband else ""
        return f"this is a bag label ({label_barcode(label)}), not a wristband{swapped}"
    hint = ("; it differs only in upper/lower case: check Caps Lock on the scanner's keyboard"
            if scan.casefold() == wristband.casefold() else "")
    return (f"wristband MRN {_shown(scan)} is not this patient (MRN {wristband}, "
            f"{patient_name}){hint}")


def _bag_refusal(scan: str, patient_scan: str, wristband: str, preparation_id: int) -> str | None:
    label = read_label_barcode(scan)
    if preparation_id < 1:
        return ("no bag is on record as prepared for this dose, so no bag label can match it"
                f"{'' if label is None else f' (scanned {label_barcode(label)})'}")
    if label == preparation_id:
        return None
    expected = label_barcode(preparation_id)
    if not scan:
        return f"nothing was scanned: scan the label on the bag ({expected})"
    if scan == wristband:
        then = (_SWAPPED if read_label_barcode(patient_scan) is not None
                else f"scan the label on the bag ({expected})")
        return f"this is the patient's wristband (MRN {wristband}), not a bag label; {then}"
    if label is None:
        return f"{_shown(scan)} is not a bag label: scan the label on the bag ({expected})"
    return f"bag label {label_barcode(label)} is not the bag prepared for this dose ({expected})"


def check_identity(*, patient_scan: str, bag_scan: str, mrn: str, preparation_id: int,
                   patient_name: str) -> IdentityCheck:
    """Right patient (wristband = ``mrn``) and right bag (label = ``preparation_id``)?

    A ``preparation_id`` below 1 means no bag is on record for the dose: the bag scan is then
    refused whatever it says, and the wristband is still checked."""
    wristband = wristband_barcode(mrn)
    patient, bag = normalise_scan(patient_scan), normalise_scan(bag_scan)
    refusals: list[tuple[str, str]] = []
    rules: list[str] = []
    wrong_patient = _patient_refusal(patient, bag, wristband, patient_name)
    if wrong_patient is not None:
        refusals.append(("patient_scan", wrong_patient))
        rules.append(ID_WRISTBAND)
    wrong_bag = _bag_refusal(bag, patient, wristband, preparation_id)
    if wrong_bag is not None:
        refusals.append(("bag_scan", wrong_bag))
        rules.append(ID_BAG)
    return IdentityCheck(not refusals, tuple(refusals), tuple(rules))
