"""Constants and helpers of the web suite (a module of its own: ``conftest`` is not importable
by name when several suites run together)."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

ZONE = ZoneInfo("America/New_York")
TODAY = date(2026, 12, 15)
NOW = datetime.combine(TODAY, time(9, 0), ZONE)
PASSWORD = "correct horse battery"
SITE = "DEMO"
#: one user per role, and a second pharmacist
USERS = {"nurse": "rn.alvarez", "pharmacist": "rph.okoro", "pharmacist2": "rph.berg",
         "physician": "dr.khan", "scheduler": "sched.lee", "admin": "admin",
         "billing": "billing.demo"}
STAFF = {"rn.alvarez": ("Rosa Alvarez, RN", ("nurse",)),
         "rn.chen": ("David Chen, RN", ("nurse",)),
         "rph.okoro": ("Ngozi Okoro, PharmD", ("pharmacist",)),
         "rph.berg": ("Lars Berg, PharmD", ("pharmacist",)),
         "dr.khan": ("Dr Aisha Khan", ("physician",)),
         "sched.lee": ("Min Lee", ("scheduler",)),
         "admin": ("Site administrator", ("admin",)),
         "billing.demo": ("Bea Billing, CPC", ("billing",)),
         # holds every role, so the API fuzzing below reaches every operation
         "qa.all": ("QA, every role", ("nurse", "pharmacist", "physician", "scheduler",
                                       "admin", "billing"))}
ROLES = ("nurse", "pharmacist", "physician", "scheduler", "admin", "billing")


class Clock:
    def __init__(self, now: datetime) -> None:
        self.value = now

    def __call__(self) -> datetime:
        return self.value


def sign_in(c: TestClient, username: str, password: str = PASSWORD) -> str:
    """Sign in through the API; returns the CSRF token (the cookie stays in the client)."""
    r = c.post("/api/v1/session", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    token = r.json()["csrf_token"]
    c.headers["X-CSRF-Token"] = token
    return token
