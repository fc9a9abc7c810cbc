"""Operators and admins: passwords (argon2), console sessions, API tokens, login throttling."""

from __future__ import annotations

import datetime as dt
import functools
import secrets
import threading
import time
from collections import deque

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.core.crypto import hash_password, new_token, token_hash, verify_password
from monitor.errors import Conflict, NotAuthenticated, RateLimited
from monitor.models import AuthToken, User, utcnow
from monitor.services import audit

ROLES = ("operator", "admin")


class LoginThrottle:
    """Failed logins in a sliding window, per (address, username) and per address over all
    usernames: the second stops one address spraying a common password across many accounts.
    Success does not reset either, so an attacker cannot interleave a known-good account to
    keep guessing. Emptied entries are dropped, so random usernames cannot grow memory."""

    def __init__(
        self, max_failures: int, window_s: int, max_per_address: int | None = None
    ) -> None:
        self.max_failures = max_failures
        self.max_per_address = max_per_address or 4 * max_failures
        self.window_s = window_s
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> int:
        q = self._failures.get(key)
        if q is None:
            return 0
        while q and q[0] < now - self.window_s:
            q.popleft()
        if not q:
            del self._failures[key]
            return 0
        return len(q)

    def check(self, address: str, username: str) -> None:
        with self._lock:
            now = time.monotonic()
            for key, limit in (
                ((address, "user:" + username.lower()), self.max_failures),
                ((address, "any"), self.max_per_address),
            ):
                if self._recent(key, now) >= limit:
                    retry = int(self._failures[key][0] + self.window_s - now) + 1
                    raise RateLimited(
                        f"too many failed logins; try again in {retry} s", retry_after_s=retry
                    )

    def failed(self, address: str, username: str) -> None:
        with self._lock:
            now = time.monotonic()
            for key in ((address, "user:" + username.lower()), (address, "any")):
                self._failures.setdefault(key, deque()).append(now)

    def tracked(self) -> int:
        """Entries held in memory (for tests: bounded by recent failures, not by names tried)."""
        with self._lock:
            return len(self._failures)


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
