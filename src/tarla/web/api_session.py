"""``/api/v1/session``: sign in and out with JSON (for scripts, the bench, EHR adapters)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from tarla.web.auth import SESSION_COOKIE, CurrentUser, current_user
from tarla.web.problems import Problem
from tarla.web.signin import BAD_LOGIN, clear_session_cookie, set_session_cookie, sign_in

__all__ = ["router", "SignInRequest"]

router = APIRouter(prefix="/api/v1", tags=["session"])


class SignInRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


@router.post("/session", summary="Sign in: sets the session cookie, returns the CSRF token",
             responses={401: {"description": "wrong username or password"},
                        429: {"description": "too many failed sign-ins"}})
def api_sign_in(req: SignInRequest, request: Request) -> JSONResponse:
    done = sign_in(request, req.username, req.password)
    if done is None:
        raise Problem(401, "Sign-in failed", BAD_LOGIN,
                      [{"field": "password", "message": "wrong username or password"}],
                      kind="sign-in-failed")
    response = JSONResponse({"username": done.username, "csrf_token": done.session.csrf_token,
                             "expires_at": done.session.expires_at.isoformat()})
    set_session_cookie(request, response, done.token)
    return response


@router.delete("/session", summary="Sign out")
def api_sign_out(request: Request, user: CurrentUser = Depends(current_user)) -> JSONResponse:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        request.app.state.web.sessions.delete(token)
    response = JSONResponse({"signed_out": True})
    clear_session_cookie(request, response)
    return response
