"""End-to-end: a real uvicorn server (as ``make run`` starts it) over a temporary SQLite
database, migrated and loaded with the demo site, driven by Debian's Chromium through
Playwright. Chromium missing is a FAILURE, never a skip. Screenshots: test-artifacts/e2e/.

Playwright never downloads a browser here: it launches /usr/bin/chromium.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from e2e_support import PASSWORD
from playwright.sync_api import expect

from helpers import ARTIFACTS

expect.set_options(timeout=15_000)  # a busy CI machine; each wait still fails loudly

CHROMIUM = os.environ.get("TARLA_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
ZONE = "America/New_York"
SHOTS = ARTIFACTS / "e2e"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tarla(args: list[str], env: dict[str, str]) -> str:
    exe = Path(sys.executable).with_name("tarla")
    done = subprocess.run([str(exe), *args], env=env, capture_output=True, text=True,
                          timeout=300)
    if done.returncode != 0:
        pytest.fail(f"tarla {' '.join(args)} failed ({done.returncode}): {done.stderr}",
                    pytrace=False)
    return done.stdout


@pytest.fixture(scope="session")
def shots() -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a live server over a fresh demo database."""
    tmp = tmp_path_factory.mktemp("e2e")
    env = {**os.environ, "TARLA_DATABASE_URL": f"sqlite:///{tmp / 'tarla.sqlite3'}",
           "TARLA_SITE": "DEMO"}
    env.pop("TARLA_DEBUG", None)
    # The demo's morning (08:00 local) must already be past, whatever the hour of the run.
    demo_day = (datetime.now(ZoneInfo(ZONE)) - timedelta(hours=9)).date()
    _tarla(["db", "upgrade"], env)
    _tarla(["demo-data", "--patients", "14", "--seed", "1", "--today", demo_day.isoformat(),
            "--timezone", ZONE], env)
    users = json.loads(_tarla(["demo-users", "--password", PASSWORD, "--json"], env))
    (tmp / "users.json").write_text(json.dumps(users))
    port = _free_port()
    log = open(tmp / "server.log", "w")  # noqa: SIM115 - closed below
    # as `make run` serves it: `tarla serve` (uvicorn, 2 workers)
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("tarla")), "serve", "--host", "127.0.0.1",
         "--port", str(port), "--workers", "2", "--log-level", "warning"],
        env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            log.close()
            pytest.fail(f"the server did not start: {(tmp / 'server.log').read_text()}",
                        pytrace=False)
        time.sleep(0.2)
    yield base
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()
    SHOTS.mkdir(parents=True, exist_ok=True)
    (SHOTS / "server.log").write_text((tmp / "server.log").read_text())


@pytest.fixture(scope="session")
def browser():  # type: ignore[no-untyped-def]
    if not Path(CHROMIUM).is_file() or not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"Chromium is missing at {CHROMIUM}: install it with "
                    "scripts/system-deps.sh (the e2e suite never skips)", pytrace=False)
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    try:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    except Exception as exc:  # noqa: BLE001 - fail loudly with the reason
        pw.stop()
        pytest.fail(f"Chromium at {CHROMIUM} did not start: {exc}", pytrace=False)
    yield b
    b.close()
    pw.stop()


@pytest.fixture
def new_page(browser, server):  # type: ignore[no-untyped-def]
    """Make a page in a fresh context (own cookies), tablet-sized."""
    contexts = []

    def make():  # type: ignore[no-untyped-def]
        ctx = browser.new_context(viewport={"width": 1180, "height": 820},
                                  base_url=server, accept_downloads=True)
        contexts.append(ctx)
        return ctx.new_page()

    yield make
    for ctx in contexts:
        ctx.close()


class E2EClock:
    """The clock of the in-process server below: the wall clock until a test moves it (the
    app's ``now`` parameter, which exists for tests; nothing in production reads this)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(ZoneInfo(ZONE)) + self.offset


@pytest.fixture(scope="module")
def clocked_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, E2EClock]]:
    """A live server whose clock a test can move forward (a 22-24 h monitoring bed ends within
    the test): the same app in this process under uvicorn, over a fresh demo database."""
    import threading

    import uvicorn

    from tarla.config import Settings
    from tarla.web.app import create_app
    from tarla.web.config import WebOptions

    tmp = tmp_path_factory.mktemp("e2e-clocked")
    url = f"sqlite:///{tmp / 'tarla.sqlite3'}"
    env = {**os.environ, "TARLA_DATABASE_URL": url, "TARLA_SITE": "DEMO"}
    env.pop("TARLA_DEBUG", None)
    demo_day = (datetime.now(ZoneInfo(ZONE)) - timedelta(hours=9)).date()
    _tarla(["db", "upgrade"], env)
    _tarla(["demo-data", "--patients", "8", "--seed", "2", "--today", demo_day.isoformat(),
            "--timezone", ZONE], env)
    _tarla(["demo-users", "--password", PASSWORD, "--json"], env)
    clock = E2EClock()
    app = create_app(Settings(database_url=url, default_site="DEMO"), options=WebOptions(),
                     now=clock)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the in-process server did not start", pytrace=False)
        time.sleep(0.2)
    yield base, clock
    server.should_exit = True
    thread.join(timeout=15)
    app.state.bootstrapped.close()


@pytest.fixture
def clocked_page(browser, clocked_server):  # type: ignore[no-untyped-def]
    """Pages on the clocked server (a fresh context each: own cookies)."""
    base, _ = clocked_server
    contexts = []

    def make():  # type: ignore[no-untyped-def]
        ctx = browser.new_context(viewport={"width": 1180, "height": 820}, base_url=base,
                                  accept_downloads=True)
        contexts.append(ctx)
        return ctx.new_page()

    yield make
    for ctx in contexts:
        ctx.close()
