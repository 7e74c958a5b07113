"""The pharmacy recipe (label-facts §4), worked by hand from the label tables."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tarla.domain.errors import InvalidInput
from tarla.domain.preparation import plan_preparation
from tarla.label import all_rules
from tarla.label import preparation as prep
from tarla.label.rows import Provenance


@pytest.mark.parametrize(
    ("dose", "ndc", "water", "conc", "drug", "withdraw", "ivss", "final"),
    [
        (1, "55513-059-01", "1.3", "0.9", "1.1", "14", "13", "250.1"),
        (10, "55513-077-01", "4.4", "2.4", "4.2", "17", "13", "250.2"),
    ],
)
def test_recipe_for_each_dose_matches_the_label_table(dose, ndc, water, conc, drug, withdraw,
                                                      ivss, final):
    plan = plan_preparation(dose)
    assert plan.product.strength_mg == dose
    assert plan.product.ndc10 == ndc
    assert plan.recipe.sterile_water_ml == Decimal(water)
    assert plan.recipe.concentration_mg_per_ml == Decimal(conc)
    assert plan.recipe.drug_ml == Decimal(drug)
    assert plan.recipe.saline_bag_ml == 250
    assert plan.recipe.withdraw_saline_ml == Decimal(withdraw)
    assert plan.recipe.ivss_ml == Decimal(ivss)
    assert plan.final_volume_ml == Decimal(final)
    assert plan.infusion.minutes == 60
    assert plan.infusion.rate_ml_per_h == 250


def test_nominal_final_volume_is_derived_and_the_recipe_is_seed():
    plan = plan_preparation(1)
    assert plan.recipe.tag is Provenance.SEED
    assert plan.final_volume.tag is Provenance.DERIVED
    assert "250 - 14 + 13 + 1.1 = 250.1 mL" in plan.final_volume.text


def test_final_concentration_is_the_dose_over_the_nominal_volume():
    assert plan_preparation(1).final_concentration_mg_per_ml == Decimal(1) / Decimal("250.1")
    assert plan_preparation(10).final_concentration_mg_per_ml == Decimal(10) / Decimal("250.2")


def test_the_two_strengths_differ_at_every_step_except_the_ivss_volume():
    one, ten = prep.recipe_for_strength(1), prep.recipe_for_strength(10)
    assert one.sterile_water_ml != ten.sterile_water_ml
    assert one.concentration_mg_per_ml != ten.concentration_mg_per_ml
    assert one.drug_ml != ten.drug_ml
    assert one.withdraw_saline_ml != ten.withdraw_saline_ml
    assert one.ivss_ml == ten.ivss_ml == Decimal("13")


def test_steps_come_in_the_label_order_with_the_volumes_of_the_1_mg_dose():
    steps = plan_preparation(1).steps
    assert [s.citation.rule for s in steps] == [
        "PREP-STEP-WATER", "PREP-STEP-SWIRL", "PREP-STEP-INSPECT", "PREP-STEP-WITHDRAW",
        "PREP-STEP-IVSS", "PREP-STEP-DRUG", "PREP-STEP-AIR", "PREP-STEP-PRIME"]
    assert [s.volume_ml for s in steps] == [
        Decimal("1.3"), None, None, Decimal("14"), Decimal("13"), Decimal("1.1"), None, None]
    assert [s.order for s in steps] == list(range(1, 9))


def test_step_texts_say_glass_wall_swirl_inspect_and_prime():
    texts = [s.instruction for s in plan_preparation(10).steps]
    assert "against the glass wall" in texts[0] and texts[0].startswith("4.4 mL")
    assert "swirl" in texts[1] and "Do not shake" in texts[1]
    assert "clear to slightly opalescent" in texts[2]
    assert "colourless to slightly yellow" in texts[2]
    assert texts[3].startswith("17 mL") and "withdraw" in texts[3]
    assert texts[4].startswith("13 mL") and "two 7 mL vials" in texts[4]
    assert texts[5].startswith("4.2 mL") and "already contains the IVSS" in texts[5]
    assert "empty syringe" in texts[6]
    assert "0.9% Sodium Chloride" in texts[7] and "final prepared product" in texts[7]


def test_ivss_goes_into_the_bag_before_the_drug():
    steps = {s.citation.rule: s.order for s in plan_preparation(1).steps}
    assert steps["PREP-STEP-WITHDRAW"] < steps["PREP-STEP-IVSS"] < steps["PREP-STEP-DRUG"]
    assert steps["PREP-STEP-DRUG"] < steps["PREP-STEP-AIR"] < steps["PREP-STEP-PRIME"]


def test_warnings_forbid_ivss_reconstitution_and_advise_against_cstd():
    rules = {w.rule for w in plan_preparation(10).warnings}
    assert rules == {"PREP-NO-IVSS-RECONSTITUTION", "PREP-NO-CSTD",
                     "PREP-DIFFERENT-CONCENTRATIONS"}
    assert "Never reconstitute" in prep.NEVER_RECONSTITUTE_WITH_IVSS.text
    assert "not recommended" in prep.CSTD_NOT_RECOMMENDED.text


def test_compatible_bag_and_line_materials():
    plan = plan_preparation(1)
    assert plan.bag_materials.materials == ("EVA", "polyolefin", "PVC")
    assert plan.line_materials.materials == ("polyolefin", "PVC", "polyurethane")


def test_time_limits_are_4_h_to_dilute_8_h_at_room_temperature_and_7_days_refrigerated():
    assert prep.DILUTE_WITHIN.limit is not None and prep.DILUTE_WITHIN.limit.total_seconds() == 4 * 3600
    assert prep.ROOM_TEMPERATURE_LIMIT.limit is not None
    assert prep.ROOM_TEMPERATURE_LIMIT.limit.total_seconds() == 8 * 3600
    assert (prep.ROOM_TEMPERATURE_LIMIT.min_c, prep.ROOM_TEMPERATURE_LIMIT.max_c) == (20, 25)
    assert prep.REFRIGERATED_LIMIT.limit is not None
    assert prep.REFRIGERATED_LIMIT.limit.days == 7
    assert (prep.REFRIGERATED_LIMIT.min_c, prep.REFRIGERATED_LIMIT.max_c) == (2, 8)
    assert prep.NO_RE_REFRIGERATION.limit is None


@pytest.mark.parametrize("dose", [0, 5, 2, -1, 100, True])
def test_a_dose_other_than_1_or_10_mg_is_refused_naming_the_field(dose):
    with pytest.raises(InvalidInput) as err:
        plan_preparation(dose)
    assert err.value.field == "dose_mg"
    assert "is not a tarlatamab dose (1 or 10)" in err.value.message


def test_every_preparation_row_is_cited_with_a_unique_id_a_tag_and_text():
    ids = [row.rule_id for row in prep.ALL_ROWS]
    assert len(ids) == len(set(ids))
    for row in prep.ALL_ROWS:
        assert isinstance(row.tag, Provenance)
        assert row.text.strip()
    assert set(ids) <= {row.rule_id for row in all_rules()}


def test_the_only_unverified_preparation_rows_are_the_intact_excursion_reading_and_the_bench_tolerance():
    unverified = [row.rule_id for row in prep.ALL_ROWS if row.tag is Provenance.UNVERIFIED]
    assert unverified == ["PREP-INTACT-CUMULATIVE", "PREP-BENCH-TOLERANCE"]


def test_a_preparation_plan_relies_on_no_unverified_rule():
    plan = plan_preparation(10)
    assert plan.unverified is False
    assert {"P-10MG", "PREP-RECIPE-10MG", "PREP-VOLUME-10MG", "T1-INFUSION"} <= {
        c.rule for c in plan.reasons}
