"""ICANS grade (adults) and the ICE score by ASTCT 2019 (rows in :mod:`.astct`).

The grade is the most severe of five domains: ICE score, depressed level of consciousness,
seizure, motor findings, raised ICP / cerebral oedema. Findings attributable to another cause
(sedating drugs, intracranial haemorrhage), tremor and myoclonus are not ICANS and must not be
sent here.

ICE items accepted in ``ice: {item: points}`` (all ten points are required):
``orientation_year``, ``orientation_month``, ``orientation_city``, ``orientation_hospital``
(0-1 each), ``naming`` (0-3) *or* ``naming_1``, ``naming_2``, ``naming_3`` (0-1 each),
``follows_commands``, ``writing``, ``attention`` (0-1 each).

``ice_unable`` says the patient is unarousable and cannot perform the ICE assessment. That is
the consciousness domain at grade 4 (unarousable) as well as ICE 0 (grade 4), whatever the
separate ``consciousness`` field says by default (``normal``). A finding that contradicts it
(a patient who awakens, ICE answers, an ICE score above 0) is refused, naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from tarla.domain.errors import InvalidInput
from tarla.domain.grading.astct import (
    ICANS_DEATH,
    ICANS_FINDINGS,
    ICE_BANDS,
    ICE_ITEMS,
    ICE_MAX,
    ICE_NAMING_SPLIT,
    ICE_UNAROUSABLE,
    CerebralEdema,
    Consciousness,
    IcansDomain,
    IceBand,
    IceItem,
    Motor,
    Seizure,
)
from tarla.domain.grading.common import Driver, GradingSystem, flag

__all__ = ["IcansGrade", "grade_icans", "ice_score"]

_E = TypeVar("_E", bound=StrEnum)


@dataclass(frozen=True, slots=True)
class IcansGrade:
    system: GradingSystem
    grade: int
    drivers: tuple[Driver, ...]
    ice_score: int


def ice_score(items: Mapping[str, int]) -> int:
    """The ICE total (0-10) from its items; every item must be present and within range."""
    return _ice_total(items)


def grade_icans(
    *,
    consciousness: Consciousness | str,
    seizure: Seizure | str,
    motor: Motor | str,
    cerebral_edema: CerebralEdema | str,
    ice_score: int | None = None,
    ice: Mapping[str, int] | None = None,
    death_attributed: bool = False,
    ice_unable: bool = False,
) -> IcansGrade:
    """Grade ICANS in an adult. Give the ICE assessment as ``ice_score`` (0-10) or as items in
    ``ice``; when the patient is unarousable and cannot do the ICE assessment, send
    ``ice_unable`` true (no ICE items; ``ice_score`` absent or 0), or ``ice_score`` 0 with
    ``consciousness`` unarousable."""
    level = _code(Consciousness, consciousness, "consciousness")
    found = {
        IcansDomain.CONSCIOUSNESS: level,
        IcansDomain.SEIZURE: _code(Seizure, seizure, "seizure"),
        IcansDomain.MOTOR: _code(Motor, motor, "motor"),
        IcansDomain.CEREBRAL_EDEMA: _code(CerebralEdema, cerebral_edema, "cerebral_edema"),
    }
    unable = flag(ice_unable, "ice_unable")
    if unable:
        found[IcansDomain.CONSCIOUSNESS] = _unarousable(level)
        score, field = _unable_ice(ice_score, ice), "ice_unable"
    else:
        score, field = _ice(ice_score, ice)
    unarousable = found[IcansDomain.CONSCIOUSNESS] is Consciousness.UNAROUSABLE
    if unarousable and score != 0:
        raise InvalidInput(field, f"ICE {score} with consciousness unarousable: an unarousable "
                           "patient cannot perform the ICE assessment (score 0)")
    drivers: list[Driver] = []
    if flag(death_attributed, "death_attributed"):
        drivers.append(Driver("death", ICANS_DEATH.text, ICANS_DEATH.grade, ICANS_DEATH.source))
    band = _band(score, unarousable)
    if band.grade:
        drivers.append(Driver("ice", f"ICE {score}/{ICE_MAX}: {band.text}", band.grade,
                              band.source))
    for domain, value in found.items():
        row = next(r for r in ICANS_FINDINGS if r.domain is domain and r.finding == value)
        if row.grade:
            seen = (f"{value.value} (patient unarousable and unable to do the ICE assessment)"
                    if unable and domain is IcansDomain.CONSCIOUSNESS else value.value)
            drivers.append(Driver(domain.value, f"{seen}: {row.text}", row.grade, row.source))
    if not drivers:
        drivers.append(Driver("all", f"ICE {score}/{ICE_MAX} and no abnormal consciousness, "
                              "seizure, motor or cerebral oedema finding", 0, band.source))
    drivers.sort(key=lambda d: -d.grade)
    return IcansGrade(GradingSystem.ASTCT_2019, drivers[0].grade, tuple(drivers), score)


def _code(enum: type[_E], value: object, field: str) -> _E:
    if isinstance(value, str):
        try:
            return enum(value)
        except ValueError:
            pass
    accepted = ", ".join(member.value for member in enum)
    raise InvalidInput(field, f"{value!r} is not one of: {accepted}")


def _unarousable(consciousness: Consciousness) -> Consciousness:
    """The consciousness finding when ``ice_unable`` is set: unarousable. ``normal`` is the
    form's default (not assessed separately); a patient who awakens contradicts it."""
    if consciousness in (Consciousness.NORMAL, Consciousness.UNAROUSABLE):
        return Consciousness.UNAROUSABLE
    raise InvalidInput("consciousness", f"{consciousness.value} contradicts ice_unable (the "
                       "patient is unarousable and cannot do the ICE assessment): a patient "
                       "who awakens is not unarousable; correct one of the two")


