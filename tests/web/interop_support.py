"""Helpers of the interface tests (FHIR R4, CDS Hooks, interface tokens): tokens made through
the service, and a patient due a restart step-up, recorded through the real use cases."""

from __future__ import annotations

import copy
import json
from datetime import date, datetime, time, timedelta
from typing import Any

from web_support import NOW, TODAY, ZONE
from world import panel

from helpers import DATA
from tarla.services import admin, clinical, demo, interfaces

CDS = DATA / "cds-hooks"
RESTART_MRN = "MRN300001"


def token(app: Any, *scopes: str, site: str = "DEMO", name: str = "ehr") -> str:
    return interfaces.create_token(app.state.bootstrapped.uow(), actor="operator",
                                   site_code=site, name=name, scopes=list(scopes or ("read",)),
                                   now=NOW, operator=True).token


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def second_site(app: Any, code: str = "NORTH") -> None:
    admin.create_site(app.state.bootstrapped.uow(), code=code, name="North clinic",
                      timezone="America/Chicago", now=NOW - timedelta(days=30))


def restart_patient(app: Any) -> int:
    """C1D1 (1 mg) given 20 days before today and nothing since: by Table 4 (last dose 1 mg,
    more than 14 days ago) the next dose is the restart step-up's 1 mg. Labs drawn today."""
    uow = app.state.bootstrapped.uow
    at = lambda d, h, m=0: datetime.combine(d, time(h, m), ZONE)  # noqa: E731
    start = TODAY - timedelta(days=20)
    r = clinical.enrol_patient(uow(), site_code="DEMO", mrn=RESTART_MRN, family_name="Restart",
                               given_name="Rita", birth_date=date(1960, 1, 1),
                               diagnosis="ES-SCLC", progressed_after_platinum=True,
                               start_date=start, actor="dr.khan",
                               now=at(start - timedelta(days=5), 10))
    clinical.record_lab_panel(uow(), patient_id=r.patient_id, results=panel(),
                              collected_at=at(start, 7), actor="rn.chen", now=at(start, 7, 30))
    given = demo.give_through_the_loop(uow, course_id=r.course_id, mrn=RESTART_MRN,
                                       prepared_at=at(start, 7, 45), started_at=at(start, 9),
                                       serial="WRESTART1", nurse="rn.chen",
                                       pharmacist="rph.okoro", checker="rph.berg")
    assert given.dose_mg == 1
    clinical.record_lab_panel(uow(), patient_id=r.patient_id, results=panel(),
                              collected_at=at(TODAY, 7), actor="rn.chen", now=at(TODAY, 7, 30))
    return r.patient_id


def cds_request(hook: str, *, mrn: str, dose: Any = 10, unit: str = "mg") -> dict[str, Any]:
    """The published request shape of ``hook`` with this MRN and the tarlatamab dose."""
    body = json.loads((CDS / f"{hook}-request.json").read_text(encoding="utf-8"))
    body = copy.deepcopy(body)
    body["prefetch"]["patient"]["identifier"][0]["value"] = mrn
    order = body["context"]["draftOrders"]["entry"][1]["resource"]
    dosage = order["dosageInstruction"][0]
    q = dosage["doseAndRate"][0]["doseQuantity"] if "doseAndRate" in dosage \
        else dosage["doseQuantity"]
    q.update({"value": dose, "unit": unit, "code": unit})
    return body


__all__ = ["token", "bearer", "second_site", "restart_patient", "cds_request", "RESTART_MRN",
           "NOW", "TODAY"]
