"""Labs in by interface (issue 16), end to end on a SQLite database loaded by
``tarla demo-data``: an ORU^R01 piped into ``tarla hl7 import`` turns a patient whose labs
are missing into a plain GIVE on the worklist; ``tarla hl7 listen`` answers a message sent
with python-hl7's MLLP client with AA; bad input through the command line.

The demo site's "today" is the New York date nine hours ago (so that this morning's demo
records are in the past whenever the test runs); messages carry a collection time ten
minutes before the real clock, with its UTC offset.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import hl7
import hl7.mllp
import pytest

from tarla.cli import main

HL7 = Path(__file__).resolve().parents[1] / "data" / "hl7"
ZONE = ZoneInfo("America/New_York")


def _message(name: str, *, mrn: str | None = None, control: str | None = None) -> str:
    raw = (HL7 / name).read_text(encoding="utf-8")
    # ten minutes ago, but never after 23:50 of the demo site's day (a worklist for a past
    # day reads what was on record by its end)
    now = datetime.now(UTC)
    demo_day = (now.astimezone(ZONE) - timedelta(hours=9)).date()
    drawn_at = min(now - timedelta(minutes=10), datetime.combine(demo_day, time(23, 50), ZONE))
    drawn = drawn_at.astimezone(UTC).strftime("%Y%m%d%H%M%S") + "+0000"
    raw = raw.replace("20261202064000", drawn)
    if mrn is not None:
        raw = raw.replace("MRN100016", mrn)
    if control is not None:
        raw = raw.replace("LAB0001", control)
    return raw


def _run(coro: Any) -> Any:
    """Run the MLLP client on its own thread: another suite's fixture (a browser driven
    synchronously) may hold a running event loop in this one."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result(timeout=60)


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
         capsys: pytest.CaptureFixture[str]) -> str:
    url = f"sqlite:///{tmp_path / 'tarla.sqlite3'}"
    monkeypatch.setenv("TARLA_DATABASE_URL", url)
    monkeypatch.delenv("TARLA_SITE", raising=False)
    today = (datetime.now(ZONE) - timedelta(hours=9)).date()
    assert main(["demo-data", "--patients", "21", "--seed", "1", "--today", today.isoformat(),
                 "--json"]) == 0, capsys.readouterr().err
    capsys.readouterr()
    return today.isoformat()


def _worklist(day: str, capsys: pytest.CaptureFixture[str]) -> dict[str, dict[str, object]]:
    assert main(["worklist", "--date", day, "--site", "DEMO", "--json"]) == 0
    return {i["mrn"]: i for i in json.loads(capsys.readouterr().out)["items"]}


