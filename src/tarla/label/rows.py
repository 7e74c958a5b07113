"""Shared vocabulary of label rows: provenance tags and the citation every row carries.

Source of the tags: ``shared/reference/label-facts.md`` (top table). Every rule row in
:mod:`tarla.label` has a stable ``rule_id``, a :class:`Provenance` tag and a plain-language
``text``; decisions quote these three verbatim.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

__all__ = ["Provenance", "RuleRow", "Citation", "cite"]


class Provenance(StrEnum):
    """How much a fact can be trusted (label-facts.md, tag table)."""

    SEED = "SEED"  # the manufacturer's HCP preparation and safety page
    PI = "PI"  # current US Prescribing Information (rev. 11/2025)
    PI_2024 = "PI-2024"  # the original 05/2024 PI, not contradicted by anything newer
    UNVERIFIED = "UNVERIFIED"  # best available reading; must be signed off by a site
    DERIVED = "DERIVED"  # arithmetic on tagged facts

    @property
    def unverified(self) -> bool:
        return self is Provenance.UNVERIFIED

    @property
    def label_version_checked(self) -> bool:
        return self is not Provenance.PI_2024


class RuleRow(Protocol):
    """Anything a decision can cite."""

    @property
    def rule_id(self) -> str: ...

    @property
    def tag(self) -> Provenance: ...

    @property
    def text(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Citation:
    """One line of a decision's ``reasons``: which rule, how trusted, what it says here."""

    rule: str
    tag: Provenance
    text: str

    @property
    def unverified(self) -> bool:
        return self.tag.unverified


def cite(row: RuleRow, text: str | None = None) -> Citation:
    """Cite ``row``; ``text`` replaces the row's own wording when the context adds detail."""
    return Citation(row.rule_id, row.tag, row.text if text is None else text)
