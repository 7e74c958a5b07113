"""``tarla schedule`` / ``tarla evaluate`` as a user runs them: output, errors, exit codes."""

from __future__ import annotations

import copy
import json

import pytest

from helpers import run_tarla

BASE = {
    "as_of": "2026-12-15T07:30:00-05:00", "timezone": "America/New_York",
    "patient": {"birth_date": "1958-04-02", "diagnosis": "ES-SCLC",
                "progressed_after_platinum": True},
    "administrations": [{"started_at": "2026-12-01T09:00:00-05:00", "dose_mg": 1},
                        {"started_at": "2026-12-08T09:10:00-05:00", "dose_mg": 10}],
    "adverse_events": [], "labs": [],
}


def with_(path: str, value):
    data = copy.deepcopy(BASE)
    *parents, last = path.split(".")
    node = data
    for p in parents:
        node = node[int(p)] if isinstance(node, list) else node[p]
    if isinstance(node, list):
        node[int(last)] = value
    elif value is ...:
        del node[last]
    else:
        node[last] = value
    return data


@pytest.mark.parametrize("data,field", [
    (with_("as_of", "2026-12-15T07:30:00"), "as_of"),
    (with_("timezone", "Mars/Olympus"), "timezone"),
    (with_("timezone", "EST5EDT-ish"), "timezone"),
    (with_("administrations.1.dose_mg", 5), "administrations[1].dose_mg"),
    (with_("administrations.1.started_at", "2026-12-20T09:00:00-05:00"),
     "administrations[1].started_at"),
    (with_("administrations.0.started_at", "yesterday"), "administrations[0].started_at"),
    (with_("patient.birth_date", ...), "patient.birth_date"),
    (with_("adverse_events", [{"type": "CRS", "grade": 7,
                               "onset": "2026-12-09T01:00:00-05:00"}]), "adverse_events[0].grade"),
    (with_("adverse_events", [{"type": "rash", "grade": 2,
                               "onset": "2026-12-09T01:00:00-05:00"}]), "adverse_events[0].type"),
    (with_("labs", [{"test": "ALT", "value": 35, "unit": "U/L",
                     "collected_at": "2026-12-14T08:00:00-05:00"}]), "labs[0].uln"),
    (with_("labs", [{"test": "ANC", "value": 1.2, "unit": "furlongs",
                     "collected_at": "2026-12-14T08:00:00-05:00"}]), "labs[0].unit"),
])
def test_bad_evaluate_input_exits_2_naming_the_field(data, field) -> None:
    result = run_tarla(["evaluate", "--json"], data)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(f"error: {field}: "), result.stderr
    assert json.loads(result.stdout)["error"]["field"] == field


def test_the_five_mg_error_reads_like_the_contract() -> None:
    result = run_tarla(["evaluate"], with_("administrations.1.dose_mg", 5))
    assert result.stderr.strip() == \
        "error: administrations[1].dose_mg: 5 is not a tarlatamab dose (1 or 10)"
    assert result.stdout == ""


@pytest.mark.parametrize("stdin,needle", [("", "no JSON input"), ("{not json", "not valid JSON"),
                                          ("[]", "input")])
def test_missing_or_broken_json_exits_2(stdin: str, needle: str) -> None:
    result = run_tarla(["evaluate"], stdin)
    assert result.returncode == 2
    assert needle in result.stderr and "Traceback" not in result.stderr


def test_evaluate_prints_a_readable_decision_without_json() -> None:
    result = run_tarla(["evaluate"], BASE)
    assert result.returncode == 0, result.stderr
    assert "Decision: GIVE" in result.stdout
    assert "Next dose: C1D15  10 mg  due 2026-12-15  [planned]" in result.stdout
    assert "6-8 h after the end of the infusion" in result.stdout


def test_evaluate_reads_a_file_argument(tmp_path) -> None:
    path = tmp_path / "patient.json"
    path.write_text(json.dumps(BASE))
    result = run_tarla(["evaluate", str(path), "--json"])
    out = json.loads(result.stdout)
    assert out["next_dose"]["slot"] == "C1D15"
    assert out["label_version"] == "US-PI-2025-11"
    assert [h["slot"] for h in out["history"]] == ["C1D1", "C1D8"]


def test_schedule_from_flags_lists_dates_and_care() -> None:
    result = run_tarla(["schedule", "--start-date", "2026-12-01", "--timezone",
                        "America/New_York", "--json"])
    out = json.loads(result.stdout)
    assert [(s["slot"], s["date"], s["dose_mg"]) for s in out["slots"]] == [
        ("C1D1", "2026-12-01", 1), ("C1D8", "2026-12-08", 10), ("C1D15", "2026-12-15", 10),
        ("C2D1", "2026-12-29", 10), ("C2D15", "2027-01-12", 10)]
    assert out["slots"][0]["care"]["monitoring"]["hours"] == [22, 24]
    assert out["slots"][2]["care"]["proximity"] is None


def test_schedule_from_json_on_stdin_with_cycles() -> None:
    result = run_tarla(["schedule", "--json"], {"start_date": "2026-12-01",
                                                "timezone": "Europe/Berlin", "cycles": 3})
    assert len(json.loads(result.stdout)["slots"]) == 7


@pytest.mark.parametrize("args,field", [
    (["--start-date", "2026-13-01", "--timezone", "UTC"], "start_date"),
    (["--start-date", "2026-12-01", "--timezone", "Nowhere/Land"], "timezone"),
    (["--start-date", "2026-12-01", "--timezone", "UTC", "--cycles", "0"], "cycles"),
])
def test_bad_schedule_arguments_exit_2(args, field) -> None:
    result = run_tarla(["schedule", *args])
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {field}: "), result.stderr


def test_an_unknown_command_is_a_usage_error_not_a_traceback() -> None:
    result = run_tarla(["frobnicate"])
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_the_demo_runs_without_input() -> None:
    result = run_tarla(["demo"])
    assert result.returncode == 0, result.stderr
    assert "restart_step_up" in result.stdout
