"""The patient's wallet card (reportlab): credit-card size, front and back as two pages.

Rendered from :class:`~tarla.services.passport.PassportCard` (the service derives every fact
from the course engine; nothing is computed here) and the URL of the card's phone page, which
the QR code carries. ID-1 card size (85.6 x 54 mm), as wallet-card stock and card printers
take it; a sheet printer prints it at 100 % and the two pages are glued back to back or
folded. The text shrinks step by step to fit, never below :data:`MIN_FONT` (about the
smallest read comfortably on a card); what still does not fit (a long CRS/ICANS history) is
cut with "... and N more" and the full list is on the phone page.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, tzinfo
from functools import partial
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.graphics import renderPDF  # type: ignore[import-untyped]
from reportlab.graphics.barcode.qr import QrCodeWidget  # type: ignore[import-untyped]
from reportlab.graphics.shapes import Drawing  # type: ignore[import-untyped]
from reportlab.lib import colors  # type: ignore[import-untyped]
from reportlab.lib.styles import ParagraphStyle  # type: ignore[import-untyped]
from reportlab.lib.units import mm  # type: ignore[import-untyped]
from reportlab.pdfgen.canvas import Canvas  # type: ignore[import-untyped]
from reportlab.platypus import Flowable, Frame, Paragraph  # type: ignore[import-untyped]

from tarla.adapters.pdf import fonts
from tarla.domain.errors import InvalidInput
from tarla.services.passport import PassportCard

__all__ = ["render_passport", "CARD_SIZE", "MIN_FONT", "moment_words", "event_words",
           "window_words"]

CARD_SIZE = (85.6 * mm, 54 * mm)  # ISO/IEC 7810 ID-1
MIN_FONT = 5.5  # pt
_MARGIN = 3 * mm
_BAND = 10.5 * mm  # the black band across the top of the front
_QR = 21 * mm  # the QR symbol with its quiet zone (4 modules)
_SCALES = (1.0, 0.94, 0.88, 0.82, 0.76)
_RED = colors.HexColor("#b00020")


def moment_words(moment: datetime, zone: tzinfo) -> str:
    """``Tue 15 Dec 2026 09:00 EST`` (the zone's abbreviation, or its UTC offset)."""
    local = moment.astimezone(zone)
    name = local.tzname() or ""
    if not name or name.startswith(("+", "-")):
        offset = local.strftime("%z")
        name = f"UTC{offset[:3]}:{offset[3:]}"
    return f"{local:%a %d %b %Y %H:%M} {name}"


def window_words(card: PassportCard) -> str | None:
    """The 48 h proximity rule of the last dose, as the patient reads it (None: none)."""
    w = card.window
    if w is None:
        return None
    hour = "hour" if w.within_hours == 1 else "hours"
    return (f"Until {moment_words(w.until, card.zone)}: stay within {w.within_hours} {hour} "
            "of an appropriate healthcare facility"
            + (", with a caregiver" if w.caregiver else "") + ".")


def event_words(card: PassportCard, zone: tzinfo) -> list[str]:
    out = []
    for e in card.events:
        end = ("ongoing" if e.resolved_at is None
               else f"resolved {e.resolved_at.astimezone(zone):%d %b %Y}")
        out.append(f"{e.type} grade {e.grade}, {e.onset.astimezone(zone):%d %b %Y} ({end})")
    return out


def _qr(canvas: Canvas, url: str, x: float, y: float, size: float) -> None:
    widget = QrCodeWidget(url, barLevel="M")  # 4-module quiet zone included
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
    drawing.add(widget)
    renderPDF.draw(drawing, canvas, x, y)


def _style(name: str, size: float, bold: bool = False, color: object = colors.black,
           ) -> ParagraphStyle:
    f = fonts()
    return ParagraphStyle(name, fontName=f.bold if bold else f.regular, fontSize=size,
                          leading=size * 1.18, textColor=color)


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(text), style)


