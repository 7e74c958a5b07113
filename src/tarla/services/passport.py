"""The patient's passport (issue 11 part 6): the facts of the wallet card and of the phone
page behind its QR code, for emergency departments and other sites.

Every dose fact comes from the course engine, never from the page that prints it: the last
dose is the last entry of the engine's derived history (slot, dose, kind, start), and the 48 h
window is the proximity rule of the care the engine gave *that* dose (its decision as of the
instant before the dose started, so a restart step-up's borrowed Cycle 1 care and the site's
policy on it count as they did), label-facts §3 and §5.

Two use cases:

- :func:`issue_passport` — a nurse or physician prints the card: scoped to their own site
  (another site's patient is 404, as one that does not exist), one ``passport.issued`` audit
  entry (who, when, the card's validity and its nonce, nothing else).
- :func:`passport_for_holder` — the phone page: whoever holds a signed link of the card reads
  the same facts without signing in. The signature (checked by the web entry point) is the
  grant; this function checks the expiry against ``now``.

The link's validity is a site policy, not a label fact: ``sites.policy["passport_valid_days"]``
(default :data:`DEFAULT_VALID_DAYS`, ``UNVERIFIED``: a site decides), and never shorter than
the end of the 48 h window of the dose given before the card was issued. The site's phone
number for the card is ``sites.policy["phone"]``. These two keys are site settings the course
engine ignores (:data:`SITE_SETTINGS`).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tarla.domain import course as core
from tarla.label.rows import Provenance
from tarla.services import audit
from tarla.services._common import (
    actor_with,
    aware,
    course_input,
    history_for,
    patient_or_404,
    scope_of,
    zone_of,
)
from tarla.services.errors import NotFound
from tarla.services.ports import UnitOfWork
from tarla.services.records import CourseHistory, CourseRecord, PatientRecord, SiteRecord
from tarla.services.vocab import CourseStatus, Role

__all__ = ["PassportCard", "LastDose", "ProximityWindow", "EventLine", "Advice", "ADVICE",
           "PASSPORT_ROLES", "SITE_SETTINGS", "DEFAULT_VALID_DAYS", "issue_passport",
           "passport_for_holder"]

#: Who prints a wallet card: the staff who discharge a patient.
PASSPORT_ROLES = (Role.NURSE, Role.PHYSICIAN)
#: Keys of ``sites.policy`` that are site settings, not rules the course engine reads.
SITE_SETTINGS = frozenset({"phone", "passport_valid_days"})
#: How long a card's link works when the site has not said: a site-policy default, UNVERIFIED
#: (no label fact; a site decides and may change it in ``sites.policy``).
DEFAULT_VALID_DAYS = 14
VALIDITY_TAG = Provenance.UNVERIFIED

_CARD_EVENTS = ("CRS", "ICANS")
_TICK = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Advice:
    """One line of "what to do", with where it comes from (label-facts §3, §6)."""

    text: str
    source: str
    tag: Provenance


#: What the card tells the patient, the caregiver and whoever treats them. No numbers here:
#: the 48 h window's hours come from the engine's care of the last dose.
ADVICE: tuple[Advice, ...] = (
    # The signs are the findings the ASTCT 2019 grades are made of (standards.md §1-2: fever,
    # hypotension, hypoxia; the ICE domains, consciousness, seizures, motor weakness).
    Advice("Signs of CRS (fever, low blood pressure, trouble breathing or low oxygen) or "
           "ICANS (confusion, trouble speaking, naming or writing, trouble following "
           "instructions, unusual sleepiness, seizures, new weakness): call the treatment "
           "centre now, or go to the nearest emergency department and show this card.",
           "label-facts §3 counselling, §6; standards.md §1-2 (ASTCT)", Provenance.SEED),
    Advice("Do not drive or use heavy or dangerous machinery until neurologic symptoms have "
           "gone away.", "label-facts §3", Provenance.SEED),
)


@dataclass(frozen=True, slots=True)
class LastDose:
    slot: str  # C1D1, C2D15, ...
    dose_mg: int
    step_up: bool  # the step-up dose of the label (1 mg for IMDELLTRA)
    restart: bool  # part of a restart step-up (label-facts §5)
    started_at: datetime

    @property
    def step(self) -> str:
        """``C1D1 1 mg step-up``, ``C2D1 10 mg``, ``C1D1 1 mg step-up (restart)``."""
        words = f"{self.slot} {self.dose_mg} mg" + (" step-up" if self.step_up else "")
        return words + (" (restart)" if self.restart else "")


@dataclass(frozen=True, slots=True)
class ProximityWindow:
    """Stay within ``within_hours`` of an appropriate healthcare facility (with a caregiver)
    until ``until``: the last dose's care (label-facts §3)."""

    within_hours: int
    until: datetime
    caregiver: bool
    rule: str  # the rule row that gave the dose this care
    tag: Provenance

    def active(self, at: datetime) -> bool:
        return at < self.until


