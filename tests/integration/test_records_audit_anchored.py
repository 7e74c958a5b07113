"""The anchored audit (issue 13): each attack on the trail is detected by ``tarla audit verify``
— an edited entry, a deleted one, a truncated chain with its head rewound, a chain recomputed
by someone without the checkpoint key, renumbered ids, a forged append, a forged checkpoint,
and clinical rows edited, inserted or deleted behind the application's back — on SQLite and
PostgreSQL. The attacker here holds the database (and the public hashing code), never the key.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from records_helpers import T0, World, audit_count, enrol, give
from sqlalchemy import text

from tarla.adapters import orm
from tarla.adapters.audit_store import CheckpointFile
from tarla.adapters.db import make_engine
from tarla.adapters.migrate import upgrade
from tarla.bootstrap import bootstrap
from tarla.cli import main
from tarla.services import admin
from tarla.services.audit import GENESIS_HASH, entry_hash, rows_digest, verify_chain
from tarla.services.audit_anchor import AuditReport, verify_all, write_checkpoint
from tarla.services.records import AuditRecord

KEY = b"a checkpoint key of 32 bytes...."
CHECKPOINTED = T0 + timedelta(days=8)  # after the history below
VERIFIED = T0 + timedelta(days=9)


@pytest.fixture
def log(tmp_path: Path) -> CheckpointFile:
    return CheckpointFile(tmp_path / "checkpoints.jsonl")


def _history(w: World) -> int:
    """Enrol, two doses through the closed loop; returns the chain's length."""
    enrolled = enrol(w)
    give(w, enrolled.course_id, 0, 1)
    give(w, enrolled.course_id, 7, 10)
    return audit_count(w)


def _verify(w: World, log: CheckpointFile, key: bytes | None = KEY) -> AuditReport:
    return verify_all(w.app.uow(), checkpoints=log.read(), key=key, now=VERIFIED)


def _sealed(w: World, log: CheckpointFile) -> int:
    n = _history(w)
    write_checkpoint(w.app.uow(), log, key=KEY, now=CHECKPOINTED)
    report = _verify(w, log)
    assert report.intact, report.problems()
    return n


def _sql(w: World, sql: str, **params: Any) -> None:
    with w.app.engine.begin() as conn:
        conn.execute(text(sql), params)


def _entries(w: World) -> list[AuditRecord]:
    with w.app.uow().readonly() as uow:
        return list(uow.audit.entries())


def _rewrite(w: World, entries: list[AuditRecord]) -> None:
    """What an attacker without the key can do: rehash every entry from the start (the
    algorithm is public), replace the log and move the head to the new last entry."""
    prev, out = GENESIS_HASH, []
    for e in entries:
        digest = entry_hash(id=e.id, at=e.at, actor=e.actor, action=e.action,
                            entity_type=e.entity_type, entity_id=e.entity_id, before=e.before,
                            after=e.after, prev_hash=prev, row_hash=e.row_hash,
                            site_id=e.site_id, patient_id=e.patient_id)
        out.append(dataclasses.replace(e, prev_hash=prev, hash=digest))
        prev = digest
    t, h = orm.AuditEntry.__table__, orm.AuditHead.__table__
    with w.app.engine.begin() as conn:
        conn.execute(t.delete())
        conn.execute(t.insert(), [{f.name: getattr(e, f.name)
                                   for f in dataclasses.fields(AuditRecord)} for e in out])
        conn.execute(h.update().values(last_id=out[-1].id, last_hash=out[-1].hash))


def _one(problems: list[str], needle: str) -> str:
    found = [p for p in problems if needle in p]
    assert found, problems
    return found[0]


def test_an_untouched_history_verifies_with_its_checkpoint(world: World,
                                                           log: CheckpointFile) -> None:
    n = _sealed(world, log)
    report = _verify(world, log)
    assert report.intact
    assert report.chain.entries == n
    assert report.checkpoints == 1
    assert report.chain.unanchored == 0 and report.unanchored_rows == 0


def test_every_new_entry_commits_to_the_rows_its_use_case_wrote(world: World) -> None:
    enrolled = enrol(world)
    last = _entries(world)[-1]
    assert last.action == "patient.enrol"
    tables = sorted({(r["table"], r["id"]) for r in last.rows})
    assert tables == [("patients", enrolled.patient_id),
                      ("treatment_courses", enrolled.course_id)]
    patient = next(r["state"] for r in last.rows if r["table"] == "patients")
    assert patient["mrn"] == "MRN1" and patient["family_name"] == "Doe"


