"""Benchmark: the "due today at this site" worklist, each patient with the core's decision.

    .venv/bin/python bench/worklist.py [--patients 1000,10000] [--db sqlite|postgresql|both]
                                       [--runs 7] [--years 2] [--keep DIR] [--profile]

Builds a site with N active patients and about two years of history (every dose with its
lab panel per the label, some CRS assessments, one audit entry per charted record, hash
chained), then times ``tarla.services.queries.worklist`` (the real use case) over repeated
runs and prints p50/p95 in ms next to **the floor measured in the same run**: one
hand-written SQL query, through the bare driver, for the same due rows (``FLOOR_SQL``).
Targets (issue 14): p95 <= 2x the floor, and <= 50 ms at 10k patients; flat in the length of
the history (``--years``). Also printed: the CPU time of this process (on SQLite that is all
the work; PostgreSQL's own is not in it), and the first read after the site's day rolled
over, which computes and stores every due decision (``tarla.services.decisions``).

Today's worklist is served from the stored decisions, kept current by every write; rows
bulk-loaded below the application have none, so the first read computes them (the "rolled
over" figure), and the timed reads are served from them.

The rows are what the service would write: each dose's slot and kind, and the course's
stored last dose (``last_slot_index`` ...), come from the core's own derivation; the next due
date is the planned one, so a patient who is late is overdue. They are bulk-loaded below
SQLAlchemy (executemany on SQLite, COPY on PostgreSQL), values stored as the ORM types store
them. The 100k run (``--patients 100000``, ~19 M rows) is optional; ``--keep DIR`` keeps the
SQLite databases built and reuses them. PostgreSQL runs on a throwaway server, as in the
integration tests.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import pstats
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "integration"))  # the throwaway PostgreSQL server

from sqlalchemy import JSON, Date, insert, text  # noqa: E402

from tarla.adapters import orm  # noqa: E402
from tarla.adapters.migrate import upgrade  # noqa: E402
from tarla.bootstrap import App, bootstrap  # noqa: E402
from tarla.domain.course import Administration, derive_slots, slot_at  # noqa: E402
from tarla.label import LABEL_VERSION  # noqa: E402
from tarla.services import queries  # noqa: E402
from tarla.services.audit import GENESIS_HASH, entry_hash, jsonable  # noqa: E402
from tarla.services.label import ensure_label_version  # noqa: E402
from tarla.services.scope import OPERATOR  # noqa: E402

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
        raw = self.app.engine.raw_connection()
        try:
            for t in tables:
                rows = self.rows.pop(t, [])
                if rows:
                    _bulk_insert(raw, self.app.engine.dialect.name, t, rows)
                    self.counts[t.name] = self.counts.get(t.name, 0) + len(rows)
            raw.commit()
        finally:
            raw.close()

    def finish(self) -> None:
        # parents before children: flush everything in dependency order
        self.flush()
        with self.app.engine.begin() as conn:
            conn.execute(text("UPDATE audit_head SET last_id = :i, last_hash = :h WHERE id = 1"),
                         {"i": self.audit_id, "h": self.audit_hash})


def _sqlite_value(column: Any) -> Any:
    """How the ORM type stores a value on SQLite (UtcDateTime: naive UTC text, JSON: text)."""
    kind = column.type
    if isinstance(kind, orm.UtcDateTime):
        return lambda v: None if v is None else \
            v.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    if isinstance(kind, JSON):
        return lambda v: None if v is None else json.dumps(v)
    if isinstance(kind, Date):
        return lambda v: None if v is None else v.isoformat()
    return None


def _bulk_insert(raw: Any, dialect: str, table: Any, rows: list[dict[str, Any]]) -> None:
    names = list(rows[0])
    if dialect == "postgresql":
        from psycopg.types.json import Json

        jsons = [isinstance(table.c[n].type, JSON) for n in names]
        with raw.cursor() as cur, cur.copy(f"COPY {table.name} ({', '.join(names)}) "
                                           "FROM STDIN") as copy:
            for row in rows:
                copy.write_row([Json(row[n]) if j and row[n] is not None else row[n]
                                for n, j in zip(names, jsons)])
        return
    convert = [_sqlite_value(table.c[n]) for n in names]
    values = [[f(row[n]) if f else row[n] for n, f in zip(names, convert)] for row in rows]
    cur = raw.cursor()
    if not raw.driver_connection.in_transaction:
        cur.execute("BEGIN")  # the connection is in autocommit mode (see tarla.adapters.db)
    cur.executemany(f"INSERT INTO {table.name} ({', '.join(names)}) VALUES "
                    f"({', '.join('?' for _ in names)})", values)
    cur.close()


def _panel(rng: random.Random) -> list[tuple[str, float, str, float | None, float | None]]:
    return [("ANC", round(rng.uniform(2.0, 6.0), 1), "10^9/L", None, 1.8),
            ("platelets", float(rng.randint(160, 380)), "10^9/L", None, 150.0),
            ("hemoglobin", round(rng.uniform(12.1, 15.0), 1), "g/dL", None, 12.0),
            ("ALT", float(rng.randint(12, 38)), "U/L", 40.0, None),
            ("AST", float(rng.randint(12, 38)), "U/L", 40.0, None),
            ("bilirubin", round(rng.uniform(0.3, 1.1), 1), "mg/dL", 1.2, None)]


def _lab_panel(ld: Loader, rng: random.Random, p: int, drawn: datetime) -> None:
    for test, value, unit, uln, lln in _panel(rng):
        ld.add(orm.LabResult, {"id": ld.next_id("lab"), "patient_id": p, "test": test,
                               "value": value, "unit": unit, "uln": uln, "lln": lln,
                               "baseline": None, "collected_at": drawn, "ctcae_grade": 0,
                               "ctcae_term": None, "charted_by": 1, "charted_at": drawn})
    ld.audit(drawn, "lab.record_panel", "patient", p, {"tests": 6})


def _patient(ld: Loader, rng: random.Random, p: int, years: int) -> None:
    """One patient's course: doses on the planned days, some a few days late (Table 4:
    continue), each with its morning lab panel, a grade 1 CRS after some step-up doses."""
    first = TODAY - timedelta(days=rng.randint(0, 365 * years))
    enrolled_at = datetime.combine(first - timedelta(days=5), dtime(10, 0), ZONE)
    ld.add(orm.Patient, {"id": p, "site_id": 1, "mrn": f"B{p:07d}", "family_name": "Bench",
                         "given_name": f"P{p}", "birth_date": date(1955, 1, 1)
                         + timedelta(days=p % 9000), "diagnosis": "ES-SCLC",
                         "progressed_after_platinum": True, "off_label_reason": None,
                         "version": 1, "created_at": enrolled_at, "updated_at": enrolled_at})
    ld.audit(enrolled_at, "patient.enrol", "patient", p, {"mrn": f"B{p:07d}"})
    starts: list[datetime] = []
    day, due = first, first
    while day < TODAY:
        starts.append(datetime.combine(day, dtime(9, rng.randint(0, 59)), ZONE))
        due = day + timedelta(days=slot_at(len(starts)).rule.interval_days or 14)
        day = due + timedelta(days=rng.randint(1, 4) if rng.random() < 0.03 else 0)
    # Slots, kinds and the stored last dose as the service derives them (record_administration
    # and refresh_course), from the core.
    derived, _ = derive_slots([Administration(s, slot_at(i).dose_mg)
                               for i, s in enumerate(starts)], ZONE)
    rows: list[tuple[Any, dict[str, Any]]] = []
    for n, g in enumerate(derived):
        slot, start = g.slot, g.started_at
        if slot.cycle <= 5 or slot.day == 1:
            _lab_panel(ld, rng, p, datetime.combine(g.local_date, dtime(7, 30), ZONE))
        aid = ld.next_id("adm")
        rows.append((orm.Administration, {
            "id": aid, "course_id": p, "slot_seq": n, "slot": slot.label, "cycle": slot.cycle,
            "day": slot.day, "dose_mg": g.dose_mg, "kind": str(g.kind), "started_at": start,
            "ended_at": start + timedelta(hours=1), "infusion_site": None, "nurse_id": 1,
            "preparation_id": None, "idempotency_key": None,
            "recorded_at": start + timedelta(hours=1)}))
        ld.audit(start + timedelta(hours=1), "administration.record", "administration", aid,
                 {"slot": slot.label, "dose_mg": g.dose_mg})
        if n == 0 and rng.random() < 0.3:
            onset = start + timedelta(hours=14)
            sid = ld.next_id("assessment")
            rows.append((orm.Assessment, {
                "id": sid, "course_id": p, "kind": "CRS",
                "inputs": {"temperature_c": 38.3, "hypotension": False, "oxygen": "none"},
                "grade": 1, "system": "ASTCT-2019", "drivers": [], "assessed_at": onset,
                "charted_by": 1, "charted_at": onset}))
            rows.append((orm.AdverseEvent, {
                "id": ld.next_id("ae"), "course_id": p, "type": "CRS", "grade": 1,
                "onset": onset, "resolved_at": onset + timedelta(hours=20),
                "assessment_id": sid, "charted_by": 1, "charted_at": onset, "version": 1}))
            ld.audit(onset, "assessment.record", "assessment", sid, {"grade": 1})
    if due <= TODAY:  # due today (or overdue): this morning's panel is in
        _lab_panel(ld, rng, p, datetime.combine(TODAY, dtime(7, 30), ZONE))
    last = derived[-1] if derived else None
    ld.add(orm.TreatmentCourse, {
        "id": p, "patient_id": p, "site_id": 1, "label_version": LABEL_VERSION, "policy": {},
        "status": "active", "start_date": first, "next_due_date": due,
        "last_dose_at": last and last.started_at, "doses_given": len(derived),
        "last_slot_index": last and last.slot.index,
        "last_restart_step": last and last.restart_step,
        "last_kind": last and str(last.kind), "last_dose_mg": last and last.dose_mg,
        "version": 1, "created_at": enrolled_at, "updated_at": enrolled_at})
    for model, row in rows:  # after the course row: foreign keys
        ld.add(model, row)


def build(app: App, patients: int, seed: int = 7, years: int = YEARS_OF_HISTORY
          ) -> dict[str, int]:
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
        _patient(ld, rng, p, years)
    ld.finish()
    if app.engine.dialect.name == "postgresql":
        with app.engine.connect() as conn:
            # As a database at rest: vacuumed (visibility map set) and analysed, so the
            # autovacuum daemon does not wake up in the middle of the timed runs.
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
    else:
        with app.engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    return ld.counts


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[k]


#: The floor: the same due rows (course, patient, due date, stored last dose), read by one
#: hand-written SQL query through the bare driver. No worklist can show them for less.
FLOOR_SQL = ("SELECT c.id, c.patient_id, p.mrn, p.family_name, p.given_name, c.next_due_date, "
             "c.last_slot_index, c.last_dose_mg, c.last_kind "
             "FROM treatment_courses c JOIN patients p ON p.id = c.patient_id "
             "WHERE c.site_id = {site} AND c.next_due_date <= {day} AND c.status <> 'discontinued' "
             "ORDER BY c.next_due_date, c.id")


def _floor(app: App) -> int:
    raw = app.engine.raw_connection()
    try:
        cur = raw.cursor()
        pg = app.engine.dialect.name == "postgresql"
        mark = "%s" if pg else "?"
        cur.execute(FLOOR_SQL.format(site=mark, day=mark), (1, TODAY))
        n = len(cur.fetchall())
        cur.close()
        raw.rollback()
        return n
    finally:
        raw.close()


def _floor_sqlalchemy(app: App) -> int:
    """The same query as :func:`_floor`, through SQLAlchemy's ``text()`` on a pooled
    connection (how hand-written SQL runs inside the application)."""
    with app.engine.connect() as conn:
        return len(conn.execute(text(FLOOR_SQL.format(site=":site", day=":day")),
                                {"site": 1, "day": TODAY}).all())


def _cold(app: App) -> float:
    """One read right after the site's day rolled over: every due decision computed and
    stored (ms)."""
    with app.engine.begin() as conn:
        conn.execute(text("DELETE FROM course_decisions"))
    t0 = time.perf_counter()
    wl = queries.worklist(app.uow(), site_code="BENCH", now=NOW, viewer=OPERATOR)
    took = (time.perf_counter() - t0) * 1000
    assert wl.source == "stored"
    return took


def measure(app: App, runs: int) -> dict[str, Any]:
    totals: list[float] = []
    cpu: list[float] = []  # this process's CPU time: steadier than wall time on a busy host
    floor: list[float] = []
    floor_sa: list[float] = []
    due = 0
    decisions: dict[str, int] = {}
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        wl = queries.worklist(app.uow(), site_code="BENCH", now=NOW, viewer=OPERATOR)
        totals.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
        assert wl.source == "stored"
        due = len(wl.items)
        decisions = wl.to_json()["counts"]
        t0 = time.perf_counter()
        rows = _floor(app)
        floor.append((time.perf_counter() - t0) * 1000)
        assert rows == due, (rows, due)
        t0 = time.perf_counter()
        rows = _floor_sqlalchemy(app)
        floor_sa.append((time.perf_counter() - t0) * 1000)
        assert rows == due, (rows, due)
    return {"p50": statistics.median(totals), "p95": _pct(totals, 0.95),
            "cpu_p50": statistics.median(cpu), "cpu_p95": _pct(cpu, 0.95),
            "floor_p50": statistics.median(floor), "floor_p95": _pct(floor, 0.95),
            "sa_p50": statistics.median(floor_sa), "sa_p95": _pct(floor_sa, 0.95),
            "due": due, "decisions": decisions}


def profile(app: App, runs: int) -> None:
    """cProfile of the use case (``--profile``): where a worklist's time goes."""
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(runs):
        queries.worklist(app.uow(), site_code="BENCH", now=NOW, viewer=OPERATOR)
    prof.disable()
    pstats.Stats(prof).sort_stats("tottime").print_stats(20)


