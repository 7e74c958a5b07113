"""``POST /fhir/r4/Observation``: lab results sent by a FHIR-speaking laboratory system
(issue 16, labs in), with an interface token holding the ``lab-write`` scope.

The route only translates: the body goes, as received, to
:func:`tarla.services.labs_in.receive_fhir_observation`, which keeps it raw, matches the
patient, maps the code and judges the value through the same services and gates as a typed
lab; its result comes back as an OperationOutcome (201 charted, 202 kept in the work queue,
422 refused, naming the element; a repeat of the same ``identifier`` answers as the first
time). Malformed JSON is 400 and nothing is stored. The route is registered only when that
service exists (it is built by the labs-in work of the same issue).
"""

from __future__ import annotations

import importlib
import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from tarla.adapters import fhir_out
from tarla.services.interfaces import LAB_WRITE, InterfaceCaller
from tarla.web.interface_auth import FHIR_JSON, InterfaceError, require_interface

__all__ = ["install", "receiver"]


def receiver() -> Any:
    """The labs-in service's FHIR entry point, or None when it is not built."""
    try:
        module = importlib.import_module("tarla.services.labs_in")
    except ImportError:
        return None
    return getattr(module, "receive_fhir_observation", None)


def install(router: APIRouter) -> bool:
    receive = receiver()
    if receive is None:
        return False
    writer = Depends(require_interface(LAB_WRITE))

    async def post_observation(request: Request,
                               caller: InterfaceCaller = writer) -> JSONResponse:
        raw = await request.body()
        try:
            body = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InterfaceError(400, f"the body is not valid JSON ({exc})", field="body"
                                 ) from None
        if not isinstance(body, dict):
            raise InterfaceError(400, "the body must be a FHIR resource (a JSON object)",
                                 field="body")
        web = request.app.state.web
        result = receive(web.uow(), site_id=caller.site_id, body=body, received_at=web.now(),
                         interface_name=caller.name)
        return _answer(result)

    router.add_api_route("/Observation", post_observation, methods=["POST"])
    return True


#: the service's status -> HTTP status of the first answer (a replay of a created result is
#: 200: nothing new was written)
_STATUS = {"created": 201, "queued": 202, "refused": 422}


def _answer(result: Any) -> JSONResponse:
    """The service's :class:`~tarla.services.labs_in.FhirResult` as an OperationOutcome:
    created 201 (information), queued 202 (warning: a nurse resolves it in the work queue),
    refused 422 (error naming the element); a replay answers as the first time, 200 when it
    had created labs."""
    status = _STATUS.get(result.status, 422)
    if result.replayed and result.status == "created":
        status = 200
    if result.status == "created":
        issue: dict[str, Any] = {
            "severity": "information", "code": "informational",
            "diagnostics": f"charted: lab {', '.join(map(str, result.lab_ids))}"
                           + (" (a repeat of an earlier message)" if result.replayed else "")}
    elif result.status == "queued":
        issue = {"severity": "warning", "code": "incomplete",
                 "diagnostics": f"kept, waiting in the site's work queue: {result.reason}"}
    else:
        issue = {"severity": "error", "code": "invalid",
                 "diagnostics": f"{result.field}: {result.reason}" if result.field
                 else str(result.reason)}
        if result.field:
            issue["expression"] = [f"Observation.{result.field}"]
    body = fhir_out.model_dict({"resourceType": "OperationOutcome", "issue": [issue]})
    return JSONResponse(body, status_code=status, media_type=FHIR_JSON)
