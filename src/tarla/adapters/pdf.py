"""PDFs for the pharmacy and the bedside: the IV bag label, the compounding worksheet and the
patient's wristband (reportlab).

The label and worksheet are rendered from the core's results
(:class:`~tarla.domain.preparation.PreparationPlan` and :class:`~tarla.domain.clock.ClockReport`);
no rule is computed here. What the bag and wristband barcodes carry is decided by
:mod:`tarla.domain.identification`, which also reads the scans back at the bedside. DejaVu Sans
is used when installed so that °, µ and ☐ print; otherwise Helvetica with ASCII stand-ins.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.graphics.barcode.code128 import Code128  # type: ignore[import-untyped]
from reportlab.lib import colors  # type: ignore[import-untyped]
from reportlab.lib.enums import TA_CENTER  # type: ignore[import-untyped]
from reportlab.lib.pagesizes import letter  # type: ignore[import-untyped]
from reportlab.lib.styles import ParagraphStyle  # type: ignore[import-untyped]
from reportlab.lib.units import mm  # type: ignore[import-untyped]
from reportlab.pdfbase import pdfmetrics  # type: ignore[import-untyped]
from reportlab.pdfbase.ttfonts import TTFont  # type: ignore[import-untyped]
from reportlab.pdfgen.canvas import Canvas  # type: ignore[import-untyped]
from reportlab.platypus import (  # type: ignore[import-untyped]
    Flowable,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from tarla.domain.clock import ClockReport, ClockStatus
from tarla.domain.errors import InvalidInput
from tarla.domain.identification import label_barcode, wristband_barcode
from tarla.domain.preparation import PreparationPlan
from tarla.label.preparation import NO_RE_REFRIGERATION, REFRIGERATED_LIMIT, ROOM_TEMPERATURE_LIMIT

__all__ = ["ScanRecord", "BenchRow", "LabelData", "render_bag_label", "render_worksheet", "render_wristband",
           "fonts", "format_moment", "BAG_LABEL_SIZE", "WRISTBAND_SIZE", "BARCODE_MODULE"]

DEJAVU_DIR = Path("/usr/share/fonts/truetype/dejavu")
BAG_LABEL_SIZE = (100 * mm, 150 * mm)  # a 4 x 6 inch label stock
# One band per page, as a wristband printer feeds it (about 1 x 10 inches), printed landscape.
WRISTBAND_SIZE = (250 * mm, 25 * mm)
# Code 128 X-dimension: 10 mil, i.e. 2 dots on a 203 dpi and 3 dots on a 300 dpi thermal head.
BARCODE_MODULE = 0.254 * mm
_FRAME_PADDING = 6  # points: reportlab's default Frame padding, inside the page margins


@dataclass(frozen=True, slots=True)
class _Fonts:
    regular: str
    bold: str
    unicode: bool

    def deg(self) -> str:
        return "°C" if self.unicode else " deg C"

    def micro(self) -> str:
        return "µg" if self.unicode else "microgram"

    def dash(self) -> str:
        return "–" if self.unicode else "-"

    def box(self) -> str:
        return "☐" if self.unicode else "[ ]"


_FONTS: _Fonts | None = None


def fonts() -> _Fonts:
    """Register DejaVu Sans once if it is installed; else fall back to Helvetica."""
    global _FONTS
    if _FONTS is None:
        regular, bold = DEJAVU_DIR / "DejaVuSans.ttf", DEJAVU_DIR / "DejaVuSans-Bold.ttf"
        if regular.is_file() and bold.is_file():
            pdfmetrics.registerFont(TTFont("DejaVuSans", str(regular)))
            pdfmetrics.registerFont(TTFont("DejaVuSans-Bold", str(bold)))
            _FONTS = _Fonts("DejaVuSans", "DejaVuSans-Bold", True)
        else:
            _FONTS = _Fonts("Helvetica", "Helvetica-Bold", False)
    return _FONTS


@dataclass(frozen=True, slots=True)
class ScanRecord:
    component: str
    gtin: str
    product: str
    lot: str | None
    expiry: date | None
    serial: str | None
    verdict: str
    scanned: bool  # False when typed in from the printed label


@dataclass(frozen=True, slots=True)
class LabelData:
    patient_name: str
    mrn: str
    birth_date: date | None
    order_id: str | None
    slot: str | None
    prescriber: str | None
    plan: PreparationPlan
    clock: ClockReport
    bag_prepared_at: datetime | None
    scans: tuple[ScanRecord, ...]
    prepared_by: str | None
    checked_by: str | None
    bag_material: str | None
    printed_at: datetime
    zone: tzinfo  # the site's IANA zone, for EST/EDT names on the label
    # The label version printed: the course's own (``CourseRecord.label_version``), or the
    # built-in one for a label printed outside the records (``tarla label``).
    label_version: str
    # The preparation on record: its bag barcode is scanned at the bedside. None for a label
    # printed outside the records (``tarla label``), which then says it has no barcode.
    preparation_id: int | None = None


def _offset(moment: datetime) -> str:
    offset = moment.strftime("%z")
    name = moment.tzname() or ""
    label = f"{name} " if name and not name.startswith(("+", "-", "UTC")) else ""
    return f"{label}(UTC{offset[:3]}:{offset[3:]})"


def _short(moment: datetime, zone: tzinfo | None = None) -> str:
    local = moment.astimezone(zone) if zone is not None else moment
    name = local.tzname() or ""
    shown = name if name and not name.startswith(("+", "-", "UTC")) else _offset(local)
    return f"{local:%a %d %b %Y %H:%M} {shown}"


def format_moment(moment: datetime, zone: tzinfo | None = None) -> str:
    """``Tue 15 Dec 2026 16:00 EST (UTC-05:00)``: unambiguous day, wall time, zone, offset."""
    local = moment.astimezone(zone) if zone is not None else moment
    return f"{local:%a %d %b %Y %H:%M} {_offset(local)}"


def _dec(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _per_ml(plan: PreparationPlan, f: _Fonts) -> str:
    per_ml = plan.final_concentration_mg_per_ml * 1000
    return f"{per_ml.quantize(Decimal('0.1'))} {f.micro()}/mL"


def _concentration(plan: PreparationPlan, f: _Fonts) -> str:
    return f"{plan.dose_mg} mg in {_dec(plan.final_volume_ml)} mL (about {_per_ml(plan, f)})"


def _styles(f: _Fonts) -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=f.regular, fontSize=9, leading=11)
    return {
        "base": base,
        "small": ParagraphStyle("small", parent=base, fontSize=6.5, leading=8),
        "bold": ParagraphStyle("bold", parent=base, fontName=f.bold),
        "title": ParagraphStyle("title", parent=base, fontName=f.bold, fontSize=13, leading=15,
                                spaceAfter=2),
        "dose": ParagraphStyle("dose", parent=base, fontName=f.bold, fontSize=22, leading=25),
        "h2": ParagraphStyle("h2", parent=base, fontName=f.bold, fontSize=10, leading=13,
                             spaceBefore=6, spaceAfter=2),
        "banner": ParagraphStyle("banner", parent=base, fontName=f.bold, fontSize=11,
                                 leading=13, textColor=colors.white),
        "banner_big": ParagraphStyle("banner_big", parent=base, fontName=f.bold, fontSize=16,
                                     leading=20, textColor=colors.white),
        "code": ParagraphStyle("code", parent=base, fontName=f.bold, alignment=TA_CENTER),
    }


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(text), style)


def _patient_line(d: LabelData) -> str:
    dob = f" · DOB {d.birth_date.isoformat()}" if d.birth_date else ""
    return f"MRN {d.mrn}{dob}"


def _order_line(d: LabelData) -> str:
    parts = [f"Order {d.order_id}" if d.order_id else "", d.slot or "", d.prescriber or ""]
    return " · ".join(p for p in parts if p) or "Order -"


def _lots(d: LabelData) -> str:
    lots = [f"{s.component} lot {s.lot or '?'} exp {s.expiry.isoformat() if s.expiry else '?'}"
            for s in d.scans]
    return "; ".join(lots) if lots else "no scan recorded"


def _hours(limit: timedelta | None) -> str:
    return "?" if limit is None else f"{int(limit.total_seconds() // 3600)} h"


def _storage_box(d: LabelData, st: dict[str, ParagraphStyle], f: _Fonts, width: float) -> Table:
    c, room, cold = d.clock, ROOM_TEMPERATURE_LIMIT, REFRIGERATED_LIMIT
    fridge = cold.limit
    until = ("" if fridge is None
             else f"; never beyond {_short(c.reconstituted_at + fridge, d.zone)}")
    rows = [
        [_p(f"{room.min_c}{f.dash()}{room.max_c} {f.deg()}: at most {_hours(room.limit)} "
            "room-temperature time in total, infusion included.", st["base"])],
        [_p(f"{cold.min_c}{f.dash()}{cold.max_c} {f.deg()}: the clock pauses{until}. Warm to "
            "room temperature before use.", st["base"])],
        [_p("DO NOT RE-REFRIGERATE once taken out.", st["bold"])],
    ]
    table = Table(rows, colWidths=[width])
    table.setStyle(TableStyle([("BOX", (0, 0), (-1, -1), 1.2, colors.black),
                               ("LEFTPADDING", (0, 0), (-1, -1), 4),
                               ("TOPPADDING", (0, 0), (-1, -1), 1.5),
                               ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5)]))
    return table


def _discard_banner(d: LabelData, st: dict[str, ParagraphStyle], width: float) -> Table:
    moment = d.clock.discard_at.astimezone(d.zone)
    rows = [[_p("DISCARD AFTER", st["banner"])],
            [_p(f"{moment:%a %d %b %Y %H:%M}", st["banner_big"])],
            [_p(_offset(moment), st["banner"])]]
    table = Table(rows, colWidths=[width])
    table.setStyle(TableStyle([
        ("BACKGROUND", (0, 0), (-1, -1), colors.black),
        ("LEFTPADDING", (0, 0), (-1, -1), 5), ("TOPPADDING", (0, 0), (-1, -1), 1),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]))
    return table


def _rule(width: float) -> Table:
    line = Table([[""]], colWidths=[width], rowHeights=[2])
    line.setStyle(TableStyle([("LINEBELOW", (0, 0), (-1, -1), 0.8, colors.black)]))
    return line


def _code128(text: str, field: str, height: float) -> Code128:
    """A Code 128 symbol with the standard quiet zones (10 modules each side). reportlab drops
    what Code 128 cannot carry without a word, so anything but printable ASCII is refused."""
    if not text or any(not " " <= c <= "~" for c in text):
        raise InvalidInput(field, f"{text!r} cannot be printed as a Code 128 barcode (printable "
                                  "ASCII only)")
    quiet = 10 * BARCODE_MODULE
    return Code128(text, barWidth=BARCODE_MODULE, barHeight=height, lquiet=quiet, rquiet=quiet)


def _bag_header(d: LabelData, st: dict[str, ParagraphStyle], width: float) -> list[Flowable]:
    """Patient and order; the bag barcode top right, where the nurse looks for it first."""
    name, order = _p(d.patient_name, st["title"]), _p(_order_line(d), st["base"])
    if d.preparation_id is None:
        return [name, _p(_patient_line(d), st["base"]), order,
                _p("No bag barcode: printed outside the records (no preparation id), so the "
                   "bedside scan cannot identify this bag.", st["small"])]
    text = label_barcode(d.preparation_id)
    symbol = _code128(text, "preparation_id", 9 * mm)
    dob = f"DOB {d.birth_date.isoformat()}" if d.birth_date else ""
    who = [name, _p(f"MRN {d.mrn}", st["base"])] + ([_p(dob, st["base"])] if dob else [])
    inner = width - 2 * _FRAME_PADDING  # a Table is as wide as its columns, padding or not
    top = Table([[who, [symbol, _p(text, st["code"])]]],
                colWidths=[inner - symbol.width, symbol.width], hAlign="LEFT")
    top.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                             ("LEFTPADDING", (0, 0), (-1, -1), 0),
                             ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                             ("TOPPADDING", (0, 0), (-1, -1), 0),
                             ("BOTTOMPADDING", (0, 0), (-1, -1), 0)]))
    return [top, order]


def render_bag_label(d: LabelData, out: Path) -> Path:
    """One page, 100 x 150 mm: what the nurse needs at the bedside, discard time prominent,
    and (for a preparation on record) the bag barcode the bedside scan reads back."""
    f = fonts()
    st = _styles(f)
    plan, c = d.plan, d.clock
    margin = 5 * mm
    width = BAG_LABEL_SIZE[0] - 2 * margin
    prepared = ("" if d.bag_prepared_at is None
                else f" · bag prepared {_short(d.bag_prepared_at, d.zone)}")
    story: list[Flowable] = [
        *_bag_header(d, st, width),
        _rule(width),
        Spacer(1, 1 * mm),
        _p("IMDELLTRA (tarlatamab-dlle) IV infusion", st["bold"]),
        _p(f"{plan.dose_mg} mg", st["dose"]),
        _p(f"in {_dec(plan.final_volume_ml)} mL total (0.9% sodium chloride + "
           f"{_dec(plan.recipe.ivss_ml)} mL IVSS) · about {_per_ml(plan, f)}", st["base"]),
        _p(f"Infuse over {plan.infusion.minutes} min at {plan.infusion.rate_ml_per_h} mL/h"
           f"{' · ' + d.bag_material + ' bag' if d.bag_material else ''}", st["bold"]),
        Spacer(1, 2 * mm),
        _discard_banner(d, st, width),
        Spacer(1, 1.5 * mm),
        _p(f"Latest infusion start: {format_moment(c.latest_infusion_start, d.zone)}",
           st["bold"]),
        _p(f"Reconstituted {_short(c.reconstituted_at, d.zone)}{prepared}", st["base"]),
        Spacer(1, 1.5 * mm),
        _storage_box(d, st, f, width),
        Spacer(1, 1.5 * mm),
        _p(f"Lots: {_lots(d)}", st["base"]),
        _p(f"Prepared by {d.prepared_by or '________'} · checked by "
           f"{d.checked_by or '________'}", st["base"]),
    ]
    if c.status is not ClockStatus.OK:
        story.append(_p(f"CLOCK STATUS: {c.status.value.upper()}", st["bold"]))
    story += [
        Spacer(1, 1 * mm),
        _p(f"Label {d.label_version} · {ROOM_TEMPERATURE_LIMIT.rule_id}, "
           f"{REFRIGERATED_LIMIT.rule_id}, {NO_RE_REFRIGERATION.rule_id} · printed "
           f"{_short(d.printed_at, d.zone)}", st["small"]),
    ]
    doc = SimpleDocTemplate(str(out), pagesize=BAG_LABEL_SIZE, leftMargin=margin,
                            rightMargin=margin, topMargin=margin, bottomMargin=margin,
                            title=f"IMDELLTRA {plan.dose_mg} mg bag label - {d.patient_name}",
                            author="Tarla")
    doc.build(story)
    return out


def _grid(rows: Sequence[Sequence[object]], widths: Sequence[float], header: bool = True) -> Table:
    table = Table([list(r) for r in rows], colWidths=list(widths), repeatRows=1 if header else 0)
    style = [("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
             ("VALIGN", (0, 0), (-1, -1), "TOP"),
             ("LEFTPADDING", (0, 0), (-1, -1), 3), ("RIGHTPADDING", (0, 0), (-1, -1), 3)]
    if header:
        style.append(("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey))
    table.setStyle(TableStyle(style))
    return table


@dataclass(frozen=True, slots=True)
class BenchRow:
    """One bench step as confirmed on record; measured, by and at are None until it is."""

    step: str
    expected_ml: Decimal | None
    measured_ml: float | None = None
    confirmed_by: str | None = None
    confirmed_at: datetime | None = None


def render_worksheet(d: LabelData, out: Path, bench: Sequence[BenchRow] = ()) -> Path:
    """Letter page(s): patient, order, components scanned, the recipe with volumes, the bench
    steps as confirmed (who, when, the volume measured), times, sign-off lines."""
    f = fonts()
    st = _styles(f)
    plan, c = d.plan, d.clock
    width = letter[0] - 36 * mm

    def cell(text: str, style: str = "base") -> Paragraph:
        return _p(text, st[style])

    story: list[Flowable] = [
        cell("IMDELLTRA (tarlatamab-dlle) compounding worksheet", "title"),
        cell(f"Label version {d.label_version}. Printed {format_moment(d.printed_at, d.zone)}.",
             "small"),
        cell("Patient and order", "h2"),
        _grid([[cell("Patient", "bold"), cell(f"{d.patient_name} · {_patient_line(d)}")],
               [cell("Order", "bold"), cell(_order_line(d))],
               [cell("Dose", "bold"), cell(f"{plan.dose_mg} mg: use the {plan.product.strength_mg}"
                                           f" mg package, NDC {plan.product.ndc10}")]],
              [35 * mm, width - 35 * mm], header=False),
        cell("Components scanned", "h2"),
    ]
    scan_rows: list[list[object]] = [[cell(h, "bold") for h in
                                      ("Item", "GTIN", "Lot", "Expiry", "Serial", "Check")]]
    for s in d.scans:
        how = "scanned" if s.scanned else "typed"
        scan_rows.append([cell(s.component), cell(s.gtin), cell(s.lot or "-"),
                          cell(s.expiry.isoformat() if s.expiry else "-"), cell(s.serial or "-"),
                          cell(f"{s.verdict} ({how})")])
    if not d.scans:
        scan_rows.append([cell("none recorded"), "", "", "", "", ""])
    story.append(_grid(scan_rows, [16 * mm, 34 * mm, 28 * mm, 22 * mm, 30 * mm,
                                   width - 130 * mm]))
    story.append(cell("Recipe (in this order)", "h2"))
    step_rows: list[list[object]] = [[cell(h, "bold") for h in
                                      ("#", "Step", "Volume", "Done", "Initials")]]
    for step in plan.steps:
        volume = "" if step.volume_ml is None else f"{_dec(step.volume_ml)} mL"
        step_rows.append([cell(str(step.order)), cell(step.citation.text), cell(volume, "bold"),
                          cell(f.box()), ""])
    story.append(_grid(step_rows, [8 * mm, width - 66 * mm, 20 * mm, 14 * mm, 24 * mm]))
    if bench:
        from tarla.label.preparation import BENCH_TOLERANCE

        story.append(cell("Bench steps as confirmed", "h2"))
        bench_rows: list[list[object]] = [[cell(h, "bold") for h in (
            "Step", "Expected", "Measured", "By", "When")]]
        for b in bench:
            expected = "-" if b.expected_ml is None else f"{_dec(b.expected_ml)} mL"
            if b.confirmed_at is None:  # not confirmed: left blank for the record
                bench_rows.append([cell(b.step), cell(expected), "", "", ""])
                continue
            measured = "confirmed" if b.measured_ml is None else f"{b.measured_ml:g} mL"
            bench_rows.append([cell(b.step), cell(expected), cell(measured, "bold"),
                               cell(b.confirmed_by or ""), cell(_short(b.confirmed_at, d.zone))])
        story.append(_grid(bench_rows, [width - 132 * mm, 20 * mm, 22 * mm, 38 * mm, 52 * mm]))
        story.append(cell(f"Measured volumes are accepted within ± "
                          f"{_dec(BENCH_TOLERANCE.percent)} % of the recipe "
                          f"({BENCH_TOLERANCE.rule_id}, {BENCH_TOLERANCE.tag.value}: a "
                          "site-policy default, not from the label).", "small"))
    story.append(cell(
        f"Reconstitution gives {_dec(plan.recipe.concentration_mg_per_ml)} mg/mL. Final bag: "
        f"{_concentration(plan, f)}. Bags: {', '.join(plan.bag_materials.materials)}"
        f"{' (used: ' + d.bag_material + ')' if d.bag_material else ''}. Lines: "
        f"{', '.join(plan.line_materials.materials)}.", "base"))
    for w in plan.warnings:
        story.append(cell(f"! {w.text}", "bold"))
    story.append(cell("Times (in-use clock)", "h2"))
    times = [["Reconstituted", format_moment(c.reconstituted_at, d.zone)]]
    if d.bag_prepared_at is not None:
        times.append(["Bag prepared", format_moment(d.bag_prepared_at, d.zone)])
    times += [["Dilute by", format_moment(c.dilute_by, d.zone)],
              ["DISCARD AFTER", format_moment(c.discard_at, d.zone)],
              ["Latest infusion start", format_moment(c.latest_infusion_start, d.zone)],
              ["Clock status", f"{c.status.value}; room-temperature time used "
                               f"{int(c.room_temperature_used.total_seconds() // 60)} min"]]
    times += [[f"Violation {v.code.value}", f"{format_moment(v.at, d.zone)}: {v.text}"]
              for v in c.violations]
    story.append(_grid([[cell(a, "bold"), cell(b)] for a, b in times],
                       [45 * mm, width - 45 * mm], header=False))
    story.append(KeepTogether([cell("Sign-off", "h2"), _grid(
        [[cell("Prepared by", "bold"), cell(d.prepared_by or ""), cell("Signature / time"), ""],
         [cell("Checked by", "bold"), cell(d.checked_by or ""), cell("Signature / time"), ""]],
        [30 * mm, 50 * mm, 30 * mm, width - 110 * mm], header=False)]))
    story.append(Spacer(1, 3 * mm))
    story.append(cell("Rules cited: " + ", ".join(r.rule for r in plan.reasons), "small"))
    doc = SimpleDocTemplate(str(out), pagesize=letter, leftMargin=18 * mm, rightMargin=18 * mm,
                            topMargin=12 * mm, bottomMargin=12 * mm,
                            title=f"IMDELLTRA {plan.dose_mg} mg worksheet - {d.patient_name}",
                            author="Tarla")
    doc.build(story)
    return out


_BAND_END = 12 * mm  # each end of the band: the clasp, and the tail that tucks under it
_BAND_EDGE = 3 * mm  # above and below the print: band printers do not print to the edge
_BAND_GAP = 4 * mm  # between the words and the barcode
_BAND_TEXT_MIN = 45 * mm
_BAND_FONT_SIZES = (14, 13, 12, 11, 10, 9, 8, 7)  # 7 pt: about the smallest read on a wrist


def _band_words(patient_name: str, mrn: str, birth_date: date, f: _Fonts, width: float,
                height: float) -> tuple[list[Paragraph], float]:
    """Name, MRN and birth date in the largest size that fits, and the width they take."""
    for size in _BAND_FONT_SIZES:
        bold = ParagraphStyle("band_bold", fontName=f.bold, fontSize=size, leading=size * 1.2)
        plain = ParagraphStyle("band", parent=bold, fontName=f.regular)
        words = [_p(patient_name, bold), _p(f"MRN {mrn}", bold),
                 _p(f"DOB {birth_date.isoformat()}", plain)]
        if sum(w.wrap(width, height)[1] for w in words) <= height:
            return words, max(max(w.getActualLineWidths0()) for w in words)
    raise InvalidInput("patient_name", f"{patient_name!r} is too long to print on a wristband "
                                       f"(even at {_BAND_FONT_SIZES[-1]} pt)")


def render_wristband(*, patient_name: str, mrn: str, birth_date: date, out: Path) -> Path:
    """One band, 250 x 25 mm landscape: name, MRN, birth date and a Code 128 of the MRN.

    The band is printed as two identical panels, so that whichever way the wrist turns one
    barcode faces the scanner, and each barcode stays short: a linear barcode wrapped around
    a wrist reads worse the longer it is. The bars run across the band (the only way Code
    128 fits a 25 mm band), the MRN printed under them for when no scanner reads it.
    """
    f = fonts()
    text = wristband_barcode(mrn)
    page_w, page_h = WRISTBAND_SIZE
    panel_w = (page_w - 2 * _BAND_END) / 2
    high = page_h - 2 * _BAND_EDGE
    caption = 9  # pt, the human-readable line under the bars
    symbol = _code128(text, "mrn", high - caption * 1.3)
    words_w = panel_w - _BAND_GAP - symbol.width
    if words_w < _BAND_TEXT_MIN:
        raise InvalidInput("mrn", f"MRN {text!r} is too long for a wristband barcode "
                                  f"({symbol.width / mm:.0f} mm at {BARCODE_MODULE / mm:.3f} mm a "
                                  f"module; at most {(panel_w - _BAND_GAP - _BAND_TEXT_MIN) / mm:.0f}"
                                  " mm fit)")
    words, used_w = _band_words(patient_name, text, birth_date, f, words_w, high)
    band = Canvas(str(out), pagesize=WRISTBAND_SIZE)
    band.setTitle(f"Wristband - {patient_name}")
    band.setAuthor("Tarla")
    for panel in range(2):  # each panel centred in its half, so the two stand apart
        left = _BAND_END + panel * panel_w + (panel_w - used_w - _BAND_GAP - symbol.width) / 2
        top = page_h - _BAND_EDGE
        for w in words:
            _, h = w.wrap(words_w, high)
            top -= h
            w.drawOn(band, left, top)
        x = left + used_w + _BAND_GAP
        symbol.drawOn(band, x, _BAND_EDGE + caption * 1.3)
        band.setFont(f.bold, caption)
        band.drawCentredString(x + symbol.width / 2, _BAND_EDGE + caption * 0.3, text)
    band.showPage()
    band.save()
    return out