@dataclass(frozen=True, slots=True)
class EventLine:
    type: str  # CRS | ICANS
    grade: int
    onset: datetime
    resolved_at: datetime | None


@dataclass(frozen=True, slots=True)
class PassportCard:
    patient_id: int
    family_name: str
    given_name: str
    birth_date: date
    mrn: str
    site_name: str
    site_phone: str | None
    timezone: str
    label_version: str | None
    course_status: str | None
    last_dose: LastDose | None
    window: ProximityWindow | None
    events: tuple[EventLine, ...]
    advice: tuple[Advice, ...]
    as_of: datetime
    issued_at: datetime
    valid_until: datetime
    valid_days: int
    nonce: str

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def name(self) -> str:
        return f"{self.family_name}, {self.given_name}"

    @property
    def validity_tag(self) -> Provenance:
        return VALIDITY_TAG


# --------------------------------------------------------------------------- use cases


def issue_passport(uow: UnitOfWork, *, patient_id: int, actor: str,
                   now: datetime) -> PassportCard:
    """The wallet card of the patient as of ``now``, issued by ``actor`` (a nurse or
    physician of the patient's site): one ``passport.issued`` audit entry."""
    now = aware(now, "now").replace(microsecond=0)  # the link carries whole seconds
    with uow:
        user = actor_with(uow, actor, PASSPORT_ROLES, "print a wallet card")
        patient = patient_or_404(uow, patient_id, scope_of(user))
        card = _card(uow, patient, as_of=now, issued_at=now, nonce=secrets.token_hex(4))
        audit.append(uow, actor=user.username, action="passport.issued", entity_type="patient",
                     entity_id=patient.id, at=now,
                     after={"issued_at": card.issued_at, "valid_until": card.valid_until,
                            "valid_days": card.valid_days, "nonce": card.nonce,
                            "last_dose": None if card.last_dose is None else {
                                "slot": card.last_dose.slot,
                                "started_at": card.last_dose.started_at}})
        uow.commit()
    return card


def passport_for_holder(uow: UnitOfWork, *, patient_id: int, issued_at: datetime, nonce: str,
                        now: datetime) -> PassportCard:
    """The card's facts as of ``now`` for whoever holds a link signed for ``patient_id`` at
    ``issued_at`` (the caller checked the signature). A link past its validity, issued in the
    future, or of a patient no longer on record is :class:`NotFound`, all alike."""
    now, issued_at = aware(now, "now"), aware(issued_at, "issued_at")
    gone = NotFound("token", "no such card")
    if issued_at > now:
        raise gone
    with uow.readonly():
        patient = uow.patients.get(patient_id)
        if patient is None:
            raise gone
        card = _card(uow, patient, as_of=now, issued_at=issued_at, nonce=nonce)
    if now >= card.valid_until:
        raise gone
    return card


