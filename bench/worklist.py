"""Benchmark: the "due today at this site" worklist, each patient with the core's decision.

    .venv/bin/python bench/worklist.py [--patients 1000,10000] [--db sqlite|postgresql|both]
                                       [--runs 7] [--keep DIR]

Builds a site with N active patients and about two years of history (every dose with its
lab panel per the label, some CRS assessments, one audit entry per charted record, hash
chained), bulk-loaded through Core inserts, then times ``tarla.services.queries.worklist``
(the real use case) over repeated runs and prints p50/p95 in ms, plus the share spent
reading the database. The 100k run (``--patients 100000``) builds ~20 M rows: optional.
PostgreSQL runs on a throwaway server, as in the integration tests.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "integration"))  # the throwaway PostgreSQL server

from sqlalchemy import insert, text  # noqa: E402

from tarla.adapters import orm  # noqa: E402
from tarla.adapters.migrate import upgrade  # noqa: E402
from tarla.bootstrap import App, bootstrap  # noqa: E402
from tarla.domain.course import slot_at  # noqa: E402
from tarla.label import LABEL_VERSION  # noqa: E402
from tarla.services import queries  # noqa: E402
from tarla.services.audit import GENESIS_HASH, entry_hash, jsonable  # noqa: E402
from tarla.services.label import ensure_label_version  # noqa: E402

ZONE = ZoneInfo("America/New_York")
TODAY = date(2026, 12, 1)
NOW = datetime.combine(TODAY, dtime(10, 0), ZONE)
YEARS_OF_HISTORY = 2
CHUNK = 20_000


class Loader:
    """Accumulates rows per table and flushes them in chunks; builds the audit chain."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.rows: dict[Any, list[dict[str, Any]]] = {}
        self.counts: dict[str, int] = {}
        self.audit_id, self.audit_hash = 0, GENESIS_HASH
        self.ids: dict[str, int] = {}

    def next_id(self, table: str) -> int:
        self.ids[table] = self.ids.get(table, 0) + 1
        return self.ids[table]

    def add(self, model: Any, row: dict[str, Any]) -> None:
        table = model.__table__
        bucket = self.rows.setdefault(table, [])
        bucket.append(row)
        if len(bucket) >= CHUNK:
            self.flush()  # every table, parents first (foreign keys are checked)

    def audit(self, at: datetime, action: str, entity: str, entity_id: int,
              after: dict[str, Any]) -> None:
        self.audit_id += 1
        after_j = jsonable(after)
        h = entry_hash(id=self.audit_id, at=at, actor="rn.bench", action=action,
                       entity_type=entity, entity_id=str(entity_id), before=None, after=after_j,
                       prev_hash=self.audit_hash)
        self.add(orm.AuditEntry, {"id": self.audit_id, "at": at, "actor": "rn.bench",
                                  "action": action, "entity_type": entity,
                                  "entity_id": str(entity_id), "before": None,
                                  "after": after_j, "prev_hash": self.audit_hash, "hash": h})
        self.audit_hash = h

    def flush(self, table: Any = None) -> None:
        tables = [table] if table is not None else [t for t in orm.Base.metadata.sorted_tables
                                                    if t in self.rows]
        with self.app.engine.begin() as conn:
            for t in tables:
                rows = self.rows.pop(t, [])
                if rows:
                    conn.execute(insert(t), rows)
                    self.counts[t.name] = self.counts.get(t.name, 0) + len(rows)

    def finish(self) -> None:
        # parents before children: flush everything in dependency order
        self.flush()
        with self.app.engine.begin() as conn:
            conn.execute(text("UPDATE audit_head SET last_id = :i, last_hash = :h WHERE id = 1"),
                         {"i": self.audit_id, "h": self.audit_hash})


def _panel(rng: random.Random) -> list[tuple[str, float, str, float | None, float | None]]:
    return [("ANC", round(rng.uniform(2.0, 6.0), 1), "10^9/L", None, 1.8),
            ("platelets", float(rng.randint(160, 380)), "10^9/L", None, 150.0),
            ("hemoglobin", round(rng.uniform(12.1, 15.0), 1), "g/dL", None, 12.0),
            ("ALT", float(rng.randint(12, 38)), "U/L", 40.0, None),
            ("AST", float(rng.randint(12, 38)), "U/L", 40.0, None),
            ("bilirubin", round(rng.uniform(0.3, 1.1), 1), "mg/dL", 1.2, None)]


