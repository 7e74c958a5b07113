"""CDS Hooks 2.0 services for tarlatamab orders (issue 16): the routes translate the request
and render the cards; the advice is :func:`tarla.services.order_advice.advise_order` (the
course engine's decision compared with the order, :mod:`tarla.domain.order_check`).

    GET  /cds-services                       discovery (no credentials, as the spec expects)
    POST /cds-services/tarla-order-select    hook order-select
    POST /cds-services/tarla-order-sign      hook order-sign

**Authorization.** CDS Hooks 2.0 has the CDS client (the EHR) sign a JWT per request with a
key the service trusts (JWKS). This deployment instead authenticates the EHR with an
interface token of the site, ``read`` scope, as ``Authorization: Bearer <token>``
(:mod:`tarla.web.interface_auth`): Tarla keeps no key set of EHR clients and makes no
outbound calls (no JWKS fetch), a token is issued, scoped to one site and revoked by the
site's administrator like every other interface credential, and the token's site decides
whose patients the service may read. A JWT is refused as an unknown token. The request's
``fhirAuthorization`` is ignored: the service never calls the EHR's FHIR server, it reads the
draft orders from ``context.draftOrders`` and the patient from ``prefetch``.

**Patient.** Found by MRN at the token's site: the identifier of the prefetched ``patient``
whose system is the site's MRN system (``sites.policy["mrn_system"]``) or whose type is
``MR``, else the draft order's ``subject.identifier``. ``context.patientId`` is the EHR's own
id, never Tarla's.

**Order.** Each draft ``MedicationRequest`` for tarlatamab (its text or codings name
tarlatamab/IMDELLTRA, or the NDC of an IMDELLTRA package), for ``order-select`` only those in
``context.selections``. The dose is ``dosageInstruction[0].doseAndRate[0].doseQuantity`` in
``mg`` (also read: ``doseAndRate`` as a single object, and ``doseQuantity`` directly on the
dosage, as in the specification's own examples). Each finding becomes a card carrying its
rule ids (``extension.tarla-rules``, and in the detail), a link to the patient in Tarla, and
for a wrong dose a suggestion whose ``update`` action is the draft order with the engine's dose.

Bad input is a 400 problem (RFC 9457) naming the field; an unknown service is 404.
"""

from __future__ import annotations

import copy
import json
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from tarla.adapters.fhir_out import mrn_system
from tarla.domain.errors import InvalidInput, NotEnoughInformation
from tarla.domain.order_check import Finding
from tarla.label.products import PRODUCTS
from tarla.services import audit
from tarla.services.errors import NotFound
from tarla.services.interfaces import READ, InterfaceCaller
from tarla.services.order_advice import Advice, advise_order
from tarla.web.auth import client_ip
from tarla.web.interface_auth import InterfaceError, require_interface

__all__ = ["router", "install", "SERVICES"]

router = APIRouter(include_in_schema=False)
_reader = Depends(require_interface(READ))

SERVICES: dict[str, dict[str, Any]] = {
    "tarla-order-select": {
        "hook": "order-select", "id": "tarla-order-select",
        "title": "Tarla: tarlatamab order check (order-select)",
        "description": "Compares a tarlatamab order with Tarla's course engine as it is "
                       "selected: next dose, restart step-up (Table 4), holds, missing labs, "
                       "22-24 h monitoring bed, off-label use.",
        "prefetch": {"patient": "Patient/{{context.patientId}}"},
        "usageRequirements": "Authorization: Bearer <Tarla interface token, read scope>; "
                             "the patient's MRN in the prefetched Patient's identifiers.",
    },
    "tarla-order-sign": {
        "hook": "order-sign", "id": "tarla-order-sign",
        "title": "Tarla: tarlatamab order check (order-sign)",
        "description": "Before a tarlatamab order is signed: the dose against the course "
                       "engine's next dose (with the right dose as a suggestion), restart "
                       "step-up (Table 4), holds, missing labs, 22-24 h monitoring bed, "
                       "off-label use.",
        "prefetch": {"patient": "Patient/{{context.patientId}}"},
        "usageRequirements": "Authorization: Bearer <Tarla interface token, read scope>; "
                             "the patient's MRN in the prefetched Patient's identifiers.",
    },
}

_NAMES = ("tarlatamab", "imdelltra")
_NDCS = {p.ndc10 for p in PRODUCTS} | {p.ndc11 for p in PRODUCTS} | {
    p.ndc10.replace("-", "") for p in PRODUCTS}


def _bad(field: str, message: str) -> InterfaceError:
    return InterfaceError(400, f"{field}: {message}", field=field)


@router.get("/cds-services")
def discovery() -> JSONResponse:
    return JSONResponse({"services": list(SERVICES.values())})


