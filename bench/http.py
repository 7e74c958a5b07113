"""HTTP benchmark of the web app, served as ``make run`` serves it (uvicorn, 2 workers).

    .venv/bin/python bench/http.py [--patients 10000] [--clients 50] [--seconds 20]
                                   [--max-requests 5000] [--workers 2] [--keep DIR]

1. Builds a SQLite site ``BENCH`` of N active patients with about two years of history each
   (the bulk loader of ``bench/worklist.py``, with "today" moved to the real local date so
   about 1 in 14 courses is due today), plus one signed-in-able nurse.
2. Starts ``tarla serve --workers 2`` (uvicorn on ``tarla.web.app:serve_app``, as
   ``make run`` does) on 127.0.0.1.
3. For each endpoint in turn — ``GET /healthz`` (no sign-in), ``POST /api/v1/evaluate`` (the
   contract, a C1D15 patient with CRS and labs) and ``GET /api/v1/worklist`` (the site's due
   list, every item decided by the course engine) — runs ``--clients`` concurrent httpx
   clients (each with its own session) for at most ``--seconds`` seconds or
   ``--max-requests`` requests, whichever comes first, and prints p50/p95 latency and
   requests per second. Any answer other than 200 (or 304 to a matching ``If-None-Match``)
   is counted and reported.
   Then the worklist again with ``If-None-Match`` (answered 304) and as a page of 100.
4. Prints the worklist's p95 over ``/healthz``'s p95 measured in the same run (issue 14:
   target <= 3x at 50 clients). The clients run on the same machine as the server: on a
   small host they share its cores, and reading a 350 KB list costs them too.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is named like the standard library's ``http`` package: drop its own folder from
# the import path before anything imports ``http.client`` (httpx, uvicorn, asyncio).
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import datetime  # noqa: E402
from typing import Any  # noqa: E402
from zoneinfo import ZoneInfo  # noqa: E402

import httpx  # noqa: E402

ROOT = _HERE.parent
ZONE = ZoneInfo("America/New_York")
PASSWORD = "bench password 1"

EVALUATE = {
    "as_of": "2026-12-15T07:30:00-05:00", "timezone": "America/New_York",
    "patient": {"birth_date": "1958-04-02", "diagnosis": "ES-SCLC",
                "progressed_after_platinum": True},
    "administrations": [{"started_at": "2026-12-01T09:00:00-05:00", "dose_mg": 1},
                        {"started_at": "2026-12-08T09:10:00-05:00", "dose_mg": 10}],
    "adverse_events": [{"type": "CRS", "grade": 2, "onset": "2026-12-09T01:00:00-05:00",
                        "resolved_at": "2026-12-10T12:00:00-05:00"}],
    "labs": [{"test": "ALT", "value": 35, "unit": "U/L", "uln": 40,
              "collected_at": "2026-12-14T08:00:00-05:00"}],
}


def build_site(url: str, patients: int) -> dict[str, int]:
    import importlib.util

    # bench/worklist.py: the records layer's bulk loader (loaded by path, see the top)
    spec = importlib.util.spec_from_file_location("tarla_bench_worklist", _HERE / "worklist.py")
    assert spec is not None and spec.loader is not None
    loader = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loader)

    from tarla.bootstrap import bootstrap
    from tarla.config import Settings
    from tarla.services import admin
    from tarla.web.auth import hash_password

    now = datetime.now(ZONE)
    loader.TODAY = now.date()
    loader.NOW = now
    app = bootstrap(Settings(database_url=url))
    try:
        app.migrate()
        counts = loader.build(app, patients)
        admin.create_user(app.uow(), username="bench.nurse", display_name="Bench nurse",
                          roles=["nurse"], now=now, site_code="BENCH",
                          password_hash=hash_password(PASSWORD))
    finally:
        app.close()
    return counts


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(url: str, workers: int, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {**os.environ, "TARLA_DATABASE_URL": url, "TARLA_SITE": "BENCH"}
    out = open(log, "wb")  # noqa: SIM115 - handed to the child
    # as `make run` serves it (scripts/run.sh): `tarla serve`, i.e. uvicorn with N workers
    proc = subprocess.Popen([str(Path(sys.executable).with_name("tarla")), "serve",
                             "--host", "127.0.0.1", "--port", str(port),
                             "--workers", str(workers), "--log-level", "warning"],
                            env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"the server did not start; see {log}")


async def _client(base: str, signed_in: bool) -> httpx.AsyncClient:
    # TCP_NODELAY: httpcore writes a request in two pieces; without it Nagle's algorithm and
    # the server's delayed ACK add ~40 ms to every request on a kept-alive connection.
    transport = httpx.AsyncHTTPTransport(
        socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
    client = httpx.AsyncClient(base_url=base, timeout=120, transport=transport)
    if signed_in:
        r = await client.post("/api/v1/session", json={"username": "bench.nurse",
                                                       "password": PASSWORD})
        r.raise_for_status()
        client.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    return client


async def run_phase(base: str, name: str, request: Any, clients: int, seconds: float,
                    max_requests: int, signed_in: bool) -> dict[str, Any]:
    pool = await asyncio.gather(*(_client(base, signed_in) for _ in range(clients)))
    latencies: list[float] = []
    failures: dict[int, int] = {}
    started = time.perf_counter()
    stop_at = started + seconds
    budget = {"left": max_requests}

    async def worker(client: httpx.AsyncClient) -> None:
        while time.perf_counter() < stop_at and budget["left"] > 0:
            budget["left"] -= 1
            t0 = time.perf_counter()
            r = await request(client)
            latencies.append(time.perf_counter() - t0)
            if r.status_code not in (200, 304):
                failures[r.status_code] = failures.get(r.status_code, 0) + 1

    await asyncio.gather(*(worker(c) for c in pool))
    elapsed = time.perf_counter() - started
    await asyncio.gather(*(c.aclose() for c in pool))
    latencies.sort()

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

    return {"name": name, "requests": len(latencies), "seconds": elapsed,
            "p50_ms": pct(0.50), "p95_ms": pct(0.95), "rps": len(latencies) / elapsed,
            "mean_ms": statistics.fmean(latencies) * 1000, "failures": failures}


async def bench(base: str, clients: int, seconds: float, max_requests: int) -> list[dict[str, Any]]:
    probe = await _client(base, True)
    first = await probe.get("/api/v1/worklist")
    wl, etag = first.json(), first.headers["etag"]
    await probe.aclose()
    print(f"worklist today at BENCH: {len(wl['items'])} courses due "
          f"({', '.join(f'{k} {v}' for k, v in sorted(wl['counts'].items()))}), "
          f"{len(first.content) // 1024} KiB")
    phases = [
        ("GET /healthz", lambda c: c.get("/healthz"), False),
        ("POST /api/v1/evaluate", lambda c: c.post("/api/v1/evaluate", json=EVALUATE), True),
        ("GET /api/v1/worklist", lambda c: c.get("/api/v1/worklist"), True),
        ("... If-None-Match (304)",
         lambda c: c.get("/api/v1/worklist", headers={"If-None-Match": etag}), True),
        ("... ?limit=100 (a page)", lambda c: c.get("/api/v1/worklist?limit=100"), True),
    ]
    results = []
    for name, request, signed_in in phases:
        results.append(await run_phase(base, name, request, clients, seconds, max_requests,
                                       signed_in))
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=10_000)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=20.0, help="time limit per endpoint")
    ap.add_argument("--max-requests", type=int, default=5000, help="request limit per endpoint")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--keep", type=Path, help="keep the database and server log here")
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="tarla-http-bench-"))
    url = f"sqlite:///{tmp / 'bench.sqlite3'}"
    t0 = time.perf_counter()
    counts = build_site(url, args.patients)
    print(f"built a site of {args.patients} active patients in {time.perf_counter() - t0:.0f} s "
          f"({sum(counts.values())} rows)")
    proc, base = start_server(url, args.workers, tmp / "server.log")
    try:
        results = asyncio.run(bench(base, args.clients, args.seconds, args.max_requests))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
    print(f"\n{args.clients} concurrent clients, uvicorn {args.workers} workers, SQLite, "
          f"<= {args.seconds:g} s or {args.max_requests} requests per endpoint")
    print(f"{'endpoint':<24} {'requests':>8} {'p50 ms':>9} {'p95 ms':>9} {'req/s':>8}  failures")
    for r in results:
        fails = ", ".join(f"{k}: {v}" for k, v in r["failures"].items()) or "-"
        print(f"{r['name']:<24} {r['requests']:>8} {r['p50_ms']:>9.1f} {r['p95_ms']:>9.1f} "
              f"{r['rps']:>8.1f}  {fails}")
    by = {r["name"]: r for r in results}
    health, worklist = by["GET /healthz"], by["GET /api/v1/worklist"]
    ratio = worklist["p95_ms"] / health["p95_ms"]
    paged = by["... ?limit=100 (a page)"]["p95_ms"] / health["p95_ms"]
    print(f"\nworklist p95 / healthz p95 (same run, same clients) = {ratio:.1f}x "
          f"(target <= 3x: {'meets' if ratio <= 3 else 'above'}); a page of 100: {paged:.1f}x")
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        for name in ("bench.sqlite3", "server.log"):
            shutil.copy(tmp / name, args.keep / name)
    shutil.rmtree(tmp, ignore_errors=True)
    return 1 if any(r["failures"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
