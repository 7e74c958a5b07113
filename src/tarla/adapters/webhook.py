"""The outbound alert webhook (issue 11): one JSON POST with a short timeout.

An :data:`tarla.services.alerts.AlertNotifier`: raises on any failure (connection, timeout,
a non-2xx answer) so that the service records it on the alert.
"""

from __future__ import annotations

from typing import Any

import httpx

__all__ = ["post_alert", "TIMEOUT_S"]

#: Seconds for the whole post: a slow receiver must not hold up the charting nurse.
TIMEOUT_S = 3.0


def post_alert(url: str, payload: dict[str, Any]) -> None:
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"alert_webhook_url {url!r} is not an http(s) URL")
    response = httpx.post(url, json=payload, timeout=TIMEOUT_S)
    response.raise_for_status()