def _fits(build: Callable[[float], list[Flowable]], width: float, height: float,
          ) -> tuple[list[Flowable], float] | None:
    """The story at the largest scale whose height fits the box."""
    for scale in _SCALES:
        story = build(scale)
        used = sum(f.wrap(width, height)[1] + f.getSpaceBefore() + f.getSpaceAfter()
                   for f in story)
        if used <= height:
            return story, scale
    return None


def _draw(canvas: Canvas, story: list[Flowable], x: float, y: float, width: float,
          height: float) -> None:
    frame = Frame(x, y, width, height, leftPadding=0, rightPadding=0, topPadding=0,
                  bottomPadding=0, showBoundary=0)
    frame.addFromList(story, canvas)
    if story:  # pragma: no cover - _fits measured it
        raise InvalidInput("card", "the wallet card's text does not fit")


def _front(canvas: Canvas, card: PassportCard, url: str) -> None:
    page_w, page_h = CARD_SIZE
    zone = card.zone
    canvas.setFillColor(colors.black)
    canvas.rect(0, page_h - _BAND, page_w, _BAND, stroke=0, fill=1)
    title = _p("On tarlatamab (IMDELLTRA)", _style("t", 10.5, True, colors.white))
    sub = _p("a bispecific T-cell engager · CRS and ICANS risk", _style("s", 6.5, False,
                                                                         colors.white))
    _draw(canvas, [title, sub], _MARGIN, page_h - _BAND + 1.2 * mm, page_w - 2 * _MARGIN,
          _BAND - 2 * mm)

    qr_x, qr_y = page_w - _MARGIN - _QR + 1.5 * mm, page_h - _BAND - _QR - 0.5 * mm
    _qr(canvas, url, qr_x, qr_y, _QR)
    canvas.setFont(fonts().regular, 5)
    canvas.drawCentredString(qr_x + _QR / 2, qr_y - 0.3 * mm, "Scan: this card online")

    left_w = qr_x - _MARGIN - 1 * mm
    top = page_h - _BAND - 1.5 * mm
    dose = card.last_dose

    def who(scale: float) -> list[Flowable]:
        s = max(MIN_FONT, 6.5 * scale)
        story = [_p(card.name, _style("n", max(MIN_FONT, 9 * scale), True)),
                 _p(f"Born {card.birth_date.isoformat()} · MRN {card.mrn}", _style("b", s))]
        if dose is None:
            story.append(_p("No dose given yet.", _style("d", s, True)))
        else:
            story += [_p(f"Last dose: {dose.step}", _style("d", max(MIN_FONT, 7.5 * scale),
                                                           True)),
                      _p(f"Started {moment_words(dose.started_at, zone)}", _style("w", s))]
        if card.course_status == "discontinued":
            story.append(_p("Treatment permanently discontinued.", _style("x", s, True)))
        return story

    window = window_words(card)
    box_h = 11 * mm if window else 6 * mm
    fitted = _fits(who, left_w, top - (_MARGIN + box_h + 1 * mm))
    if fitted is None:
        raise InvalidInput("patient_name", f"{card.name!r} is too long for the wallet card")
    _draw(canvas, fitted[0], _MARGIN, _MARGIN + box_h + 1 * mm, left_w,
          top - (_MARGIN + box_h + 1 * mm))

    box_w = page_w - 2 * _MARGIN
    if window:
        canvas.setStrokeColor(_RED)
        canvas.setLineWidth(1.2)
        canvas.rect(_MARGIN, _MARGIN, box_w, box_h, stroke=1, fill=0)
        text = [_p("AFTER THE LAST DOSE", _style("h", 5.5, True, _RED)),
                _p(window, _style("u", 6.5, True))]
        fitted = _fits(lambda s: [_p("AFTER THE LAST DOSE", _style("h", 5.5, True, _RED)),
                                  _p(window, _style("u", max(MIN_FONT, 6.8 * s), True))],
                       box_w - 3 * mm, box_h - 1.6 * mm)
        text = fitted[0] if fitted else text
        _draw(canvas, text, _MARGIN + 1.5 * mm, _MARGIN + 0.8 * mm, box_w - 3 * mm,
              box_h - 1.6 * mm)
    else:
        _draw(canvas, [_p("No stay-nearby rule after the last dose. Warning signs: see the "
                          "back.", _style("n", 6))], _MARGIN, _MARGIN, box_w, box_h)