def test_an_edited_entry_is_detected(world: World, log: CheckpointFile) -> None:
    _sealed(world, log)
    _sql(world, "UPDATE audit_log SET actor = 'mallory' WHERE id = 4")
    report = _verify(world, log)
    assert not report.intact
    assert report.chain.problem == "entry 4: hash mismatch (edited)"


def test_an_edited_row_snapshot_inside_an_entry_is_detected(world: World,
                                                            log: CheckpointFile) -> None:
    _sealed(world, log)
    rows = json.dumps([{"table": "patients", "id": 1, "state": {"mrn": "FAKE"}}])
    _sql(world, "UPDATE audit_log SET rows = :r WHERE id = 3", r=rows)
    report = _verify(world, log)
    assert report.chain.problem == ("entry 3: its row states do not match its row hash "
                                    "(edited)")


def test_a_deleted_entry_is_detected(world: World, log: CheckpointFile) -> None:
    _sealed(world, log)
    _sql(world, "DELETE FROM audit_log WHERE id = 5")
    report = _verify(world, log)
    assert report.chain.problem == ("entry 6: previous hash does not match entry 4 "
                                    "(entry deleted?)")


def test_a_truncated_chain_with_its_head_rewound_is_detected_by_the_checkpoint(
        world: World, log: CheckpointFile) -> None:
    n = _sealed(world, log)
    keep = n - 3
    _sql(world, "DELETE FROM audit_log WHERE id > :k", k=keep)
    _sql(world, "UPDATE audit_head SET last_id = :k, last_hash = (SELECT hash FROM audit_log "
                "WHERE id = :k)", k=keep)
    assert verify_chain(world.app.uow()).intact  # the chain alone cannot tell
    report = _verify(world, log)
    assert not report.intact
    assert _one(report.checkpoint_problems, "truncation") == (
        f"checkpoint 1 (written 2026-12-09T13:00:00.000000+00:00) sealed entry {n} but the "
        f"chain ends at entry {keep}: entries deleted and the head rewound (truncation)")


def test_a_chain_recomputed_without_the_key_is_detected_by_the_checkpoint(
        world: World, log: CheckpointFile) -> None:
    n = _sealed(world, log)
    entries = _entries(world)
    entries[3] = dataclasses.replace(entries[3], actor="mallory")
    _rewrite(world, entries)
    assert verify_chain(world.app.uow()).intact  # consistent again, hash by hash
    report = _verify(world, log)
    assert not report.intact
    assert _one(report.checkpoint_problems, "no longer has the hash") == (
        f"checkpoint 1 (written 2026-12-09T13:00:00.000000+00:00): entry {n} no longer has the "
        "hash it sealed: the chain was rewritten after it (entry edited, deleted or "
        "renumbered and the hashes recomputed)")


def test_renumbered_entries_are_detected(world: World, log: CheckpointFile) -> None:
    n = _sealed(world, log)
    entries = _entries(world)
    del entries[4]  # entry 5 goes; 6.. become 5..
    _rewrite(world, [dataclasses.replace(e, id=i) for i, e in enumerate(entries, 1)])
    assert verify_chain(world.app.uow()).intact
    report = _verify(world, log)
    assert _one(report.checkpoint_problems, "truncation").startswith(
        f"checkpoint 1 (written 2026-12-09T13:00:00.000000+00:00) sealed entry {n} but the "
        f"chain ends at entry {n - 1}")


def _forge(w: World, *, at: datetime) -> int:
    """Append one well-formed entry after the head, as someone holding only the database."""
    last = _entries(w)[-1]
    forged = AuditRecord(last.id + 1, at, "rn.a", "lab.record", "lab_result", "99", None,
                         {"lab": "backfilled"}, last.hash, "rehashed below", rows_digest([]),
                         [])
    _rewrite(w, [*_entries(w), forged])
    return forged.id


