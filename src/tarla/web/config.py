"""Options of the web entry point, read once from the environment (never at import time).

    TARLA_COOKIE_SECURE       ``1`` always mark the session cookie Secure, ``0`` never,
                              ``auto`` (default) when the request came over https
                              (behind a proxy: run uvicorn with --proxy-headers)
    TARLA_SESSION_IDLE_MINUTES   sign out after this long without a request (default 480)
    TARLA_SESSION_HOURS          sign out this long after sign-in whatever happens (default 14)
    TARLA_LOGIN_MAX_FAILURES     failed sign-ins allowed per user and address ... (default 5)
    TARLA_LOGIN_WINDOW_MINUTES   ... within this many minutes (default 15); then 429
    TARLA_SECRET_KEY          the key that signs the wallet card's QR links (the patient's
                              passport); or TARLA_SECRET_KEY_FILE, a file holding it. Neither:
                              a random key per process, so links die with a restart and do not
                              cross workers (``make run`` keeps one in var/secret.key)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

__all__ = ["WebOptions", "load_web_options"]


@dataclass(frozen=True, slots=True)
class WebOptions:
    cookie_secure: bool | None = None  # None: decide per request from the scheme
    session_idle: timedelta = timedelta(minutes=480)
    session_absolute: timedelta = timedelta(hours=14)
    login_max_failures: int = 5
    login_window: timedelta = timedelta(minutes=15)
    secret_key: str | None = None  # None: a random key per app (see TARLA_SECRET_KEY)


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"error: {name}: {raw!r} is not a whole number") from None
    if value <= 0:
        raise SystemExit(f"error: {name}: must be positive")
    return value


def load_web_options(environ: Mapping[str, str] | None = None) -> WebOptions:
    env = os.environ if environ is None else environ
    secure_raw = env.get("TARLA_COOKIE_SECURE", "auto").strip().lower()
    secure: bool | None
    if secure_raw in ("", "auto"):
        secure = None
    elif secure_raw in ("1", "true", "yes"):
        secure = True
    elif secure_raw in ("0", "false", "no"):
        secure = False
    else:
        raise SystemExit(f"error: TARLA_COOKIE_SECURE: {secure_raw!r} is not 1, 0 or auto")
    key = env.get("TARLA_SECRET_KEY", "").strip()
    key_file = env.get("TARLA_SECRET_KEY_FILE", "").strip()
    if not key and key_file:
        try:
            key = Path(key_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SystemExit(f"error: TARLA_SECRET_KEY_FILE: {exc}") from None
    if key and len(key) < 32:
        raise SystemExit("error: TARLA_SECRET_KEY: use 32 characters or more")
    return WebOptions(
        cookie_secure=secure,
        secret_key=key or None,
        session_idle=timedelta(minutes=_int(env, "TARLA_SESSION_IDLE_MINUTES", 480)),
        session_absolute=timedelta(hours=_int(env, "TARLA_SESSION_HOURS", 14)),
        login_max_failures=_int(env, "TARLA_LOGIN_MAX_FAILURES", 5),
        login_window=timedelta(minutes=_int(env, "TARLA_LOGIN_WINDOW_MINUTES", 15)),
    )
