"""The label as a value (tarla.label.value): the built-in label, its content hash, revision
files and the rule-by-rule comparison of two versions."""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from typing import Any

import pytest

from tarla.domain.errors import InvalidInput
from tarla.label import LABEL_VERSION, all_rules
from tarla.label.rows import Provenance
from tarla.label.value import (
    REVISION_FORMAT,
    Label,
    LabelRow,
    current_label,
    diff,
    label_from_rows,
    load_label_revision,
    revision_base,
)

#: sha256 of the built-in rows. A change to any row of US-PI-2025-11 changes it: a changed
#: label is a new version (a revision file), never an edit in place (label-facts §8). (Changed
#: once, with the same ids, tags, texts and values, when the engine began reading its rows from
#: the label value: see ``_EARLIER_BUILT_IN_HASHES`` in tarla.services.label.)
BUILT_IN_HASH = "080274ae55ca70ed49581e6fab2739980b689312f0108f17c9201ba663dce1b7"
SHIPPED = "US-PI-2026-UNCONFIRMED"
SHIPPED_HASH = "863144d63bac1665e872bfacb1722b02cbb798cc2496ef6d70a68c9e9b7f6b28"
C1_MONITORING = "T1-MON-C1D1-D8"


def shipped_text() -> str:
    return resources.files("tarla.label").joinpath("versions", f"{SHIPPED}.json").read_text(
        encoding="utf-8")


# --------------------------------------------------------------------------- the built-in label


def test_the_built_in_label_is_tarlatamab_us_pi_2025_11_with_its_pinned_hash() -> None:
    label = current_label()
    assert (label.drug, label.version, label.base_version) == ("tarlatamab", "US-PI-2025-11",
                                                               None)
    assert label.content_hash == BUILT_IN_HASH
    assert [(t.name, len(t.rows)) for t in label.tables] == [
        ("products", 4), ("schedule", 8), ("monitoring", 6), ("concomitant", 4), ("labs", 3),
        ("restart", 8), ("eligibility", 3), ("toxicity", 26), ("preparation", 31)]


def test_the_built_in_label_holds_every_cited_row_once_with_its_tag_and_text() -> None:
    label = current_label()
    assert [(r.rule_id, r.tag, r.text) for r in label.rows] == [
        (r.rule_id, r.tag, r.text) for r in all_rules()]


def test_the_hash_is_the_same_on_every_build() -> None:
    assert current_label() == current_label()
    assert current_label().content_hash == current_label().content_hash


def test_each_row_keeps_its_table_specific_fields_as_canonical_json() -> None:
    label = current_label()
    assert dict(label.row(C1_MONITORING).fields) == {
        "anchor": "infusion_start", "days": [1, 8], "first_cycle": 1, "last_cycle": 1,
        "hours_min": 22, "hours_max": 24, "kind": "facility",
        "proximity": {"caregiver": True, "until_hours_from_start": 48, "within_hours": 1}}
    assert label.row("PREP-DILUTE-4H").fields_json == '{"limit":"PT4H","max_c":null,"min_c":null}'
    assert label.row("PREP-FRIDGE-7D").fields_json == '{"limit":"P7D","max_c":8,"min_c":2}'
    assert label.row("PREP-RECIPE-1MG").fields["sterile_water_ml"] == "1.3"  # a Decimal, as text


def test_a_threshold_cited_by_two_tables_is_one_row_with_the_fields_of_both() -> None:
    neut = current_label().row("T7-NEUT")
    assert neut.table == "toxicity"
    assert {k: neut.fields[k] for k in ("event", "test", "withhold_below_e9_per_l",
                                        "resume_at_or_above_e9_per_l")} == {
        "event": "neutropenia", "test": "ANC", "withhold_below_e9_per_l": 0.5,
        "resume_at_or_above_e9_per_l": 0.5}


def test_the_hash_is_sha256_of_the_canonical_rows_sorted_by_rule_id() -> None:
    rows = [LabelRow.of("X-1", Provenance.SEED, "A row", "tbl", {"ok": True, "n": 1}),
            LabelRow.of("A-2", Provenance.UNVERIFIED, "Another", "tbl")]
    label = label_from_rows(drug="tarlatamab", version="V1", source="s", rows=rows)
    canonical = ('[{"fields":{},"rule_id":"A-2","table":"tbl","tag":"UNVERIFIED",'
                 '"text":"Another"},{"fields":{"n":1,"ok":true},"rule_id":"X-1","table":"tbl",'
                 '"tag":"SEED","text":"A row"}]')
    assert label.content_hash == hashlib.sha256(canonical.encode()).hexdigest() == (
        "240215b1ce1686ecc074e1a036a0419348002fbe4865564da631f2f7910101db")
    shuffled = label_from_rows(drug="tarlatamab", version="V2", source="t", rows=rows[::-1])
    assert shuffled.content_hash == label.content_hash  # the rows, not their order or the id


