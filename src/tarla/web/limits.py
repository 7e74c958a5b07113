"""Hostile input never reaches a handler: the request guard of the web entry point.

:class:`RequestGuard` is plain ASGI middleware (no per-request task). Before any route runs:

- the body is at most ``max_body`` bytes (``TARLA_MAX_BODY_BYTES``, default 1 MiB): a declared
  ``Content-Length`` above it is refused at once, and a body streamed without one is read with
  a cap, so a 13 MB sign-in cannot tie up a worker: **413**;
- every value of the query string, of a form body and of a JSON body (each string, at any
  depth) is checked, and a refusal names the field (**422**, a problem document on the API):
  no NUL character (PostgreSQL cannot store one), at most :data:`MAX_STRING` characters, a
  date (``YYYY-MM-DD``, or a date-time starting so) only with a year in
  :data:`YEARS` (``start_date=9999-12-31`` is refused here, at input), whole numbers within
  a signed 64-bit integer, numbers finite;
- a path segment of digits beyond a 64-bit id is **404** (no record has that id), a NUL in the
  path 422.

Then the body the guard read is handed to the app unchanged. Multipart bodies (files) are only
size-capped. Nothing here judges a clinical fact; it keeps malformed input out of the
database, so a client's mistake is a 4xx, never a 5xx.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

__all__ = ["RequestGuard", "MAX_STRING", "YEARS", "MAX_ID", "MAX_INT", "check_value", "DEFAULT_MAX_BODY"]

DEFAULT_MAX_BODY = 1024 * 1024
MAX_STRING = 100_000
#: The years a date typed into Tarla may have (birth dates to far-future plans).
YEARS = (1900, 2200)
MAX_INT = 2**63 - 1
#: The largest record id (ids are INTEGER columns: 32-bit on PostgreSQL).
MAX_ID = 2**31 - 1
_DATE = re.compile(r"^\s*([+-]?\d{4,})-(\d{1,2})-(\d{1,2})(?:$|[T ]|\s)")
_DIGITS = re.compile(r"^\d+$")


def check_value(value: Any, field: str) -> Iterator[tuple[str, str]]:
    """Every (field, message) wrong with ``value`` (a JSON value, at any depth)."""
    if isinstance(value, str):
        if "\x00" in value:
            yield field, "contains a NUL character"
        elif len(value) > MAX_STRING:
            yield field, f"is too long ({MAX_STRING} characters at most)"
        else:
            m = _DATE.match(value)
            if m is not None:
                year = int(m.group(1))
                if not YEARS[0] <= year <= YEARS[1]:
                    yield field, f"year {year} is outside {YEARS[0]}-{YEARS[1]}"
            elif (field == "id" or field.endswith("_id")) and _DIGITS.match(value) \
                    and (len(value) > 10 or int(value) > MAX_ID):  # an id in a query or form
                yield field, f"is too large (at most {MAX_ID})"
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        if abs(value) > MAX_INT:
            yield field, f"is too large (at most {MAX_INT} in size)"
    elif isinstance(value, float):
        if not math.isfinite(value):
            yield field, "is not a finite number"
    elif isinstance(value, dict):
        for key, item in value.items():
            name = f"{field}.{key}" if field else str(key)
            if "\x00" in str(key):
                yield name, "the field name contains a NUL character"
            yield from check_value(item, name)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from check_value(item, f"{field}[{i}]" if field else f"[{i}]")


def _pairs(raw: str) -> Iterator[tuple[str, str]]:
    for key, item in parse_qsl(raw, keep_blank_values=True):
        if "\x00" in key:
            yield "query", "a parameter name contains a NUL character"
        else:
            yield from check_value(item, key)


def _header(scope: Any, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


class _TooLarge(Exception):
    pass


class RequestGuard:
    def __init__(self, app: Any, max_body: int = DEFAULT_MAX_BODY) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        if "\x00" in path:
            await _refuse(scope, send, 422, "Invalid input", [("path", "contains a NUL "
                                                                        "character")])
            return
        if any(_DIGITS.match(seg) and (len(seg) > 10 or int(seg) > MAX_ID)
               for seg in path.split("/")):
            await _refuse(scope, send, 404, "Not found", [], detail="no such record")
            return
        query = scope.get("query_string", b"").decode("utf-8", "replace")
        wrong = list(_pairs(query)) if query else []
        if wrong:
            await _refuse(scope, send, 422, "Invalid input", wrong)
            return
        length = _header(scope, b"content-length")
        chunked = _header(scope, b"transfer-encoding") is not None
        if length is not None:
            if not length.strip().isdigit():
                await _refuse(scope, send, 400, "Malformed request",
                              [("body", "Content-Length is not a number")])
                return
            if int(length) > self.max_body:
                await self._too_large(scope, send)
                return
        if length is None and not chunked:
            await self.app(scope, receive, send)
            return
        try:
            body, tail = await self._read(receive)
        except _TooLarge:
            await self._too_large(scope, send)
            return
        ctype = (_header(scope, b"content-type") or "").lower()
        wrong = _body_errors(ctype, body)
        if wrong:
            await _refuse(scope, send, 422, "Invalid input", wrong)
            return
        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            if tail is not None:
                return tail
            return await receive()

        await self.app(scope, replay, send)

    async def _read(self, receive: Any) -> tuple[bytes, Any]:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return b"".join(chunks), message
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise _TooLarge()
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks), None

    async def _too_large(self, scope: Any, send: Any) -> None:
        await _refuse(scope, send, 413, "Request too large",
                      [("body", f"is larger than {self.max_body} bytes")],
                      detail=f"the request body is larger than {self.max_body} bytes: "
                             "nothing was read or saved")


def _body_errors(ctype: str, body: bytes) -> list[tuple[str, str]]:
    if not body:
        return []
    if "json" in ctype:
        try:
            data = json.loads(body)
        except ValueError:  # unreadable JSON: the app answers 400 itself
            return []
        return list(check_value(data, ""))
    if ctype.startswith("application/x-www-form-urlencoded"):
        return list(_pairs(body.decode("utf-8", "replace")))
    if ctype.startswith("multipart/"):
        return []
    if b"\x00" in body:
        return [("body", "contains a NUL character")]
    return []


async def _refuse(scope: Any, send: Any, status: int, title: str,
                  errors: list[tuple[str, str]], detail: str | None = None) -> None:
    errs = [{"field": f or "body", "message": m} for f, m in errors]
    if detail is None:
        first = errs[0]
        detail = f"{first['field']}: {first['message']}" + (
            f" (and {len(errs) - 1} more)" if len(errs) > 1 else "")
    kind = {413: "too-large", 404: "not-found", 400: "malformed"}.get(status, "invalid-input")
    path: str = scope.get("path", "")
    if path.startswith("/api/"):
        payload = json.dumps({"type": "https://tarla.example/problems/" + kind, "title": title,
                              "status": status, "detail": detail, "errors": errs}).encode()
        ctype = b"application/problem+json"
    else:
        from html import escape

        payload = (f"<!doctype html><title>{status} {escape(title)}</title><h1>{escape(title)}"
                   f"</h1><p>{escape(detail)}</p><p>Go back, correct it and try again.</p>").encode()
        ctype = b"text/html; charset=utf-8"
    headers = [(b"content-type", ctype), (b"content-length", str(len(payload)).encode())]
    if status == 413:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
