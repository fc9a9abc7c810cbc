"""The page an escalation contact opens from the link in their message: no account, two buttons.

GET shows the alarm (who, what, when, where, with units and ages) and the two answers; POST
records one. A forged, expired or used link gets a page that says so and changes nothing
(services/responder_links.py). The token is the only credential, so the page carries no
session and sets no cookie.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse

from monitor.api.deps import SessionDep, SettingsDep
from monitor.api.routes.console.common import templates
from monitor.errors import MonitorError
from monitor.services import alarms, responder_links
from monitor.services.responder_links import LinkSigner

router = APIRouter(include_in_schema=False)
Token = Annotated[str, Path(max_length=64)]


def _signer(settings: SettingsDep) -> LinkSigner:
    return responder_links.signer(settings.master_key, settings.public_url)


def _page(request: Request, status: int = 200, **ctx: object) -> HTMLResponse:
    return templates.TemplateResponse(request, "respond.html", ctx, status_code=status)


@router.get("/respond/{token}", response_class=HTMLResponse)
def respond_page(
    request: Request, token: Token, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    try:
        req = responder_links.open_link(session, _signer(settings), token)
    except MonitorError as e:
        return _page(request, e.status_code, error=e.message)
    alarm = alarms.payload(session, req.alarm)
    return _page(request, alarm=alarm, contact=req.contact.name, token=token)


@router.post("/respond/{token}", response_class=HTMLResponse)
def respond_answer(
    request: Request,
    token: Token,
    session: SessionDep,
    settings: SettingsDep,
    answer: Annotated[str, Form(max_length=20)],
) -> HTMLResponse:
    try:
        req = responder_links.answer(session, _signer(settings), token, answer)
    except MonitorError as e:
        session.rollback()
        return _page(request, e.status_code, error=e.message)
    return _page(request, done=responder_links.said(answer), contact=req.contact.name)
