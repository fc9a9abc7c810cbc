"""Operator, supervisor and admin accounts (admins only): create, edit (role, teams, forced
password change), disable/enable, set a temporary password, issue a reset token, and see or
revoke any user's personal API tokens."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.api.deps import CurrentAdmin, RefId, RowId, SessionDep, SettingsDep
from monitor.errors import NotFound
from monitor.models import User
from monitor.schemas import ResetIssued, TokenInfo, UserOut
from monitor.serialise import token_info, user_out
from monitor.services import auth, teams

router = APIRouter(prefix="/v1/users", tags=["auth"])

Role = Literal["operator", "supervisor", "admin"]


class UserIn(BaseModel):
    username: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    name: str = Field(min_length=1, max_length=120)
    role: Role
    password: str = Field(min_length=auth.MIN_PASSWORD, max_length=200)
    team_ids: list[RefId] = Field(default_factory=list, max_length=100)
    must_change_password: bool = Field(
        default=False, description="make them choose their own password at first login"
    )


class UserPatch(BaseModel):
    """Only the fields sent change."""

    name: str | None = Field(default=None, min_length=1, max_length=120)
    role: Role | None = None
    team_ids: list[RefId] | None = Field(default=None, max_length=100)
    must_change_password: bool | None = None


class TemporaryPasswordIn(BaseModel):
    password: str = Field(min_length=auth.MIN_PASSWORD, max_length=200)
    must_change_password: bool = True


def _user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    return user


def _out(session: Session, user: User) -> dict[str, Any]:
    logins = auth.last_logins(session)
    return user_out(user, teams.names_by_user(session).get(user.id), logins.get(user.username))


@router.get("", response_model=list[UserOut])
def list_users(_: CurrentAdmin, session: SessionDep) -> list[dict[str, Any]]:
    by_user, logins = teams.names_by_user(session), auth.last_logins(session)
    return [
        user_out(u, by_user.get(u.id), logins.get(u.username))
        for u in session.scalars(select(User).order_by(User.username))
    ]


@router.post("", response_model=UserOut, status_code=201)
def create_user(body: UserIn, admin: CurrentAdmin, session: SessionDep) -> dict[str, Any]:
    u = auth.create_user(
        session,
        admin.actor,
        body.username,
        body.name,
        body.role,
        body.password,
        team_ids=body.team_ids,
        must_change_password=body.must_change_password,
    )
    session.commit()
    return _out(session, u)


@router.patch("/{user_id}", response_model=UserOut)
def edit_user(
    user_id: RowId, body: UserPatch, admin: CurrentAdmin, session: SessionDep
) -> dict[str, Any]:
    """Change name, role, a supervisor's teams, or force a password change. A new role ends
    the user's sessions and tokens; the last active admin cannot be demoted (409)."""
    user = _user(session, user_id)
    auth.update_user(
        session,
        admin.actor,
        user,
        name=body.name,
        role=body.role,
        team_ids=body.team_ids,
        must_change_password=body.must_change_password,
    )
    session.commit()
    return _out(session, user)


@router.post("/{user_id}/disable", response_model=UserOut)
def disable_user(user_id: RowId, admin: CurrentAdmin, session: SessionDep) -> dict[str, Any]:
    """Their sessions, API tokens and reset tokens end at once, open streams included. The
    last active admin cannot be disabled (409)."""
    user = _user(session, user_id)
    auth.set_active(session, admin.actor, user, False)
    session.commit()
    return _out(session, user)


@router.post("/{user_id}/enable", response_model=UserOut)
def enable_user(user_id: RowId, admin: CurrentAdmin, session: SessionDep) -> dict[str, Any]:
    user = _user(session, user_id)
    auth.set_active(session, admin.actor, user, True)
    session.commit()
    return _out(session, user)


@router.post("/{user_id}/password", response_model=UserOut)
def set_temporary_password(
    user_id: RowId, body: TemporaryPasswordIn, admin: CurrentAdmin, session: SessionDep
) -> dict[str, Any]:
    """Set a temporary password to pass on; by default they must change it at next login.
    Every session and token of theirs ends."""
    user = _user(session, user_id)
    auth.set_temporary_password(
        session, admin.actor, user, body.password, must_change=body.must_change_password
    )
    session.commit()
    return _out(session, user)


@router.post("/{user_id}/reset", response_model=ResetIssued, status_code=201)
def issue_password_reset(
    user_id: RowId, admin: CurrentAdmin, session: SessionDep, settings: SettingsDep
) -> dict[str, Any]:
    """A one-time password reset token for a user who cannot log in, valid for
    VIGIL_RESET_TOKEN_MINUTES. Pass it to them by a channel you trust; they set their own
    password with POST /v1/auth/reset, which ends all their sessions and API tokens."""
    user = _user(session, user_id)
    token, expires = auth.issue_reset(session, admin.actor, user, settings.reset_token_minutes)
    session.commit()
    return {"user": _out(session, user), "reset_token": token, "expires_at": expires.isoformat()}


@router.get("/{user_id}/tokens", response_model=list[TokenInfo])
def list_user_tokens(user_id: RowId, _: CurrentAdmin, session: SessionDep) -> list[dict[str, Any]]:
    """The user's unexpired personal API tokens (never the tokens themselves)."""
    user = _user(session, user_id)
    return [token_info(t) for t in auth.api_tokens(session, user.id)]


@router.post("/{user_id}/tokens/{token_id}/revoke", status_code=204)
def revoke_user_token(
    user_id: RowId, token_id: RowId, admin: CurrentAdmin, session: SessionDep
) -> Response:
    """Refused with its next call (401); a stream it holds open ends."""
    auth.revoke_api_token(session, admin.actor, _user(session, user_id), token_id)
    session.commit()
    return Response(status_code=204)
