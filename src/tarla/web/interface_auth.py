"""Interface credentials at the edge: ``Authorization: Bearer <token>`` on the FHIR R4 and
CDS Hooks endpoints (issue 16).

``require_interface(scope)`` is a FastAPI dependency that answers with the authenticated
:class:`~tarla.services.interfaces.InterfaceCaller` or raises :class:`InterfaceError`:

    no Authorization header, not a bearer token, unknown or revoked token -> 401
        (``WWW-Authenticate: Bearer``)
    a live token without the scope the endpoint needs                     -> 403

A user's session cookie is never accepted here: these endpoints read the Authorization
header only, so a signed-in browser (and a cross-site request riding its cookie) gets 401.
For the same reason they need no CSRF token. The errors are rendered by
:func:`install_interface_errors`: a FHIR ``OperationOutcome`` under ``/fhir/``, RFC 9457
problem details elsewhere (CDS Hooks defines no error body).
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from tarla.adapters.fhir_out import operation_outcome
from tarla.services.interfaces import SCOPES, InterfaceCaller, authenticate
from tarla.web.problems import problem_response

__all__ = ["InterfaceError", "require_interface", "install_interface_errors",
           "FHIR_JSON", "operation_outcome"]

FHIR_JSON = "application/fhir+json"

class InterfaceError(Exception):
    """A refusal on an interface endpoint: HTTP status, what and where."""

    def __init__(self, status: int, detail: str, *, field: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.field = field
        self.headers = headers or {}


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def require_interface(scope: str | None) -> Callable[[Request], InterfaceCaller]:
    """The dependency for an endpoint that needs ``scope`` (``read`` or ``lab-write``; None:
    any live interface token, e.g. to be told that a path does not exist)."""
    if scope is not None and scope not in SCOPES:
        raise ValueError(f"unknown interface scope {scope!r}")

    def dependency(request: Request) -> InterfaceCaller:
        challenge = {"WWW-Authenticate": 'Bearer realm="tarla"'
                     + (f', scope="{scope}"' if scope else "")}
        token = _bearer(request)
        if token is None:
            raise InterfaceError(401, "send the interface's token as 'Authorization: Bearer "
                                      "<token>' (a user's session is not accepted here)",
                                 field="Authorization", headers=challenge)
        web = request.app.state.web
        caller = authenticate(web.uow(), token=token, now=web.now())
        if caller is None:
            raise InterfaceError(401, "the bearer token is unknown or revoked",
                                 field="Authorization",
                                 headers={**challenge, "WWW-Authenticate":
                                          challenge["WWW-Authenticate"]
                                          + ', error="invalid_token"'})
        if scope is not None and scope not in caller.scopes:
            raise InterfaceError(403, f"this interface's token does not have the {scope!r} "
                                      f"scope", field="Authorization")
        request.state.interface = caller  # the access log names the reader (issue 13)
        return caller

    return dependency


def interface_error_response(request: Request, exc: InterfaceError) -> Response:
    if request.url.path.startswith("/fhir/"):
        return JSONResponse(operation_outcome(exc.status, exc.detail, exc.field),
                            status_code=exc.status, media_type=FHIR_JSON, headers=exc.headers)
    errors = [{"field": exc.field, "message": exc.detail}] if exc.field else []
    title = {401: "Unauthorized", 403: "Forbidden", 404: "Not found",
             400: "Malformed request", 422: "Invalid input"}.get(exc.status, "Error")
    return problem_response(exc.status, title, exc.detail, errors, headers=exc.headers)


def install_interface_errors(app: FastAPI) -> None:
    async def handler(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, InterfaceError)
        return interface_error_response(request, exc)

    app.add_exception_handler(InterfaceError, handler)
