"""Options of the web entry point, read once from the environment (never at import time).

    TARLA_COOKIE_SECURE       ``1`` always mark the session cookie Secure, ``0`` never,
                              ``auto`` (default) when the request came over https
                              (behind a proxy: run uvicorn with --proxy-headers)
    TARLA_SESSION_IDLE_MINUTES   sign out after this long without a request (default 15, for
                                 shared workstations: site policy)
    TARLA_SESSION_HOURS          sign out this long after sign-in whatever happens (default 14)
    TARLA_LOGIN_MAX_FAILURES     failed sign-ins allowed per user and address ... (default 5)
    TARLA_LOGIN_WINDOW_MINUTES   ... within this many minutes (default 15); then 429
    TARLA_LOGIN_ADDRESS_MAX_FAILURES  failed sign-ins allowed from one address, whatever the
                              usernames, within the same window (default 20); then 429
    TARLA_ESIGN_FRESH_MINUTES    an e-signature without the password re-entered is accepted
                              this long after the signer's own sign-in (default 5; 0: always
                              re-enter the password)
    TARLA_RESET_HOURS         a one-time password an administrator issues expires after this
                              many hours (default 24)
    TARLA_MAX_BODY_BYTES      the largest request body accepted (default 1048576); larger: 413
    TARLA_TRUSTED_PROXIES     addresses of reverse proxies whose X-Forwarded-For/-Proto
                              headers are believed (comma-separated; default: none, so no
                              header is trusted); read by ``tarla serve``
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

__all__ = ["WebOptions", "load_web_options", "trusted_proxies"]


@dataclass(frozen=True, slots=True)
class WebOptions:
    cookie_secure: bool | None = None  # None: decide per request from the scheme
    session_idle: timedelta = timedelta(minutes=480)
    session_absolute: timedelta = timedelta(hours=14)
    login_max_failures: int = 5
    login_window: timedelta = timedelta(minutes=15)
    secret_key: str | None = None  # None: a random key per app (see TARLA_SECRET_KEY)
    login_address_max_failures: int = 20
    esign_fresh: timedelta = timedelta(minutes=5)
    reset_valid: timedelta = timedelta(hours=24)
    max_body: int = 1024 * 1024


def _int(env: Mapping[str, str], name: str, default: int, *, zero: bool = False) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"error: {name}: {raw!r} is not a whole number") from None
    if value < 0 or (value == 0 and not zero):
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
        session_idle=timedelta(minutes=_int(env, "TARLA_SESSION_IDLE_MINUTES", 15)),
        session_absolute=timedelta(hours=_int(env, "TARLA_SESSION_HOURS", 14)),
        login_max_failures=_int(env, "TARLA_LOGIN_MAX_FAILURES", 5),
        login_window=timedelta(minutes=_int(env, "TARLA_LOGIN_WINDOW_MINUTES", 15)),
        login_address_max_failures=_int(env, "TARLA_LOGIN_ADDRESS_MAX_FAILURES", 20),
        esign_fresh=timedelta(minutes=_int(env, "TARLA_ESIGN_FRESH_MINUTES", 5, zero=True)),
        reset_valid=timedelta(hours=_int(env, "TARLA_RESET_HOURS", 24)),
        max_body=_int(env, "TARLA_MAX_BODY_BYTES", 1024 * 1024),
    )


def trusted_proxies(environ: Mapping[str, str] | None = None) -> list[str]:
    """``TARLA_TRUSTED_PROXIES`` as a list (empty: no forwarded header is trusted)."""
    import ipaddress

    env = os.environ if environ is None else environ
    out = []
    for item in env.get("TARLA_TRUSTED_PROXIES", "").split(","):
        item = item.strip()
        if not item:
            continue
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise SystemExit(f"error: TARLA_TRUSTED_PROXIES: {item!r} is not an address or "
                             "network") from None
        out.append(item)
    return out
