"""Login (rate limited), logout, whoami, operator API tokens, password change and reset."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from monitor.api.deps import (
    SESSION_COOKIE,
    CurrentOperator,
    CurrentSessionUser,
    PrincipalDep,
    RowId,
    SessionDep,
    SettingsDep,
    ThrottleDep,
    client_address,
    login_user,
    operator_user,
)
from monitor.errors import InvalidInput, NotAuthenticated
from monitor.schemas import LoginOut, MeOut, TokenInfo, TokenOut
from monitor.serialise import token_info
from monitor.services import auth

router = APIRouter(prefix="/v1/auth", tags=["auth"])


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)


class TokenIn(BaseModel):
    label: str = Field(min_length=1, max_length=120)
    days: int | None = Field(
        default=None, ge=1, description="expiry in days, 1..VIGIL_API_TOKEN_DAYS (the default)"
    )


class PasswordChangeIn(BaseModel):
    current_password: str = Field(min_length=1, max_length=200)
    new_password: str = Field(min_length=auth.MIN_PASSWORD, max_length=200)


class PasswordResetIn(BaseModel):
    token: str = Field(min_length=1, max_length=100)
    new_password: str = Field(min_length=auth.MIN_PASSWORD, max_length=200)


@router.post("/login", response_model=LoginOut)
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
def logout(
    request: Request,
    p: CurrentOperator,
    session: SessionDep,
    revoke_tokens: bool = Query(
        False, description="also revoke the API tokens minted from this console session"
    ),
) -> Response:
    """Ends the credential the call came with. From the console: the session (and, with
    revoke_tokens, the API tokens it minted). With an API token: that token."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if p.via_cookie and cookie:
        auth.end_session(session, cookie, revoke_tokens=revoke_tokens)
    elif p.token_id is not None:
        auth.revoke_token(session, p.token_id)
    session.commit()
    r = Response(status_code=204)
    r.delete_cookie(SESSION_COOKIE, path="/")
    return r


# exclude_unset: an anonymous caller's answer has no "name" key, as before the model.
@router.get("/me", response_model=MeOut, response_model_exclude_unset=True)
def me(p: PrincipalDep) -> dict[str, Any]:
    if p.user is None:
        return {"role": p.role, "username": None}
    return {"role": p.role, "username": p.user.username, "name": p.user.name}


@router.post("/tokens", response_model=TokenOut, status_code=201)
def create_token(
    body: TokenIn, op: CurrentSessionUser, session: SessionDep, settings: SettingsDep
) -> dict[str, Any]:
    """Only a console session mints API tokens (an API token cannot mint more); the token is
    linked to that session and expires after `days` (at most VIGIL_API_TOKEN_DAYS)."""
    days = body.days or settings.api_token_days
    if days > settings.api_token_days:
        raise InvalidInput(
            f"a token may last at most {settings.api_token_days} days here", field="days"
        )
    token = auth.create_api_token(
        session, operator_user(op), body.label, session_id=op.token_id, days=days
    )
    session.commit()
    row = auth.api_tokens(session, operator_user(op).id)[0]  # newest first: the one just made
    return {
        "token": token,
        "label": body.label,
        "expires_in_days": days,
        "id": row.id,
        "expires_at": row.expires_at.isoformat() if row.expires_at else None,
    }


@router.get("/tokens", response_model=list[TokenInfo])
def list_tokens(op: CurrentOperator, session: SessionDep) -> list[dict[str, Any]]:
    """Your own unexpired API tokens (never the tokens themselves)."""
    return [token_info(t) for t in auth.api_tokens(session, operator_user(op).id)]


@router.post("/tokens/{token_id}/revoke", status_code=204)
def revoke_own_token(token_id: RowId, op: CurrentOperator, session: SessionDep) -> Response:
    """Revoke one of your API tokens: its next call gets a 401, and a stream it holds ends."""
    user = operator_user(op)
    auth.revoke_api_token(session, op.actor, user, token_id)
    session.commit()
    return Response(status_code=204)


@router.post("/password", status_code=204)
def change_password(
    body: PasswordChangeIn,
    request: Request,
    op: CurrentSessionUser,
    session: SessionDep,
    throttle: ThrottleDep,
) -> Response:
    """Change your own password with the current one. Your other sessions and all your API
    tokens end; this session stays. Wrong current passwords count as failed logins."""
    user = operator_user(op)
    addr = client_address(request)
    throttle.check(addr, user.username)
    try:
        auth.change_password(session, user, body.current_password, body.new_password, op.token_id)
    except NotAuthenticated:
        throttle.failed(addr, user.username)
        raise
    session.commit()
    return Response(status_code=204)


@router.post("/reset", status_code=204)
def reset_password(body: PasswordResetIn, session: SessionDep) -> Response:
    """Set a new password with the one-time token an admin issued (POST /v1/users/{id}/reset).
    Every session and API token of the account ends; log in with the new password."""
    auth.redeem_reset(session, body.token, body.new_password)
    session.commit()
    return Response(status_code=204)
