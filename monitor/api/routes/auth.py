"""Login (rate limited), logout, whoami, operator API tokens."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from monitor.api.deps import (
    SESSION_COOKIE,
    CurrentOperator,
    PrincipalDep,
    SessionDep,
    SettingsDep,
    ThrottleDep,
    operator_user,
)
from monitor.errors import NotAuthenticated
from monitor.services import auth

router = APIRouter(prefix="/v1/auth", tags=["auth"])


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)


class TokenIn(BaseModel):
    label: str = Field(min_length=1, max_length=120)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def login_user(
    request: Request,
    response: Response,
    session: Any,
    settings: Any,
    throttle: auth.LoginThrottle,
    username: str,
    password: str,
) -> dict[str, Any]:
    addr = client_address(request)
    throttle.check(addr, username)
    try:
        user = auth.authenticate(session, username, password)
    except NotAuthenticated:
        throttle.failed(addr, username)
        raise
    token, csrf = auth.start_session(session, user, settings.session_hours)
    session.commit()
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.session_hours * 3600,
        httponly=True,
        samesite="strict",
        secure=settings.cookie_secure,
        path="/",
    )
    return {"username": user.username, "name": user.name, "role": user.role, "csrf_token": csrf}


@router.post("/login")
def login(
    body: LoginIn,
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    throttle: ThrottleDep,
) -> dict[str, Any]:
    return login_user(request, response, session, settings, throttle, body.username, body.password)


@router.post("/logout", status_code=204)
def logout(request: Request, _: CurrentOperator, session: SessionDep) -> Response:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        auth.end_session(session, cookie)
        session.commit()
    r = Response(status_code=204)
    r.delete_cookie(SESSION_COOKIE, path="/")
    return r


@router.get("/me")
def me(p: PrincipalDep) -> dict[str, Any]:
    if p.user is None:
        return {"role": p.role, "username": None}
    return {"role": p.role, "username": p.user.username, "name": p.user.name}


@router.post("/tokens", status_code=201)
def create_token(body: TokenIn, op: CurrentOperator, session: SessionDep) -> dict[str, Any]:
    token = auth.create_api_token(session, operator_user(op), body.label)
    session.commit()
    return {"token": token, "label": body.label}