def _with(body: Callable[[float, int], list[Flowable]], shown: int,
          scale: float) -> list[Flowable]:
    return body(scale, shown)


def _back(canvas: Canvas, card: PassportCard) -> None:
    page_w, page_h = CARD_SIZE
    zone = card.zone
    width = page_w - 2 * _MARGIN
    call_h = 9 * mm
    foot_h = 4.2 * mm
    history = event_words(card, zone)

    def body(scale: float, shown: int) -> list[Flowable]:
        s = max(MIN_FONT, 6.3 * scale)
        head = _style("h", max(MIN_FONT, 6.8 * scale), True, _RED)
        story: list[Flowable] = [_p("WHAT TO DO", head)]
        story += [_p(f"• {a.text}", _style("a", s)) for a in card.advice]
        so_far = _style("h2", max(MIN_FONT, 6.8 * scale), True)
        so_far.spaceBefore = 1.2 * mm * scale
        story.append(_p("CRS / ICANS SO FAR", so_far))
        lines = history[:shown] or ["none recorded"]
        if shown < len(history):
            lines.append(f"... and {len(history) - shown} more (scan the QR code)")
        story += [_p(line, _style("e", s)) for line in lines]
        return story

    room = page_h - 2 * _MARGIN - call_h - foot_h - 1 * mm
    fitted = None
    for shown in range(len(history), -1, -1):
        fitted = _fits(partial(_with, body, shown), width, room)
        if fitted is not None:
            break
    if fitted is None:  # pragma: no cover - the advice alone fits at the smallest scale
        raise InvalidInput("card", "the wallet card's advice does not fit")
    _draw(canvas, fitted[0], _MARGIN, page_h - _MARGIN - room, width, room)

    call_y = _MARGIN + foot_h
    canvas.setFillColor(colors.black)
    canvas.roundRect(_MARGIN, call_y, width, call_h, 1.5 * mm, stroke=0, fill=1)
    phone = card.site_phone or "phone not on record: ask your care team"
    call = _fits(lambda s: [_p(f"CALL {card.site_name}", _style("c", max(MIN_FONT, 6.5 * s),
                                                                True, colors.white)),
                            _p(phone, _style("p", max(MIN_FONT, 8.5 * s), True,
                                             colors.white))],
                 width - 3 * mm, call_h - 1.4 * mm)
    if call is None:
        raise InvalidInput("site.name", f"{card.site_name!r} is too long for the wallet card")
    _draw(canvas, call[0], _MARGIN + 1.5 * mm, call_y + 0.7 * mm, width - 3 * mm,
          call_h - 1.4 * mm)

    tag = "" if card.window is None else f" · window rule {card.window.rule} ({card.window.tag})"
    foot = (f"Issued {moment_words(card.issued_at, zone)} · QR link valid until "
            f"{card.valid_until.astimezone(zone):%d %b %Y %H:%M} (site policy) · label "
            f"{card.label_version or '-'}{tag}")
    _draw(canvas, [_p(foot, _style("f", 5))], _MARGIN, 0.6 * mm, width, foot_h)


def render_passport(card: PassportCard, *, url: str, out: Path) -> Path:
    """Two pages of 85.6 x 54 mm: the front (who, the last dose, the 48 h window, the QR
    code of ``url``) and the back (what to do, CRS/ICANS so far, whom to call)."""
    canvas = Canvas(str(out), pagesize=CARD_SIZE)
    canvas.setTitle(f"IMDELLTRA wallet card - {card.name}")
    canvas.setAuthor("Tarla")
    _front(canvas, card, url)
    canvas.showPage()
    _back(canvas, card)
    canvas.showPage()
    canvas.save()
    return out
