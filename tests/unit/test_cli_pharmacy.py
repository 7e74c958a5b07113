"""``tarla prepare|clock|scan|bill|label`` through the real argument parser: exit codes 0/1/2,
contract fields, one ``error: field: message`` line and never a traceback."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from tarla.cli import main

GS = "\x1d"
SCAN_1MG = f"]d20100355513059015172712311012345A{GS}21SERIAL01"
SCAN_10MG = f"]d20100355513077019172712311012345A{GS}21SERIAL01"


def run(capsys, monkeypatch, argv: list[str], stdin: Any = None) -> tuple[int, str, str]:
    text = "" if stdin is None else (stdin if isinstance(stdin, str) else json.dumps(stdin))
    monkeypatch.setattr("sys.stdin", io.StringIO(text))
    try:
        code = main(argv)
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def run_json(capsys, monkeypatch, argv: list[str], stdin: Any = None) -> tuple[int, dict]:
    code, out, _ = run(capsys, monkeypatch, [*argv, "--json"], stdin)
    return code, json.loads(out)


# --------------------------------------------------------------------------- prepare


def test_prepare_1_mg_gives_the_contract_recipe(capsys, monkeypatch):  # example 008
    code, out = run_json(capsys, monkeypatch, ["prepare", "--dose-mg", "1"])
    assert code == 0
    assert out["vial"]["strength_mg"] == 1
    assert out["vial"]["ndc"] == "55513-059-01"
    assert out["reconstitute"]["sterile_water_ml"] == 1.3
    assert out["reconstitute"]["concentration_mg_per_ml"] == 0.9
    assert out["bag"]["saline_bag_ml"] == 250
    assert out["bag"]["withdraw_saline_ml"] == 14
    assert out["bag"]["ivss_ml"] == 13
    assert out["bag"]["drug_ml"] == 1.1
    assert out["bag"]["final_volume_ml"] == 250.1
    assert out["infusion"]["minutes"] == 60
    assert out["infusion"]["rate_ml_per_h"] == 250


def test_prepare_10_mg_gives_the_contract_recipe_with_steps_materials_and_limits(
        capsys, monkeypatch):
    code, out = run_json(capsys, monkeypatch, ["prepare", "--dose-mg", "10"])
    assert code == 0
    assert out["dose_mg"] == 10
    assert out["vial"] == {"strength_mg": 10, "ndc": "55513-077-01", "ndc11": "55513007701",
                           "gtin": "00355513077019"}
    assert out["reconstitute"] == {"sterile_water_ml": 4.4, "concentration_mg_per_ml": 2.4}
    assert {k: out["bag"][k] for k in ("saline_bag_ml", "withdraw_saline_ml", "ivss_ml",
                                       "drug_ml", "final_volume_ml")} == {
        "saline_bag_ml": 250, "withdraw_saline_ml": 17, "ivss_ml": 13, "drug_ml": 4.2,
        "final_volume_ml": 250.2}
    assert [s["volume_ml"] for s in out["steps"]] == [4.4, None, None, 17, 13, 4.2, None, None]
    assert out["materials"] == {"bags": ["EVA", "polyolefin", "PVC"],
                                "lines": ["polyolefin", "PVC", "polyurethane"]}
    assert {w["rule"] for w in out["warnings"]} >= {"PREP-NO-CSTD",
                                                    "PREP-NO-IVSS-RECONSTITUTION"}
    assert {t["rule"]: t["hours"] for t in out["time_limits"]}["PREP-FRIDGE-7D"] == 168
    assert out["label_version"] == "US-PI-2025-11" and out["unverified"] is False
    assert all({"rule", "tag", "text"} <= set(r) for r in out["reasons"])


def test_prepare_prints_a_readable_recipe_card(capsys, monkeypatch):
    code, out, _ = run(capsys, monkeypatch, ["prepare", "--dose-mg", "1"])
    assert code == 0
    assert "IMDELLTRA 1 mg" in out and "NDC 55513-059-01" in out
    assert "1.3 mL Sterile Water for Injection" in out
    assert "against the glass wall" in out and "250.1 mL" in out
    assert "Closed system transfer devices" in out


@pytest.mark.parametrize("dose", ["5", "0", "1.5", "ten"])
def test_prepare_refuses_any_other_dose_with_exit_2(capsys, monkeypatch, dose):
    code, out, err = run(capsys, monkeypatch, ["prepare", "--dose-mg", dose, "--json"])
    assert code == 2
    assert err.startswith("error: dose_mg: ") and err.count("\n") == 1
    assert json.loads(out)["error"]["field"] == "dose_mg"


def test_prepare_5_mg_names_the_allowed_doses(capsys, monkeypatch):
    code, _, err = run(capsys, monkeypatch, ["prepare", "--dose-mg", "5"])
    assert code == 2
    assert err == "error: dose_mg: 5 is not a tarlatamab dose (1 or 10)\n"


# --------------------------------------------------------------------------- clock

EXAMPLE_009 = {
    "timezone": "America/New_York", "now": "2026-12-15T12:00:00-05:00",
    "events": [{"event": "reconstituted", "at": "2026-12-15T08:00:00-05:00"},
               {"event": "bag_prepared", "at": "2026-12-15T08:30:00-05:00"}],
}


def test_clock_room_temperature_bag_matches_example_009(capsys, monkeypatch):
    code, out = run_json(capsys, monkeypatch, ["clock"], EXAMPLE_009)
    assert code == 0
    assert out["status"] == "ok"
    assert out["dilute_by"] == "2026-12-15T12:00:00-05:00"
    assert out["discard_at"] == "2026-12-15T16:00:00-05:00"
    assert out["latest_infusion_start"] == "2026-12-15T15:00:00-05:00"
    assert out["room_temperature_minutes_used"] == 240
    assert out["room_temperature_minutes_left"] == 240
    assert out["violations"] == []


def test_clock_reads_a_file_argument_and_prints_text(capsys, monkeypatch, tmp_path: Path):
    path = tmp_path / "clock.json"
    path.write_text(json.dumps(EXAMPLE_009))
    code, out, _ = run(capsys, monkeypatch, ["clock", str(path)])
    assert code == 0
    assert "OK" in out and "2026-12-15T16:00:00-05:00" in out


def test_clock_output_shows_both_offsets_across_the_spring_forward(capsys, monkeypatch):
    code, out = run_json(capsys, monkeypatch, ["clock"], {
        "timezone": "America/New_York", "now": "2026-03-08T01:00:00-05:00",
        "events": [{"event": "reconstituted", "at": "2026-03-07T21:30:00-05:00"},
                   {"event": "bag_prepared", "at": "2026-03-07T21:45:00-05:00"}]})
    assert code == 0
    assert out["dilute_by"] == "2026-03-08T01:30:00-05:00"
    assert out["discard_at"] == "2026-03-08T06:30:00-04:00"


def test_clock_output_shows_both_offsets_across_the_fall_back(capsys, monkeypatch):
    code, out = run_json(capsys, monkeypatch, ["clock"], {
        "timezone": "America/New_York", "now": "2026-11-01T00:30:00-04:00",
        "events": [{"event": "reconstituted", "at": "2026-10-31T21:30:00-04:00"},
                   {"event": "bag_prepared", "at": "2026-10-31T21:45:00-04:00"}]})
    assert out["dilute_by"] == "2026-11-01T01:30:00-04:00"
    assert out["discard_at"] == "2026-11-01T04:30:00-05:00"


def test_clock_reports_re_refrigeration_as_a_violation_with_exit_0(capsys, monkeypatch):
    code, out = run_json(capsys, monkeypatch, ["clock"], {
        "timezone": "America/New_York", "now": "2026-12-16T10:00:00-05:00",
        "events": [{"event": "reconstituted", "at": "2026-12-15T08:00:00-05:00"},
                   {"event": "bag_prepared", "at": "2026-12-15T08:40:00-05:00"},
                   {"event": "refrigerated", "at": "2026-12-15T09:00:00-05:00"},
                   {"event": "removed_from_refrigerator", "at": "2026-12-16T07:00:00-05:00"},
                   {"event": "refrigerated", "at": "2026-12-16T08:00:00-05:00"}]})
    assert code == 0
    assert out["status"] == "violation"
    assert [v["code"] for v in out["violations"]] == ["RE_REFRIGERATED"]
    assert out["violations"][0]["at"] == "2026-12-16T08:00:00-05:00"


@pytest.mark.parametrize(("payload", "field"), [
    ({**EXAMPLE_009, "events": [{"event": "reconstituted", "at": "2026-12-15T08:00:00"}]},
     "events[0].at"),
    ({**EXAMPLE_009, "events": [*EXAMPLE_009["events"],
                                {"event": "shaken", "at": "2026-12-15T09:00:00-05:00"}]},
     "events[2].event"),
    ({**EXAMPLE_009, "events": [EXAMPLE_009["events"][1]]}, "events"),
    ({**EXAMPLE_009, "events": [*EXAMPLE_009["events"],
                                {"event": "infusion_started", "at": "2026-12-15T12:30:00-05:00"}]},
     "events[2].at"),
    ({**EXAMPLE_009, "timezone": "EST"}, "timezone"),
    ({**EXAMPLE_009, "now": "2026-12-15T12:00:00"}, "now"),
    ({**EXAMPLE_009, "colour": "red"}, "colour"),
], ids=["naive-event", "unknown-event", "no-reconstitution", "event-after-now", "bad-zone",
        "naive-now", "unknown-field"])
def test_clock_refuses_malformed_input_with_exit_2_naming_the_field(capsys, monkeypatch,
                                                                     payload, field):
    code, out, err = run(capsys, monkeypatch, ["clock", "--json"], payload)
    assert code == 2
    assert err.startswith(f"error: {field}: ")
    assert json.loads(out)["error"]["field"] == field


def test_clock_without_input_is_exit_2(capsys, monkeypatch):
    code, _, err = run(capsys, monkeypatch, ["clock"], "")
    assert code == 2 and err.startswith("error: input: ")


# --------------------------------------------------------------------------- scan


def test_scan_accepts_the_1_mg_kit_for_a_1_mg_order(capsys, monkeypatch):
    code, out = run_json(capsys, monkeypatch, ["scan", "--dose-mg", "1", "--at",
                                               "2026-12-15T09:00:00-05:00", SCAN_1MG])
    assert code == 0
    assert out["gtin"] == "00355513059015"
    assert out["expiry"] == "2027-12-31"
    assert out["lot"] == "12345A"
    assert out["serial"] == "SERIAL01"
    assert out["product"]["strength_mg"] == 1
    assert out["product"]["ndc"] == "55513-059-01"
    assert out["product"]["name"]
    assert out["verdict"] == "accept"
    assert out["reasons"] == []
    assert out["catalog_entry"]["derived"] is True


def test_scan_refuses_the_1_mg_kit_for_a_10_mg_order_with_exit_1(capsys, monkeypatch):
    code, out = run_json(capsys, monkeypatch, ["scan", "--dose-mg", "10", "--at",
                                               "2026-12-15T09:00:00-05:00", SCAN_1MG])
    assert code == 1
    assert out["verdict"] == "refuse"
    assert [r["code"] for r in out["reasons"]] == ["WRONG_STRENGTH"]
    assert "1 mg package" in out["reasons"][0]["text"]


def test_scan_text_output_says_refused(capsys, monkeypatch):
    code, out, _ = run(capsys, monkeypatch, ["scan", "--dose-mg", "10", "--at",
                                             "2026-12-15T09:00:00-05:00", SCAN_1MG])
    assert code == 1 and out.startswith("REFUSED")


def test_scan_accepts_the_human_readable_form(capsys, monkeypatch):
    code, out = run_json(capsys, monkeypatch, [
        "scan", "--dose-mg", "10", "--at", "2026-12-15T09:00:00-05:00",
        "(01)00355513077019(17)271200(10)L77(21)S9"])
    assert code == 0 and out["expiry"] == "2027-12-31" and out["lot"] == "L77"


def test_scan_refuses_an_expired_kit_in_the_sites_local_date(capsys, monkeypatch):
    argv = ["scan", "--dose-mg", "10", "--timezone", "America/New_York", SCAN_10MG]
    code, _ = run_json(capsys, monkeypatch, [*argv, "--at", "2028-01-01T03:00:00+00:00"])
    assert code == 0  # still 31 December in New York
    code, out = run_json(capsys, monkeypatch, [*argv, "--at", "2028-01-01T05:00:00+00:00"])
    assert code == 1 and [r["code"] for r in out["reasons"]] == ["EXPIRED"]


def test_scan_refuses_a_recalled_lot_from_a_list_file(capsys, monkeypatch, tmp_path: Path):
    recall = tmp_path / "recall.txt"
    recall.write_text("# recalls\nOTHER\n12345A\n")
    code, out = run_json(capsys, monkeypatch, ["scan", "--dose-mg", "10", "--at",
                                               "2026-12-15T09:00:00-05:00", "--recall-list",
                                               str(recall), SCAN_10MG])
    assert code == 1 and [r["code"] for r in out["reasons"]] == ["RECALLED_LOT"]


def test_scan_refuses_an_ivss_vial_where_the_drug_is_expected(capsys, monkeypatch,
                                                              tmp_path: Path):
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps([{"gtin": "00355513090018", "strength_mg": 10,
                                    "components": ["ivss"]}]))
    raw = "(01)00355513090018(17)271231(10)IV1"
    base = ["scan", "--dose-mg", "10", "--at", "2026-12-15T09:00:00-05:00", "--catalog",
            str(catalog)]
    code, out = run_json(capsys, monkeypatch, [*base, raw])
    assert code == 1 and [r["code"] for r in out["reasons"]] == ["WRONG_COMPONENT"]
    code, out = run_json(capsys, monkeypatch, [*base, "--expect", "ivss", raw])
    assert code == 0 and out["unverified"] is True


def test_scan_refuses_an_unknown_gtin(capsys, monkeypatch):
    code, out = run_json(capsys, monkeypatch, ["scan", "--dose-mg", "1", "--at",
                                               "2026-12-15T09:00:00-05:00",
                                               "0100012345678905172712311012345A"])
    assert code == 1 and out["product"] is None
    assert [r["code"] for r in out["reasons"]] == ["UNKNOWN_GTIN"]


def test_scan_reads_the_scan_from_standard_input(capsys, monkeypatch):
    code, out = run_json(capsys, monkeypatch, ["scan", "--dose-mg", "1", "--at",
                                               "2026-12-15T09:00:00-05:00", "-"],
                         SCAN_1MG + "\n")
    assert code == 0 and out["serial"] == "SERIAL01"


@pytest.mark.parametrize("raw", [
    "0100355513059016172712311012345A",   # bad check digit
    "0100355513059015170000001012345A",   # 17 = 000000
    "0100355513059015172713401012345A",   # 271340
    "010035551305901517",                 # truncated
    "",
])
def test_scan_that_cannot_be_parsed_exits_2(capsys, monkeypatch, raw):
    code, out, err = run(capsys, monkeypatch, ["scan", "--dose-mg", "1", raw, "--json"])
    assert code == 2
    assert err.startswith("error: scan: ")
    assert json.loads(out)["error"]["field"] == "scan"


@pytest.mark.parametrize(("argv", "field"), [
    (["--dose-mg", "5"], "dose_mg"),
    (["--dose-mg", "1", "--at", "2026-12-15T09:00:00"], "at"),
    (["--dose-mg", "1", "--at", "yesterday"], "at"),
    (["--dose-mg", "1", "--timezone", "Nowhere/Land"], "timezone"),
])
def test_scan_refuses_bad_options_with_exit_2(capsys, monkeypatch, argv, field):
    code, _, err = run(capsys, monkeypatch, ["scan", *argv, SCAN_1MG])
    assert code == 2 and err.startswith(f"error: {field}: ")


# --------------------------------------------------------------------------- bill


def test_bill_prints_j9026_jz_with_the_n4_ndc(capsys, monkeypatch):
    code, out = run_json(capsys, monkeypatch, ["bill"], {
        "encounter_id": "E1", "date_of_service": "2026-12-15",
        "preparations": [{"id": "B1", "dose_mg": 10}]})
    assert code == 0
    assert [(x["hcpcs"], x["modifiers"], x["units"], x["claim_ndc"]) for x in out["lines"]] == [
        ("J9026", ["JZ"], 10, "N455513007701 UN1")]
    assert out["needs_review"] is False and out["policy_reading"] is None


def test_bill_holds_the_waste_of_a_stopped_infusion_for_review(capsys, monkeypatch):
    code, out = run_json(capsys, monkeypatch, ["bill"], {
        "preparations": [{"dose_mg": 10, "outcome": "stopped_early", "administered_mg": 6.5}]})
    assert code == 0
    assert [(x["modifiers"], x["units"], x["billable"]) for x in out["lines"]] == [
        ([], 7, True), (["JW"], 3, False)]
    assert out["needs_review"] is True and "§4.2" in out["policy_reading"]


def test_bill_text_output_is_a_table(capsys, monkeypatch):
    code, out, _ = run(capsys, monkeypatch, ["bill"], {"preparations": [{"dose_mg": 1}]})
    assert code == 0 and "J9026" in out and "N455513005901 UN1" in out


@pytest.mark.parametrize(("payload", "field"), [
    ({"preparations": [{"dose_mg": 5}]}, "preparations[0].dose_mg"),
    ({"preparations": [{"dose_mg": 10, "outcome": "stopped_early"}]},
     "preparations[0].administered_mg"),
    ({"preparations": [{"dose_mg": 10, "outcome": "spilled"}]}, "preparations[0].outcome"),
    ({"preparations": []}, "preparations"),
])
def test_bill_refuses_bad_input_with_exit_2(capsys, monkeypatch, payload, field):
    code, _, err = run(capsys, monkeypatch, ["bill"], payload)
    assert code == 2 and err.startswith(f"error: {field}: ")


# --------------------------------------------------------------------------- label

LABEL = {
    "timezone": "America/New_York", "now": "2026-12-15T08:45:00-05:00",
    "patient": {"name": "DOE, Jane", "mrn": "MRN-0042", "birth_date": "1958-04-02"},
    "order": {"dose_mg": 10, "order_id": "RX-7781", "slot": "C1D8"},
    "events": [{"event": "reconstituted", "at": "2026-12-15T08:00:00-05:00"},
               {"event": "bag_prepared", "at": "2026-12-15T08:30:00-05:00"}],
    "scans": [{"component": "drug", "raw": SCAN_10MG}],
}


def test_label_refuses_to_print_when_a_scanned_vial_is_the_wrong_strength(
        capsys, monkeypatch, tmp_path: Path):
    out_pdf = tmp_path / "bag.pdf"
    code, out = run_json(capsys, monkeypatch, ["label", "bag", "--out", str(out_pdf)],
                         {**LABEL, "scans": [{"component": "drug", "raw": SCAN_1MG}]})
    assert code == 1 and not out_pdf.exists()
    assert "1 mg package" in out["refusals"][0]


def test_label_refuses_a_bag_label_for_an_expired_preparation(capsys, monkeypatch,
                                                              tmp_path: Path):
    out_pdf = tmp_path / "bag.pdf"
    code, out, _ = run(capsys, monkeypatch, ["label", "bag", "--out", str(out_pdf)],
                       {**LABEL, "now": "2026-12-15T16:00:00-05:00"})
    assert code == 1 and not out_pdf.exists() and out.startswith("REFUSED")


def test_label_refuses_an_incompatible_bag_material(capsys, monkeypatch, tmp_path: Path):
    code, _, err = run(capsys, monkeypatch, ["label", "bag", "--out", str(tmp_path / "b.pdf")],
                       {**LABEL, "bag_material": "glass"})
    assert code == 2 and err.startswith("error: bag_material: ")


def test_label_writes_a_pdf_and_reports_the_discard_time(capsys, monkeypatch, tmp_path: Path):
    out_pdf = tmp_path / "bag.pdf"
    code, out = run_json(capsys, monkeypatch, ["label", "bag", "--out", str(out_pdf)], LABEL)
    assert code == 0 and out_pdf.read_bytes().startswith(b"%PDF")
    assert out["discard_at"] == "2026-12-15T16:00:00-05:00"


# --------------------------------------------------------------------------- as a user runs it


def test_contract_examples_008_and_009_through_the_installed_command(tarla):
    prepared = tarla(["prepare", "--dose-mg", "1", "--json"])
    assert prepared.returncode == 0, prepared.stderr
    assert json.loads(prepared.stdout)["bag"]["final_volume_ml"] == 250.1
    clocked = tarla(["clock", "--json"], EXAMPLE_009)
    assert clocked.returncode == 0, clocked.stderr
    assert json.loads(clocked.stdout)["latest_infusion_start"] == "2026-12-15T15:00:00-05:00"
    bad = tarla(["scan", "--dose-mg", "1", "0100355513059016172712311012345A"])
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
