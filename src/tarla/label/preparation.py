"""Preparation recipe and in-use time limits (label-facts.md §4). Filled in by the pharmacy work."""

from __future__ import annotations

from tarla.label.rows import RuleRow

__all__ = ["ALL_ROWS"]

ALL_ROWS: tuple[RuleRow, ...] = ()
