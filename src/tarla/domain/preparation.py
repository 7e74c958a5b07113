"""The pharmacy recipe for one dose: which vial, what volumes, in which order.

Everything comes from :mod:`tarla.label.preparation` (label-facts §4) and
:mod:`tarla.label.products` (§2); this module only selects the column of the ordered dose and
fills the volumes into the ordered steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType

from tarla.domain.errors import InvalidInput
from tarla.label import preparation as prep
from tarla.label.products import DOSES_MG, Product, product_for_strength
from tarla.label.rows import Citation, cite
from tarla.label.schedule import INFUSION, Infusion

__all__ = ["RecipeStep", "PreparationPlan", "plan_preparation", "check_dose"]


@dataclass(frozen=True, slots=True)
class RecipeStep:
    """One step of the recipe with the volume of this dose filled in."""

    order: int
    stage: prep.Stage
    instruction: str
    volume_ml: Decimal | None
    citation: Citation


@dataclass(frozen=True, slots=True)
class PreparationPlan:
    dose_mg: int
    product: Product
    recipe: prep.Recipe
    final_volume: prep.FinalVolume
    infusion: Infusion
    steps: tuple[RecipeStep, ...]
    bag_materials: prep.Materials
    line_materials: prep.Materials
    warnings: tuple[Citation, ...]
    time_limits: tuple[prep.TimeLimit, ...]
    reasons: tuple[Citation, ...]

    @property
    def final_volume_ml(self) -> Decimal:
        return self.final_volume.final_volume_ml

    @property
    def final_concentration_mg_per_ml(self) -> Decimal:
        """Nominal concentration in the bag (dose / nominal final volume): DERIVED."""
        return Decimal(self.dose_mg) / self.final_volume.final_volume_ml

    @property
    def unverified(self) -> bool:
        return any(c.unverified for c in self.reasons)


def check_dose(dose_mg: object, field: str = "dose_mg") -> int:
    """The dose as an int if it is a tarlatamab dose, else :class:`InvalidInput`."""
    if isinstance(dose_mg, bool) or not isinstance(dose_mg, int) or dose_mg not in DOSES_MG:
        doses = " or ".join(str(d) for d in DOSES_MG)
        raise InvalidInput(field, f"{dose_mg} is not a tarlatamab dose ({doses})")
    return dose_mg


_AMOUNT_NAMES = MappingProxyType({
    prep.Amount.STERILE_WATER: "Sterile Water for Injection",
    prep.Amount.WITHDRAW_SALINE: "of 0.9% sodium chloride to withdraw",
    prep.Amount.IVSS: "IVSS",
    prep.Amount.DRUG: "reconstituted drug",
})


def _volume(recipe: prep.Recipe, amount: prep.Amount | None) -> Decimal | None:
    match amount:
        case prep.Amount.STERILE_WATER:
            return recipe.sterile_water_ml
        case prep.Amount.WITHDRAW_SALINE:
            return recipe.withdraw_saline_ml
        case prep.Amount.IVSS:
            return recipe.ivss_ml
        case prep.Amount.DRUG:
            return recipe.drug_ml
        case None:
            return None


def _step(step: prep.PreparationStep, recipe: prep.Recipe) -> RecipeStep:
    volume = _volume(recipe, step.amount)
    instruction = (step.text if volume is None or step.amount is None
                   else f"{volume} mL {_AMOUNT_NAMES[step.amount]}: {step.text}")
    return RecipeStep(step.order, step.stage, instruction, volume, cite(step))


def plan_preparation(dose_mg: int) -> PreparationPlan:
    """The recipe for ``dose_mg`` (1 or 10): the vial of that strength and its column."""
    dose = check_dose(dose_mg)
    product = product_for_strength(dose)
    recipe = prep.recipe_for_strength(dose)
    volume = prep.final_volume_for_strength(dose)
    steps = tuple(_step(s, recipe) for s in sorted(prep.STEPS, key=lambda s: s.order))
    warnings = tuple(cite(r) for r in (prep.DIFFERENT_CONCENTRATIONS,
                                       prep.NEVER_RECONSTITUTE_WITH_IVSS,
                                       prep.CSTD_NOT_RECOMMENDED))
    reasons = (cite(product), cite(recipe), cite(volume), cite(INFUSION),
               *(s.citation for s in steps), *warnings,
               cite(prep.BAG_MATERIALS), cite(prep.LINE_MATERIALS),
               *(cite(t) for t in prep.TIME_LIMITS))
    return PreparationPlan(
        dose_mg=dose, product=product, recipe=recipe, final_volume=volume, infusion=INFUSION,
        steps=steps, bag_materials=prep.BAG_MATERIALS, line_materials=prep.LINE_MATERIALS,
        warnings=warnings, time_limits=prep.TIME_LIMITS, reasons=reasons)
