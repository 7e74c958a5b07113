"""``tarla grade crs|icans|lab``: the public contract (shared/contracts/README.md) and its
error path (exit 2, ``error: <field>: ...`` on stderr, never a traceback)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tarla.cli import main

CONTRACTS = Path(__file__).resolve().parents[1] / "data" / "contracts"


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)


def tarla(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
          *argv: str, stdin: object = None) -> Run:
    text = stdin if isinstance(stdin, str) else json.dumps(stdin) if stdin is not None else ""
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))
    monkeypatch.setattr(sys, "argv", ["tarla", *argv])
    try:
        code = main(list(argv))
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return Run(code, out, err)


def _grade_examples() -> list[Path]:
    return sorted(p for p in CONTRACTS.glob("*.json")
                  if json.loads(p.read_text(encoding="utf-8"))["command"][0] == "grade")


def _at(document: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        document = document[int(part)] if isinstance(document, list) else document[part]
    return document


# --- the public examples -----------------------------------------------------------------------

def test_the_three_public_grade_examples_are_present() -> None:
    assert [p.name[:3] for p in _grade_examples()] == ["010", "011", "012"]


@pytest.mark.parametrize("example", _grade_examples(), ids=lambda p: p.stem)
def test_public_contract_example(example: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    case = json.loads(example.read_text(encoding="utf-8"))
    run = tarla(monkeypatch, capsys, *case["command"], "--json", stdin=case["input"])
    assert run.code == 0, run.stderr
    for path, expected in case["expect"].items():
        assert _at(run.json, path) == pytest.approx(expected), path


# --- contract shapes ---------------------------------------------------------------------------

def test_crs_contract_input_is_grade_2_with_system_and_drivers(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    given = {"temperature_c": 38.4, "fever_masked": False, "hypotension": True,
             "vasopressors": 0, "vasopressin": False, "oxygen": "low_flow",
             "oxygen_l_per_min": 3}
    out = tarla(monkeypatch, capsys, "grade", "crs", "--json", stdin=given).json
    assert (out["system"], out["grade"]) == ("ASTCT-2019", 2)
    assert {"criterion", "detail", "grade"} <= set(out["drivers"][0])
    assert {d["criterion"] for d in out["drivers"]} == {"hypotension", "hypoxia", "fever"}


def test_crs_without_fever_is_grade_0(monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    given = {"temperature_c": 37.2, "hypotension": True, "oxygen": "low_flow"}
    out = tarla(monkeypatch, capsys, "grade", "crs", "--json", stdin=given).json
    assert out["grade"] == 0 and out["drivers"]


def test_icans_contract_input_is_grade_2(monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    given = {"ice_score": 5, "consciousness": "awakens_to_voice", "seizure": "none",
             "motor": "none", "cerebral_edema": "none"}
    out = tarla(monkeypatch, capsys, "grade", "icans", "--json", stdin=given).json
    assert (out["system"], out["grade"], out["ice_score"]) == ("ASTCT-2019", 2, 5)


def test_icans_from_ice_items(monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:
    items = {"orientation_year": 1, "orientation_month": 1, "orientation_city": 1,
             "orientation_hospital": 1, "naming": 3, "follows_commands": 1, "writing": 1,
             "attention": 1}
    given = {"ice": items, "consciousness": "normal", "seizure": "none", "motor": "none",
             "cerebral_edema": "none"}
    out = tarla(monkeypatch, capsys, "grade", "icans", "--json", stdin=given).json
    assert (out["grade"], out["ice_score"]) == (0, 10)


def test_icans_ice_3_with_seizure_is_grade_3(monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    given = {"ice_score": 3, "consciousness": "normal", "seizure": "rapidly_resolving",
             "motor": "none", "cerebral_edema": "none"}
    assert tarla(monkeypatch, capsys, "grade", "icans", "--json", stdin=given).json["grade"] == 3


def test_icans_unable_to_do_the_ice_with_consciousness_normal_is_grade_4(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    given = {"ice_unable": True, "consciousness": "normal", "seizure": "none", "motor": "none",
             "cerebral_edema": "none"}
    out = tarla(monkeypatch, capsys, "grade", "icans", "--json", stdin=given).json
    assert (out["grade"], out["ice_score"]) == (4, 0)


def test_crs_on_cpap_at_0_l_per_min_is_grade_4(monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    given = {"temperature_c": 38.2, "hypotension": False, "oxygen": "cpap",
             "oxygen_l_per_min": 0}
    assert tarla(monkeypatch, capsys, "grade", "crs", "--json", stdin=given).json["grade"] == 4


def test_lab_output_has_term_grade_and_converted_value(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    given = {"test": "ANC", "value": 400, "unit": "/µL"}
    out = tarla(monkeypatch, capsys, "grade", "lab", "--json", stdin=given).json
    assert (out["system"], out["term"], out["grade"]) == (
        "CTCAE-5.0", "Neutrophil count decreased", 4)
    assert (out["value_si"], out["unit_si"]) == (pytest.approx(0.4), "10^9/L")


def test_lab_alt_with_abnormal_baseline(monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    given = {"test": "ALT", "value": 150, "unit": "U/L", "uln": 40, "baseline": 60}
    out = tarla(monkeypatch, capsys, "grade", "lab", "--json", stdin=given).json
    assert (out["grade"], out["baseline_abnormal"], out["times_uln"]) == (1, True, 3.75)


def test_lab_within_normal_limits_is_grade_0(monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    given = {"test": "ALT", "value": 35, "unit": "U/L", "uln": 40}
    out = tarla(monkeypatch, capsys, "grade", "lab", "--json", stdin=given).json
    assert (out["grade"], out["term"]) == (0, "Alanine aminotransferase increased")


def test_input_may_come_from_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "lab.json"
    source.write_text(json.dumps({"test": "hemoglobin", "value": 79, "unit": "g/L"}),
                      encoding="utf-8")
    out = tarla(monkeypatch, capsys, "grade", "lab", str(source), "--json").json
    assert (out["term"], out["grade"]) == ("Anemia", 3)


def test_text_output_names_grade_term_and_reason(monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    run = tarla(monkeypatch, capsys, "grade", "lab",
                stdin={"test": "ANC", "value": 0.4, "unit": "10*9/L"})
    assert run.code == 0
    assert run.stdout.startswith("ANC: Neutrophil count decreased grade 4 (CTCAE-5.0")
    assert "0.5" in run.stdout and not run.stdout.lstrip().startswith("{")


def test_text_output_of_crs_lists_each_driver(monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    given = {"temperature_c": 39.0, "hypotension": True, "vasopressors": 1,
             "oxygen": "low_flow", "oxygen_l_per_min": 2}
    run = tarla(monkeypatch, capsys, "grade", "crs", stdin=given)
    assert run.stdout.splitlines()[0] == "CRS grade 3 (ASTCT-2019)"
    assert "hypotension" in run.stdout and "hypoxia" in run.stdout and "fever" in run.stdout


# --- errors ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("kind", "given", "field"), [
    ("crs", {"temperature_c": 100.4, "hypotension": False, "oxygen": "none"}, "temperature_c"),
    ("crs", {"temperature_c": 39, "hypotension": False, "oxygen": "nasal"}, "oxygen"),
    ("crs", {"temperature_c": 39, "hypotension": True, "oxygen": "none", "vasopressors": -1},
     "vasopressors"),
    ("crs", {"temperature_c": 39, "hypotension": False, "oxygen": "none",
             "alt_grade": 3}, "alt_grade"),
    ("crs", {"temperature_c": "39", "hypotension": False, "oxygen": "none"}, "temperature_c"),
    ("crs", {"temperature_c": 39, "oxygen": "none"}, "hypotension"),
    ("icans", {"ice_score": 11, "consciousness": "normal", "seizure": "none", "motor": "none",
               "cerebral_edema": "none"}, "ice_score"),
    ("icans", {"ice": {"writing": 2}, "consciousness": "normal", "seizure": "none",
               "motor": "none", "cerebral_edema": "none"}, "ice.writing"),
    ("icans", {"ice_score": 8, "seizure": "none", "motor": "none", "cerebral_edema": "none"},
     "consciousness"),
    ("icans", {"ice_unable": True, "consciousness": "awakens_to_touch", "seizure": "none",
               "motor": "none", "cerebral_edema": "none"}, "consciousness"),
    ("icans", {"ice_unable": True, "ice_score": 4, "consciousness": "normal",
               "seizure": "none", "motor": "none", "cerebral_edema": "none"}, "ice_score"),
    ("icans", {"ice_unable": "yes", "consciousness": "normal", "seizure": "none",
               "motor": "none", "cerebral_edema": "none"}, "ice_unable"),
    ("lab", {"test": "ANC", "value": 0.4}, "unit"),
    ("lab", {"test": "ANC", "value": 0.4, "unit": "g"}, "unit"),
    ("lab", {"test": "ALT", "value": 200, "unit": "U/L"}, "uln"),
    ("lab", {"test": "ALT", "value": 200, "unit": "U/L", "uln": 0}, "uln"),
    ("lab", {"test": "ANC", "value": 2.5, "unit": "10^9/L"}, "lln"),
    ("lab", {"test": "ANC", "value": -1, "unit": "10^9/L"}, "value"),
    ("lab", {"test": "creatinine", "value": 1, "unit": "mg/dL"}, "test"),
])
def test_bad_input_exits_2_naming_the_field(kind: str, given: dict[str, Any], field: str,
                                            monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    run = tarla(monkeypatch, capsys, "grade", kind, "--json", stdin=given)
    assert run.code == 2
    assert run.stderr.startswith(f"error: {field}: ")
    assert run.json == {"error": {"field": field, "message": run.json["error"]["message"]}}
    assert "Traceback" not in run.stderr


def test_nan_in_json_input_is_refused(monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    run = tarla(monkeypatch, capsys, "grade", "lab",
                stdin='{"test": "ANC", "value": NaN, "unit": "10^9/L"}')
    assert (run.code, run.stderr.split(":")[1].strip()) == (2, "value")


def test_invalid_json_exits_2(monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:
    run = tarla(monkeypatch, capsys, "grade", "crs", stdin="{not json")
    assert run.code == 2 and run.stderr.startswith("error: input: not valid JSON")


def test_a_json_list_instead_of_an_object_exits_2(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    run = tarla(monkeypatch, capsys, "grade", "lab", stdin=[1, 2])
    assert run.code == 2 and run.stderr.startswith("error: input: ")


def test_unknown_grade_kind_exits_2(monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    run = tarla(monkeypatch, capsys, "grade", "gvhd", stdin={})
    assert run.code == 2 and "error: arguments:" in run.stderr


def test_the_installed_command_prints_one_error_line_and_no_traceback() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", "import sys; from tarla.cli import main; sys.exit(main())",
         "grade", "lab", "--json"],
        input=json.dumps({"test": "ALT", "value": 90, "unit": "U/L"}), capture_output=True,
        text=True, timeout=60, check=False)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "error: uln: is required to grade ALT in U/L (or send the value in xULN)"]
    assert json.loads(proc.stdout)["error"]["field"] == "uln"
