"""Operators and admins: passwords (argon2), console sessions, API tokens, login throttling."""

from __future__ import annotations

import datetime as dt
import functools
import secrets
import threading
import time
from collections import deque

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from monitor.core.crypto import hash_password, new_token, token_hash, verify_password
from monitor.errors import Conflict, InvalidInput, NotAuthenticated, NotFound, RateLimited
from monitor.models import AuditEntry, AuthToken, User, utcnow
from monitor.services import audit, scope
from monitor.services.events import queue_credentials_ended

ROLES = ("operator", "supervisor", "admin")
MIN_PASSWORD = 10  # characters; the only rule: length beats composition rules (NIST 800-63B)


class LoginThrottle:
    """Failed logins in a sliding window, counted three ways:

    1. per (address, account): `max_failures` wrong passwords lock that account from that
       address only;
    2. per address over all accounts: `max_per_address` stops one address spraying a common
       password across many accounts;
    3. per account over all addresses: once `max_per_account` failures are recorded for an
       account, every address that has itself failed for it is refused. An address with no
       failures for the account still gets its try, so whoever sprays an account from many
       addresses cannot lock the real user out of it from their own address; what they gain
       is one guess per address they hold, per window, instead of `max_failures`.

    The address is the TCP peer, or X-Forwarded-For only from a trusted proxy (uvicorn's
    forwarded_allow_ips, from Settings.forwarded_allow_ips), so a client cannot choose it.
    Success does not reset any count, so an attacker cannot interleave a known-good account to
    keep guessing. Emptied entries are dropped, so random usernames cannot grow memory."""

    def __init__(
        self,
        max_failures: int,
        window_s: int,
        max_per_address: int | None = None,
        max_per_account: int | None = None,
    ) -> None:
        self.max_failures = max_failures
        self.max_per_address = max_per_address or 4 * max_failures
        self.max_per_account = max_per_account or 2 * max_failures
        self.window_s = window_s
        self._by_account: dict[str, dict[str, deque[float]]] = {}  # account -> address -> times
        self._by_address: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _sweep(self, q: deque[float], now: float) -> int:
        while q and q[0] < now - self.window_s:
            q.popleft()
        return len(q)

    def _account(self, account: str, now: float) -> dict[str, deque[float]]:
        per_address = self._by_account.get(account, {})
        for address in [a for a, q in per_address.items() if not self._sweep(q, now)]:
            del per_address[address]
        if not per_address:
            self._by_account.pop(account, None)
        return per_address

    def _address(self, address: str, now: float) -> int:
        q = self._by_address.get(address)
        if q is None:
            return 0
        if not self._sweep(q, now):
            del self._by_address[address]
            return 0
        return len(q)

    def _refuse(self, free_at: float, now: float) -> RateLimited:
        retry = int(free_at - now) + 1
        return RateLimited(f"too many failed logins; try again in {retry} s", retry_after_s=retry)

    def check(self, address: str, username: str) -> None:
        with self._lock:
            now = time.monotonic()
            account = self._account(username.lower(), now)
            mine = account.get(address)
            if mine is not None and len(mine) >= self.max_failures:
                raise self._refuse(mine[0] + self.window_s, now)
            if self._address(address, now) >= self.max_per_address:
                raise self._refuse(self._by_address[address][0] + self.window_s, now)
            if mine and sum(len(q) for q in account.values()) >= self.max_per_account:
                # Free again once this address's own failures age out (or sooner, if the
                # account's total drops below the cap first).
                raise self._refuse(mine[-1] + self.window_s, now)

    def failed(self, address: str, username: str) -> None:
        with self._lock:
            now = time.monotonic()
            account = self._by_account.setdefault(username.lower(), {})
            account.setdefault(address, deque()).append(now)
            self._by_address.setdefault(address, deque()).append(now)

    def tracked(self) -> int:
        """Entries held in memory (for tests: bounded by recent failures, not by names tried)."""
        with self._lock:
            return len(self._by_account) + len(self._by_address)


