"""Accounts: users and teams (admins), and every console user's own account (password, API
tokens), including the page a user is sent to while an admin-set password must be changed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from monitor.api.deps import Principal, SessionDep, SettingsDep
from monitor.api.routes.console.common import ConsoleUser, operator_user_of, page
from monitor.errors import Forbidden
from monitor.models import Team, User
from monitor.services import auth, teams

router = APIRouter(include_in_schema=False)


def console_admin(p: ConsoleUser) -> Principal:
    if p.role != "admin":
        raise Forbidden("admins only")
    return p


ConsoleAdmin = Annotated[Principal, Depends(console_admin)]


@router.get("/users", response_class=HTMLResponse)
def users_page(
    request: Request, p: ConsoleAdmin, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    users = session.scalars(select(User).order_by(User.username)).all()
    tokens: dict[int, list[object]] = {}
    for t in auth.api_tokens(session):
        tokens.setdefault(t.user_id, []).append(t)
    return page(
        request,
        "users.html",
        p,
        users=users,
        team_names=teams.names_by_user(session),
        logins=auth.last_logins(session),
        tokens=tokens,
        all_teams=session.scalars(select(Team).order_by(Team.name)).all(),
        roles=auth.ROLES,
        min_password=auth.MIN_PASSWORD,
        reset_minutes=settings.reset_token_minutes,
        nav="users",
    )


@router.get("/teams", response_class=HTMLResponse)
def teams_page(request: Request, p: ConsoleAdmin, session: SessionDep) -> HTMLResponse:
    return page(request, "teams.html", p, teams=teams.overview(session), nav="teams")


@router.get("/account", response_class=HTMLResponse)
def account_page(
    request: Request, p: ConsoleUser, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    me = operator_user_of(p)
    return page(
        request,
        "account.html",
        p,
        tokens=auth.api_tokens(session, me.id),
        teams=teams.names_by_user(session).get(me.id, []),
        max_days=settings.api_token_days,
        min_password=auth.MIN_PASSWORD,
        nav="account",
    )


@router.get("/account/password", response_class=HTMLResponse)
def change_password_page(request: Request, p: ConsoleUser) -> HTMLResponse:
    """Where every console page sends a user whose password an admin set, until they change
    it; anyone may use it to change theirs."""
    return page(
        request,
        "password.html",
        p,
        forced=operator_user_of(p).must_change_password,
        min_password=auth.MIN_PASSWORD,
        nav="account",
    )