def _concept_is_tarlatamab(concept: Any) -> bool:
    if not isinstance(concept, dict):
        return False
    texts = [str(concept.get("text", ""))]
    for coding in concept.get("coding") or []:
        if isinstance(coding, dict):
            texts.append(str(coding.get("display", "")))
            if str(coding.get("code", "")) in _NDCS:
                return True
    return any(name in t.lower() for t in texts for name in _NAMES)


def _is_tarlatamab(order: dict[str, Any]) -> bool:
    if _concept_is_tarlatamab(order.get("medicationCodeableConcept")):
        return True
    ref = order.get("medicationReference")
    if isinstance(ref, dict):
        if any(n in str(ref.get("display", "")).lower() for n in _NAMES):
            return True
        target = str(ref.get("reference", "")).removeprefix("#")
        for contained in order.get("contained") or []:
            if isinstance(contained, dict) and contained.get("id") == target:
                return _concept_is_tarlatamab(contained.get("code"))
    return False


def _dose_quantity(order: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """(the doseQuantity object, its path) of the order's first dosage, or (None, path)."""
    dosages = order.get("dosageInstruction")
    if not isinstance(dosages, list) or not dosages or not isinstance(dosages[0], dict):
        return None, "dosageInstruction[0]"
    dosage = dosages[0]
    dar = dosage.get("doseAndRate")
    if isinstance(dar, list) and dar and isinstance(dar[0], dict):
        q = dar[0].get("doseQuantity")
        return (q if isinstance(q, dict) else None), "dosageInstruction[0].doseAndRate[0]"
    if isinstance(dar, dict):
        q = dar.get("doseQuantity")
        return (q if isinstance(q, dict) else None), "dosageInstruction[0].doseAndRate"
    q = dosage.get("doseQuantity")
    return (q if isinstance(q, dict) else None), "dosageInstruction[0]"


def _ordered_mg(order: dict[str, Any]) -> Decimal | None:
    """The dose ordered in mg, or None (no dose, not in mg, not a positive number)."""
    q, _ = _dose_quantity(order)
    if q is None:
        return None
    unit = str(q.get("code") or q.get("unit") or "").strip()
    if unit.lower() != "mg":
        return None
    value = q.get("value")
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        mg = Decimal(str(value))
    except InvalidOperation:
        return None
    return mg if mg.is_finite() and mg > 0 else None


def _with_dose(order: dict[str, Any], dose_mg: int) -> dict[str, Any]:
    """The draft order with the engine's dose (R4 ``doseAndRate`` form)."""
    fixed = copy.deepcopy(order)
    dosages = fixed.get("dosageInstruction")
    if not isinstance(dosages, list) or not dosages or not isinstance(dosages[0], dict):
        fixed["dosageInstruction"] = dosages = [{}]
    dosage = dosages[0]
    dosage.pop("doseQuantity", None)
    dosage["doseAndRate"] = [{"doseQuantity": {"value": dose_mg, "unit": "mg",
                                               "system": "http://unitsofmeasure.org",
                                               "code": "mg"}}]
    if "text" in dosage:
        dosage["text"] = f"{dose_mg} mg IV (corrected by Tarla from: {dosage['text']})"
    return fixed


def _identifiers(resource: Any) -> list[dict[str, Any]]:
    if not isinstance(resource, dict):
        return []
    ids = resource.get("identifier")
    return [i for i in ids if isinstance(i, dict)] if isinstance(ids, list) else []


def _mrn(body: dict[str, Any], order: dict[str, Any], system: str) -> str | None:
    prefetch = body.get("prefetch")
    patient = prefetch.get("patient") if isinstance(prefetch, dict) else None
    candidates = _identifiers(patient)
    subject = order.get("subject")
    if isinstance(subject, dict) and isinstance(subject.get("identifier"), dict):
        candidates.append(subject["identifier"])
    for ident in candidates:  # the site's MRN system first
        if ident.get("system") == system and ident.get("value"):
            return str(ident["value"])
    for ident in candidates:  # then any identifier typed MR
        codings = (ident.get("type") or {}).get("coding") or []
        if any(isinstance(c, dict) and c.get("code") == "MR" for c in codings) \
                and ident.get("value"):
            return str(ident["value"])
    return None


def _card(finding: Finding, *, order_id: str | None, order: dict[str, Any], link: str | None,
          ) -> dict[str, Any]:
    rules = list(finding.rules)
    card: dict[str, Any] = {
        "uuid": str(uuid.uuid4()),
        "summary": finding.summary,
        "detail": finding.detail + (f"\n\nRules: {', '.join(rules)}" if rules else ""),
        "indicator": str(finding.severity),
        "source": {"label": "Tarla (tarlatamab course engine)"},
        "extension": {"tarla-finding": finding.code, "tarla-rules": rules,
                      **({"tarla-order": order_id} if order_id else {})},
    }
    if link:
        card["links"] = [{"label": "Open the patient in Tarla", "url": link,
                          "type": "absolute"}]
    if finding.suggested_dose_mg is not None:
        card["suggestions"] = [{
            "label": f"Order {finding.suggested_dose_mg} mg (Tarla's next dose)",
            "uuid": str(uuid.uuid4()), "isRecommended": True,
            "actions": [{"type": "update",
                         "description": f"Set the dose to {finding.suggested_dose_mg} mg",
                         "resource": _with_dose(order, finding.suggested_dose_mg)}]}]
        card["selectionBehavior"] = "at-most-one"
    return card


def _orders(body: dict[str, Any], hook: str) -> list[dict[str, Any]]:
    context = body.get("context")
    if not isinstance(context, dict):
        raise _bad("context", "is required (an object)")
    draft = context.get("draftOrders")
    if not isinstance(draft, dict) or draft.get("resourceType") != "Bundle":
        raise _bad("context.draftOrders", "is required (a FHIR Bundle)")
    entries = draft.get("entry") or []
    if not isinstance(entries, list):
        raise _bad("context.draftOrders.entry", "must be a list")
    selected: set[str] | None = None
    if hook == "order-select":
        sel = context.get("selections")
        if not isinstance(sel, list) or not all(isinstance(s, str) for s in sel):
            raise _bad("context.selections", "is required (a list of 'Type/id')")
        selected = set(sel)
    out = []
    for entry in entries:
        res = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(res, dict) or res.get("resourceType") != "MedicationRequest":
            continue
        if selected is not None and f"MedicationRequest/{res.get('id')}" not in selected:
            continue
        if _is_tarlatamab(res):
            out.append(res)
    return out


@router.post("/cds-services/{service_id}")
async def call_service(service_id: str, request: Request,
                       caller: InterfaceCaller = _reader) -> JSONResponse:
    service = SERVICES.get(service_id)
    if service is None:
        raise InterfaceError(404, f"no CDS service {service_id!r}", field="service_id")
    try:
        body = json.loads(await request.body())
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise _bad("body", "is not valid JSON") from None
    if not isinstance(body, dict):
        raise _bad("body", "must be a JSON object")
    for field in ("hookInstance", "hook"):
        if not isinstance(body.get(field), str) or not body[field]:
            raise _bad(field, "is required")
    if body["hook"] != service["hook"]:
        raise _bad("hook", f"this service answers {service['hook']!r}, not {body['hook']!r}")
    web = request.app.state.web
    base = str(request.base_url).rstrip("/")
    system = mrn_system(caller.site_code, _site_policy(web, caller))
    cards: list[dict[str, Any]] = []
    for order in _orders(body, service["hook"]):
        mrn = _mrn(body, order, system)
        oid = f"MedicationRequest/{order['id']}" if order.get("id") else None
        if mrn is None:
            cards.append(_notice("Tarla cannot check this tarlatamab order: no MRN",
                                 "Send the patient (with its MRN identifier) as the 'patient' "
                                 "prefetch.", oid))
            continue
        try:
            advice: Advice = advise_order(web.uow, viewer=caller.scope, mrn=mrn,
                                          ordered_mg=_ordered_mg(order), now=web.now())
        except NotFound:
            cards.append(_notice("Patient not on a tarlatamab course in Tarla",
                                 "Tarla has no course for this MRN at this site: the order "
                                 "was not checked.", oid))
            continue
        except (InvalidInput, NotEnoughInformation) as exc:
            cards.append(_notice("Tarla could not decide on this order",
                                 f"The course engine could not decide: {exc}", oid))
            continue
        # the engine read this patient's record for the interface: an access-log entry
        audit.record_access(web.uow(), actor=f"interface:{caller.name}"[:64], user_id=None,
                            scope=caller.scope, what=f"CDS Hooks {service['hook']}",
                            channel="cds-hooks", address=client_ip(request), at=web.now(),
                            path=request.url.path, patient_id=advice.patient_id)
        link = f"{base}/patients/{advice.patient_id}"
        cards.extend(_card(f, order_id=oid, order=order, link=link) for f in advice.findings)
    return JSONResponse({"cards": cards})


def _notice(summary: str, detail: str, order_id: str | None) -> dict[str, Any]:
    return {"uuid": str(uuid.uuid4()), "summary": summary, "detail": detail,
            "indicator": "warning", "source": {"label": "Tarla (tarlatamab course engine)"},
            "extension": {"tarla-finding": "not-checked", "tarla-rules": [],
                          **({"tarla-order": order_id} if order_id else {})}}


def _site_policy(web: Any, caller: InterfaceCaller) -> dict[str, Any]:
    with web.uow().readonly() as uow:
        site = uow.sites.get(caller.site_id)
    return dict(site.policy) if site is not None else {}


def install(app: FastAPI) -> None:
    app.include_router(router)
