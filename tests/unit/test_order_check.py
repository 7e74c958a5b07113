"""What a tarlatamab order drafted in the EHR is told (CDS Hooks cards come from these
findings): the engine's decision, worked here from the label by hand, against the order."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from course_builders import decide, doses, event, lab

from tarla.domain.course import Patient
from tarla.domain.order_check import Severity, check_order


def _panel(when: str) -> tuple:
    return (lab("ANC", 3.2, "10^9/L", when, lln=1.8),
            lab("platelets", 220.0, "10^9/L", when, lln=150.0),
            lab("hemoglobin", 13.1, "g/dL", when, lln=12.0),
            lab("ALT", 25.0, "U/L", when, uln=40.0), lab("AST", 22.0, "U/L", when, uln=40.0),
            lab("bilirubin", 0.6, "mg/dL", when, uln=1.2))


def _by_code(findings) -> dict:  # type: ignore[no-untyped-def]
    return {f.code: f for f in findings}


def test_a_10_mg_order_21_days_after_the_1_mg_dose_is_corrected_to_the_restart_1_mg() -> None:
    # Table 4: last dose 1 mg (C1D1) on 2026-12-01, more than 14 days before 2026-12-22
    # (21 days) -> restart step-up: 1 mg.
    decision = decide("2026-12-22 09:00", doses(("2026-12-01 09:00", 1)),
                      labs=_panel("2026-12-22 07:00"))
    found = _by_code(check_order(decision, Decimal("10"), date(2026, 12, 22)))
    differs = found["dose-differs"]
    assert differs.severity is Severity.CRITICAL
    assert differs.suggested_dose_mg == 1
    assert "T4-1MG-GT14" in differs.rules
    assert differs.summary.startswith("Ordered 10 mg; the next dose is 1 mg")
    restart = found["restart-step-up"]
    assert "T4-1MG-GT14" in restart.rules and "1 mg" in restart.summary


def test_the_restart_1_mg_order_itself_gets_no_dose_correction_but_still_the_restart_card(
        ) -> None:
    decision = decide("2026-12-22 09:00", doses(("2026-12-01 09:00", 1)),
                      labs=_panel("2026-12-22 07:00"))
    found = _by_code(check_order(decision, Decimal("1"), date(2026, 12, 22)))
    assert "dose-differs" not in found
    assert "restart-step-up" in found
    # restart step-up doses get Cycle 1 Day 1 care by default: 22-24 h in the facility
    assert found["monitoring-bed"].summary.startswith("22-24 h monitoring")


def test_an_on_time_c1d8_order_of_10_mg_with_labs_drawn_only_needs_a_bed() -> None:
    decision = decide("2026-12-08 09:00", doses(("2026-12-01 09:00", 1)),
                      labs=_panel("2026-12-08 07:00"))
    found = _by_code(check_order(decision, Decimal("10"), date(2026, 12, 8)))
    assert set(found) == {"monitoring-bed"}
    assert found["monitoring-bed"].rules == ("T1-MON-C1D1-D8",)
    assert found["monitoring-bed"].severity is Severity.INFO


def test_a_c1d15_order_has_no_monitoring_bed_card_because_it_is_observed_after_the_infusion(
        ) -> None:
    decision = decide("2026-12-15 09:00",
                      doses(("2026-12-01 09:00", 1), ("2026-12-08 09:00", 10)),
                      labs=_panel("2026-12-15 07:00"))
    assert _by_code(check_order(decision, Decimal("10"), date(2026, 12, 15))) == {}


def test_labs_missing_since_the_last_dose_are_named() -> None:
    decision = decide("2026-12-08 09:00", doses(("2026-12-01 09:00", 1)))
    labs = _by_code(check_order(decision, Decimal("10"), date(2026, 12, 8)))["labs-missing"]
    assert "CBC" in labs.summary and "bilirubin" in labs.summary
    assert labs.rules == ("LAB-TO-C5D15",)


def test_an_ongoing_grade_2_crs_puts_the_order_on_hold_with_its_rule() -> None:
    decision = decide("2026-12-15 09:00",
                      doses(("2026-12-01 09:00", 1), ("2026-12-08 09:00", 10)),
                      events=[event("CRS", 2, "2026-12-09 01:00")],
                      labs=_panel("2026-12-15 07:00"))
    hold = _by_code(check_order(decision, Decimal("10"), date(2026, 12, 15)))["on-hold"]
    assert hold.severity is Severity.CRITICAL and hold.rules == ("T5-CRS-G2",)


def test_an_order_before_the_due_date_says_when_the_dose_is_due() -> None:
    decision = decide("2026-12-05 09:00", doses(("2026-12-01 09:00", 1)))
    found = _by_code(check_order(decision, Decimal("10"), date(2026, 12, 5)))
    assert found["not-due"].summary == "The next dose is not due until 2026-12-08"


def test_an_order_without_a_dose_in_mg_is_critical_and_suggests_the_engines_dose() -> None:
    decision = decide("2026-12-08 09:00", doses(("2026-12-01 09:00", 1)),
                      labs=_panel("2026-12-08 07:00"))
    differs = _by_code(check_order(decision, None, date(2026, 12, 8)))["dose-differs"]
    assert differs.suggested_dose_mg == 10 and differs.severity is Severity.CRITICAL


def test_off_label_use_is_a_warning_card_with_its_rule() -> None:
    patient = Patient(date(1958, 4, 2), "NSCLC", True)
    decision = decide("2026-12-01 09:00", patient=patient, labs=_panel("2026-12-01 07:00"))
    found = _by_code(check_order(decision, Decimal("1"), date(2026, 12, 1)))
    off = found["warning:OFF_LABEL_DIAGNOSIS"]
    assert off.severity is Severity.WARNING and off.rules


def test_a_permanently_discontinued_course_says_do_not_order_and_nothing_else() -> None:
    decision = decide("2026-12-15 09:00",
                      doses(("2026-12-01 09:00", 1), ("2026-12-08 09:00", 10)),
                      events=[event("CRS", 4, "2026-12-09 01:00", "2026-12-11 09:00")])
    findings = check_order(decision, Decimal("10"), date(2026, 12, 15))
    assert [f.code for f in findings] == ["discontinued"]
    assert findings[0].severity is Severity.CRITICAL


def test_every_summary_fits_the_140_characters_cds_hooks_allows() -> None:
    decision = decide("2026-12-22 09:00", doses(("2026-12-01 09:00", 1)),
                      patient=Patient(date(1958, 4, 2), "NSCLC", False))
    for f in check_order(decision, Decimal("10.5"), date(2026, 12, 22)):
        assert len(f.summary) <= 140, f