def create_user(
    session: Session,
    actor: str,
    username: str,
    name: str,
    role: str,
    password: str,
    *,
    team_ids: list[int] | None = None,
    must_change_password: bool = False,
) -> User:
    if role not in ROLES:
        raise Conflict(f"role must be one of {', '.join(ROLES)}")
    if team_ids and role != scope.SUPERVISOR:
        raise InvalidInput("only supervisors have teams; leave team_ids empty", field="team_ids")
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise Conflict(f"user {username} already exists")
    user = User(
        username=username,
        name=name,
        role=role,
        password_hash=hash_password(password),
        must_change_password=must_change_password,
    )
    session.add(user)
    session.flush()
    if team_ids:
        scope.set_teams(session, user, team_ids)
    audit.record(
        session, actor, "user_created", subject=f"user:{username}",
        details={"role": role, "team_ids": sorted(team_ids or []),
                 "must_change_password": must_change_password},
    )  # fmt: skip
    return user


def _keep_an_admin(session: Session, user: User, why: str) -> None:
    """Nobody may disable or demote the last active admin: no one could then manage accounts
    (or undo the mistake) without the database."""
    if user.role != "admin" or not user.active:
        return
    others = session.scalar(
        select(func.count())
        .select_from(User)
        .where(User.role == "admin", User.active.is_(True), User.id != user.id)
    )
    if not others:
        raise Conflict(
            f"{user.username} is the last active admin and cannot be {why}; make another "
            "admin first"
        )


def set_active(session: Session, actor: str, user: User, active: bool) -> int:
    """Disable or enable an account. Disabling ends every session, API token and reset token
    of the user at once (open streams included: see events.queue_credentials_ended); returns
    how many credentials ended."""
    if not active:
        _keep_an_admin(session, user, "disabled")
    ended = 0 if active else _revoke_all(session, user)
    user.active = active
    audit.record(
        session, actor, "user_enabled" if active else "user_disabled",
        subject=f"user:{user.username}", details={"credentials_ended": ended},
    )  # fmt: skip
    return ended


def update_user(
    session: Session,
    actor: str,
    user: User,
    *,
    name: str | None = None,
    role: str | None = None,
    team_ids: list[int] | None = None,
    must_change_password: bool | None = None,
) -> User:
    """An admin edits an account; None leaves a field as it is. A role change ends the user's
    credentials (what they may do changes, so they log in again); a user who stops being a
    supervisor loses their teams."""
    changed: dict[str, object] = {}
    if role is not None and role != user.role:
        if role not in ROLES:
            raise InvalidInput(f"role must be one of {', '.join(ROLES)}", field="role")
        _keep_an_admin(session, user, "demoted")
        changed["role"] = [user.role, role]
        user.role = role
        changed["credentials_ended"] = _revoke_all(session, user)
        if role != scope.SUPERVISOR:
            scope.set_teams(session, user, [])
    if team_ids is not None:
        if team_ids and user.role != scope.SUPERVISOR:
            raise InvalidInput("only supervisors have teams; make them a supervisor first",
                               field="team_ids")  # fmt: skip
        scope.set_teams(session, user, team_ids)
        changed["team_ids"] = sorted(team_ids)
    if name is not None and name != user.name:
        changed["name"] = name
        user.name = name
    if must_change_password is not None and must_change_password != user.must_change_password:
        changed["must_change_password"] = must_change_password
        user.must_change_password = must_change_password
    if changed:
        audit.record(session, actor, "user_updated", subject=f"user:{user.username}",
                     details=changed)  # fmt: skip
    return user