# --------------------------------------------------------------------------- the facts


def _course(uow: UnitOfWork, patient_id: int) -> CourseRecord | None:
    """The patient's current course: the latest open one, else the latest."""
    courses = uow.courses.for_patient(patient_id)
    open_ = [c for c in courses if c.status != CourseStatus.DISCONTINUED]
    chosen = open_ or courses
    return chosen[-1] if chosen else None


def _valid_days(site: SiteRecord) -> int:
    raw = site.policy.get("passport_valid_days", DEFAULT_VALID_DAYS)
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
        from tarla.domain.errors import InvalidInput

        raise InvalidInput("site.policy.passport_valid_days",
                           f"{raw!r} is not a whole number of days (1 or more)")
    return raw


def _phone(site: SiteRecord) -> str | None:
    raw: Any = site.policy.get("phone")
    return raw.strip() or None if isinstance(raw, str) else None


def _card(uow: UnitOfWork, patient: PatientRecord, *, as_of: datetime, issued_at: datetime,
          nonce: str) -> PassportCard:
    site = uow.sites.get(patient.site_id)
    assert site is not None
    zone = zone_of(site)
    course = _course(uow, patient.id)  # type: ignore[arg-type]
    last = window = None
    events: tuple[EventLine, ...] = ()
    issue_window: ProximityWindow | None = None
    if course is not None:
        h = history_for(uow, course)
        last, window = _dose_facts(h, zone, as_of)
        if issued_at == as_of:
            issue_window = window
        else:  # the link's validity counts from the dose before it was issued
            issue_window = _dose_facts(h, zone, issued_at)[1]
        events = tuple(EventLine(e.type, e.grade, e.onset, e.resolved_at)
                       for e in sorted(h.adverse_events, key=lambda e: e.onset)
                       if e.type in _CARD_EVENTS and e.onset <= as_of)
    days = _valid_days(site)
    valid_until = issued_at + timedelta(days=days)
    if issue_window is not None and issue_window.until > valid_until:
        valid_until = issue_window.until
    return PassportCard(
        patient_id=patient.id, family_name=patient.family_name,  # type: ignore[arg-type]
        given_name=patient.given_name, birth_date=patient.birth_date, mrn=patient.mrn,
        site_name=site.name, site_phone=_phone(site), timezone=site.timezone,
        label_version=None if course is None else course.label_version,
        course_status=None if course is None else course.status, last_dose=last,
        window=window, events=events, advice=ADVICE, as_of=as_of, issued_at=issued_at,
        valid_until=valid_until, valid_days=days, nonce=nonce)


def _dose_facts(h: CourseHistory, zone: ZoneInfo, as_of: datetime,
                ) -> tuple[LastDose | None, ProximityWindow | None]:
    """The last dose started by ``as_of`` as the engine derived it, and the proximity window
    of the care the engine gave it."""
    decision = core.evaluate(course_input(h, as_of, zone))
    if not decision.history:
        return None, None
    given = decision.history[-1]
    rules = h.rules if h.rules is not None else core.BUILTIN_RULES
    restart = given.kind is core.DoseKind.RESTART_STEP_UP
    last = LastDose(given.slot.label, given.dose_mg, given.dose_mg == rules.step_up_dose,
                    restart, given.started_at)
    before = core.evaluate(course_input(h, given.started_at - _TICK, zone))
    care = before.care
    if care is None or care.proximity is None:
        return last, None
    prox = care.proximity
    if restart and before.next_dose is not None and before.next_dose.kind is given.kind:
        row: Any = rules.restart_cycle1_care  # the site policy that gave it Cycle 1 care
    else:
        row = rules.tier_for(given.slot.cycle, given.slot.day)
    until = given.started_at + timedelta(hours=prox.until_hours_from_start)
    return last, ProximityWindow(prox.within_hours, until, prox.caregiver, row.rule_id, row.tag)