def run_one(url: str, patients: int, runs: int, *, built: bool = False,
            years: int = YEARS_OF_HISTORY,
            profiling: bool = False) -> None:
    upgrade(url)
    t0 = time.perf_counter()
    if not built:
        app = bootstrap(database_url=url)
        try:
            build(app, patients, years=years)
            if app.engine.dialect.name == "sqlite":
                with app.engine.connect() as conn:  # as a database at rest would be
                    conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            app.close()
    took = time.perf_counter() - t0
    gc.collect()  # measure as a server would run: not amid the build's garbage
    app = bootstrap(database_url=url)
    try:
        with app.engine.connect() as conn:
            rows = sum(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
                       for t in ("patients", "treatment_courses", "administrations",
                                 "lab_results", "assessments", "adverse_events", "audit_log"))
        cold = _cold(app)  # (also warms the caches)
        # As a long-running server does after start-up: what is alive now (the build's
        # leftovers, modules, metadata) is left out of the garbage collector's full passes.
        gc.collect()
        gc.freeze()
        m = measure(app, runs)
        gc.unfreeze()
        how = "reused" if built else f"built {took:5.1f}s"
        ratio = m["p95"] / m["floor_p95"]
        verdict = "meets" if ratio <= 2 else "above"
        line = (f"{app.engine.dialect.name:<10} {patients:>7} patients  {rows:>10,} rows "
                f"({how})  due {m['due']:>5}  worklist p50 {m['p50']:6.1f} ms  "
                f"p95 {m['p95']:6.1f} ms  | floor (raw SQL, same rows) p50 "
                f"{m['floor_p50']:5.1f} p95 {m['floor_p95']:5.1f} ms  -> p95 {ratio:4.1f}x the "
                f"floor (target <= 2x: {verdict})")
        if patients == 10_000:
            line += f"; <= 50 ms at 10k: {'meets' if m['p95'] <= 50 else 'above'}"
        print(line, flush=True)
        print(f"{'':<10} {'':>7}           the same query through SQLAlchemy text(): p50 "
              f"{m['sa_p50']:5.1f} p95 {m['sa_p95']:5.1f} ms -> worklist p95 "
              f"{m['p95'] / m['sa_p95']:4.1f}x, p50 {m['p50'] / m['sa_p50']:4.1f}x", flush=True)
        print(f"{'':<10} {'':>7}           client CPU p50 {m['cpu_p50']:6.1f} p95 "
              f"{m['cpu_p95']:6.1f} ms; first read after the day rolled over (every due "
              f"decision computed and stored) {cold:7.1f} ms; {m['decisions']}", flush=True)
        if profiling:
            profile(app, runs)
    finally:
        app.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", default="1000,10000",
                        help="comma-separated sizes (default 1000,10000; add 100000 for the "
                             "long run)")
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--runs", type=int, default=21,
                        help="timed runs per size (default 21)")
    parser.add_argument("--keep", type=Path, default=None,
                        help="keep the SQLite databases in DIR and reuse them when present")
    parser.add_argument("--years", type=int, default=YEARS_OF_HISTORY,
                        help="years of history per patient (default 2): the worklist's time "
                             "should not follow it")
    parser.add_argument("--profile", action="store_true",
                        help="print a cProfile of the worklist after each size")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.patients.split(",") if s.strip()]
    print(f"worklist benchmark: today {TODAY}, ~{args.years} years of history, "
          f"{args.runs} runs per size", flush=True)
    with tempfile.TemporaryDirectory(prefix="tarla-bench-") as tmp:
        if args.db in ("sqlite", "both"):
            folder = args.keep or Path(tmp)
            for n in sizes:
                path = folder / f"bench-{n}-{args.years}y.sqlite3"
                run_one(f"sqlite:///{path}", n, args.runs, years=args.years,
                        built=args.keep is not None and path.exists(), profiling=args.profile)
        if args.db in ("postgresql", "both"):
            from pgserver import ThrowawayPostgres

            with ThrowawayPostgres() as pg:
                for n in sizes:
                    pg.execute(f"CREATE DATABASE bench{n}")
                    run_one(pg.url(f"bench{n}"), n, args.runs, years=args.years,
                            profiling=args.profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