def test_a_forged_append_dated_before_the_last_checkpoint_is_detected(
        world: World, log: CheckpointFile) -> None:
    _sealed(world, log)
    forged = _forge(world, at=T0 + timedelta(days=2))
    assert verify_chain(world.app.uow()).intact
    report = _verify(world, log)
    assert _one(report.checkpoint_problems, f"entry {forged}:") == (
        f"entry {forged}: dated 2026-12-03T13:00:00.000000+00:00, before the last checkpoint "
        f"(written 2026-12-09T13:00:00.000000+00:00, sealing entry {forged - 1}) that does not "
        "include it: appended after the checkpoint and backdated (forged append?)")


def test_a_forged_append_dated_in_the_future_is_detected(world: World,
                                                         log: CheckpointFile) -> None:
    _sealed(world, log)
    forged = _forge(world, at=VERIFIED + timedelta(days=30))
    report = _verify(world, log)
    assert _one(report.checkpoint_problems, f"entry {forged}:").endswith("in the future")


def test_a_plausible_append_after_the_last_checkpoint_is_vouched_for_only_by_the_chain(
        world: World, log: CheckpointFile) -> None:
    # What a checkpoint cannot prove: this forgery passes until the next checkpoint seals it
    # (the report says which entries stand on the chain alone).
    _sealed(world, log)
    forged = _forge(world, at=CHECKPOINTED + timedelta(hours=2))
    report = _verify(world, log)
    assert report.intact
    assert _one(report.notes, "came after the last checkpoint").startswith(
        f"entries {forged}–{forged} came after the last checkpoint")


def test_a_checkpoint_forged_without_the_key_is_detected(world: World,
                                                         log: CheckpointFile) -> None:
    _sealed(world, log)
    entries = _entries(world)
    entries[2] = dataclasses.replace(entries[2], actor="mallory")
    _rewrite(world, entries)
    lines = log.path.read_text().splitlines()
    cp = json.loads(lines[0])
    cp["head_hash"] = _entries(world)[-1].hash  # re-sealed, but with a guessed key
    log.path.write_text(lines[0] + "\n" + json.dumps(cp) + "\n")
    report = _verify(world, log)
    assert "checkpoint 2: signature does not verify (forged, edited, or signed with another " \
           "key)" in report.checkpoint_problems
    assert _one(report.checkpoint_problems, "checkpoint 1 (written")


def test_checkpoints_cannot_be_checked_without_the_key(world: World,
                                                       log: CheckpointFile) -> None:
    _sealed(world, log)
    report = _verify(world, log, key=None)
    assert not report.intact
    assert report.checkpoint_problems == [
        "1 checkpoint(s) cannot be checked without the audit key (TARLA_AUDIT_KEY or "
        "TARLA_AUDIT_KEY_FILE)"]


def test_a_clinical_row_edited_behind_the_applications_back_is_reported_with_what_differs(
        world: World, log: CheckpointFile) -> None:
    _sealed(world, log)
    with world.app.engine.connect() as conn:
        lab_id, value = conn.execute(text("SELECT id, value FROM lab_results WHERE test = "
                                          "'platelets' ORDER BY id LIMIT 1")).one()
    _sql(world, "UPDATE lab_results SET value = 45 WHERE id = :i", i=lab_id)
    report = _verify(world, log)
    assert report.chain.intact and not report.checkpoint_problems
    [problem] = report.row_problems
    assert (problem.table, problem.id) == ("lab_results", lab_id)
    assert problem.differences == (("value", value, 45.0),)
    assert problem.describe().startswith(f"lab_results {lab_id}: differs from its audited "
                                         "state (entry ")


def test_a_row_inserted_behind_the_applications_back_has_no_audit_entry(
        world: World, log: CheckpointFile) -> None:
    _sealed(world, log)
    _sql(world, "INSERT INTO lab_results (patient_id, test, value, unit, collected_at, "
                "charted_by, charted_at) SELECT patient_id, test, 0.1, unit, collected_at, "
                "charted_by, charted_at FROM lab_results WHERE test = 'ANC' ORDER BY id "
                "LIMIT 1")
    report = _verify(world, log)
    [problem] = report.row_problems
    assert problem.table == "lab_results"
    assert problem.problem == ("no audit entry describes this row (written behind the "
                               "application's back?)")


