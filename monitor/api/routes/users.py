"""Operator and admin accounts (admins only)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import select

from monitor.api.deps import CurrentAdmin, RowId, SessionDep, SettingsDep
from monitor.errors import NotFound
from monitor.models import User
from monitor.schemas import ResetIssued, UserOut
from monitor.serialise import user_out
from monitor.services import auth

router = APIRouter(prefix="/v1/users", tags=["auth"])


class UserIn(BaseModel):
    username: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    name: str = Field(min_length=1, max_length=120)
    role: Literal["operator", "admin"]
    password: str = Field(min_length=auth.MIN_PASSWORD, max_length=200)


@router.get("", response_model=list[UserOut])
def list_users(_: CurrentAdmin, session: SessionDep) -> list[dict[str, Any]]:
    return [user_out(u) for u in session.scalars(select(User).order_by(User.username))]


@router.post("", response_model=UserOut, status_code=201)
def create_user(body: UserIn, admin: CurrentAdmin, session: SessionDep) -> dict[str, Any]:
    u = auth.create_user(session, admin.actor, body.username, body.name, body.role, body.password)
    session.commit()
    return user_out(u)


@router.post("/{user_id}/reset", response_model=ResetIssued, status_code=201)
def issue_password_reset(
    user_id: RowId, admin: CurrentAdmin, session: SessionDep, settings: SettingsDep
) -> dict[str, Any]:
    """A one-time password reset token for a user who cannot log in, valid for
    VIGIL_RESET_TOKEN_MINUTES. Pass it to them by a channel you trust; they set their own
    password with POST /v1/auth/reset, which ends all their sessions and API tokens."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    token, expires = auth.issue_reset(session, admin.actor, user, settings.reset_token_minutes)
    session.commit()
    return {"user": user_out(user), "reset_token": token, "expires_at": expires.isoformat()}
