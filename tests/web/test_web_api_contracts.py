"""The contract endpoints speak exactly the CLI's JSON (shared/contracts/README.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import DATA, run_tarla

CASES = sorted((DATA / "contracts").glob("*.json"))


def test_healthz_needs_no_sign_in(client) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"


def test_static_htmx_is_vendored_and_served(client) -> None:
    r = client.get("/static/htmx.min.js")
    assert r.status_code == 200
    assert "htmx" in r.text[:200]


def test_api_without_sign_in_is_401_problem(client) -> None:
    r = client.post("/api/v1/prepare", json={"dose_mg": 10})
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert {"type", "title", "status", "detail", "errors"} <= body.keys()


def test_prepare_10_mg_matches_the_contract(as_role) -> None:
    c = as_role("pharmacist")
    r = c.post("/api/v1/prepare", json={"dose_mg": 10})
    assert r.status_code == 200
    body = r.json()
    assert body["vial"] == {"strength_mg": 10, "ndc": "55513-077-01", "ndc11": "55513007701",
                            "gtin": "00355513077019"}
    assert body["reconstitute"] == {"sterile_water_ml": 4.4, "concentration_mg_per_ml": 2.4}
    assert body["bag"]["withdraw_saline_ml"] == 17 and body["bag"]["drug_ml"] == 4.2
    assert body["infusion"]["minutes"] == 60 and body["infusion"]["rate_ml_per_h"] == 250


def test_a_5_mg_dose_is_a_422_problem_naming_the_field(as_role) -> None:
    c = as_role("pharmacist")
    r = c.post("/api/v1/prepare", json={"dose_mg": 5})
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["errors"] == [{"field": "dose_mg",
                               "message": "5 is not a tarlatamab dose (1 or 10)"}]


def test_malformed_json_is_400(as_role) -> None:
    c = as_role("nurse")
    r = c.post("/api/v1/evaluate", content=b"{not json",
               headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json()["status"] == 400


def test_naive_timestamp_is_refused_with_the_field(as_role) -> None:
    c = as_role("nurse")
    r = c.post("/api/v1/evaluate", json={
        "as_of": "2026-12-15T07:30:00", "timezone": "America/New_York",
        "patient": {"birth_date": "1958-04-02", "diagnosis": "ES-SCLC",
                    "progressed_after_platinum": True}})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "as_of"


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_api_answers_like_the_cli_for_every_contract_example(case: Path, as_role) -> None:
    example = json.loads(case.read_text())
    command, stdin = example["command"], example["input"]
    cli = run_tarla([*command, "--json"], stdin)
    c = as_role("physician")
    if command[0] == "prepare":
        r = c.post("/api/v1/prepare", json={"dose_mg": int(command[command.index("--dose-mg") + 1])})
    elif command[0] == "grade":
        r = c.post(f"/api/v1/grade/{command[1]}", json=stdin)
    else:
        r = c.post(f"/api/v1/{command[0]}", json=stdin)
    if cli.returncode == 0:
        assert r.status_code == 200, r.text
        assert r.json() == json.loads(cli.stdout)
    else:
        assert cli.returncode == 2
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        err = json.loads(cli.stdout)["error"]
        assert r.json()["errors"][0]["field"] == err["field"]


def test_scan_accepts_the_right_kit_with_gs_separators(as_role) -> None:
    c = as_role("pharmacist")
    raw = "]d2" + "0100355513077019" + "17271231" + "10LOT42\x1d" + "21SER1"
    r = c.post("/api/v1/scan", json={"scan": raw, "dose_mg": 10,
                                     "at": "2026-12-15T09:00:00-05:00"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["verdict"] == "accept" and body["lot"] == "LOT42" and body["serial"] == "SER1"


def test_scan_refuses_the_1_mg_kit_for_a_10_mg_order(as_role) -> None:
    c = as_role("pharmacist")
    raw = "0100355513059015" + "17271231" + "10LOT1"
    r = c.post("/api/v1/scan", json={"scan": raw, "dose_mg": 10,
                                     "at": "2026-12-15T09:00:00-05:00"})
    assert r.status_code == 200
    assert r.json()["verdict"] == "refuse"
    assert "WRONG_STRENGTH" in {x["code"] for x in r.json()["reasons"]}


def test_unreadable_scan_is_422(as_role) -> None:
    c = as_role("pharmacist")
    r = c.post("/api/v1/scan", json={"scan": "0100355513077010", "dose_mg": 10})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "scan"
