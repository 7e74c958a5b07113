"""Helpers of the e2e suite (a module of its own: ``conftest`` is not importable by name when
several suites run together)."""

from __future__ import annotations

PASSWORD = "e2e demo password"


def sign_in(page, username: str) -> None:  # type: ignore[no-untyped-def]
    page.goto("/today")
    page.wait_for_url("**/sign-in**")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/today**")
