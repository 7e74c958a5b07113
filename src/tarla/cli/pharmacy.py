"""CLI commands: pharmacy (``tarla prepare|clock|scan|bill|label``).

Each command parses its input, calls the core once and renders the result. Exit codes:
0 done (``scan``: accepted), 1 refused (``scan``: the component may not be used; ``label``: a
scanned component was refused, or a bag label for a preparation that is not usable), 2 invalid
input or an unreadable scan (mapped in :mod:`tarla.cli._io`).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from tarla.adapters.barcode import InMemoryCatalog, check_scan, label_catalog
from tarla.cli import _io
from tarla.domain.billing import claim_lines
from tarla.domain.clock import EventKind, evaluate_clock
from tarla.domain.errors import InvalidInput
from tarla.domain.ndc import is_valid_gtin
from tarla.domain.preparation import check_dose, plan_preparation
from tarla.domain.verification import ScannedItem, verify_scan
from tarla.label import LABEL_VERSION
from tarla.label.products import Component
from tarla.schemas import load_zone
from tarla.schemas.pharmacy import (
    BillRequest,
    CatalogItemIn,
    ClockRequest,
    LabelRequest,
    claim_to_json,
    clock_to_json,
    load_catalog_items,
    prepare_to_json,
    product_name,
    scan_to_json,
)

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add this group's subcommands."""
    p = sub.add_parser("prepare", help="the pharmacy recipe for one dose",
                       description="Print the preparation recipe for a 1 mg or 10 mg dose.")
    p.add_argument("--dose-mg", required=True, metavar="MG", help="ordered dose: 1 or 10")
    _io.add_io_arguments(p, with_input=False)
    p.set_defaults(handler=_prepare)

    p = sub.add_parser("clock", help="the in-use clock of one preparation",
                       description="Evaluate the in-use clock (JSON: timezone, now, events).")
    _io.add_io_arguments(p)
    p.set_defaults(handler=_clock)

    p = sub.add_parser("scan", help="verify one scanned component against the ordered dose",
                       description="Verify a GS1 scan (DataMatrix/GS1-128 element string or "
                                   "the (01)...(17)... human-readable form). Exit 0 accepted, "
                                   "1 refused, 2 unreadable.")
    p.add_argument("--dose-mg", required=True, metavar="MG", help="ordered dose: 1 or 10")
    p.add_argument("--at", metavar="ISO", help="time of use with UTC offset (default: now)")
    p.add_argument("--expect", choices=[c.value for c in Component], default=Component.DRUG.value,
                   help="which component this step needs (default: drug)")
    p.add_argument("--timezone", metavar="IANA", help="site time zone for the expiry date "
                   "(default: the offset of --at, else this computer's zone)")
    p.add_argument("--recalled-lot", action="append", default=[], metavar="LOT",
                   help="a recalled lot (repeatable)")
    p.add_argument("--recall-list", metavar="FILE", help="recalled lots, one per line")
    p.add_argument("--catalog", metavar="FILE", help="site-added GTINs (JSON list of "
                   '{"gtin", "strength_mg", "components", "level"})')
    p.add_argument("scan", metavar="SCAN", help="raw scanner output ('-': read standard input)")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.set_defaults(handler=_scan)

    p = sub.add_parser("bill", help="claim lines (J9026, JW/JZ, NDC) for one encounter",
                       description="Claim lines for the packages used in one encounter.")
    _io.add_io_arguments(p)
    p.set_defaults(handler=_bill)

    p = sub.add_parser("label", help="print the bag label or the compounding worksheet (PDF)",
                       description="Render a PDF from a preparation record (JSON).")
    kinds = p.add_subparsers(dest="kind", metavar="KIND", parser_class=_io.ArgumentParser)
    kinds.required = True
    for kind, text in (("bag", "the IV bag label"), ("worksheet", "the compounding worksheet")):
        k = kinds.add_parser(kind, help=text, description=f"Render {text} as a PDF.")
        _io.add_io_arguments(k)
        k.add_argument("--out", required=True, metavar="PATH.pdf", help="where to write the PDF")
        k.set_defaults(handler=_label)


# --------------------------------------------------------------------------- helpers


def _dose(text: str, field: str = "dose_mg") -> int:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise InvalidInput(field, f"{text!r} is not a number") from None
    if not value.is_finite() or value != value.to_integral_value():
        raise InvalidInput(field, f"{text} is not a tarlatamab dose (1 or 10)")
    return check_dose(int(value), field)


