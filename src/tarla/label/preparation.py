"""Preparation of one dose (pharmacy), the in-use time limits and the scan checks.

Source: label-facts.md §4 "Preparation (pharmacy)" (version US-PI-2025-11), itself from the
seed document (the manufacturer's HCP preparation page, Steps 1-6, "Information on material
compatibility" and the storage bullets after Step 6). Products, NDCs and GTINs are in
:mod:`tarla.label.products`; the 60 min / 250 mL/h infusion is
:data:`tarla.label.schedule.INFUSION`.

Volumes are :class:`~decimal.Decimal` so that the DERIVED final volume (250 - 14 + 13 + 1.1) is
exact. The recipe differs between the two strengths at every step; the scan rules at the end
exist to make the wrong column impossible to miss.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from enum import StrEnum

from tarla.label.rows import Provenance, RuleRow

__all__ = [
    "Recipe", "RECIPES", "FinalVolume", "FINAL_VOLUMES", "recipe_for_strength",
    "final_volume_for_strength",
    "Stage", "Amount", "PreparationStep", "STEPS",
    "Rule", "NEVER_RECONSTITUTE_WITH_IVSS", "DIFFERENT_CONCENTRATIONS", "CSTD_NOT_RECOMMENDED",
    "Materials", "BAG_MATERIALS", "LINE_MATERIALS",
    "TimeLimit", "DILUTE_WITHIN", "ROOM_TEMPERATURE_LIMIT", "REFRIGERATED_LIMIT",
    "INFUSION_WITHIN_ROOM_TIME", "NO_RE_REFRIGERATION", "LATEST_INFUSION_START", "TIME_LIMITS",
    "INTACT_EXCURSION_CUMULATIVE", "Tolerance", "BENCH_TOLERANCE",
    "SCAN_STRENGTH", "SCAN_COMPONENT", "SCAN_EXPIRY", "SCAN_RECALL", "SCAN_UNKNOWN_GTIN",
    "SCAN_RULES", "ALL_ROWS",
]


# ---------------------------------------------------------------------------------------------
# The recipe table (Step 1 and Steps 2-5 tables of the seed page)


@dataclass(frozen=True, slots=True)
class Recipe:
    """One column of the preparation table: everything depends on the vial strength."""

    rule_id: str
    tag: Provenance
    text: str
    strength_mg: int
    sterile_water_ml: Decimal  # Sterile Water for Injection to reconstitute the vial
    concentration_mg_per_ml: Decimal  # after reconstitution
    drug_ml: Decimal  # reconstituted drug added to the bag
    saline_bag_ml: int  # the prefilled 0.9% sodium chloride bag
    withdraw_saline_ml: Decimal  # withdrawn from that bag and discarded
    ivss_ml: Decimal  # IV Solution Stabilizer added to the bag


RECIPES: tuple[Recipe, ...] = (
    Recipe("PREP-RECIPE-1MG", Provenance.SEED,
           "1 mg dose from the 1 mg vial: reconstitute with 1.3 mL Sterile Water for Injection "
           "(0.9 mg/mL); withdraw and discard 14 mL from a 250 mL 0.9% sodium chloride bag; add "
           "13 mL IVSS; add 1.1 mL reconstituted drug",
           strength_mg=1, sterile_water_ml=Decimal("1.3"), concentration_mg_per_ml=Decimal("0.9"),
           drug_ml=Decimal("1.1"), saline_bag_ml=250, withdraw_saline_ml=Decimal("14"),
           ivss_ml=Decimal("13")),
    Recipe("PREP-RECIPE-10MG", Provenance.SEED,
           "10 mg dose from the 10 mg vial: reconstitute with 4.4 mL Sterile Water for Injection "
           "(2.4 mg/mL); withdraw and discard 17 mL from a 250 mL 0.9% sodium chloride bag; add "
           "13 mL IVSS; add 4.2 mL reconstituted drug",
           strength_mg=10, sterile_water_ml=Decimal("4.4"), concentration_mg_per_ml=Decimal("2.4"),
           drug_ml=Decimal("4.2"), saline_bag_ml=250, withdraw_saline_ml=Decimal("17"),
           ivss_ml=Decimal("13")),
)


@dataclass(frozen=True, slots=True)
class FinalVolume:
    """The nominal bag volume, computed from the recipe (not printed on the seed page)."""

    rule_id: str
    tag: Provenance
    text: str
    strength_mg: int
    final_volume_ml: Decimal


def _final_volume(recipe: Recipe) -> FinalVolume:
    volume = recipe.saline_bag_ml - recipe.withdraw_saline_ml + recipe.ivss_ml + recipe.drug_ml
    return FinalVolume(
        f"PREP-VOLUME-{recipe.strength_mg}MG", Provenance.DERIVED,
        f"Nominal final bag volume for the {recipe.strength_mg} mg dose: {recipe.saline_bag_ml} - "
        f"{recipe.withdraw_saline_ml} + {recipe.ivss_ml} + {recipe.drug_ml} = {volume} mL",
        strength_mg=recipe.strength_mg, final_volume_ml=volume)


FINAL_VOLUMES: tuple[FinalVolume, ...] = tuple(_final_volume(r) for r in RECIPES)


def recipe_for_strength(strength_mg: int) -> Recipe:
    for recipe in RECIPES:
        if recipe.strength_mg == strength_mg:
            return recipe
    raise KeyError(strength_mg)


def final_volume_for_strength(strength_mg: int) -> FinalVolume:
    for row in FINAL_VOLUMES:
        if row.strength_mg == strength_mg:
            return row
    raise KeyError(strength_mg)


# ---------------------------------------------------------------------------------------------
# The ordered steps (seed page Steps 1-6)


class Stage(StrEnum):
    VIAL = "vial"  # reconstitution of the drug vial
    BAG = "bag"  # preparation of the infusion bag
    LINE = "line"  # the administration set


class Amount(StrEnum):
    """Which recipe volume a step uses (the value comes from the strength's :class:`Recipe`)."""

    STERILE_WATER = "sterile_water_ml"
    WITHDRAW_SALINE = "withdraw_saline_ml"
    IVSS = "ivss_ml"
    DRUG = "drug_ml"


@dataclass(frozen=True, slots=True)
class PreparationStep:
    rule_id: str
    tag: Provenance
    text: str
    order: int
    stage: Stage
    amount: Amount | None = None


STEPS: tuple[PreparationStep, ...] = (
    PreparationStep("PREP-STEP-WATER", Provenance.SEED,
                    "Reconstitute the vial with preservative-free Sterile Water for Injection: "
                    "inject the water against the glass wall of the vial, not onto the powder, "
                    "to prevent foaming",
                    order=1, stage=Stage.VIAL, amount=Amount.STERILE_WATER),
    PreparationStep("PREP-STEP-SWIRL", Provenance.SEED,
                    "Gently swirl the contents to mix. Do not shake",
                    order=2, stage=Stage.VIAL),
    PreparationStep("PREP-STEP-INSPECT", Provenance.SEED,
                    "Inspect: the solution must be clear to slightly opalescent, colourless to "
                    "slightly yellow. Do not use if it is cloudy or has particles",
                    order=3, stage=Stage.VIAL),
    PreparationStep("PREP-STEP-WITHDRAW", Provenance.SEED,
                    "From a 250 mL prefilled bag of 0.9% Sodium Chloride for Injection, withdraw "
                    "and discard the stated volume",
                    order=4, stage=Stage.BAG, amount=Amount.WITHDRAW_SALINE),
    PreparationStep("PREP-STEP-IVSS", Provenance.SEED,
                    "Add IV Solution Stabilizer (IVSS), taken from the carton's two 7 mL vials, "
                    "to the bag. Gently mix the bag to avoid foaming. Do not shake",
                    order=5, stage=Stage.BAG, amount=Amount.IVSS),
    PreparationStep("PREP-STEP-DRUG", Provenance.SEED,
                    "Add the reconstituted IMDELLTRA to the bag that already contains the IVSS. "
                    "Gently mix the bag to avoid foaming. Do not shake",
                    order=6, stage=Stage.BAG, amount=Amount.DRUG),
    PreparationStep("PREP-STEP-AIR", Provenance.SEED,
                    "Remove air from the bag with an empty syringe to avoid foaming",
                    order=7, stage=Stage.BAG),
    PreparationStep("PREP-STEP-PRIME", Provenance.SEED,
                    "Prime the IV line with 0.9% Sodium Chloride for Injection or with the final "
                    "prepared product",
                    order=8, stage=Stage.LINE),
)


# ---------------------------------------------------------------------------------------------
# Rules and warnings around the steps


@dataclass(frozen=True, slots=True)
class Rule:
    rule_id: str
    tag: Provenance
    text: str


NEVER_RECONSTITUTE_WITH_IVSS = Rule(
    "PREP-NO-IVSS-RECONSTITUTION", Provenance.SEED,
    "Never reconstitute IMDELLTRA with IVSS: use Sterile Water for Injection. IVSS only coats the "
    "bag, before the drug is added, to prevent adsorption of the drug to the bag and tubing")

DIFFERENT_CONCENTRATIONS = Rule(
    "PREP-DIFFERENT-CONCENTRATIONS", Provenance.SEED,
    "The 1 mg and 10 mg vials give different concentrations at every step: use the vial and the "
    "recipe column of the ordered dose")

CSTD_NOT_RECOMMENDED = Rule(
    "PREP-NO-CSTD", Provenance.SEED,
    "Closed system transfer devices (CSTD) are not recommended: risk of a wrong-dose medication "
    "error, and vial-adaptor CSTDs have not been tested with IMDELLTRA")


@dataclass(frozen=True, slots=True)
class Materials:
    rule_id: str
    tag: Provenance
    text: str
    materials: tuple[str, ...]


BAG_MATERIALS = Materials(
    "PREP-BAG-MATERIALS", Provenance.SEED,
    "Compatible IV bags: ethylene vinyl acetate (EVA), polyolefin or polyvinyl chloride (PVC)",
    materials=("EVA", "polyolefin", "PVC"))

LINE_MATERIALS = Materials(
    "PREP-LINE-MATERIALS", Provenance.SEED,
    "Compatible IV lines and catheters: polyolefin, polyvinyl chloride (PVC) or polyurethane",
    materials=("polyolefin", "PVC", "polyurethane"))


# ---------------------------------------------------------------------------------------------
# The in-use clock: every limit counts from the moment of reconstitution


@dataclass(frozen=True, slots=True)
class TimeLimit:
    rule_id: str
    tag: Provenance
    text: str
    limit: timedelta | None  # None for rules without a duration (never re-refrigerate)
    min_c: int | None = None  # storage temperature range the limit applies to
    max_c: int | None = None


DILUTE_WITHIN = TimeLimit(
    "PREP-DILUTE-4H", Provenance.SEED,
    "Dilute the reconstituted vial into the bag within 4 hours of reconstitution, or discard it",
    limit=timedelta(hours=4))

ROOM_TEMPERATURE_LIMIT = TimeLimit(
    "PREP-ROOM-8H", Provenance.SEED,
    "At room temperature (20-25 °C) the preparation may be kept for 8 hours from reconstitution. "
    "Room-temperature time is cumulative (vial stage, preparation, any time out of the "
    "refrigerator, the infusion) and is paused only while the bag is refrigerated",
    limit=timedelta(hours=8), min_c=20, max_c=25)

REFRIGERATED_LIMIT = TimeLimit(
    "PREP-FRIDGE-7D", Provenance.SEED,
    "Refrigerated (2-8 °C) the prepared bag may be kept for 7 days from reconstitution; discard "
    "it after the maximum storage time",
    limit=timedelta(days=7), min_c=2, max_c=8)

INFUSION_WITHIN_ROOM_TIME = TimeLimit(
    "PREP-INFUSE-WITHIN-8H", Provenance.SEED,
    "A refrigerated bag must come to room temperature before use, and the infusion must be "
    "complete within 8 hours of room-temperature time, preparation and infusion included",
    limit=timedelta(hours=8))

NO_RE_REFRIGERATION = TimeLimit(
    "PREP-NO-RE-REFRIGERATION", Provenance.SEED,
    "Do not re-refrigerate a bag that has been taken out of the refrigerator",
    limit=None)

LATEST_INFUSION_START = TimeLimit(
    "PREP-LATEST-START", Provenance.DERIVED,
    "The last safe infusion start is the discard time minus the 1-hour infusion",
    limit=None)

TIME_LIMITS: tuple[TimeLimit, ...] = (
    DILUTE_WITHIN, ROOM_TEMPERATURE_LIMIT, REFRIGERATED_LIMIT, INFUSION_WITHIN_ROOM_TIME,
    NO_RE_REFRIGERATION, LATEST_INFUSION_START,
)

SEQUENCE = Rule(
    "PREP-SEQUENCE", Provenance.SEED,
    "A preparation goes: reconstitute the vial -> dilute it into the bag -> (refrigerate the "
    "bag once, then let it come to room temperature) -> infuse. Only the prepared bag may be "
    "refrigerated, and only once")

#: The label gives the 24 h room-temperature allowance of intact vials (products.INTACT_STORAGE)
#: but not whether several excursions add up or whether a vial may go back into the refrigerator.
INTACT_EXCURSION_CUMULATIVE = Rule(
    "PREP-INTACT-CUMULATIVE", Provenance.UNVERIFIED,
    "Reading: an intact carton's room-temperature time adds up over every excursion out of the "
    "refrigerator; the label does not say whether a carton may go back into the refrigerator")


@dataclass(frozen=True, slots=True)
class Tolerance:
    """How far a volume measured on the bench may be from the recipe volume of its step."""

    rule_id: str
    tag: Provenance
    text: str
    percent: Decimal  # of the recipe volume, either side


#: The label gives the volumes of each step but no tolerance on them: the bench check needs
#: one, so it is a site-policy default that the site signs off (or replaces) like any reading.
BENCH_TOLERANCE = Tolerance(
    "PREP-BENCH-TOLERANCE", Provenance.UNVERIFIED,
    "Site-policy default, not from the label: a volume measured on the bench is accepted within "
    "± 5 % of the recipe volume of its step; outside that the step is refused",
    percent=Decimal("5"))


# ---------------------------------------------------------------------------------------------
# Scan checks before preparation (label-facts §4: the vial barcode must be checked against the
# ordered dose). Expiry, recall and unknown-GTIN checks follow from the GS1 data on the carton
# (standards.md §5.1); they carry no clinical number.

SCAN_STRENGTH = Rule(
    "SCAN-STRENGTH", Provenance.SEED,
    "The scanned package's strength must equal the ordered dose: the two strengths give "
    "different concentrations at every step")

SCAN_COMPONENT = Rule(
    "SCAN-COMPONENT", Provenance.SEED,
    "The scanned item must be the component the step needs: the drug vial for reconstitution, "
    "IVSS only for coating the bag (never for reconstitution)")

SCAN_EXPIRY = Rule(
    "SCAN-EXPIRY", Provenance.DERIVED,
    "A component may be used up to and including its expiry date (GS1 AI 17, day 00 = last day "
    "of the month), compared with the site's local date; the barcode must carry the date")

SCAN_RECALL = Rule(
    "SCAN-RECALL", Provenance.DERIVED,
    "A component whose lot is on the recall list must not be used")

SCAN_UNKNOWN_GTIN = Rule(
    "SCAN-UNKNOWN-GTIN", Provenance.DERIVED,
    "A GTIN that is not in the catalog (label GTINs and site-added inner-vial GTINs) is refused")

SCAN_RULES: tuple[Rule, ...] = (
    SCAN_STRENGTH, SCAN_COMPONENT, SCAN_EXPIRY, SCAN_RECALL, SCAN_UNKNOWN_GTIN,
)


ALL_ROWS: tuple[RuleRow, ...] = (
    *RECIPES, *FINAL_VOLUMES, *STEPS,
    NEVER_RECONSTITUTE_WITH_IVSS, DIFFERENT_CONCENTRATIONS, CSTD_NOT_RECOMMENDED,
    BAG_MATERIALS, LINE_MATERIALS, *TIME_LIMITS, SEQUENCE, INTACT_EXCURSION_CUMULATIVE, *SCAN_RULES,
    BENCH_TOLERANCE,
)