def _unable_ice(total: int | None, items: Mapping[str, int] | None) -> int:
    """The ICE score of a patient who cannot do the assessment: 0, given or not."""
    if items is not None:
        raise InvalidInput("ice", "ICE answers were given, but ice_unable says the patient is "
                           "unarousable and cannot do the ICE assessment; clear the answers or "
                           "ice_unable")
    if total is not None and _points(total, ICE_MAX, "ice_score") != 0:
        raise InvalidInput("ice_score", f"ICE {total} with ice_unable: a patient who is "
                           "unarousable and cannot do the ICE assessment scores 0")
    return 0


def _band(score: int, unarousable: bool) -> IceBand:
    if score == 0 and unarousable:
        return ICE_UNAROUSABLE
    return next(b for b in ICE_BANDS if b.low <= score <= b.high)


def _ice(total: int | None, items: Mapping[str, int] | None) -> tuple[int, str]:
    """The ICE score and the field it came from (``ice`` items win; a total must agree)."""
    if items is None:
        if total is None:
            raise InvalidInput("ice_score", "is required (or ice items); send 0 when the "
                               "patient is unarousable and cannot perform the ICE assessment")
        return _points(total, ICE_MAX, "ice_score"), "ice_score"
    summed = _ice_total(items)
    if total is not None and _points(total, ICE_MAX, "ice_score") != summed:
        raise InvalidInput("ice_score", f"{total} does not match the ICE items, which add up "
                           f"to {summed}")
    return summed, "ice"


def _points(value: object, maximum: int, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(field, f"{value!r} is not a whole number of points")
    if not 0 <= value <= maximum:
        raise InvalidInput(field, f"{value} is outside 0-{maximum}")
    return value


def _ice_total(items: Mapping[str, int]) -> int:
    if not isinstance(items, Mapping):
        raise InvalidInput("ice", "must be an object of {item: points}")
    known: dict[str, IceItem] = {i.key: i for i in (*ICE_ITEMS, *ICE_NAMING_SPLIT)}
    for key in items:
        if key not in known:
            raise InvalidInput(f"ice.{key}", "is not an ICE item (items: "
                               f"{', '.join(known)})")
    split = [i.key for i in ICE_NAMING_SPLIT if i.key in items]
    if "naming" in items and split:
        raise InvalidInput("ice.naming", f"give naming (0-3) or {', '.join(split)} (0-1 each), "
                           "not both")
    expected = [i for i in ICE_ITEMS if i.key != "naming"] + (
        list(ICE_NAMING_SPLIT) if split else [i for i in ICE_ITEMS if i.key == "naming"])
    total = sum(_points(items[i.key], i.max_points, f"ice.{i.key}")
                for i in expected if i.key in items)
    for item in expected:
        if item.key not in items:
            raise InvalidInput(f"ice.{item.key}", f"is required: the ICE score needs all "
                               f"{ICE_MAX} points ({item.text})")
    return total