def test_an_oru_piped_into_hl7_import_turns_a_labs_missing_patient_into_a_give(
        demo: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = _worklist(demo, capsys)
    missing = [mrn for mrn, i in before.items()
               if i["decision"] == "give" and i["pending_checks"] and i["kind"] == "planned"]
    assert missing, "the demo site has a planned dose whose labs are missing"
    mrn = missing[0]
    assert set(before[mrn]["pending_checks"]) == {"CBC", "ALT", "AST", "bilirubin"}  # type: ignore[arg-type]
    path = tmp_path / "oru.hl7"
    path.write_text(_message("oru_panel.hl7", mrn=mrn), encoding="utf-8")
    assert main(["hl7", "import", str(path), "--site", "DEMO", "--json"]) == 0
    (ack,) = json.loads(capsys.readouterr().out)["messages"]
    assert ack["ack_code"] == "AA" and len(ack["lab_ids"]) == 6
    assert "MSA|AA|LAB0001" in ack["ack"]
    after = _worklist(demo, capsys)
    assert after[mrn]["decision"] == "give" and after[mrn]["pending_checks"] == []
    # the same file again: the first acknowledgement, nothing written
    assert main(["hl7", "import", str(path), "--site", "DEMO", "--json"]) == 0
    (again,) = json.loads(capsys.readouterr().out)["messages"]
    assert again["replayed"] and again["lab_ids"] == ack["lab_ids"]
    assert main(["audit", "verify"]) == 0


def test_bad_messages_are_acknowledged_ae_or_ar_and_the_command_exits_1(
        demo: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "batch.hl7"
    path.write_text("\n".join([
        _message("oru_wrong_unit.hl7").replace("M1^^^", "MRN100016^^^").replace(
            "|19580402|", "||"),
        _message("oru_unmatched_mrn.hl7"),
        _message("malformed_msh_type.hl7")]), encoding="utf-8")
    assert main(["hl7", "import", str(path), "--site", "DEMO"]) == 1
    out = capsys.readouterr().out
    assert "AE LAB0004: refused - OBX[3]-6: hemoglobin: unit '%' is not a unit" in out
    assert "AE LAB0005: queued - PID-3: no patient with MRN MRN999999" in out
    assert "AR LAB0006: refused - MSH-9: message type ADT is not ORU" in out
    assert "MSA|AE|LAB0004" in out and "ERR||OBX^3^6|102^Data type error^HL70357|E" in out


def _exit_code(argv: list[str]) -> int:
    """Invalid input ends the command with ``sys.exit(2)`` (cli/_io.py)."""
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


def test_unreadable_input_and_bad_table_edits_exit_2_naming_the_field(
        demo: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _exit_code(["hl7", "import", str(tmp_path / "nope.hl7"), "--site", "DEMO"]) == 2
    assert capsys.readouterr().err.startswith("error: file: cannot read")
    empty = tmp_path / "empty.hl7"
    empty.write_text("\n", encoding="utf-8")
    assert _exit_code(["hl7", "import", str(empty), "--site", "DEMO"]) == 2
    assert "error: file: no HL7 message" in capsys.readouterr().err
    assert _exit_code(["loinc", "set", "glucose", "ANC", "--actor", "rph.okoro", "--site",
                       "DEMO"]) == 2
    assert "error: loinc: 'glucose' is not a LOINC code" in capsys.readouterr().err
    assert main(["loinc", "set", "2345-7", "ANC", "--actor", "rn.alvarez", "--site",
                 "DEMO"]) == 1
    assert "rn.alvarez may not edit" in capsys.readouterr().err
    assert main(["loinc", "set", "26499-4", "ANC", "--actor", "rph.okoro", "--site",
                 "DEMO", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["test"] == "ANC"
    assert main(["loinc", "list", "--site", "DEMO", "--json"]) == 0
    codes = {c["loinc"]: c for c in json.loads(capsys.readouterr().out)["codes"]}
    assert codes["26499-4"]["source"] == "site" and codes["751-8"]["source"] == "seed"


# --------------------------------------------------------------------------- MLLP


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def listener(demo: str) -> Iterator[int]:
    """``tarla hl7 listen`` for DEMO on a loopback port, as its own process."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; from tarla.cli import main; sys.exit(main())",
         "hl7", "listen", "--site", "DEMO", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert f"listening for HL7 v2 (MLLP) on 127.0.0.1:{port}" in line, (
            line, proc.stderr.read() if proc.poll() is not None else "")
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            proc.kill()


async def _send(port: int, raw: str) -> hl7.Message:
    reader, writer = await hl7.mllp.open_hl7_connection("127.0.0.1", port)
    try:
        writer.writemessage(hl7.parse(raw))
        await writer.drain()
        return await asyncio.wait_for(reader.readmessage(), timeout=30)
    finally:
        writer.close()


def test_the_mllp_listener_acknowledges_a_panel_sent_by_the_hl7_client_with_aa(
        listener: int) -> None:
    ack = _run(_send(listener, _message("oru_panel.hl7", mrn="MRN100000",
                                               control="MLLP0001")))
    assert str(ack.segment("MSA")(1)) == "AA" and str(ack.segment("MSA")(2)) == "MLLP0001"
    assert str(ack.segment("MSH")(9)) == "ACK^R01^ACK"
    bad = _run(_send(listener, _message("oru_unmatched_mrn.hl7")))
    assert str(bad.segment("MSA")(1)) == "AE"
    assert "MRN999999" in str(bad.segment("MSA")(3))
