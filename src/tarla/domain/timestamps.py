"""The one check every timestamp entering the core passes: it must carry a UTC offset."""

from __future__ import annotations

from datetime import datetime

from tarla.domain.errors import InvalidInput

__all__ = ["aware"]


def aware(moment: object, field: str) -> datetime:
    """``moment`` unchanged if it is a tz-aware datetime; otherwise ``InvalidInput(field)``."""
    if not isinstance(moment, datetime):
        raise InvalidInput(field, "must be a timestamp")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidInput(field, "timestamp has no UTC offset (naive timestamps are refused)")
    return moment
