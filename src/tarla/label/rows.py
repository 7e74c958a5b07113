"""Shared vocabulary of label rows: provenance tags and the citation every row carries.

Source of the tags: ``shared/reference/label-facts.md`` (top table). Every rule row in
:mod:`tarla.label` has a stable ``rule_id``, a :class:`Provenance` tag and a plain-language
``text``; decisions quote these three verbatim.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

__all__ = ["Provenance", "RuleRow", "Citation", "cite", "cite_later"]


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


@dataclass(frozen=True, slots=True, eq=False)
class Citation:
    """One line of a decision's ``reasons``: which rule, how trusted, what it says here.

    Two citations are equal when their rule, tag and text are (whichever way the text was
    built: see :func:`cite_later`)."""

    rule: str
    tag: Provenance
    text: str

    @property
    def unverified(self) -> bool:
        return self.tag.unverified

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Citation):
            return NotImplemented
        return (self.rule, self.tag, self.text) == (other.rule, other.tag, other.text)

    def __hash__(self) -> int:
        return hash((self.rule, self.tag, self.text))


#: The slot that holds a citation's text (a subclass's ``text`` property writes it once).
_TEXT_SLOT = Citation.__dict__["text"]


class _LaterCitation(Citation):
    """A citation whose text is formatted the first time it is read (most decisions are
    stored or counted, not read line by line). Reads as an ordinary :class:`Citation`:
    same fields, equality, hash, repr, ``dataclasses.asdict``; copies and pickles as one."""

    __slots__ = ("_render", "_args")
    _render: Callable[..., str]
    _args: tuple[object, ...]

    def __init__(self, rule: str, tag: Provenance, text: str | None = None, *,
                 render: Callable[..., str] = str, args: tuple[object, ...] = ()) -> None:
        # ``text`` is for ``dataclasses.replace``, which passes every field.
        object.__setattr__(self, "rule", rule)
        object.__setattr__(self, "tag", tag)
        object.__setattr__(self, "_render", render)
        object.__setattr__(self, "_args", args)
        if text is not None:
            _TEXT_SLOT.__set__(self, text)

    @property  # a read-only field either way (the class is frozen)
    def text(self) -> str:
        try:
            value: str = _TEXT_SLOT.__get__(self)
        except AttributeError:  # not formatted yet; two threads may both format it: same text
            value = self._render(*self._args)
            _TEXT_SLOT.__set__(self, value)
        return value

    def __repr__(self) -> str:
        return f"Citation(rule={self.rule!r}, tag={self.tag!r}, text={self.text!r})"

    def __reduce__(self) -> tuple[type[Citation], tuple[str, Provenance, str]]:
        return Citation, (self.rule, self.tag, self.text)


# The engine cites on every decision: ``cite`` and ``cite_later`` fill the slots of a new object
# directly (what the frozen dataclass's ``__init__`` does, without its per-field call overhead).
_new = object.__new__
_set_rule, _set_tag = Citation.__dict__["rule"].__set__, Citation.__dict__["tag"].__set__
_set_text = _TEXT_SLOT.__set__
_set_render, _set_args = (_LaterCitation.__dict__["_render"].__set__,
                          _LaterCitation.__dict__["_args"].__set__)


def cite(row: RuleRow, text: str | None = None) -> Citation:
    """Cite ``row``; ``text`` replaces the row's own wording when the context adds detail."""
    c = _new(Citation)
    _set_rule(c, row.rule_id)
    _set_tag(c, row.tag)
    _set_text(c, row.text if text is None else text)
    return c


def cite_later(row: RuleRow, render: Callable[..., str], *args: object) -> Citation:
    """Cite ``row`` with the text ``render(*args)``, formatted only when someone reads it.
    ``render`` must be a pure function of ``args`` (immutable values)."""
    c = _new(_LaterCitation)
    _set_rule(c, row.rule_id)
    _set_tag(c, row.tag)
    _set_render(c, render)
    _set_args(c, args)
    return c