def build(app: App, patients: int, seed: int = 7) -> dict[str, int]:
    with app.uow() as uow:
        ensure_label_version(uow, NOW - timedelta(days=800))
        uow.commit()
    ld = Loader(app)
    setup = NOW - timedelta(days=800)
    with app.engine.begin() as conn:
        conn.execute(insert(orm.Site.__table__), [{"id": 1, "code": "BENCH", "name": "Bench",
                                                   "timezone": "America/New_York",
                                                   "policy": {}, "created_at": setup}])
        conn.execute(insert(orm.User.__table__), [{"id": 1, "username": "rn.bench",
                                                   "display_name": "RN", "site_id": 1,
                                                   "active": True, "created_at": setup}])
        conn.execute(insert(orm.UserRole.__table__), [{"user_id": 1, "role": "nurse"}])
    rng = random.Random(seed)
    for p in range(1, patients + 1):
        first = TODAY - timedelta(days=rng.randint(0, 365 * YEARS_OF_HISTORY))
        enrolled_at = datetime.combine(first - timedelta(days=5), dtime(10, 0), ZONE)
        ld.add(orm.Patient, {"id": p, "site_id": 1, "mrn": f"B{p:07d}", "family_name": "Bench",
                             "given_name": f"P{p}", "birth_date": date(1955, 1, 1)
                             + timedelta(days=p % 9000), "diagnosis": "ES-SCLC",
                             "progressed_after_platinum": True, "off_label_reason": None,
                             "version": 1, "created_at": enrolled_at,
                             "updated_at": enrolled_at})
        ld.audit(enrolled_at, "patient.enrol", "patient", p, {"mrn": f"B{p:07d}"})
        day, n, last_start = first, 0, None
        admins: list[dict[str, Any]] = []
        while day < TODAY:
            slot = slot_at(n)
            labs_due = slot.cycle <= 5 or slot.day == 1
            if labs_due:
                drawn = datetime.combine(day, dtime(7, 30), ZONE)
                for test, value, unit, uln, lln in _panel(rng):
                    lid = ld.next_id("lab")
                    ld.add(orm.LabResult, {"id": lid, "patient_id": p, "test": test,
                                           "value": value, "unit": unit, "uln": uln,
                                           "lln": lln, "baseline": None, "collected_at": drawn,
                                           "ctcae_grade": 0, "ctcae_term": None,
                                           "charted_by": 1, "charted_at": drawn})
                ld.audit(drawn, "lab.record_panel", "patient", p, {"tests": 6})
            start = datetime.combine(day, dtime(9, rng.randint(0, 59)), ZONE)
            aid = ld.next_id("adm")
            admins.append({"id": aid, "course_id": p, "slot_seq": n, "slot": slot.label,
                           "cycle": slot.cycle, "day": slot.day, "dose_mg": slot.dose_mg,
                           "kind": "planned", "started_at": start,
                           "ended_at": start + timedelta(hours=1), "infusion_site": None,
                           "nurse_id": 1, "preparation_id": None,
                           "idempotency_key": None, "recorded_at": start + timedelta(hours=1)})
            ld.audit(start + timedelta(hours=1), "administration.record", "administration", aid,
                     {"slot": slot.label, "dose_mg": slot.dose_mg})
            if n == 0 and rng.random() < 0.3:
                onset = start + timedelta(hours=14)
                sid = ld.next_id("assessment")
                admins.append({"_model": orm.Assessment, "id": sid, "course_id": p, "kind": "CRS",
                                        "inputs": {"temperature_c": 38.3, "hypotension": False,
                                                   "oxygen": "none"}, "grade": 1,
                                        "system": "ASTCT-2019", "drivers": [],
                                        "assessed_at": onset, "charted_by": 1,
                                        "charted_at": onset})
                admins.append({"_model": orm.AdverseEvent, "id": ld.next_id("ae"),
                               "course_id": p, "type": "CRS",
                                          "grade": 1, "onset": onset,
                                          "resolved_at": onset + timedelta(hours=20),
                                          "assessment_id": sid, "charted_by": 1,
                                          "charted_at": onset, "version": 1})
                ld.audit(onset, "assessment.record", "assessment", sid, {"grade": 1})
            last_start = start
            interval = slot_at(n + 1).rule.interval_days or 14
            if rng.random() < 0.03:
                interval += rng.randint(1, 4)  # a short delay (Table 4: continue)
            day += timedelta(days=interval)
            n += 1
        ld.add(orm.TreatmentCourse, {"id": p, "patient_id": p, "site_id": 1,
                                     "label_version": LABEL_VERSION, "policy": {},
                                     "status": "active", "start_date": first,
                                     "next_due_date": day, "last_dose_at": last_start,
                                     "doses_given": n, "version": 1,
                                     "created_at": enrolled_at, "updated_at": enrolled_at})
        for row in admins:  # after the course row: foreign keys
            ld.add(row.pop("_model", orm.Administration), row)
    ld.finish()
    if app.engine.dialect.name == "postgresql":
        with app.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
    else:
        with app.engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    return ld.counts


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[k]


