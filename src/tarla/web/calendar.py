"""The patient's dose calendar as iCalendar (RFC 5545), with the ``icalendar`` library.

One all-day event per planned or next dose, and after a dose whose care has the 48 h
proximity rule (C1D1, C1D8 and restart step-up doses, label-facts §3) an event for the window
"stay within 1 hour of the centre, with a caregiver", 48 h from the infusion start. A planned
dose has no start time yet: the window is shown from the site's planned start time and the
text says it counts from the actual start. No patient name is written into the file.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Alarm, Calendar, Event

__all__ = ["course_calendar", "PLANNED_START"]

#: The wall time a planned dose is assumed to start at, for the proximity window only.
PLANNED_START = time(9, 0)


def _care_text(care: dict[str, Any] | None) -> str:
    from tarla.web.views import monitoring_words

    if not care:
        return ""
    _, text = monitoring_words(care)
    parts = [text + "."]
    for m in care.get("premedication", []):
        parts.append(f"Before the infusion: {m['drug']} {m['dose']} {m['route']}, {m['timing']}.")
    for m in care.get("post_infusion", []):
        parts.append(f"After the infusion: {m['drug']} {m['dose']} {m['route']}, {m['timing']}.")
    if care.get("labs_before"):
        parts.append("Blood tests before this dose: " + ", ".join(care["labs_before"]) + ".")
    return " ".join(parts)


def _booked_text(booked: tuple[datetime | None, datetime, datetime], zone: ZoneInfo) -> str:
    labs_at, start, until = booked
    labs = "" if labs_at is None else f"Blood draw at {labs_at.astimezone(zone):%H:%M}; "
    return (f"{labs}infusion booked at {start.astimezone(zone):%a %d %b %H:%M}, until "
            f"{until.astimezone(zone):%a %d %b %H:%M}. ")


def course_calendar(*, patient_id: int, upcoming: list[dict[str, Any]], zone: ZoneInfo,
                    site_name: str, now: datetime, label_version: str,
                    bookings: dict[str, tuple[datetime | None, datetime, datetime]] | None = None,
                    ) -> bytes:
    """``label_version``: the version the patient's course is on, written into each dose.
    ``bookings``: the accepted appointments by slot (labs, infusion start, end of the stay,
    issue 12): a booked dose gets its real times and its 48 h window counts from the booked
    start; an unbooked one keeps the all-day event and the planned start."""
    cal = Calendar()
    cal.add("prodid", "-//Tarla//IMDELLTRA course//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", "IMDELLTRA treatment")
    cal.add("x-wr-timezone", zone.key)
    for dose in upcoming:
        due = date.fromisoformat(dose["due_date"])
        care = dose.get("care")
        ev = Event()
        ev.add("uid", f"tarla-p{patient_id}-{dose['slot']}-{due.isoformat()}-dose@tarla")
        ev.add("dtstamp", now)
        booked = (bookings or {}).get(dose["slot"])
        if booked is not None:
            labs_at, infusion_at, until = booked
            ev.add("dtstart", (labs_at or infusion_at).astimezone(zone))
            ev.add("dtend", until.astimezone(zone))
        else:
            ev.add("dtstart", due)
            ev.add("dtend", due + timedelta(days=1))
        status = " (ON HOLD: the centre will call)" if dose.get("decision") == "hold" else ""
        ev.add("summary", f"IMDELLTRA {dose['dose_mg']} mg infusion ({dose['slot']}){status}")
        ev.add("location", site_name)
        ev.add("description", (
            f"Dose {dose['slot']}, {dose['dose_mg']} mg, at {site_name}. "
            + ("" if booked is None else _booked_text(booked, zone))
            + _care_text(care)
            + f" Dates move if a dose is given late or held. Label {label_version}."))
        ev.add("transp", "TRANSPARENT")
        cal.add_component(ev)
        prox = (care or {}).get("proximity")
        if not prox:
            continue
        start = (datetime.combine(due, PLANNED_START, zone) if booked is None
                 else booked[1].astimezone(zone))
        hours = float(prox["until_hours_from_start"])
        within = prox["within_hours"]
        window = Event()
        window.add("uid", f"tarla-p{patient_id}-{dose['slot']}-{due.isoformat()}-48h@tarla")
        window.add("dtstamp", now)
        window.add("dtstart", start)
        window.add("dtend", start + timedelta(hours=hours))
        window.add("summary", f"Stay within {within:g} hour of {site_name}"
                   + (", with a caregiver" if prox.get("caregiver") else "")
                   + f" ({hours:g} h after the {dose['slot']} dose)")
        mon = (care or {}).get("monitoring") or {}
        first = ""
        if mon.get("kind") == "facility":
            lo, hi = mon["hours"]
            first = (f"For the first {lo:g}-{hi:g} hours you are monitored in a healthcare "
                     "facility. ")
        window.add("description", (
            first + f"Until {hours:g} hours after the infusion STARTED, stay within "
            f"{within:g} hour of {site_name}"
            + (" with a caregiver with you" if prox.get("caregiver") else "")
            + ". Do not drive. This window counts from the actual start of the infusion; it "
            + (f"is shown here from a planned start at {PLANNED_START:%H:%M}"
               if booked is None else f"is shown here from the booked start at {start:%H:%M}")
            + " — move it if the infusion starts at another time. Call the centre at once "
            "for fever, "
            "breathlessness, dizziness, confusion or unusual sleepiness."))
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", "IMDELLTRA: stay close to the centre with your caregiver")
        alarm.add("trigger", timedelta(hours=-12))
        window.add_component(alarm)
        cal.add_component(window)
    return cal.to_ical()