def test_a_row_deleted_behind_the_applications_back_is_reported_missing(
        world: World, log: CheckpointFile) -> None:
    _sealed(world, log)
    with world.app.engine.connect() as conn:
        step = conn.execute(text("SELECT MAX(id) FROM preparation_steps")).scalar_one()
    _sql(world, "DELETE FROM preparation_steps WHERE id = :i", i=step)
    report = _verify(world, log)
    [problem] = report.row_problems
    assert (problem.table, problem.id) == ("preparation_steps", step)
    assert problem.problem.startswith("missing: deleted behind the application's back")


def test_the_cli_checkpoints_and_reports_each_problem(world: World, database_url: str,
                                                      tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    _history(world)
    monkeypatch.setenv("TARLA_DATABASE_URL", database_url)
    monkeypatch.setenv("TARLA_AUDIT_CHECKPOINTS", str(tmp_path / "cp.jsonl"))
    monkeypatch.delenv("TARLA_AUDIT_KEY", raising=False)
    key_file = tmp_path / "audit.key"
    key_file.write_text(KEY.decode() + "\n")
    monkeypatch.setenv("TARLA_AUDIT_KEY_FILE", str(key_file))
    assert main(["audit", "checkpoint"]) == 0
    assert "checkpoint written to" in capsys.readouterr().out
    assert main(["audit", "verify"]) == 0
    assert capsys.readouterr().out.startswith("audit chain intact:")
    _sql(world, "UPDATE patients SET family_name = 'Roe'")
    assert main(["audit", "verify", "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["intact"] is False
    assert out["rows"][0]["differences"] == [{"column": "family_name", "audited": "Doe",
                                              "now": "Roe"}]


def test_checkpoint_without_a_key_is_refused_with_the_setting_named(
        database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TARLA_DATABASE_URL", database_url)
    monkeypatch.setenv("TARLA_AUDIT_CHECKPOINTS", str(tmp_path / "cp.jsonl"))
    monkeypatch.delenv("TARLA_AUDIT_KEY", raising=False)
    monkeypatch.delenv("TARLA_AUDIT_KEY_FILE", raising=False)
    with pytest.raises(SystemExit) as exited:
        main(["audit", "checkpoint"])
    assert exited.value.code == 2
    assert capsys.readouterr().err == ("error: TARLA_AUDIT_KEY: set TARLA_AUDIT_KEY or "
                                       "TARLA_AUDIT_KEY_FILE to sign checkpoints\n")
    assert not (tmp_path / "cp.jsonl").exists()


def test_entries_and_rows_from_before_anchoring_stay_verifiable_and_are_named(
        empty_database_url: str) -> None:
    url = empty_database_url
    upgrade(url, "0011_capacity")
    at = datetime(2026, 1, 5, 14, 0, tzinfo=UTC)
    old = entry_hash(id=1, at=at, actor="dr.a", action="patient.enrol", entity_type="patient",
                     entity_id="1", before=None, after={"mrn": "M1"}, prev_hash=GENESIS_HASH)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO sites (id, code, name, timezone, policy, created_at) "
                          "VALUES (1, 'NYC', 'NYC', 'America/New_York', '{}', :t)"), {"t": at})
        conn.execute(text(
            "INSERT INTO patients (id, site_id, mrn, family_name, given_name, birth_date, "
            "diagnosis, progressed_after_platinum, version, created_at, updated_at) VALUES "
            "(1, 1, 'M1', 'Doe', 'J', '1958-04-02', 'ES-SCLC', true, 1, :t, :t)"), {"t": at})
        conn.execute(orm.AuditEntry.__table__.insert().values(
            id=1, at=at, actor="dr.a", action="patient.enrol", entity_type="patient",
            entity_id="1", before=None, after={"mrn": "M1"}, prev_hash=GENESIS_HASH,
            hash=old))
        conn.execute(text("UPDATE audit_head SET last_id = 1, last_hash = :h"), {"h": old})
    engine.dispose()
    upgrade(url)
    app = bootstrap(database_url=url)
    try:
        admin.create_user(app.uow(), username="rn.new", display_name="RN", roles=["nurse"],
                          now=at, site_code="NYC")
        report = verify_all(app.uow(), checkpoints=[], key=None, now=at)
    finally:
        app.close()
    assert report.intact, report.problems()
    assert report.chain.entries == 2 and report.chain.unanchored == 1
    assert report.unanchored_rows == 1
    assert "1 entries written before anchoring began: not anchored to a row" in report.notes
