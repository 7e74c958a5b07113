"""The closed loop through the HTML forms, for the web tests: a pharmacist prepares a bag
(start, kit scan, the six bench steps, reconstitution, the bag) and a second pharmacist checks
it; a nurse charts it at the bedside by scanning the wristband and the bag label. Every step
goes through the real pages, so each is judged by the services as in use."""

from __future__ import annotations

import itertools
from typing import Any

from fastapi.testclient import TestClient

from tarla.domain.bench import INSPECTION_QUESTIONS, steps_for
from tarla.services.demo import kit_scan

__all__ = ["ALL_YES", "start", "prep_id", "prepare_bag", "chart", "administrations",
           "premedicate",
           "preparation", "kit_scan"]

ALL_YES = {f"inspection.{name}": "yes" for name, _, _ in INSPECTION_QUESTIONS}
_KEYS = itertools.count(1)


def start(c: TestClient, course_id: int) -> str:
    """Start (or reopen) the preparation of the course's due dose; its page's URL."""
    r = c.post("/pharmacy/preparations", data={"course_id": str(course_id)})
    assert r.status_code == 303, r.text[-1500:]
    return str(r.headers["location"])


def prep_id(url: str) -> int:
    return int(url.rstrip("/").rsplit("/", 1)[1])


def preparation(c: TestClient, pid: int) -> dict[str, Any]:
    r = c.get(f"/api/v1/preparations/{pid}")
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def administrations(c: TestClient, course_id: int) -> list[dict[str, Any]]:
    r = c.get(f"/api/v1/courses/{course_id}/administrations")
    assert r.status_code == 200, r.text
    return r.json()["administrations"]  # type: ignore[no-any-return]


def prepare_bag(as_role: Any, course_id: int, *, serial: str = "KIT-1",
                check: bool = True) -> int:
    """The pharmacy's whole path for the course's due dose; returns the preparation id."""
    c = as_role("pharmacist")
    url = start(c, course_id)
    dose = preparation(c, prep_id(url))["preparation"]["dose_mg"]
    r = c.post(url + "/scan", data={"scan": kit_scan(dose, serial), "component": "drug"})
    assert "ACCEPTED" in r.text, r.text[-1500:]
    for spec in steps_for(dose):
        data = {"step": spec.code.value}
        if spec.expected_ml is not None:
            data["measured_ml"] = str(spec.expected_ml)
        if spec.code.value == "inspected":
            data.update(ALL_YES)
        done = c.post(url + "/steps", data=data)
        assert done.status_code == 303, (spec.code, done.text[-1500:])
        if spec.code.value == "water_added":
            done = c.post(url + "/events", data={"event": "reconstituted"})
            assert done.status_code == 303, done.text[-1500:]
    done = c.post(url + "/events", data={"event": "bag_prepared"})
    assert done.status_code == 303, done.text[-1500:]
    if check:
        done = as_role("pharmacist2").post(url + "/check", data={})
        assert done.status_code == 303, done.text[-1500:]
    return prep_id(url)


def premedicate(nurse: TestClient, course_id: int, given_at: str = "2026-12-15T08:40") -> Any:
    """Chart the dose due's premedication through the bedside form when its care lists one
    (C1D1/C1D8 care: dexamethasone within 1 hour before the infusion, label-facts §3)."""
    page = nurse.get(f"/bedside/{course_id}")
    if f'action="/bedside/{course_id}/premedication"' not in page.text:
        return None
    r = nurse.post(f"/bedside/{course_id}/premedication", data={"given_at": given_at})
    assert r.status_code == 200, r.text[-1500:]
    return r


def chart(nurse: TestClient, course_id: int, **fields: str) -> Any:
    """Post the bedside charting form (the started time defaults to the app's 09:00), after
    charting the premedication the dose needs."""
    premedicate(nurse, course_id)
    data = {"started_at": "2026-12-15T09:00", "idempotency_key": f"web-{next(_KEYS)}",
            **fields}
    return nurse.post(f"/bedside/{course_id}/administration", data=data)
