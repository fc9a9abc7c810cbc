"""Logging in and out of the console."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from monitor.api.deps import (
    SESSION_COOKIE,
    SessionDep,
    SettingsDep,
    ThrottleDep,
    csrf_matches,
    login_user,
)
from monitor.api.routes.console.common import ConsoleUser, templates
from monitor.errors import CsrfFailed, MonitorError
from monitor.services import auth

router = APIRouter(include_in_schema=False)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, error: str | None = None) -> HTMLResponse:
    return templates.TemplateResponse(request, "login.html", {"error": error})


@router.post("/login")
def login_form(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    throttle: ThrottleDep,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=200)],
) -> Response:
    response = RedirectResponse("/", status_code=303)
    try:
        login_user(request, response, session, settings, throttle, username, password)
    except MonitorError as e:
        return templates.TemplateResponse(
            request, "login.html", {"error": e.message}, status_code=e.status_code
        )
    return response


@router.post("/logout")
def logout_form(
    p: ConsoleUser,
    request: Request,
    session: SessionDep,
    csrf_token: Annotated[str, Form(max_length=100)],
) -> Response:
    if not p.csrf_token or not csrf_matches(csrf_token, p.csrf_token):
        raise CsrfFailed("stale form; reload the page")
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        auth.end_session(session, cookie)
        session.commit()
    r = RedirectResponse("/login", status_code=303)
    r.delete_cookie(SESSION_COOKIE, path="/")
    return r
