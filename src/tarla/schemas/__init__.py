"""Pydantic models of the public JSON contracts (``shared/contracts/README.md``), used by the
CLI and the HTTP API alike. They validate and convert at the edge; the core never sees them.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError

__all__ = ["field_error_from_validation", "field_path", "load_zone"]


def field_path(loc: tuple[int | str, ...]) -> str:
    """``("administrations", 1, "dose_mg")`` -> ``administrations[1].dose_mg``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.startswith(("function-", "constrained-")):
            continue
        else:
            out += f".{part}" if out else part
    return out or "input"


def _message(err: Any) -> str:
    msg = str(err.get("msg", "invalid"))
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix):]
    if err.get("type") == "missing":
        return "is required"
    if err.get("type") == "extra_forbidden":
        return "is not a known field"
    return msg


def field_error_from_validation(exc: ValidationError) -> tuple[str, str]:
    """The first error of ``exc`` as ``(field, message)``; the rest are summarised."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    field = field_path(tuple(first.get("loc", ())))
    message = _message(first)
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return field, message


def load_zone(name: str) -> ZoneInfo:
    """An IANA zone, or ``ValueError`` naming the problem (used inside validators)."""
    if not name or "/" not in name and name != "UTC":
        raise ValueError(f"{name!r} is not an IANA time zone name (e.g. America/New_York)")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not a known IANA time zone") from None
