"""Dependencies as Annotated aliases: the database session, the caller and their role."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Path, Request, Response
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from monitor.core.config import Settings
from monitor.core.crypto import KeyBox, token_hash
from monitor.core.db import Database
from monitor.errors import CsrfFailed, Forbidden, NotAuthenticated
from monitor.models import AuthToken, Gateway, User, utcnow
from monitor.services import auth, refused, scope
from monitor.services.auth import LoginThrottle
from monitor.services.events import EventHub

log = logging.getLogger(__name__)

# Dependencies that only read app state or an already-identified Principal are `async def`:
# FastAPI runs a plain `def` dependency on the thread pool, a hop that costs every request
# (seven hops made up half a gateway batch's time at the monitor). Those that touch the
# database or lazy ORM attributes stay `def`.

SESSION_COOKIE = "vigil_session"
CSRF_HEADER = "x-csrf-token"
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def get_session(request: Request) -> Iterator[Session]:
    with get_db(request).session() as s:
        yield s


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_keybox(request: Request) -> KeyBox:
    kb: KeyBox = request.app.state.keybox
    return kb


async def get_throttle(request: Request) -> LoginThrottle:
    t: LoginThrottle = request.app.state.throttle
    return t


async def get_hub(request: Request) -> EventHub:
    hub: EventHub = request.app.state.hub
    return hub


HubDep = Annotated[EventHub, Depends(get_hub)]
# Ids outside these ranges cannot exist; refusing them up front keeps them away from the database
# drivers (SQLite raises on integers beyond 64 bits).
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]
DeviceId = Annotated[int, Path(ge=0, le=0xFFFFFF)]
RefId = Annotated[int, Field(ge=1, le=2**31 - 1)]  # an id inside a request body
SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
KeyBoxDep = Annotated[KeyBox, Depends(get_keybox)]
DatabaseDep = Annotated[Database, Depends(get_db)]
ThrottleDep = Annotated[LoginThrottle, Depends(get_throttle)]


@dataclass
class Principal:
    role: str  # anonymous | gateway | operator | supervisor | admin
    user: User | None = None
    gateway: Gateway | None = None
    csrf_token: str | None = None
    via_cookie: bool = False
    token_id: int | None = None  # the AuthToken row (session or API token) the caller used

    @property
    def actor(self) -> str:
        if self.user is not None:
            return f"user:{self.user.username}"
        if self.gateway is not None:
            return f"gateway:{self.gateway.id}"
        return "anonymous"


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def get_principal(request: Request, session: SessionDep) -> Principal:
    p = _identify(request, session)
    # End the read transaction now: SQLite transactions hold the write lock, and long polls and
    # event streams must not sit on it while they wait.
    try:
        session.commit()
    except SQLAlchemyError:
        # Only a token's "last used" can be pending here: losing it must not refuse the call.
        session.rollback()
        log.warning("could not record an API token's use", exc_info=True)
    return p


def _identify(request: Request, session: Session) -> Principal:
    token = _bearer(request)
    if token is not None:
        h = token_hash(token)
        gw = session.scalar(select(Gateway).where(Gateway.token_hash == h))
        if gw is not None:
            if gw.revoked_at is not None:
                refused.note(session, gw)
                raise NotAuthenticated("this gateway token has been revoked")
            return Principal("gateway", gateway=gw)
        row = session.scalar(
            select(AuthToken).where(AuthToken.token_hash == h, AuthToken.kind == "api")
        )
        if row is None:
            raise NotAuthenticated("unknown bearer token")
        if row.expires_at is None or row.expires_at <= utcnow():
            raise NotAuthenticated("this API token has expired; mint a new one from the console")
        user = session.get(User, row.user_id)
        if user is None or not user.active:
            raise NotAuthenticated("the token's user is disabled")
        auth.note_use(row)
        return Principal(user.role, user=user, token_id=row.id)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        row = session.scalar(
            select(AuthToken).where(
                AuthToken.token_hash == token_hash(cookie), AuthToken.kind == "session"
            )
        )
        if row is not None and row.expires_at is not None and row.expires_at > utcnow():
            user = session.get(User, row.user_id)
            if user is not None and user.active:
                return Principal(
                    user.role,
                    user=user,
                    csrf_token=row.csrf_token,
                    via_cookie=True,
                    token_id=row.id,
                )
    return Principal("anonymous")


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def csrf_matches(sent: str, expected: str) -> bool:
    # Bytes, not str: compare_digest raises on non-ASCII text, and a header or form field can
    # hold anything; a mismatch must be a 403, never a 500.
    return hmac.compare_digest(sent.encode(), expected.encode())


def _csrf_ok(request: Request, p: Principal) -> None:
    # Cookies ride along on cross-site requests; a header the attacker's page cannot read or
    # set proves the request came from our own console.
    if p.via_cookie and request.method not in _SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not p.csrf_token or not csrf_matches(sent, p.csrf_token):
            raise CsrfFailed("missing or wrong X-CSRF-Token header; reload the console page")


# What a user whose password an admin set may still do: change it, see who they are, leave.
PASSWORD_CHANGE_PATHS = frozenset({"/v1/auth/password", "/v1/auth/me", "/v1/auth/logout"})


def _password_changed_first(request: Request, p: Principal) -> None:
    if p.user is not None and p.user.must_change_password:
        if request.url.path not in PASSWORD_CHANGE_PATHS:
            raise Forbidden(
                "change your password first: an admin set it (POST /v1/auth/password, or "
                "log in to the console)"
            )


def require_operator(request: Request, p: PrincipalDep) -> Principal:
    """Operators, supervisors and admins: anyone who handles alarms. A supervisor's view is
    narrowed to their teams by `ScopeDep`, not here."""
    if p.role == "anonymous":
        raise NotAuthenticated("log in or send an operator bearer token")
    if p.role not in scope.STAFF_ROLES or p.user is None:
        raise Forbidden("operators, supervisors and admins only")
    _csrf_ok(request, p)
    _password_changed_first(request, p)
    return p


def require_manager(request: Request, p: PrincipalDep) -> Principal:
    """Supervisors (for their own teams) and admins: who keeps workers' records."""
    if p.role == "anonymous":
        raise NotAuthenticated("log in or send a supervisor or admin bearer token")
    if p.role not in (scope.SUPERVISOR, "admin") or p.user is None:
        raise Forbidden("supervisors and admins only")
    _csrf_ok(request, p)
    _password_changed_first(request, p)
    return p