def set_temporary_password(
    session: Session, actor: str, user: User, password: str, *, must_change: bool = True
) -> int:
    """An admin sets a password for a user and passes it on; with `must_change` (the default)
    the user must replace it before anything else. Every credential of the user ends (whoever
    held them may be why). Returns how many ended."""
    _check_new_password(password)
    user.password_hash = hash_password(password)
    user.must_change_password = must_change
    ended = _revoke_all(session, user)
    audit.record(
        session, actor, "password_set_by_admin", subject=f"user:{user.username}",
        details={"must_change_password": must_change, "credentials_ended": ended},
    )  # fmt: skip
    return ended


# An API token's use is written at most this often: a script polling every second costs one
# write a minute, not one per call (SQLite has one writer).
USE_RECORDED_EVERY = dt.timedelta(minutes=1)


def note_use(row: AuthToken, now: dt.datetime | None = None) -> None:
    """Mark an API token used now, unless it was marked within USE_RECORDED_EVERY. The caller's
    transaction carries the write."""
    now = now or utcnow()
    if row.last_used_at is None or now - row.last_used_at >= USE_RECORDED_EVERY:
        row.last_used_at = now


def api_tokens(session: Session, user_id: int | None = None) -> list[AuthToken]:
    """Unexpired personal API tokens, newest first: one user's, or everyone's for None."""
    stmt = select(AuthToken).where(AuthToken.kind == "api", AuthToken.expires_at > utcnow())
    if user_id is not None:
        stmt = stmt.where(AuthToken.user_id == user_id)
    return list(session.scalars(stmt.order_by(AuthToken.id.desc())))


def revoke_api_token(session: Session, actor: str, user: User, token_id: int) -> None:
    """Revoke one of `user`'s API tokens: refused with the next call (a 401), and any stream it
    holds open ends. Another user's token, or a session, is "not found" to the caller."""
    row = session.get(AuthToken, token_id)
    if row is None or row.kind != "api" or row.user_id != user.id:
        raise NotFound(f"{user.username} has no API token {token_id}")
    audit.record(
        session, actor, "api_token_revoked", subject=f"user:{user.username}",
        details={"token_id": token_id, "label": row.label},
    )  # fmt: skip
    revoke_token(session, token_id)


def last_logins(session: Session) -> dict[str, dt.datetime]:
    """username -> when they last logged in, from the audit log (no column to keep up)."""
    rows = session.execute(
        select(AuditEntry.actor, func.max(AuditEntry.at))
        .where(AuditEntry.action == "logged_in")
        .group_by(AuditEntry.actor)
    )
    return {actor.removeprefix("user:"): at for actor, at in rows}


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


def create_api_token(
    session: Session, user: User, label: str, *, session_id: int | None = None, days: int = 90
) -> str:
    """An API token for scripts. `session_id` is the console session that minted it: logging out
    of that session with revoke_tokens ends it too. Every API token expires after `days`."""
    token = new_token("vop")
    session.add(
        AuthToken(
            user_id=user.id,
            kind="api",
            token_hash=token_hash(token),
            label=label,
            session_id=session_id,
            expires_at=utcnow() + dt.timedelta(days=days),
        )
    )
    audit.record(
        session,
        f"user:{user.username}",
        "api_token_created",
        details={"label": label, "days": days},
    )
    return token


def end_session(session: Session, token: str, *, revoke_tokens: bool = False) -> int:
    """Log a console session out. Its API tokens are revoked with it if asked, otherwise they
    outlive it (unlinked, so a later session reusing the row id cannot revoke them). Returns
    how many API tokens were revoked."""
    row = session.scalar(
        select(AuthToken).where(
            AuthToken.token_hash == token_hash(token), AuthToken.kind == "session"
        )
    )
    if row is None:
        return 0
    minted = select(AuthToken).where(AuthToken.kind == "api", AuthToken.session_id == row.id)
    ended = [row.id]
    for t in session.scalars(minted):
        if revoke_tokens:
            ended.append(t.id)
            session.delete(t)
        else:
            t.session_id = None
    revoked = len(ended) - 1
    queue_credentials_ended(session, ended)
    user = session.get(User, row.user_id)
    audit.record(
        session,
        f"user:{user.username if user else row.user_id}",
        "logged_out",
        details={"api_tokens_revoked": revoked},
    )
    session.delete(row)
    return revoked


