"""The label is data: the unchanged course engine computes with a second, synthetic label.

``tests/data/labels/zentamab-ZEN-TEST-1.json`` is a made-up T-cell engager (every number in it
is invented, nothing is clinical): a 2 mg step-up dose on Cycle 1 Day 1, 20 mg on Day 8, 20 mg
14 days later on Cycle 2 Day 1, then 20 mg every 21 days; its own monitoring tiers, labs,
Table 4 windows (10, 17 and 35 days) and toxicity rows. The expected dates and answers below
are worked by hand from that file, not computed the way the engine does.
"""

from __future__ import annotations

import json
import threading
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tarla.domain.course import (
    Administration,
    AdverseEvent,
    CourseInput,
    DecisionAction,
    DoseKind,
    LabResult,
    Patient,
    evaluate,
    plan_course,
)
from tarla.domain.errors import InvalidInput
from tarla.label.monitoring import MonitoringKind
from tarla.label.rows import Provenance
from tarla.label.rules import BUILTIN_RULES, rules_of
from tarla.label.toxicity import EventType
from tarla.label.value import LabelRow, content_hash_of, load_label

FILE = Path(__file__).parent.parent / "data" / "labels" / "zentamab-ZEN-TEST-1.json"
NY = ZoneInfo("America/New_York")
PATIENT = Patient(date(1960, 5, 1), "EXAMPLE-TUMOUR-X", progressed_after_platinum=False)


def zen():  # noqa: ANN201 - the Rules value
    return rules_of(load_label(FILE.read_text(encoding="utf-8")))


def at(day: str, hour: int = 10) -> datetime:
    return datetime.fromisoformat(f"{day}T{hour:02d}:00").replace(tzinfo=NY)


def course(as_of: str, *doses: tuple[str, int], rules=None, **kw) -> CourseInput:  # noqa: ANN001
    return CourseInput(as_of=at(as_of, 9), zone=NY, patient=kw.pop("patient", PATIENT),
                       administrations=tuple(Administration(at(d), mg) for d, mg in doses),
                       rules=rules if rules is not None else zen(), **kw)


def test_the_synthetic_label_loads_with_its_own_drug_version_and_hash() -> None:
    label = load_label(FILE.read_text(encoding="utf-8"))
    assert (label.drug, label.version) == ("zentamab", "ZEN-TEST-1")
    assert label.content_hash == json.loads(FILE.read_text())["content_hash"]
    rules = rules_of(label)
    assert (rules.step_up_dose, rules.full_dose, rules.doses) == (2, 20, (2, 20))


def test_its_planned_calendar_is_its_own() -> None:
    plan = plan_course(date(2027, 1, 4), 4, zen())
    # C1D1 Mon 4 Jan; +7 -> 11 Jan; +14 -> 25 Jan; +21 -> 15 Feb; +21 -> 8 Mar.
    assert [(p.slot.label, p.date.isoformat(), p.slot.dose_mg) for p in plan] == [
        ("C1D1", "2027-01-04", 2), ("C1D8", "2027-01-11", 20), ("C2D1", "2027-01-25", 20),
        ("C3D1", "2027-02-15", 20), ("C4D1", "2027-03-08", 20)]
    c1d1, c1d8, c2d1, c3d1, _ = plan
    assert [m.drug for m in c1d1.care.premedication] == ["examplosone"]
    assert c1d8.care.premedication == ()
    assert (c1d1.care.monitoring.kind, c1d1.care.monitoring.hours_min,
            c1d1.care.monitoring.rule) == (MonitoringKind.FACILITY, 24, "Z1-MON-C1")
    assert c1d1.care.proximity is not None and c1d1.care.proximity.until_hours_from_start == 72
    assert (c2d1.care.monitoring.kind, c2d1.care.monitoring.hours_max) == (
        MonitoringKind.OBSERVE, 4)
    assert (c3d1.care.monitoring.hours_max, c3d1.care.labs_before) == (1, ("CBC",))
    assert c1d1.care.labs_before == ("CBC", "ALT")


