"""Operators and admins: passwords (argon2), console sessions, API tokens, login throttling."""

from __future__ import annotations

import datetime as dt
import functools
import secrets
import threading
import time
from collections import defaultdict, deque

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.core.crypto import hash_password, new_token, token_hash, verify_password
from monitor.errors import Conflict, NotAuthenticated, RateLimited
from monitor.models import AuthToken, User, utcnow
from monitor.services import audit

ROLES = ("operator", "admin")


class LoginThrottle:
    """Failed logins per (address, username) in a sliding window; success does not reset it,
    so an attacker cannot interleave a known-good account to keep guessing."""

    def __init__(self, max_failures: int, window_s: int) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._failures: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def check(self, address: str, username: str) -> None:
        with self._lock:
            q = self._failures[(address, username.lower())]
            cutoff = time.monotonic() - self.window_s
            while q and q[0] < cutoff:
                q.popleft()
            if len(q) >= self.max_failures:
                retry = int(q[0] + self.window_s - time.monotonic()) + 1
                raise RateLimited(
                    f"too many failed logins; try again in {retry} s", retry_after_s=retry
                )

    def failed(self, address: str, username: str) -> None:
        with self._lock:
            self._failures[(address, username.lower())].append(time.monotonic())


def create_user(
    session: Session, actor: str, username: str, name: str, role: str, password: str
) -> User:
    if role not in ROLES:
        raise Conflict(f"role must be one of {', '.join(ROLES)}")
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise Conflict(f"user {username} already exists")
    user = User(username=username, name=name, role=role, password_hash=hash_password(password))
    session.add(user)
    session.flush()
    audit.record(session, actor, "user_created", subject=f"user:{username}", details={"role": role})
    return user


@functools.cache
def _no_such_user_hash() -> str:
    # Verified against when the username does not exist, so an unknown name costs the same
    # argon2 work as a wrong password: response time must not tell which accounts exist.
    return hash_password(secrets.token_urlsafe(16))


def authenticate(session: Session, username: str, password: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    ok = verify_password(user.password_hash if user else _no_such_user_hash(), password)
    if user is None or not user.active or not ok:
        raise NotAuthenticated("wrong username or password")
    return user


def start_session(session: Session, user: User, hours: int) -> tuple[str, str]:
    token = new_token("vss")
    csrf = secrets.token_urlsafe(24)
    session.add(
        AuthToken(
            user_id=user.id,
            kind="session",
            token_hash=token_hash(token),
            csrf_token=csrf,
            expires_at=utcnow() + dt.timedelta(hours=hours),
        )
    )
    audit.record(session, f"user:{user.username}", "logged_in")
    return token, csrf


def create_api_token(session: Session, user: User, label: str) -> str:
    token = new_token("vop")
    session.add(AuthToken(user_id=user.id, kind="api", token_hash=token_hash(token), label=label))
    audit.record(session, f"user:{user.username}", "api_token_created", details={"label": label})
    return token


def end_session(session: Session, token: str) -> None:
    row = session.scalar(select(AuthToken).where(AuthToken.token_hash == token_hash(token)))
    if row is not None:
        session.delete(row)
