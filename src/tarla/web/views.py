"""Words and formats for the screens (Jinja filters). Presentation only: no clinical rule
decides anything here; these functions say in plain words what the core already decided."""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from typing import Any

from fastapi.templating import Jinja2Templates

from tarla.label import LABEL_VERSION

__all__ = ["install", "DECISION_WORDS", "TAG_WORDS", "local", "monitoring_words"]

#: decision -> (badge text, css class, one-line meaning for a nurse)
DECISION_WORDS: dict[str, tuple[str, str, str]] = {
    "give": ("GIVE", "give", "Due today and nothing holds it."),
    "wait": ("NOT YET", "wait", "Not due yet."),
    "hold": ("HOLD", "hold", "Do not give: a toxicity or lab rule withholds this dose."),
    "discontinue": ("STOPPED", "discontinue",
                    "Permanently discontinued: no further doses."),
    "error": ("CHECK RECORD", "error", "The record could not be evaluated; see the detail."),
}

#: provenance tag -> plain words (label-facts.md tag table)
TAG_WORDS: dict[str, str] = {
    "SEED": "from the manufacturer's preparation and safety page",
    "PI": "from the current prescribing information (11/2025)",
    "PI-2024": "from the 2024 prescribing information; not re-checked against the current one",
    "UNVERIFIED": "NOT CONFIRMED: best reading of the label, not checked against the current "
                  "text; your site must sign this rule off",
    "DERIVED": "calculated from label facts",
}

_EVENT_WORDS = {
    "reconstituted": "Vial reconstituted", "bag_prepared": "Bag prepared",
    "refrigerated": "Bag put in the refrigerator",
    "removed_from_refrigerator": "Bag taken out of the refrigerator",
    "infusion_started": "Infusion started", "infusion_completed": "Infusion completed",
    "discarded": "Discarded",
}

_PREP_STATUS = {
    "ordered": "Ordered, not started", "in_preparation": "Reconstituted, being prepared",
    "prepared": "Bag prepared, awaiting second check", "checked": "Checked, ready to give",
    "stored": "In the refrigerator", "in_use": "Infusion running",
    "administered": "Given", "discarded": "Discarded",
}


def local(moment: datetime | None, zone: tzinfo | str | None = None,
          fmt: str = "%a %d %b %H:%M") -> str:
    if moment is None:
        return "-"
    if isinstance(zone, str):
        from zoneinfo import ZoneInfo

        zone = ZoneInfo(zone)
    shown = moment.astimezone(zone) if zone is not None else moment
    return f"{shown.strftime(fmt)} {shown.tzname() or ''}".strip()


def day(value: date | str | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        value = date.fromisoformat(value)
    return value.strftime("%a %d %b %Y")


def monitoring_words(care: dict[str, Any] | None) -> tuple[str, str]:
    """(short place, sentence) from a care object of the contract."""
    if not care:
        return "-", ""
    mon = care["monitoring"]
    lo, hi = mon["hours"]
    hours = f"{lo:g}" if lo == hi else f"{lo:g}-{hi:g}"
    if mon["kind"] == "facility":
        text = (f"Monitoring bed: {hours} h in the facility, counted from the start of the "
                "infusion")
        prox = care.get("proximity")
        if prox:
            text += (f"; then stay within {prox['within_hours']:g} hour of the centre"
                     + (", with a caregiver," if prox.get("caregiver") else "")
                     + f" until {prox['until_hours_from_start']:g} h after the start")
        return f"BED {hours} h", text
    return f"Chair, observe {hours} h", f"Chair: observe {hours} h after the infusion ends"


def worklist_place(monitoring: str | None) -> str:
    """The worklist's ``"facility 22-24 h"`` / ``"observe 2-2 h"`` as a place."""
    if not monitoring:
        return "-"
    kind, _, hours = monitoring.partition(" ")
    span, _, unit = hours.partition(" ")
    lo, _, hi = span.partition("-")
    if lo == hi:
        hours = f"{lo} {unit}"
    return f"BED {hours}" if kind == "facility" else f"Chair, observe {hours}"


def iso_local(value: str | None, fmt: str = "%a %d %b %H:%M") -> str:
    """An ISO timestamp of the contract (already in the site's offset) for people."""
    if not value:
        return "-"
    moment = datetime.fromisoformat(value)
    offset = moment.strftime("%z")
    return f"{moment.strftime(fmt)} (UTC{offset[:3]}:{offset[3:]})"


def install(templates: Jinja2Templates) -> None:
    env = templates.env
    env.autoescape = True  # names with <script> render inert, everywhere
    env.filters.update(local=local, day=day, tag_words=lambda t: TAG_WORDS.get(str(t), str(t)),
                       event_words=lambda e: _EVENT_WORDS.get(str(e), str(e)),
                       prep_status=lambda s: _PREP_STATUS.get(str(s), str(s)),
                       place=worklist_place, iso_local=iso_local)
    # The built-in version only, for the Rules page: a page about a course shows that
    # course's version (``course_label_version``), see base.html's footer.
    env.globals.update(BUILT_IN_LABEL_VERSION=LABEL_VERSION, DECISION_WORDS=DECISION_WORDS,
                       TAG_WORDS=TAG_WORDS, monitoring_words=monitoring_words)
