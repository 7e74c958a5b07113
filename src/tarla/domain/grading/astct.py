"""ASTCT 2019 consensus grading of CRS and ICANS, as data.

Standard: Lee DW et al., "ASTCT Consensus Grading for Cytokine Release Syndrome and Neurologic
Toxicity Associated with Immune Effector Cells", Biol Blood Marrow Transplant
2019;25(4):625-638, doi:10.1016/j.bbmt.2018.12.758 — CRS table and adult ICANS table (ages > 12)
with the 10-point ICE score. Transcribed from ``shared/reference/standards.md`` §1 (CRS) and §2
(ICANS, ICE), which cite the faithful reprints PMC8021214 Tab1, PMC9327779 t0002,
PMC8403007 t0004, PMC7990806 Tab2 and PMC8153820 T2.

Every row carries ``source``; the graders in :mod:`.crs` and :mod:`.icans` only read these rows.
The paediatric CAPD variant (standards.md §2.3) is not encoded: IMDELLTRA is adult-only.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

__all__ = [
    "OxygenDevice", "HypotensionSupport", "Consciousness", "Seizure", "Motor", "CerebralEdema",
    "IcansDomain", "FeverCriterion", "FEVER", "HypotensionRow", "HYPOTENSION_ROWS",
    "OxygenRow", "OXYGEN_ROWS", "LOW_FLOW_MAX_L_PER_MIN", "LOW_FLOW_SOURCE",
    "DeathRow", "CRS_DEATH", "ICANS_DEATH",
    "IceItem", "ICE_ITEMS", "ICE_NAMING_SPLIT", "ICE_MAX", "IceBand", "ICE_BANDS",
    "ICE_UNAROUSABLE",
    "IcansFinding", "ICANS_FINDINGS",
]

_CRS = "ASTCT-2019 CRS table"
_CRS_REF = "Lee 2019; PMC8021214 Tab1; PMC9327779 t0002"
_ICANS = "ASTCT-2019 adult ICANS table"
_ICANS_REF = "Lee 2019; PMC8403007 t0004; PMC7990806 Tab2"
_ICE_REF = "Lee 2019; PMC8153820 T2; PMC9327779 t0002"


# --- codes that cross into the core (values are the public contract's spellings) -------------

class OxygenDevice(StrEnum):
    NONE = "none"
    LOW_FLOW = "low_flow"  # low-flow nasal cannula
    BLOW_BY = "blow_by"
    HIGH_FLOW = "high_flow"  # high-flow nasal cannula
    FACEMASK = "facemask"
    NON_REBREATHER = "non_rebreather"
    VENTURI = "venturi"
    CPAP = "cpap"
    BIPAP = "bipap"
    MECHANICAL_VENTILATION = "mechanical_ventilation"


class HypotensionSupport(StrEnum):
    """What the CRS hypotension needs, in the words of the ASTCT hypotension column."""

    NO_VASOPRESSOR = "no_vasopressor"
    ONE_VASOPRESSOR = "one_vasopressor"  # with or without vasopressin
    MULTIPLE_VASOPRESSORS = "multiple_vasopressors"  # vasopressin not counted


class Consciousness(StrEnum):
    NORMAL = "normal"
    AWAKENS_SPONTANEOUSLY = "awakens_spontaneously"
    AWAKENS_TO_VOICE = "awakens_to_voice"
    AWAKENS_TO_TOUCH = "awakens_to_touch"
    UNAROUSABLE = "unarousable"


class Seizure(StrEnum):
    NONE = "none"
    RAPIDLY_RESOLVING = "rapidly_resolving"
    PROLONGED_OR_REPETITIVE = "prolonged_or_repetitive"


class Motor(StrEnum):
    NONE = "none"
    DEEP_FOCAL_WEAKNESS = "deep_focal_weakness"


class CerebralEdema(StrEnum):
    NONE = "none"
    FOCAL = "focal"
    DIFFUSE = "diffuse"


class IcansDomain(StrEnum):
    ICE = "ice"
    CONSCIOUSNESS = "consciousness"
    SEIZURE = "seizure"
    MOTOR = "motor"
    CEREBRAL_EDEMA = "cerebral_edema"


# --- CRS --------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class FeverCriterion:
    min_c: Decimal  # inclusive
    text: str
    source: str


FEVER = FeverCriterion(
    Decimal("38.0"),
    "Fever: temperature >= 38.0 C not attributable to another cause; after antipyretic or "
    "anti-cytokine therapy (tocilizumab, corticosteroids) fever is no longer required",
    f"{_CRS}, fever row and footnote * ({_CRS_REF})")


@dataclass(frozen=True, slots=True)
class HypotensionRow:
    support: HypotensionSupport
    grade: int
    text: str
    source: str


HYPOTENSION_ROWS: tuple[HypotensionRow, ...] = (
    HypotensionRow(HypotensionSupport.NO_VASOPRESSOR, 2,
                   "Hypotension not requiring vasopressors", f"{_CRS}, grade 2 ({_CRS_REF})"),
    HypotensionRow(HypotensionSupport.ONE_VASOPRESSOR, 3,
                   "Hypotension requiring a vasopressor with or without vasopressin",
                   f"{_CRS}, grade 3 ({_CRS_REF})"),
    HypotensionRow(HypotensionSupport.MULTIPLE_VASOPRESSORS, 4,
                   "Hypotension requiring multiple vasopressors (excluding vasopressin)",
                   f"{_CRS}, grade 4 ({_CRS_REF})"),
)


@dataclass(frozen=True, slots=True)
class OxygenRow:
    device: OxygenDevice
    grade: int
    text: str
    source: str


OXYGEN_ROWS: tuple[OxygenRow, ...] = (
    OxygenRow(OxygenDevice.NONE, 0, "No supplemental oxygen", f"{_CRS} ({_CRS_REF})"),
    OxygenRow(OxygenDevice.LOW_FLOW, 2, "Hypoxia requiring low-flow nasal cannula",
              f"{_CRS}, grade 2 and footnote ‡ ({_CRS_REF})"),
    OxygenRow(OxygenDevice.BLOW_BY, 2, "Hypoxia requiring blow-by oxygen (counts as low-flow)",
              f"{_CRS}, grade 2 and footnote ‡ ({_CRS_REF})"),
    OxygenRow(OxygenDevice.HIGH_FLOW, 3, "Hypoxia requiring high-flow nasal cannula",
              f"{_CRS}, grade 3 ({_CRS_REF})"),
    OxygenRow(OxygenDevice.FACEMASK, 3, "Hypoxia requiring a facemask",
              f"{_CRS}, grade 3 ({_CRS_REF})"),
    OxygenRow(OxygenDevice.NON_REBREATHER, 3, "Hypoxia requiring a non-rebreather mask",
              f"{_CRS}, grade 3 ({_CRS_REF})"),
    OxygenRow(OxygenDevice.VENTURI, 3, "Hypoxia requiring a Venturi mask",
              f"{_CRS}, grade 3 ({_CRS_REF})"),
    OxygenRow(OxygenDevice.CPAP, 4, "Hypoxia requiring positive pressure (CPAP)",
              f"{_CRS}, grade 4 ({_CRS_REF})"),
    OxygenRow(OxygenDevice.BIPAP, 4, "Hypoxia requiring positive pressure (BiPAP)",
              f"{_CRS}, grade 4 ({_CRS_REF})"),
    OxygenRow(OxygenDevice.MECHANICAL_VENTILATION, 4,
              "Hypoxia requiring intubation and mechanical ventilation",
              f"{_CRS}, grade 4 ({_CRS_REF})"),
)

#: Low-flow nasal cannula is oxygen at <= 6 L/min; high-flow is > 6 L/min. 6 L/min exactly is
#: low-flow (some calculators say ">= 6" for high-flow; the consensus footnote does not).
LOW_FLOW_MAX_L_PER_MIN = Decimal("6")
LOW_FLOW_SOURCE = f"{_CRS}, footnote ‡: low-flow <= 6 L/min, high-flow > 6 L/min ({_CRS_REF})"


@dataclass(frozen=True, slots=True)
class DeathRow:
    grade: int
    text: str
    source: str


CRS_DEATH = DeathRow(5, "Death due to CRS in which another cause is not the principal factor",
                     f"{_CRS}, grade 5 ({_CRS_REF})")


# --- ICANS and the ICE score ------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class IceItem:
    """One ICE task. ``key`` is the item name accepted in ``ice: {item: points}``."""

    key: str
    max_points: int
    text: str
    source: str


_ICE_SRC = f"ASTCT-2019 ICE score ({_ICE_REF})"

#: The ten ICE points. ``naming`` (0-3) may instead be given as ``naming_1``..``naming_3``
#: (0-1 each, :data:`ICE_NAMING_SPLIT`), never both.
ICE_ITEMS: tuple[IceItem, ...] = (
    IceItem("orientation_year", 1, "Orientation: year", _ICE_SRC),
    IceItem("orientation_month", 1, "Orientation: month", _ICE_SRC),
    IceItem("orientation_city", 1, "Orientation: city", _ICE_SRC),
    IceItem("orientation_hospital", 1, "Orientation: hospital", _ICE_SRC),
    IceItem("naming", 3, "Naming: three objects, 1 point each", _ICE_SRC),
    IceItem("follows_commands", 1, "Follows simple commands", _ICE_SRC),
    IceItem("writing", 1, "Writes a standard sentence", _ICE_SRC),
    IceItem("attention", 1, "Attention: counts backwards from 100 by 10", _ICE_SRC),
)
ICE_NAMING_SPLIT: tuple[IceItem, ...] = tuple(
    IceItem(f"naming_{n}", 1, f"Naming: object {n}", _ICE_SRC) for n in (1, 2, 3))
ICE_MAX = 10


@dataclass(frozen=True, slots=True)
class IceBand:
    low: int
    high: int
    grade: int
    text: str
    source: str


ICE_BANDS: tuple[IceBand, ...] = (
    IceBand(10, 10, 0, "ICE 10: no impairment", f"{_ICANS}, ICE row ({_ICANS_REF})"),
    IceBand(7, 9, 1, "ICE score 7-9", f"{_ICANS}, ICE row, grade 1 ({_ICANS_REF})"),
    IceBand(3, 6, 2, "ICE score 3-6", f"{_ICANS}, ICE row, grade 2 ({_ICANS_REF})"),
    IceBand(0, 2, 3, "ICE score 0-2 (ICE 0 while awake, e.g. global aphasia, is grade 3)",
            f"{_ICANS}, ICE row, grade 3 and note ** ({_ICANS_REF})"),
)
ICE_UNAROUSABLE = IceBand(0, 0, 4, "ICE score 0 because the patient is unarousable and cannot "
                          "perform the ICE assessment",
                          f"{_ICANS}, ICE row, grade 4 and note ** ({_ICANS_REF})")


@dataclass(frozen=True, slots=True)
class IcansFinding:
    domain: IcansDomain
    finding: str  # the enum value of that domain
    grade: int
    text: str
    source: str


_D = IcansDomain
ICANS_FINDINGS: tuple[IcansFinding, ...] = (
    IcansFinding(_D.CONSCIOUSNESS, Consciousness.NORMAL, 0, "Normal level of consciousness",
                 f"{_ICANS} ({_ICANS_REF})"),
    IcansFinding(_D.CONSCIOUSNESS, Consciousness.AWAKENS_SPONTANEOUSLY, 1,
                 "Depressed level of consciousness: awakens spontaneously",
                 f"{_ICANS}, consciousness row, grade 1 ({_ICANS_REF})"),
    IcansFinding(_D.CONSCIOUSNESS, Consciousness.AWAKENS_TO_VOICE, 2,
                 "Depressed level of consciousness: awakens to voice",
                 f"{_ICANS}, consciousness row, grade 2 ({_ICANS_REF})"),
    IcansFinding(_D.CONSCIOUSNESS, Consciousness.AWAKENS_TO_TOUCH, 3,
                 "Depressed level of consciousness: awakens only to tactile stimulus",
                 f"{_ICANS}, consciousness row, grade 3 ({_ICANS_REF})"),
    IcansFinding(_D.CONSCIOUSNESS, Consciousness.UNAROUSABLE, 4,
                 "Unarousable or needs vigorous or repetitive tactile stimuli; stupor or coma",
                 f"{_ICANS}, consciousness row, grade 4 ({_ICANS_REF})"),
    IcansFinding(_D.SEIZURE, Seizure.NONE, 0, "No seizure", f"{_ICANS} ({_ICANS_REF})"),
    IcansFinding(_D.SEIZURE, Seizure.RAPIDLY_RESOLVING, 3,
                 "Any clinical seizure, focal or generalised, that resolves rapidly, or "
                 "non-convulsive seizures on EEG that resolve with intervention",
                 f"{_ICANS}, seizure row, grade 3 ({_ICANS_REF})"),
    IcansFinding(_D.SEIZURE, Seizure.PROLONGED_OR_REPETITIVE, 4,
                 "Life-threatening prolonged seizure (> 5 min), or repetitive clinical or "
                 "electrical seizures without return to baseline in between",
                 f"{_ICANS}, seizure row, grade 4 ({_ICANS_REF})"),
    IcansFinding(_D.MOTOR, Motor.NONE, 0, "No motor findings", f"{_ICANS} ({_ICANS_REF})"),
    IcansFinding(_D.MOTOR, Motor.DEEP_FOCAL_WEAKNESS, 4,
                 "Deep focal motor weakness such as hemiparesis or paraparesis",
                 f"{_ICANS}, motor row, grade 4 ({_ICANS_REF})"),
    IcansFinding(_D.CEREBRAL_EDEMA, CerebralEdema.NONE, 0, "No raised ICP or cerebral oedema",
                 f"{_ICANS} ({_ICANS_REF})"),
    IcansFinding(_D.CEREBRAL_EDEMA, CerebralEdema.FOCAL, 3,
                 "Focal or local oedema on neuroimaging",
                 f"{_ICANS}, raised ICP / cerebral oedema row, grade 3 ({_ICANS_REF})"),
    IcansFinding(_D.CEREBRAL_EDEMA, CerebralEdema.DIFFUSE, 4,
                 "Diffuse cerebral oedema on neuroimaging; decerebrate or decorticate posturing; "
                 "cranial nerve VI palsy; papilloedema; or Cushing's triad",
                 f"{_ICANS}, raised ICP / cerebral oedema row, grade 4 ({_ICANS_REF})"),
)

ICANS_DEATH = DeathRow(5, "Death due to ICANS in which another cause is not the principal factor",
                       f"{_ICANS}, grade 5 ({_ICANS_REF})")