def revoke_token(session: Session, token_id: int) -> None:
    row = session.get(AuthToken, token_id)
    if row is not None:
        session.delete(row)
        queue_credentials_ended(session, [token_id])


def credential_valid(session: Session, token_id: int) -> bool:
    """Whether a session or API token still lets its holder in: it exists (not logged out or
    revoked), has not expired, and its user is active. Open streams ask this periodically."""
    row = session.get(AuthToken, token_id)
    if row is None or row.kind not in ("session", "api"):
        return False
    if row.expires_at is None or row.expires_at <= utcnow():
        return False
    user = session.get(User, row.user_id)
    return user is not None and user.active


def _revoke_all(session: Session, user: User, keep: int | None = None) -> int:
    """Every session, API token and reset token of `user` but `keep`; returns how many."""
    rows = session.scalars(select(AuthToken).where(AuthToken.user_id == user.id)).all()
    gone = [r for r in rows if r.id != keep]
    queue_credentials_ended(session, [r.id for r in gone])
    for r in gone:
        session.delete(r)
    return len(gone)


def _check_new_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(
            f"use at least {MIN_PASSWORD} characters for the new password", field="new_password"
        )


def change_password(
    session: Session, user: User, current: str, new: str, keep_session_id: int | None
) -> int:
    """The user changes their own password, proving the current one. Every other session and
    every API token of theirs ends (whoever else held them may be why the password changes);
    the session making the change stays. Returns how many credentials were revoked."""
    if not verify_password(user.password_hash, current):
        raise NotAuthenticated("the current password is wrong")
    _check_new_password(new)
    user.password_hash = hash_password(new)
    user.must_change_password = False
    revoked = _revoke_all(session, user, keep=keep_session_id)
    audit.record(session, f"user:{user.username}", "password_changed", details={"revoked": revoked})
    return revoked


def issue_reset(session: Session, actor: str, user: User, minutes: int) -> tuple[str, dt.datetime]:
    """An admin issues a one-time reset token for a user who cannot log in; the admin passes it
    on and the user sets a password only they know. Replaces any earlier unused reset token.
    Changes nothing else until it is used."""
    for old in session.scalars(
        select(AuthToken).where(AuthToken.user_id == user.id, AuthToken.kind == "reset")
    ):
        session.delete(old)
    token = new_token("vrs")
    expires = utcnow() + dt.timedelta(minutes=minutes)
    session.add(
        AuthToken(user_id=user.id, kind="reset", token_hash=token_hash(token), expires_at=expires)
    )
    audit.record(
        session, actor, "password_reset_issued", subject=f"user:{user.username}",
        details={"minutes": minutes},
    )  # fmt: skip
    return token, expires


def redeem_reset(session: Session, token: str, new: str) -> User:
    """Set a new password with a reset token: once, before it expires. Every session and API
    token of the user ends, as with a password change."""
    row = session.scalar(
        select(AuthToken).where(
            AuthToken.token_hash == token_hash(token), AuthToken.kind == "reset"
        )
    )
    user = session.get(User, row.user_id) if row is not None else None
    if row is None or row.expires_at is None or row.expires_at <= utcnow() or user is None:
        raise NotAuthenticated("this reset token is unknown, used or expired; ask an admin")
    if not user.active:
        raise NotAuthenticated("this account is disabled; ask an admin")
    _check_new_password(new)
    user.password_hash = hash_password(new)
    user.must_change_password = False  # only they know this one
    revoked = _revoke_all(session, user)  # the reset token included: it is single-use
    audit.record(
        session, f"user:{user.username}", "password_reset", details={"revoked": revoked - 1}
    )
    return user