def measure(app: App, runs: int) -> dict[str, Any]:
    totals: list[float] = []
    reads: list[float] = []
    due = 0
    decisions: dict[str, int] = {}
    for _ in range(runs):
        t0 = time.perf_counter()
        wl = queries.worklist(app.uow(), site_code="BENCH", now=NOW)
        totals.append((time.perf_counter() - t0) * 1000)
        due = len(wl.items)
        decisions = wl.to_json()["counts"]
        # the database part alone: the same reads the use case makes
        t0 = time.perf_counter()
        with app.uow().readonly() as uow:
            courses = uow.courses.due(1, TODAY)
            ids = [c.id for c in courses]
            admins = uow.administrations.for_courses(ids)  # type: ignore[arg-type]
            events = uow.events.for_courses(ids)  # type: ignore[arg-type]
            from tarla.services._common import labs_since

            uow.labs.for_patients({c.patient_id: labs_since(admins.get(c.id, []),  # type: ignore[arg-type]
                                                            events.get(c.id, []))  # type: ignore[arg-type]
                                   for c in courses})
            uow.patients.many(c.patient_id for c in courses)
        reads.append((time.perf_counter() - t0) * 1000)
    return {"p50": statistics.median(totals), "p95": _pct(totals, 0.95),
            "read_p50": statistics.median(reads), "due": due, "decisions": decisions}


def run_one(url: str, patients: int, runs: int) -> None:
    upgrade(url)
    app = bootstrap(database_url=url)
    try:
        t0 = time.perf_counter()
        counts = build(app, patients)
        built = time.perf_counter() - t0
        rows = sum(counts.values())
        queries.worklist(app.uow(), site_code="BENCH", now=NOW)  # warm caches
        m = measure(app, runs)
        print(f"{app.engine.dialect.name:<10} {patients:>7} patients  {rows:>9,} rows "
              f"(built {built:5.1f}s)  due {m['due']:>5}  worklist p50 {m['p50']:7.1f} ms  "
              f"p95 {m['p95']:7.1f} ms  (db reads p50 {m['read_p50']:6.1f} ms)  "
              f"{m['decisions']}", flush=True)
    finally:
        app.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", default="1000,10000",
                        help="comma-separated sizes (default 1000,10000; add 100000 for the "
                             "long run)")
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--runs", type=int, default=7, help="timed runs per size (default 7)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.patients.split(",") if s.strip()]
    print(f"worklist benchmark: today {TODAY}, ~{YEARS_OF_HISTORY} years of history, "
          f"{args.runs} runs per size", flush=True)
    with tempfile.TemporaryDirectory(prefix="tarla-bench-") as tmp:
        if args.db in ("sqlite", "both"):
            for n in sizes:
                run_one(f"sqlite:///{tmp}/bench-{n}.sqlite3", n, args.runs)
        if args.db in ("postgresql", "both"):
            from pgserver import ThrowawayPostgres

            with ThrowawayPostgres() as pg:
                for n in sizes:
                    pg.execute(f"CREATE DATABASE bench{n}")
                    run_one(pg.url(f"bench{n}"), n, args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