def test_the_next_dose_cites_only_its_rows() -> None:
    d = evaluate(course("2027-01-11", ("2027-01-04", 2)))
    assert d.label_version == "ZEN-TEST-1"
    assert d.action is DecisionAction.GIVE
    assert d.next_dose is not None
    assert (d.next_dose.slot.label, d.next_dose.dose_mg, d.next_dose.due_date) == (
        "C1D8", 20, date(2027, 1, 11))
    assert d.reasons[0].rule == "Z1-C1D8"
    assert all(r.rule.startswith("Z") for r in d.reasons), [r.rule for r in d.reasons]
    assert d.pending_checks == ("CBC", "ALT")
    early = evaluate(course("2027-01-08", ("2027-01-04", 2)))
    assert early.action is DecisionAction.WAIT


def test_the_same_dates_restart_differently_under_each_label() -> None:
    # Last dose 11 Jan, today 30 Jan: 19 days. Zentamab's window after the first full dose
    # is 17 days, so it restarts with the 2 mg step-up today; tarlatamab's is 21 days, so the
    # 10 mg due on 18 Jan is given, late.
    z = evaluate(course("2027-01-30", ("2027-01-04", 2), ("2027-01-11", 20)))
    assert z.next_dose is not None
    assert (z.next_dose.kind, z.next_dose.dose_mg, z.next_dose.due_date,
            z.next_dose.restart_step) == (DoseKind.RESTART_STEP_UP, 2, date(2027, 1, 30), 1)
    assert "Z4-FF-GT17" in {r.rule for r in z.reasons}
    assert "Z-POLICY-RESTART-CARE" in {r.rule for r in z.reasons}
    assert [m.drug for m in z.care.premedication] == ["examplosone"]  # borrowed C1D1 care
    t = evaluate(course("2027-01-30", ("2027-01-04", 1), ("2027-01-11", 10),
                        rules=BUILTIN_RULES))
    assert t.label_version == "US-PI-2025-11"
    assert t.next_dose is not None
    assert (t.next_dose.kind, t.next_dose.dose_mg, t.next_dose.due_date) == (
        DoseKind.RESTART_CONTINUE, 10, date(2027, 1, 18))


def test_a_dose_of_the_other_drug_is_refused_naming_the_field() -> None:
    with pytest.raises(InvalidInput) as err:
        evaluate(course("2027-01-11", ("2027-01-04", 1)))
    assert err.value.field == "administrations[0].dose_mg"
    assert "2 or 20" in err.value.message and "zentamab" in err.value.message


def test_its_toxicity_rows_decide() -> None:
    crs3 = AdverseEvent(EventType.CRS, 3, at("2027-01-04", 20))
    d = evaluate(course("2027-01-11", ("2027-01-04", 2), adverse_events=(crs3,)))
    assert d.action is DecisionAction.DISCONTINUE
    assert [r.rule for r in d.reasons] == ["Z5-CRS-G3"]
    icans1 = AdverseEvent(EventType.ICANS, 1, at("2027-01-04", 20), at("2027-01-05", 8))
    assert evaluate(course("2027-01-11", ("2027-01-04", 2), adverse_events=(icans1,))
                    ).action is DecisionAction.DISCONTINUE
    # CRS grade 2 after C1D8, resolved: C2D1 (Cycle 2: observe 4 h) gets the 24 h facility
    # monitoring of the row after toxicity.
    crs2 = AdverseEvent(EventType.CRS, 2, at("2027-01-11", 18), at("2027-01-13", 8))
    d = evaluate(course("2027-01-25", ("2027-01-04", 2), ("2027-01-11", 20),
                        adverse_events=(crs2,)))
    assert d.action is DecisionAction.GIVE and d.care is not None
    assert (d.care.monitoring.rule, d.care.monitoring.kind, d.care.monitoring.hours_min) == (
        "Z1-MON-AFTER-TOX", MonitoringKind.FACILITY, 24)
    # ANC 0.8 x 10^9/L is under zentamab's 1.0 (tarlatamab's is 0.5): held.
    anc = LabResult("ANC", 0.8, "10^9/L", at("2027-01-24", 8), lln=1.8)
    d = evaluate(course("2027-01-25", ("2027-01-04", 2), ("2027-01-11", 20), labs=(anc,)))
    assert d.action is DecisionAction.HOLD
    assert d.reasons[0].rule == "Z7-NEUT"


