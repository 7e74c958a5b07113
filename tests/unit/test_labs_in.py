"""Labs in by interface (issue 16) against the in-memory unit of work: ORU^R01 messages from
``tests/data/hl7`` are stored raw, acknowledged, charted through the lab-entry service,
queued or refused; the work queue and the site's LOINC table.

The site NYC (America/New_York) has patient M1, born 1958-04-02. The messages' specimens
were collected 2026-12-02 06:40 (no offset: the site's local time); they arrive at 08:00.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import hl7
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tarla.adapters import hl7v2
from tarla.domain import lab_interface as li
from tarla.domain.errors import InvalidInput
from tarla.services import admin, clinical, labs_in
from tarla.services.errors import Conflict, Forbidden, NotFound
from tarla.services.fakes import FakeStore, FakeUnitOfWork
from tarla.services.scope import OPERATOR, Scope

DATA = Path(__file__).resolve().parents[1] / "data" / "hl7"
ZONE = ZoneInfo("America/New_York")
ARRIVED = datetime(2026, 12, 2, 8, 0, tzinfo=ZONE)
COLLECTED = datetime(2026, 12, 2, 6, 40, tzinfo=ZONE)


def message(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


@pytest.fixture
def store() -> FakeStore:
    s = FakeStore()
    setup = ARRIVED - timedelta(days=30)
    for code in ("NYC", "BOS"):
        admin.create_site(FakeUnitOfWork(s), code=code, name=code, timezone="America/New_York",
                          now=setup)
    for name, roles, site in (("rn", ["nurse"], "NYC"), ("dr", ["physician"], "NYC"),
                              ("rph", ["pharmacist"], "NYC"), ("rn.bos", ["nurse"], "BOS"),
                              ("sched", ["scheduler"], "NYC")):
        admin.create_user(FakeUnitOfWork(s), username=name, display_name=name, roles=roles,
                          now=setup, site_code=site)
    clinical.enrol_patient(FakeUnitOfWork(s), site_code="NYC", mrn="M1", family_name="Doe",
                           given_name="Jane", birth_date=date(1958, 4, 2), diagnosis="ES-SCLC",
                           progressed_after_platinum=True, start_date=date(2026, 12, 2),
                           actor="dr", now=setup)
    return s


def receive(store: FakeStore, raw: str, site: str = "NYC",
            at: datetime = ARRIVED) -> labs_in.Ack:
    return labs_in.receive_hl7(FakeUnitOfWork(store), site_code=site, raw=raw, received_at=at)


def labs(store: FakeStore) -> list[object]:
    return list(store.tables["labs"].rows.values())


def rows(store: FakeStore, table: str) -> list[object]:
    return list(store.tables.get(table).rows.values()) if table in store.tables else []


def msa(ack: labs_in.Ack) -> list[str]:
    parsed = hl7.parse(ack.message)
    return [str(parsed.extract_field("MSA", 1, i, 1, 1)) for i in (1, 2, 3)]


def panel_for_m1(control: str = "LAB0100") -> str:
    return (message("oru_panel.hl7").replace("LAB0001", control)
            .replace("MRN100016^^^MAINLAB^MR||Dubois^Omar|||M",
                     "M1^^^MAINLAB^MR||Doe^Jane||19580402|F"))


# ----------------------------------------------------------------------------- applied


def test_a_panel_for_a_known_patient_is_charted_through_lab_entry_and_acknowledged_aa(
        store: FakeStore) -> None:
    ack = receive(store, panel_for_m1())
    assert ack.code == "AA" and ack.status == "applied"
    assert msa(ack) == ["AA", "LAB0100", "6 result(s) charted"]
    charted = {x.test: (x.value, x.unit, x.lln, x.uln, x.ctcae_grade) for x in labs(store)}
    assert charted == {
        "ANC": (3.2, "10*9/L", 1.8, 7.7, 0), "platelets": (250.0, "10*9/L", 150.0, 400.0, 0),
        "hemoglobin": (13.5, "g/dL", 12.0, 16.0, 0), "ALT": (25.0, "U/L", None, 40.0, 0),
        "AST": (22.0, "U/L", None, 40.0, 0), "bilirubin": (0.8, "mg/dL", 0.2, 1.2, 0)}
    assert {x.collected_at for x in labs(store)} == {COLLECTED}
    author = store.tables["users"].rows[labs(store)[0].charted_by]
    assert author.username == "lab-interface.nyc" and author.password_hash is None
    assert not author.roles
    (stored,) = rows(store, "interface_messages")
    assert stored.raw == panel_for_m1() and stored.ack == ack.message
    assert sorted(stored.lab_ids) == sorted(x.id for x in labs(store))
    actions = [e.action for e in store.audit]
    assert "lab.record_panel" in actions and actions[-1] == "interface.message"


def test_the_ack_swaps_sender_and_receiver_and_carries_the_arrival_time(
        store: FakeStore) -> None:
    ack = receive(store, panel_for_m1())
    msh = hl7.parse(ack.message).segment("MSH")
    assert [str(msh(i)) for i in (3, 4, 5, 6)] == ["TARLA", "NYC", "LABSYS", "MAINLAB"]
    assert str(msh(9)) == "ACK^R01^ACK" and str(msh(7)) == "20261202080000-0500"


def test_a_repeated_control_id_returns_the_first_ack_and_writes_nothing(
        store: FakeStore) -> None:
    first = receive(store, panel_for_m1())
    before = (len(labs(store)), len(rows(store, "interface_messages")), len(store.audit))
    again = receive(store, panel_for_m1(), at=ARRIVED + timedelta(minutes=5))
    assert again.replayed and again.message == first.message and again.code == "AA"
    assert (len(labs(store)), len(rows(store, "interface_messages")),
            len(store.audit)) == before


def test_a_repeat_of_a_refused_message_returns_the_same_refusal(store: FakeStore) -> None:
    first = receive(store, message("oru_wrong_unit.hl7"))
    again = receive(store, message("oru_wrong_unit.hl7"))
    assert again.replayed and again.message == first.message
    assert len(rows(store, "interface_messages")) == 1


# ----------------------------------------------------------------------------- refused


def test_an_impossible_value_is_refused_ae_naming_the_obx_and_nothing_is_charted(
        store: FakeStore) -> None:
    ack = receive(store, message("oru_impossible_value.hl7"))
    assert ack.code == "AE" and ack.status == "refused"
    assert ack.field == "OBX[1]-5" and "-1.5 is negative" in (ack.reason or "")
    assert labs(store) == []
    (stored,) = rows(store, "interface_messages")
    assert stored.raw == message("oru_impossible_value.hl7") and stored.status == "refused"
    err = hl7.parse(ack.message).segment("ERR")
    assert str(err(2)) == "OBX^1^5" and str(err(3)(1)(1)) == "102" and str(err(4)) == "E"


def test_a_unit_the_grader_does_not_accept_is_refused_ae_listing_the_accepted_units(
        store: FakeStore) -> None:
    ack = receive(store, message("oru_wrong_unit.hl7"))
    assert ack.code == "AE" and ack.field == "OBX[3]-6"
    assert "'%' is not a unit for hemoglobin" in (ack.reason or "")
    assert "g/dL" in (ack.reason or "") and labs(store) == []
    assert msa(ack)[0] == "AE" and "OBX[3]-6" in msa(ack)[2]


def test_a_message_that_is_not_an_oru_r01_is_rejected_ar_and_kept(store: FakeStore) -> None:
    ack = receive(store, message("malformed_msh_type.hl7"))
    assert ack.code == "AR" and ack.field == "MSH-9" and "ADT is not ORU" in (ack.reason or "")
    (stored,) = rows(store, "interface_messages")
    assert stored.control_id == "LAB0006" and stored.ack_code == "AR"


def test_a_header_without_its_version_is_rejected_ar_naming_msh_12(store: FakeStore) -> None:
    ack = receive(store, message("malformed_msh_no_version.hl7"))
    assert (ack.code, ack.field) == ("AR", "MSH-12") and labs(store) == []


def test_text_that_is_not_hl7_is_rejected_ar_without_a_control_id_and_still_kept(
        store: FakeStore) -> None:
    ack = receive(store, message("not_hl7.txt"))
    assert ack.code == "AR" and ack.control_id is None and ack.field == "MSH"
    assert msa(ack)[0] == "AR"
    (stored,) = rows(store, "interface_messages")
    assert stored.raw == message("not_hl7.txt")


def test_a_preliminary_result_is_refused_because_a_dose_never_rests_on_it(
        store: FakeStore) -> None:
    raw = panel_for_m1().replace("150-400|N|||F", "150-400|N|||P")
    ack = receive(store, raw)
    assert (ack.code, ack.field) == ("AE", "OBX[2]-11") and labs(store) == []


def test_a_collection_time_after_the_arrival_is_refused_naming_obr_7(store: FakeStore) -> None:
    ack = receive(store, panel_for_m1(), at=datetime(2026, 12, 2, 6, 0, tzinfo=ZONE))
    assert (ack.code, ack.field) == ("AE", "OBR-7") and "in the future" in (ack.reason or "")


def test_the_reason_is_escaped_so_the_ack_stays_one_readable_message(store: FakeStore) -> None:
    raw = panel_for_m1().replace("|13.5|g/dL^", "|13.5|g|dL^")
    ack = receive(store, raw)
    assert ack.code == "AE"
    assert len(hl7.parse(ack.message).segment("MSA")) == 4  # MSA, 1, 2, 3: nothing split


# ----------------------------------------------------------------------------- work queue


def test_an_unmatched_mrn_goes_to_the_work_queue_with_ae_and_nothing_charted(
        store: FakeStore) -> None:
    ack = receive(store, message("oru_unmatched_mrn.hl7"))
    assert (ack.code, ack.status, ack.field) == ("AE", "queued", "PID-3")
    assert "no patient with MRN MRN999999" in (ack.reason or "") and labs(store) == []
    (item,) = labs_in.work_queue(FakeUnitOfWork(store), site_code="NYC", viewer=OPERATOR)
    assert item.item.kind == "unmatched_patient" and item.mrn == "MRN999999"
    assert item.item.id == ack.queue_item_id


def test_a_date_of_birth_that_differs_from_the_record_is_not_a_match(store: FakeStore) -> None:
    ack = receive(store, panel_for_m1().replace("19580402", "19580403"))
    assert (ack.status, ack.field) == ("queued", "PID-7") and labs(store) == []


def test_an_unknown_loinc_code_queues_the_whole_message(store: FakeStore) -> None:
    ack = receive(store, message("oru_unknown_loinc.hl7"))
    assert (ack.code, ack.status, ack.field) == ("AE", "queued", "OBX[7]-3")
    assert "2345-7" in (ack.reason or "") and labs(store) == []
    (item,) = labs_in.work_queue(FakeUnitOfWork(store), site_code="NYC", viewer=OPERATOR)
    assert item.item.codes == ["2345-7"]


def test_a_nurse_applies_a_queued_message_mapping_the_unknown_code_for_it_only(
        store: FakeStore) -> None:
    ack = receive(store, message("oru_unknown_loinc.hl7"))
    done = labs_in.apply_item(FakeUnitOfWork(store), item_id=ack.queue_item_id, actor="rn",
                              now=ARRIVED + timedelta(minutes=10), codes={"2345-7": None})
    assert done.item.status == "applied" and done.item.resolved_by is not None
    assert "2345-7 -> not charted" in (done.item.resolution or "")
    assert len(labs(store)) == 6
    assert {store.tables["users"].rows[x.charted_by].username for x in labs(store)} == {"rn"}
    (stored,) = rows(store, "interface_messages")
    assert stored.status == "applied" and len(stored.lab_ids) == 6
    assert store.audit[-1].action == "lab_queue.apply"
    assert labs_in.work_queue(FakeUnitOfWork(store), site_code="NYC", viewer=OPERATOR) == []


def test_applying_without_mapping_every_unknown_code_is_refused_and_writes_nothing(
        store: FakeStore) -> None:
    ack = receive(store, message("oru_unknown_loinc.hl7"))
    with pytest.raises(InvalidInput, match="2345-7"):
        labs_in.apply_item(FakeUnitOfWork(store), item_id=ack.queue_item_id, actor="rn",
                           now=ARRIVED)
    assert labs(store) == []


def test_a_nurse_matches_an_unmatched_message_to_a_patient_of_the_site(
        store: FakeStore) -> None:
    ack = receive(store, message("oru_unmatched_mrn.hl7"))
    pid = store.tables["patients"].where(mrn="M1")[0].id
    done = labs_in.apply_item(FakeUnitOfWork(store), item_id=ack.queue_item_id, actor="rn",
                              now=ARRIVED + timedelta(minutes=1), patient_id=pid)
    assert done.item.patient_id == pid and len(labs(store)) == 6


def test_an_item_applied_once_cannot_be_applied_again(store: FakeStore) -> None:
    ack = receive(store, message("oru_unknown_loinc.hl7"))
    labs_in.apply_item(FakeUnitOfWork(store), item_id=ack.queue_item_id, actor="rn",
                       now=ARRIVED, codes={"2345-7": None})
    with pytest.raises(Conflict, match="already applied"):
        labs_in.apply_item(FakeUnitOfWork(store), item_id=ack.queue_item_id, actor="rn",
                           now=ARRIVED, codes={"2345-7": None})
    assert len(labs(store)) == 6


def test_dismissing_needs_a_reason_and_keeps_it(store: FakeStore) -> None:
    ack = receive(store, message("oru_unmatched_mrn.hl7"))
    with pytest.raises(InvalidInput, match="reason"):
        labs_in.dismiss_item(FakeUnitOfWork(store), item_id=ack.queue_item_id, actor="rn",
                             reason=" ", now=ARRIVED)
    done = labs_in.dismiss_item(FakeUnitOfWork(store), item_id=ack.queue_item_id, actor="rn",
                                reason="not our patient: sent to the wrong centre",
                                now=ARRIVED)
    assert (done.item.status, done.item.resolution) == (
        "dismissed", "not our patient: sent to the wrong centre")
    assert store.audit[-1].action == "lab_queue.dismiss" and labs(store) == []


def test_another_sites_nurse_sees_the_item_as_missing(store: FakeStore) -> None:
    ack = receive(store, message("oru_unmatched_mrn.hl7"))
    with pytest.raises(NotFound, match="no work-queue item"):
        labs_in.dismiss_item(FakeUnitOfWork(store), item_id=ack.queue_item_id,
                             actor="rn.bos", reason="x", now=ARRIVED)
    bos = store.tables["sites"].where(code="BOS")[0].id
    with pytest.raises(NotFound):
        labs_in.queue_entry(FakeUnitOfWork(store), item_id=ack.queue_item_id,
                            viewer=Scope(bos))


def test_a_scheduler_may_not_resolve_the_queue(store: FakeStore) -> None:
    ack = receive(store, message("oru_unmatched_mrn.hl7"))
    with pytest.raises(Forbidden):
        labs_in.dismiss_item(FakeUnitOfWork(store), item_id=ack.queue_item_id,
                             actor="sched", reason="x", now=ARRIVED)


# ----------------------------------------------------------------------------- LOINC table


def test_a_site_maps_a_code_and_the_next_message_with_it_is_charted(store: FakeStore) -> None:
    labs_in.set_loinc(FakeUnitOfWork(store), site_code="NYC", loinc="2345-7", test=None,
                      actor="rph", now=ARRIVED)
    ack = receive(store, message("oru_unknown_loinc.hl7").replace("19580402", "19580402"))
    assert ack.code == "AA" and "not charted by site policy: 2345-7" in (ack.reason or "")
    entries = labs_in.loinc_entries(FakeUnitOfWork(store), site_code="NYC", viewer=OPERATOR)
    assert [(e.loinc, e.test, e.source) for e in entries if e.loinc == "2345-7"] == [
        ("2345-7", None, "site")]


def test_the_seeded_table_maps_every_graded_test(store: FakeStore) -> None:
    entries = labs_in.loinc_entries(FakeUnitOfWork(store), site_code="NYC", viewer=OPERATOR)
    assert {e.test for e in entries} == set(li.TESTS)
    assert {e.tag for e in entries} == {"UNVERIFIED"}
    assert ("718-7", "hemoglobin") in {(e.loinc, e.test) for e in entries}


def test_a_nurse_may_not_edit_the_loinc_table_and_a_bad_code_names_the_field(
        store: FakeStore) -> None:
    with pytest.raises(Forbidden):
        labs_in.set_loinc(FakeUnitOfWork(store), site_code="NYC", loinc="2345-7",
                          test="sodium", actor="rn", now=ARRIVED)
    with pytest.raises(InvalidInput, match="loinc"):
        labs_in.set_loinc(FakeUnitOfWork(store), site_code="NYC", loinc="glucose",
                          test="sodium", actor="rph", now=ARRIVED)
    with pytest.raises(InvalidInput, match="not a test"):
        labs_in.set_loinc(FakeUnitOfWork(store), site_code="NYC", loinc="2345-7",
                          test="glucose", actor="rph", now=ARRIVED)


def test_resetting_a_site_row_brings_back_the_seeded_mapping(store: FakeStore) -> None:
    labs_in.set_loinc(FakeUnitOfWork(store), site_code="NYC", loinc="751-8", test=None,
                      actor="dr", now=ARRIVED)
    labs_in.reset_loinc(FakeUnitOfWork(store), site_code="NYC", loinc="751-8", actor="dr",
                        now=ARRIVED)
    entries = labs_in.loinc_entries(FakeUnitOfWork(store), site_code="NYC", viewer=OPERATOR)
    assert ("751-8", "ANC", "seed") in {(e.loinc, e.test, e.source) for e in entries}


# ----------------------------------------------------------------------------- parsing


def test_a_file_of_two_messages_splits_into_two(store: FakeStore) -> None:
    parts = hl7v2.split_messages(message("two_messages.hl7"))
    assert [hl7v2.parse_oru(p).control_id for p in parts] == ["LAB0011", "LAB0012"]


def test_reference_ranges_give_the_limits_the_grader_reads() -> None:
    assert li.reference_limits("3.5-11.0", "r") == (3.5, 11.0)
    assert li.reference_limits("0-40", "r") == (None, 40.0)
    assert li.reference_limits("<1.2", "r") == (None, 1.2)
    assert li.reference_limits(">150", "r") == (150.0, None)
    assert li.reference_limits("", "r") == (None, None)
    with pytest.raises(InvalidInput, match="not low-high"):
        li.reference_limits("normal", "OBX[1]-7")


def test_an_oru_with_the_mrn_in_a_second_identifier_reads_the_one_typed_mr() -> None:
    raw = panel_for_m1().replace("M1^^^MAINLAB^MR", "X9^^^INS^PN~M1^^^MAINLAB^MR")
    assert hl7v2.parse_oru(raw).mrn == "M1"


# ----------------------------------------------------------------------------- FHIR R4


def observation(**changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "resourceType": "Observation", "status": "final",
        "identifier": [{"system": "urn:lab:results", "value": "R-1"}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "751-8"}]},
        "subject": {"identifier": {"value": "M1"}},
        "effectiveDateTime": "2026-12-02T06:40:00-05:00",
        "valueQuantity": {"value": 0.9, "unit": "10*9/L", "system": "http://unitsofmeasure.org",
                          "code": "10*9/L"},
        "referenceRange": [{"low": {"value": 1.8}, "high": {"value": 7.7}}]}
    body.update(changes)
    return body


def fhir(store: FakeStore, body: dict[str, object]) -> labs_in.FhirResult:
    nyc = store.tables["sites"].where(code="NYC")[0].id
    return labs_in.receive_fhir_observation(FakeUnitOfWork(store), site_id=nyc, body=body,
                                            received_at=ARRIVED, interface_name="lab")


def test_a_fhir_observation_is_charted_with_its_grade_and_a_repeat_writes_nothing(
        store: FakeStore) -> None:
    first = fhir(store, observation())
    assert first.status == "created" and len(first.lab_ids) == 1
    (lab,) = labs(store)
    assert (lab.test, lab.value, lab.unit, lab.lln, lab.ctcae_grade) == (
        "ANC", 0.9, "10*9/L", 1.8, 3)  # CTCAE v5.0: ANC < 1.0 - 0.5 x 10^9/L is grade 3
    again = fhir(store, observation())
    assert again.replayed and again.lab_ids == first.lab_ids and len(labs(store)) == 1


def test_a_fhir_body_the_model_refuses_is_kept_and_refused_naming_the_element(
        store: FakeStore) -> None:
    result = fhir(store, observation(valueQuantity={"value": "lots"}))
    assert result.status == "refused" and result.field == "valueQuantity.value"
    assert labs(store) == []
    (stored,) = rows(store, "interface_messages")
    assert '"lots"' in stored.raw and stored.status == "refused"


def test_a_fhir_observation_for_an_unknown_mrn_waits_in_the_work_queue(
        store: FakeStore) -> None:
    result = fhir(store, observation(subject={"identifier": {"value": "NOPE"}}))
    assert result.status == "queued" and result.field == "subject"
    assert result.queue_item_id is not None and labs(store) == []


def test_a_queued_fhir_observation_is_applied_by_a_nurse_to_the_patient_they_name(
        store: FakeStore) -> None:
    result = fhir(store, observation(subject={"identifier": {"value": "NOPE"}}))
    done = labs_in.apply_item(FakeUnitOfWork(store), item_id=result.queue_item_id, actor="rn",
                              now=ARRIVED, patient_mrn="M1")
    assert done.item.status == "applied"
    (lab,) = labs(store)
    assert (lab.test, lab.value, lab.collected_at) == ("ANC", 0.9, COLLECTED)


def test_a_collection_date_without_a_time_of_day_is_rejected(store: FakeStore) -> None:
    ack = receive(store, panel_for_m1().replace("|||20261202064000", "|||20261202"))
    assert (ack.code, ack.field) == ("AR", "OBR-7") and labs(store) == []


_OBX_VALUES = ["3.2", "250", "13.5", "25", "22", "0.8"]


@settings(max_examples=30, deadline=None)
@given(index=st.integers(min_value=0, max_value=5),
       bad=st.sampled_from(["-1", "abc", "<0.1", "", "1e400x"]))
def test_one_bad_result_refuses_the_whole_message_and_charts_nothing(index: int,
                                                                      bad: str) -> None:
    s = FakeStore()
    admin.create_site(FakeUnitOfWork(s), code="NYC", name="NYC", timezone="America/New_York",
                      now=ARRIVED - timedelta(days=30))
    admin.create_user(FakeUnitOfWork(s), username="dr", display_name="dr",
                      roles=["physician"], now=ARRIVED - timedelta(days=30), site_code="NYC")
    clinical.enrol_patient(FakeUnitOfWork(s), site_code="NYC", mrn="M1", family_name="Doe",
                           given_name="Jane", birth_date=date(1958, 4, 2), diagnosis="ES-SCLC",
                           progressed_after_platinum=True, start_date=date(2026, 12, 2),
                           actor="dr", now=ARRIVED - timedelta(days=30))
    lines = panel_for_m1().split("\n")
    obx = [i for i, line in enumerate(lines) if line.startswith("OBX|")][index]
    fields = lines[obx].split("|")
    assert fields[5] == _OBX_VALUES[index]
    fields[5] = bad
    lines[obx] = "|".join(fields)
    ack = receive(s, "\n".join(lines))
    assert ack.code == "AE" and ack.field == f"OBX[{index + 1}]-5"
    assert list(s.tables["labs"].rows.values()) == []
    assert [m.status for m in rows(s, "interface_messages")] == ["refused"]