def _moment(text: str, field: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(field, f"{text!r} is not an ISO 8601 timestamp") from None
    if value.tzinfo is None:
        raise InvalidInput(field, f"{text} has no UTC offset (write e.g. "
                                  "2026-12-15T08:00:00-05:00)")
    return value


def _zone(name: str) -> tzinfo:
    try:
        return load_zone(name)
    except ValueError as exc:
        raise InvalidInput("timezone", str(exc)) from None


def _read_text(path: str, field: str) -> str:
    try:
        return sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise _io.UsageFailure(field, f"cannot read {path}: {exc.strerror}") from None


def _catalog(path: str | None) -> InMemoryCatalog:
    catalog = label_catalog()
    if path is not None:
        data = _io.read_json_input(path)
        if not isinstance(data, list):
            raise InvalidInput("catalog", "must be a JSON list of GTIN entries")
        items = [CatalogItemIn.model_validate(item) for item in data]
        load_catalog_items(catalog, items)
    return catalog


def _reasons_text(reasons: list[dict[str, Any]]) -> list[str]:
    return [f"  - {r['text']} [{r['rule']}, {r['tag']}]" for r in reasons]


# --------------------------------------------------------------------------- prepare


def _prepare(args: argparse.Namespace) -> int:
    plan = plan_preparation(_dose(args.dose_mg))
    _io.emit(prepare_to_json(plan), args.json, _render_prepare)
    return _io.EXIT_OK


def _render_prepare(r: dict[str, Any]) -> str:
    v, rc, bag, inf = r["vial"], r["reconstitute"], r["bag"], r["infusion"]
    lines = [
        f"IMDELLTRA {r['dose_mg']} mg - preparation recipe (label {r['label_version']})",
        f"Vial: the {v['strength_mg']} mg package, NDC {v['ndc']} (check the strength!)",
        f"Reconstitute: {rc['sterile_water_ml']} mL Sterile Water for Injection -> "
        f"{rc['concentration_mg_per_ml']} mg/mL",
        f"Bag: {bag['saline_bag_ml']} mL 0.9% NaCl, withdraw {bag['withdraw_saline_ml']} mL, "
        f"add {bag['ivss_ml']} mL IVSS, add {bag['drug_ml']} mL drug -> "
        f"{bag['final_volume_ml']} mL ({bag['final_volume_tag']})",
        f"Infusion: {inf['minutes']} min at {inf['rate_ml_per_h']} mL/h",
        "",
        "Steps:",
    ]
    lines += [f"  {s['order']}. {s['text']}  [{s['rule']}]" for s in r["steps"]]
    lines += ["", f"Bags: {', '.join(r['materials']['bags'])}; lines/catheters: "
                  f"{', '.join(r['materials']['lines'])}", "", "Warnings:"]
    lines += [f"  ! {w['text']} [{w['rule']}]" for w in r["warnings"]]
    lines += ["", "Time limits (from reconstitution):"]
    lines += [f"  - {t['text']} [{t['rule']}, {t['tag']}]" for t in r["time_limits"]]
    return "\n".join(lines)


# --------------------------------------------------------------------------- clock


def _clock(args: argparse.Namespace) -> int:
    req = ClockRequest.model_validate(_io.read_json_input(args.input))
    report = evaluate_clock(req.clock_events(), req.now, req.zone)
    _io.emit(clock_to_json(report), args.json, _render_clock)
    return _io.EXIT_OK


def _render_clock(r: dict[str, Any]) -> str:
    lines = [
        f"Status:                 {r['status'].upper()} ({r['state'].replace('_', ' ')})",
        f"Reconstituted:          {r['reconstituted_at']}",
        f"Dilute by:              {r['dilute_by']}",
        f"Discard at:             {r['discard_at']}",
        f"Latest infusion start:  {r['latest_infusion_start']}",
        f"Room-temperature time:  {r['room_temperature_minutes_used']} min used, "
        f"{r['room_temperature_minutes_left']} min left",
    ]
    if r["violations"]:
        lines.append("Violations:")
        lines += [f"  {v['code']} at {v['at']}: {v['text']}" for v in r["violations"]]
    return "\n".join(lines)


# --------------------------------------------------------------------------- scan


def _scan(args: argparse.Namespace) -> int:
    dose = _dose(args.dose_mg)
    at = _moment(args.at, "at") if args.at else datetime.now(UTC)
    if args.timezone:
        zone = _zone(args.timezone)
    elif args.at:
        zone = at.tzinfo or UTC
    else:
        zone = datetime.now().astimezone().tzinfo or UTC
    lots = list(args.recalled_lot)
    if args.recall_list:
        lots += [line.strip() for line in _read_text(args.recall_list, "recall_list").splitlines()
                 if line.strip() and not line.lstrip().startswith("#")]
    raw = _read_text("-", "scan").rstrip("\r\n") if args.scan == "-" else args.scan
    scan, verdict = check_scan(raw, _catalog(args.catalog), dose_mg=dose,
                               expect=Component(args.expect), at=at, zone=zone,
                               recalled_lots=lots)
    _io.emit(scan_to_json(scan, verdict), args.json, _render_scan)
    return _io.EXIT_OK if verdict.accepted else _io.EXIT_REFUSED


def _render_scan(r: dict[str, Any]) -> str:
    product = r["product"]["name"] if r["product"] else "unknown product"
    head = "ACCEPT" if r["verdict"] == "accept" else "REFUSED - do not use"
    lines = [head, f"GTIN {r['gtin']}: {product}",
             f"lot {r['lot'] or '-'}  expiry {r['expiry'] or '-'}  serial {r['serial'] or '-'}",
             f"order {r['dose_mg']} mg, expecting the {r['expect']} component"]
    lines += _reasons_text(r["reasons"])
    return "\n".join(lines)


# --------------------------------------------------------------------------- bill


def _bill(args: argparse.Namespace) -> int:
    req = BillRequest.model_validate(_io.read_json_input(args.input))
    claim = claim_lines(req.package_uses())
    _io.emit(claim_to_json(claim, req), args.json, _render_bill)
    return _io.EXIT_OK


def _render_bill(r: dict[str, Any]) -> str:
    lines = [f"{'HCPCS':7} {'MOD':4} {'UNITS':>5}  {'NDC':22} {'BILLABLE':8} REVIEW  NOTE"]
    for line in r["lines"]:
        lines.append(f"{line['hcpcs']:7} {'/'.join(line['modifiers']) or '-':4} "
                     f"{line['units']:>5}  {line['claim_ndc']:22} "
                     f"{'yes' if line['billable'] else 'NO':8} "
                     f"{'YES' if line['needs_review'] else 'no':6}  {line['note']}")
    if r["policy_reading"]:
        lines += ["", r["policy_reading"]]
    return "\n".join(lines)


# --------------------------------------------------------------------------- label


def _label(args: argparse.Namespace) -> int:
    from tarla.adapters import pdf  # reportlab is only needed here

    req = LabelRequest.model_validate(_io.read_json_input(args.input))
    zone = req.zone
    now = req.now or datetime.now(UTC)
    dose = check_dose(req.order.dose_mg, "order.dose_mg")
    plan = plan_preparation(dose)
    report = evaluate_clock(req.clock_events(), now, zone)
    catalog = label_catalog()
    load_catalog_items(catalog, list(req.catalog))
    records, refused = [], []
    for i, s in enumerate(req.scans):
        if s.raw is not None:
            scan, verdict = check_scan(s.raw, catalog, dose_mg=dose, expect=s.component, at=now,
                                       zone=zone, recalled_lots=req.recalled_lots,
                                       field=f"scans[{i}].raw")
            item = scan.item()
        else:
            assert s.gtin is not None
            if not is_valid_gtin(s.gtin):
                raise InvalidInput(f"scans[{i}].gtin", f"{s.gtin!r} is not a valid GTIN")
            item = ScannedItem(s.gtin.zfill(14), s.expiry, s.lot, s.serial)
            verdict = verify_scan(item, catalog.lookup(item.gtin), dose_mg=dose,
                                  expect=s.component, at=now, zone=zone,
                                  recalled_lots=req.recalled_lots)
        refused += [f"scans[{i}]: {r.text}" for r in verdict.refusals]
        records.append(pdf.ScanRecord(
            s.component.value, item.gtin,
            product_name(verdict.entry.product) if verdict.entry else "unknown",
            item.lot, item.expiry, item.serial, "accepted" if verdict.accepted else "REFUSED",
            s.raw is not None))
    if args.kind == "bag" and not report.usable:
        refused.append(f"the preparation is not usable (clock status {report.status.value}, "
                       f"{report.phase.value.replace('_', ' ')}): no bag label")
    result: dict[str, Any] = {"kind": args.kind, "out": None, "dose_mg": dose,
                              "discard_at": report.discard_at.isoformat(),
                              "latest_infusion_start": report.latest_infusion_start.isoformat(),
                              "clock_status": report.status.value, "refusals": refused}
    if refused:
        _io.emit(result, args.json, _render_label)
        return _io.EXIT_REFUSED
    bag_prepared = next((e.at.astimezone(zone) for e in req.events
                         if e.event is EventKind.BAG_PREPARED), None)
    data = pdf.LabelData(
        patient_name=req.patient.name, mrn=req.patient.mrn, birth_date=req.patient.birth_date,
        order_id=req.order.order_id, slot=req.order.slot, prescriber=req.order.prescriber,
        plan=plan, clock=report, bag_prepared_at=bag_prepared, scans=tuple(records),
        prepared_by=req.prepared_by, checked_by=req.checked_by, bag_material=req.bag_material,
        # outside the records: no course, so the built-in label these calculators use
        printed_at=now.astimezone(zone), zone=zone, label_version=LABEL_VERSION)
    out = Path(args.out)
    try:
        render = pdf.render_bag_label if args.kind == "bag" else pdf.render_worksheet
        render(data, out)
    except OSError as exc:
        raise _io.UsageFailure("out", f"cannot write {out}: {exc.strerror}") from None
    result["out"] = str(out)
    _io.emit(result, args.json, _render_label)
    return _io.EXIT_OK


def _render_label(r: dict[str, Any]) -> str:
    if r["refusals"]:
        return "\n".join(["REFUSED - nothing printed", *(f"  - {x}" for x in r["refusals"])])
    return (f"wrote {r['out']} ({r['kind']}, {r['dose_mg']} mg; discard after "
            f"{r['discard_at']}, latest infusion start {r['latest_infusion_start']})")