def test_its_indication_and_counselling() -> None:
    assert evaluate(course("2027-01-04")).warnings == ()
    sclc = Patient(date(1960, 5, 1), "ES-SCLC", progressed_after_platinum=True, pregnant=True,
                   breastfeeding=True)
    codes = {(w.code, w.rule) for w in evaluate(course("2027-01-04", patient=sclc)).warnings}
    # No lactation row in this label: the engine says nothing it was not given.
    assert codes == {("OFF_LABEL_DIAGNOSIS", "ZIND"), ("PREGNANCY", "ZWARN-PREGNANCY")}


def test_many_threads_with_two_labels_agree_with_one_thread() -> None:
    z = zen()
    inputs = [course("2027-06-01", *[(date.fromordinal(date(2027, 1, 4).toordinal() + o)
                                      .isoformat(), 2 if i == 0 else 20)
                                     for i, o in enumerate((0, 7, 21, 42, 63, 84)[:n])],
                     rules=z) for n in range(1, 7)]
    inputs += [course("2027-06-01", *[(date.fromordinal(date(2027, 1, 4).toordinal() + o)
                                       .isoformat(), 1 if i == 0 else 10)
                                      for i, o in enumerate((0, 7, 14, 28, 42, 56)[:n])],
                      rules=BUILTIN_RULES) for n in range(1, 7)]
    expected = [evaluate(i) for i in inputs]
    results: list[list[object]] = [[] for _ in range(8)]

    def run(k: int) -> None:
        for _ in range(30):
            results[k].append([evaluate(i) for i in inputs])

    threads = [threading.Thread(target=run, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for per_thread in results:
        for answer in per_thread:
            assert answer == expected


# --------------------------------------------------------------------------- bad files


def _doc() -> dict:
    return json.loads(FILE.read_text(encoding="utf-8"))


def _rehash(doc: dict) -> str:
    """The file with its hash taken again (for the checks that come after the hash)."""
    rows = [LabelRow.of(r["rule_id"], Provenance(r["tag"]), r["text"], r["table"],
                        r.get("fields")) for r in doc["rows"]]
    doc["content_hash"] = content_hash_of(rows)
    return json.dumps(doc)


def _row(doc: dict, rule_id: str) -> dict:
    return next(r for r in doc["rows"] if r["rule_id"] == rule_id)


def test_a_duplicate_rule_id_is_refused_naming_the_row() -> None:
    doc = _doc()
    doc["rows"].append(dict(_row(doc, "Z1-CYCLE")))
    with pytest.raises(InvalidInput) as err:
        load_label(json.dumps(doc))
    last = len(doc["rows"]) - 1
    assert err.value.field == f"rows[{last}].rule_id"
    assert "Z1-CYCLE is listed twice" in err.value.message


def test_an_untagged_row_is_refused_naming_the_row() -> None:
    doc = _doc()
    del doc["rows"][3]["tag"]
    with pytest.raises(InvalidInput) as err:
        load_label(json.dumps(doc))
    assert err.value.field == "rows[3].tag"


def test_a_hash_that_does_not_match_is_refused() -> None:
    doc = _doc()
    _row(doc, "Z1-C1D8")["fields"]["dose_mg"] = 25
    with pytest.raises(InvalidInput) as err:
        load_label(json.dumps(doc))
    assert err.value.field == "content_hash"


@pytest.mark.parametrize(("edit", "field", "words"), [
    (lambda d: d["rows"].remove(_row(d, "Z1-MON-C3")), "monitoring", "no row covers C3D1"),
    (lambda d: _row(d, "Z1-MON-C2")["fields"].update(last_cycle=None), "Z1-MON-C3.fields",
     "covers C3D1, which Z1-MON-C2 covers too"),
    (lambda d: d["rows"].remove(_row(d, "ZLAB-C3")), "labs", "no row covers C3D1"),
    (lambda d: _row(d, "Z4-LF-GT35")["fields"].update(min_days=37), "Z4-LF-GT35.fields",
     "0-35, then 36 and more"),
    (lambda d: _row(d, "Z1-C1D8")["fields"].update(dose_mg="20"), "Z1-C1D8.fields.dose_mg",
     "whole number"),
    (lambda d: _row(d, "Z1-MON-C2")["fields"].update(kind="nap"), "Z1-MON-C2.fields.kind",
     "is not one of"),
    (lambda d: _row(d, "Z1-C1D8")["fields"].update(step_up=True), "schedule", "one step-up"),
    (lambda d: _row(d, "Z1-Q3W")["fields"].update(dose_mg=30), "schedule", "same full dose"),
    (lambda d: _row(d, "Z1-CYCLE")["fields"].update(weeks=3), "Z1-CYCLE.fields",
     "fit no row of table 'schedule'"),
    (lambda d: d["rows"].remove(_row(d, "Z7-HYS-LAW")), "toxicity", "exactly one Hy's law"),
])
def test_a_label_the_engine_cannot_compute_with_is_refused_naming_the_row(edit, field, words
                                                                        ) -> None:  # noqa: ANN001
    doc = _doc()
    edit(doc)
    label = load_label(_rehash(doc))
    with pytest.raises(InvalidInput) as err:
        rules_of(label)
    assert err.value.field == field
    assert words in err.value.message


def test_the_built_in_rules_are_the_module_rows_read_back_from_the_label_value() -> None:
    from tarla.label import concomitant, eligibility, labs, monitoring, restart, schedule
    from tarla.label import toxicity as tox

    r = BUILTIN_RULES
    assert (r.drug, r.version) == ("tarlatamab", "US-PI-2025-11")
    assert r.slots == schedule.SLOT_RULES and r.cycle_length == schedule.CYCLE_LENGTH
    assert r.monitoring_tiers == monitoring.MONITORING_TIERS
    assert r.extended_monitoring == monitoring.EXTENDED_AFTER_TOXICITY
    assert r.concomitant_days == concomitant.CONCOMITANT_DAYS
    assert (r.premedication, r.post_infusion, r.hydration) == (
        concomitant.PREMEDICATION, concomitant.POST_INFUSION, concomitant.HYDRATION)
    assert r.lab_requirements == (*labs.LAB_REQUIREMENTS, labs.NO_LABS_C6_D15)
    assert (r.restart_rows, r.step_gap, r.restart_cycle1_care) == (
        restart.RESTART_ROWS, restart.RESTART_STEP_UP_GAP, restart.RESTART_CYCLE1_CARE)
    assert r.eligibility == eligibility.ELIGIBILITY
    assert dict(r.counselling) == {eligibility.Concern.PREGNANCY: eligibility.EMBRYO_FETAL,
                                   eligibility.Concern.BREASTFEEDING: eligibility.LACTATION}
    assert (r.toxicity_rules, r.lab_thresholds, r.hepatic_rules, r.hys_law) == (
        tox.TOXICITY_RULES, tox.LAB_THRESHOLDS, tox.HEPATIC_LAB_RULES, tox.HYS_LAW)
    assert (r.step_up_dose, r.full_dose, r.doses) == (1, 10, (1, 10))
