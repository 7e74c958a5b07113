"""The scheduler's printed day list (issue 12): one line per booking of the day (labs, infusion
start, chair or bed, until when, the rows its durations come from), flagged bookings marked,
then the beds held across the night. reportlab, letter landscape, DejaVu Sans when present."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

from reportlab.lib import colors  # type: ignore[import-untyped]
from reportlab.lib.pagesizes import landscape, letter  # type: ignore[import-untyped]
from reportlab.lib.styles import ParagraphStyle  # type: ignore[import-untyped]
from reportlab.lib.units import mm  # type: ignore[import-untyped]
from reportlab.platypus import (  # type: ignore[import-untyped]
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from tarla.adapters.pdf import fonts

__all__ = ["render_day_list"]


def _rows(board: Any) -> list[Any]:
    """The bookings whose stay overlaps the day (a bed from the night before included)."""
    since, until = board.window
    seen: dict[int, Any] = {}
    for _, views in (*board.chairs, *board.beds):
        for v in views:
            if v.record.start_at < until and v.record.end_at > since:
                seen[v.record.id] = v
    return sorted(seen.values(), key=lambda v: (v.record.start_at, v.record.resource))


def render_day_list(board: Any, *, printed_at: datetime) -> bytes:
    """``board``: a :class:`tarla.services.capacity.DayBoard`."""
    f = fonts()
    body = ParagraphStyle("body", fontName=f.regular, fontSize=8.5, leading=10.5)
    head = ParagraphStyle("head", fontName=f.bold, fontSize=14, leading=17)
    small = ParagraphStyle("small", fontName=f.regular, fontSize=7.5, leading=9)
    zone = board.window[0].tzinfo
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=landscape(letter), leftMargin=12 * mm,
                            rightMargin=12 * mm, topMargin=12 * mm, bottomMargin=12 * mm,
                            title=f"Day list {board.site.code} {board.day.isoformat()}",
                            author="Tarla")
    story: list[Any] = [
        Paragraph(f"Day list · {board.site.name} · {board.day.strftime('%A %d %B %Y')}", head),
        Paragraph(f"Printed {printed_at.astimezone(zone).strftime('%Y-%m-%d %H:%M %Z')}. "
                  "Durations from the engine's care for each dose (rows cited); labs draw time "
                  "is site policy.", small), Spacer(1, 4 * mm)]
    data: list[list[Any]] = [[Paragraph(h, body) for h in (
        "Labs", "Infusion", "Until", "Where", "Patient", "MRN", "Dose", "Rows", "Status")]]
    styles = [("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
              ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e5e7eb")),
              ("VALIGN", (0, 0), (-1, -1), "TOP")]
    for i, v in enumerate(_rows(board), start=1):
        status = "given" if v.given else ("FLAG: " + "; ".join(v.flag.reasons) if v.flag
                                          else "booked")
        data.append([Paragraph(x, body) for x in (
            v.local_labs.strftime("%H:%M") if v.local_labs else "—",
            v.local_start.strftime("%a %H:%M"),
            v.local_end.strftime("%a %d %H:%M") + (" (next day)" if v.crosses_midnight else ""),
            v.record.resource, v.patient, v.mrn,
            f"{v.record.slot} {v.record.dose_mg} mg", ", ".join(v.record.rules), status)])
        if v.flag:
            styles.append(("BACKGROUND", (0, i), (-1, i), colors.HexColor("#fde2e1")))
    if len(data) == 1:
        data.append([Paragraph("No bookings.", body)] + [""] * 8)
    table = Table(data, repeatRows=1, colWidths=[14 * mm, 20 * mm, 30 * mm, 16 * mm, 44 * mm,
                                                  26 * mm, 24 * mm, 42 * mm, 38 * mm])
    table.setStyle(TableStyle(styles))
    story.append(table)
    doc.build(story)
    return out.getvalue()
