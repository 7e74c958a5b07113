"""The one small error tree of the core.

    TarlaError
     ├── InvalidInput (ValueError)        the caller sent something wrong: names the field
     │    └── ParseError                  a scan/string could not be read at all
     └── NotEnoughInformation (LookupError)  the input is valid but cannot decide the question

Each edge maps these in one place: CLI -> exit code 2 and ``error: field: message``;
HTTP -> RFC 9457 problem (422/400); FHIR -> OperationOutcome.
"""

from __future__ import annotations

__all__ = ["TarlaError", "InvalidInput", "ParseError", "NotEnoughInformation"]


class TarlaError(Exception):
    """Base of every error the core raises on purpose."""


class InvalidInput(TarlaError, ValueError):
    """Input that cannot be used. ``field`` is a dotted/indexed path such as
    ``administrations[1].dose_mg``; ``message`` says what was wrong with it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class ParseError(InvalidInput):
    """A raw string (barcode scan, code) that could not be parsed."""


class NotEnoughInformation(TarlaError, LookupError):
    """Valid input, but the rules cannot decide without more (names what is missing)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
