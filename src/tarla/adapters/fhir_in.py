"""A FHIR resource received (issue 16, labs in) checked against the ``fhir.resources`` model
before Tarla reads it: a body that is not a valid Observation is refused naming the element,
with the reason the model gives (R4B models; the elements an Observation for a lab result
uses are the same in R4, see :mod:`tarla.adapters.fhir_out`)."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.observation import Observation
from pydantic import ValidationError

from tarla.domain.errors import InvalidInput
from tarla.schemas import field_error_from_validation

__all__ = ["check_observation"]


def check_observation(body: Any) -> None:
    if not isinstance(body, dict):
        raise InvalidInput("body", "is not a JSON object")
    if body.get("resourceType") != "Observation":
        raise InvalidInput("resourceType", f"{body.get('resourceType')!r} is not Observation")
    try:
        Observation.model_validate(body)
    except ValidationError as exc:
        field, message = field_error_from_validation(exc)
        raise InvalidInput(field or "body", message) from None