def require_admin(request: Request, p: PrincipalDep) -> Principal:
    if p.role == "anonymous":
        raise NotAuthenticated("log in or send an admin bearer token")
    if p.role != "admin" or p.user is None:
        raise Forbidden("admins only")
    _csrf_ok(request, p)
    _password_changed_first(request, p)
    return p


async def require_gateway(p: PrincipalDep) -> Principal:
    if p.role == "anonymous":
        raise NotAuthenticated("send the gateway's bearer token")
    if p.role != "gateway" or p.gateway is None:
        raise Forbidden("gateway tokens only")
    return p


def require_session_user(p: Annotated[Principal, Depends(require_operator)]) -> Principal:
    """A console session, not an API token: minting tokens and changing the password need the
    person at the console, so a leaked script token cannot multiply itself or take the account."""
    if not p.via_cookie:
        raise Forbidden("log in to the console for this: API tokens cannot do it")
    return p


CurrentOperator = Annotated[Principal, Depends(require_operator)]
CurrentManager = Annotated[Principal, Depends(require_manager)]
CurrentSessionUser = Annotated[Principal, Depends(require_session_user)]
CurrentAdmin = Annotated[Principal, Depends(require_admin)]
CurrentGateway = Annotated[Principal, Depends(require_gateway)]


def get_scope(p: PrincipalDep, session: SessionDep) -> scope.Scope:
    found = scope.for_user(session, p.user)
    session.commit()  # as get_principal: a long poll or stream must not hold a read open
    return found


ScopeDep = Annotated[scope.Scope, Depends(get_scope)]


def operator_user(p: Principal) -> User:
    assert p.user is not None  # guaranteed by require_operator/require_admin
    return p.user


def client_address(request: Request) -> str:
    """The address the login throttle counts under (see uvicorn_config for proxies)."""
    return request.client.host if request.client else "unknown"


def login_user(
    request: Request,
    response: Response,
    session: Session,
    settings: Settings,
    throttle: LoginThrottle,
    username: str,
    password: str,
) -> dict[str, Any]:
    """Start a console session on `response` (cookie) for the API's login and the console's
    login form alike; returns schemas.LoginOut."""
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