def test_a_label_refuses_a_rule_id_twice() -> None:
    row = LabelRow.of("X-1", Provenance.SEED, "A row", "tbl")
    with pytest.raises(ValueError, match="X-1 appears twice"):
        label_from_rows(drug="tarlatamab", version="V1", source="s", rows=[row, row])


# --------------------------------------------------------------------------- revision files


def revision(rows: list[dict[str, Any]], content_hash: str = "0" * 64, **top: Any) -> str:
    doc: dict[str, Any] = {"format": REVISION_FORMAT, "drug": "tarlatamab",
                           "base_version": LABEL_VERSION, "version": "TEST-REV-1",
                           "source": "a revision made up for the test", "rows": rows,
                           "content_hash": content_hash}
    doc.update(top)
    return json.dumps(doc)


def hash_of(base: Label, rows: list[LabelRow]) -> str:
    return label_from_rows(drug=base.drug, version="X", source="x", rows=rows).content_hash


def test_the_shipped_2026_revision_marks_c1_monitoring_unverified_and_changes_no_number(
) -> None:
    base = current_label()
    assert revision_base(shipped_text()) == "US-PI-2025-11"
    new = load_label_revision(shipped_text(), base)
    assert (new.version, new.base_version, new.content_hash) == (SHIPPED, "US-PI-2025-11",
                                                                 SHIPPED_HASH)
    row = new.row(C1_MONITORING)
    assert row.tag is Provenance.UNVERIFIED
    assert "reportedly shortens" in row.text and "UNCONFIRMED" in row.text
    assert row.fields == base.row(C1_MONITORING).fields  # still 22-24 h: no invented number
    changes = diff(base, new)
    assert (changes.added, changes.removed) == ((), ())
    assert [(c.rule_id, c.changed) for c in changes.changed] == [(C1_MONITORING, ("tag",
                                                                                  "text"))]


def test_a_revision_changes_adds_and_removes_rows_by_rule_id() -> None:
    base = current_label()
    policy = base.row("POLICY-RESTART-C1-CARE")
    changed = LabelRow.of(policy.rule_id, policy.tag, "Restart step-up doses get ordinary care",
                          policy.table, {"default": False})
    added = LabelRow.of("T3-TEST-NOTE", Provenance.UNVERIFIED, "A note made up for the test",
                        "concomitant")
    kept = [changed if r.rule_id == policy.rule_id else r for r in base.rows
            if r.rule_id != "PREP-NO-CSTD"]
    text = revision([
        {"op": "change", "rule_id": policy.rule_id, "tag": "UNVERIFIED",
         "text": "Restart step-up doses get ordinary care", "fields": {"default": False}},
        {"op": "add", "rule_id": "T3-TEST-NOTE", "table": "concomitant", "tag": "UNVERIFIED",
         "text": "A note made up for the test"},
        {"op": "remove", "rule_id": "PREP-NO-CSTD", "tag": "SEED"},
    ], hash_of(base, [*kept, added]))
    new = load_label_revision(text, base)
    assert new.row("T3-TEST-NOTE") == added
    assert new.table_names == base.table_names
    assert [r.rule_id for r in new.tables[3].rows][-1] == "T3-TEST-NOTE"
    changes = diff(base, new)
    assert [r.rule_id for r in changes.added] == ["T3-TEST-NOTE"]
    assert [r.rule_id for r in changes.removed] == ["PREP-NO-CSTD"]
    assert [(c.rule_id, c.changed) for c in changes.changed] == [
        ("POLICY-RESTART-C1-CARE", ("text", "fields.default"))]


def test_comparing_a_version_with_itself_finds_nothing() -> None:
    assert diff(current_label(), current_label()).empty


C1 = {"op": "change", "rule_id": C1_MONITORING, "tag": "UNVERIFIED", "text": "reported change"}


@pytest.mark.parametrize("rows, top, field", [
    ([C1, {**C1, "text": "again"}], {}, "rows[1].rule_id"),  # a rule id twice
    ([{k: v for k, v in C1.items() if k != "tag"}], {}, "rows[0].tag"),  # untagged
    ([{**C1, "tag": ""}], {}, "rows[0].tag"),
    ([{**C1, "tag": "HCP-MAYBE"}], {}, "rows[0].tag"),  # not a provenance tag
    ([{"op": "add", "rule_id": "T9-NEW", "table": "monitoring", "text": "x"}], {},
     "rows[0].tag"),
    ([{"op": "remove", "rule_id": "T9-NOT-THERE"}], {}, "rows[0].rule_id"),
    ([{**C1, "rule_id": "T9-NOT-THERE"}], {}, "rows[0].rule_id"),
    ([{"op": "add", "rule_id": C1_MONITORING, "table": "monitoring", "tag": "SEED",
       "text": "x"}], {}, "rows[0].rule_id"),  # adding a row that exists
    ([{"op": "add", "rule_id": "T9-NEW", "table": "nowhere", "tag": "SEED", "text": "x"}], {},
     "rows[0].table"),
    ([{"op": "remove", "rule_id": "PREP-NO-CSTD", "text": "not its text"}], {},
     "rows[0].text"),
    ([{**C1, "fields": {"hours_mn": 1}}], {}, "rows[0].fields.hours_mn"),
    ([{**C1, "fields": {"hours_min": "22"}}], {}, "rows[0].fields.hours_min"),
    ([{**C1, "text": ""}], {}, "rows[0].text"),
    ([{**C1, "op": "edit"}], {}, "rows[0].op"),
    ([{**C1, "comment": "x"}], {}, "rows[0].comment"),
    ([{"op": "change", "rule_id": "T3-HYDRATION", "tag": "SEED",
       "text": "Make sure the patient is well hydrated before every dose"}], {}, "rows[0]"),
    ([], {}, "rows"),
    ([C1], {"base_version": "US-PI-2024-05"}, "base_version"),
    ([C1], {"base_content_hash": "f" * 64}, "base_content_hash"),
    ([C1], {"version": LABEL_VERSION}, "version"),
    ([C1], {"version": "has spaces"}, "version"),
    ([C1], {"drug": "other"}, "drug"),
    ([C1], {"format": "v0"}, "format"),
    ([C1], {"extra": 1}, "extra"),
    ([C1], {"content_hash": "not a hash"}, "content_hash"),
    ([C1], {}, "content_hash"),  # a well-formed hash of other rows
])
def test_a_revision_with_one_mistake_is_refused_naming_the_key(rows: list[dict[str, Any]],
                                                                top: dict[str, Any],
                                                                field: str) -> None:
    base = current_label()
    with pytest.raises(InvalidInput) as refused:
        load_label_revision(revision(rows, **top), base)
    assert refused.value.field == field
    assert base.content_hash == BUILT_IN_HASH  # the base is a value: nothing of it moved


def test_the_duplicate_rule_id_refusal_names_both_rows() -> None:
    with pytest.raises(InvalidInput) as refused:
        load_label_revision(revision([C1, {"op": "remove", "rule_id": "PREP-NO-CSTD"},
                                      {**C1, "text": "again"}]), current_label())
    assert (refused.value.field, refused.value.message) == (
        "rows[2].rule_id", f"{C1_MONITORING} is listed twice (rows[0] and rows[2])")


def test_a_revision_whose_rows_do_not_match_its_hash_says_which_hash_they_give() -> None:
    text = shipped_text().replace("the first two doses:", "the first two doses;")
    with pytest.raises(InvalidInput) as refused:
        load_label_revision(text, current_label())
    assert refused.value.field == "content_hash"
    assert refused.value.message.endswith(f"the file says {SHIPPED_HASH}: the rows are not the "
                                          "ones the hash was taken of")


@pytest.mark.parametrize("text, field", [("{", "revision"), ("[]", "revision"),
                                         ("{}", "format")])
def test_text_that_is_not_a_revision_file_is_refused(text: str, field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        load_label_revision(text, current_label())
    assert refused.value.field == field


def test_a_file_without_a_base_version_names_none_to_fetch() -> None:
    with pytest.raises(InvalidInput) as refused:
        revision_base('{"format": "tarla-label-revision/1"}')
    assert (refused.value.field, refused.value.message) == ("base_version", "is missing")
