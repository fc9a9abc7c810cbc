"""Findings 7 and 9 (issue 11): password change and reset; API tokens that cannot multiply,
expire, and can be revoked at logout."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update

from host_tests.support.monitor import ADMIN_PASSWORD, OPERATOR_PASSWORD
from host_tests.support.security import SecEnv
from monitor.api.deps import SESSION_COOKIE
from monitor.models import AuthToken, utcnow

OP = {"username": "operator", "password": OPERATOR_PASSWORD}
NEW = "a-brand-new-passphrase"


def _login(sec: SecEnv, body: dict[str, str] = OP) -> dict[str, str]:
    sec.client.cookies.clear()
    r = sec.client.post("/v1/auth/login", json=body)
    assert r.status_code == 200, r.text
    return {"X-CSRF-Token": r.json()["csrf_token"]}


def _mint(sec: SecEnv, csrf: dict[str, str]) -> dict[str, str]:
    r = sec.client.post("/v1/auth/tokens", json={"label": "script"}, headers=csrf)
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def _works(sec: SecEnv, bearer: dict[str, str]) -> bool:
    cookies = dict(sec.client.cookies)
    sec.client.cookies.clear()
    code = sec.client.get("/v1/alarms", headers=bearer).status_code
    for k, v in cookies.items():
        sec.client.cookies.set(k, v)
    assert code in (200, 401), code
    return code == 200


# --- finding 9: API tokens ------------------------------------------------------------------


def test_finding_9_api_token_cannot_mint_tokens(sec: SecEnv) -> None:
    bearer = {"Authorization": f"Bearer {sec.creds.operator_api}"}
    r = sec.client.post("/v1/auth/tokens", json={"label": "more"}, headers=bearer)
    assert r.status_code == 403 and "console" in r.json()["message"]
    admin = {"Authorization": f"Bearer {sec.creds.admin_api}"}
    assert sec.client.post("/v1/auth/tokens", json={"label": "x"}, headers=admin).status_code == 403


def test_finding_9_logout_can_revoke_the_api_tokens_its_session_minted(sec: SecEnv) -> None:
    csrf = _login(sec)
    minted = _mint(sec, csrf)
    other = {"Authorization": f"Bearer {sec.creds.operator_api}"}  # minted elsewhere
    r = sec.client.post("/v1/auth/logout?revoke_tokens=true", headers=csrf)
    assert r.status_code == 204
    assert not _works(sec, minted)
    assert _works(sec, other)


def test_finding_9_plain_logout_keeps_api_tokens_and_unlinks_them(sec: SecEnv) -> None:
    csrf = _login(sec)
    minted = _mint(sec, csrf)
    assert sec.client.post("/v1/auth/logout", headers=csrf).status_code == 204
    assert _works(sec, minted)
    with sec.app.state.db.session() as s:
        row = s.scalars(select(AuthToken).where(AuthToken.label == "script")).one()
        assert row.session_id is None  # a later session reusing the row id cannot revoke it


def test_finding_9_logout_with_an_api_token_revokes_that_token(sec: SecEnv) -> None:
    bearer = {"Authorization": f"Bearer {sec.creds.operator_api}"}
    assert sec.client.post("/v1/auth/logout", headers=bearer).status_code == 204
    assert not _works(sec, bearer)
    sec.client.cookies.set(SESSION_COOKIE, sec.creds.operator_session)  # other logins go on
    assert sec.client.get("/v1/alarms").status_code == 200


def test_finding_9_api_tokens_expire(sec: SecEnv) -> None:
    csrf = _login(sec)
    r = sec.client.post("/v1/auth/tokens", json={"label": "script"}, headers=csrf)
    assert r.json()["expires_in_days"] == 90
    bearer = {"Authorization": f"Bearer {r.json()['token']}"}
    with sec.app.state.db.session() as s:
        row = s.scalars(select(AuthToken).where(AuthToken.label == "script")).one()
        assert abs(row.expires_at - (utcnow() + dt.timedelta(days=90))) < dt.timedelta(minutes=1)
        s.execute(
            update(AuthToken)
            .where(AuthToken.id == row.id)
            .values(expires_at=utcnow() - dt.timedelta(seconds=1))
        )
    sec.client.cookies.clear()
    r = sec.client.get("/v1/alarms", headers=bearer)
    assert r.status_code == 401 and "expired" in r.json()["message"]


# --- finding 7: password change and reset ---------------------------------------------------


def test_finding_7_password_change_needs_the_current_one_and_ends_other_logins(
    sec: SecEnv,
) -> None:
    csrf = _login(sec)
    old_token = {"Authorization": f"Bearer {sec.creds.operator_api}"}
    r = sec.client.post(
        "/v1/auth/password",
        json={"current_password": "a-wrong-guess-here", "new_password": NEW},
        headers=csrf,
    )
    assert r.status_code == 401
    r = sec.client.post(
        "/v1/auth/password",
        json={"current_password": OPERATOR_PASSWORD, "new_password": "short"},
        headers=csrf,
    )
    assert r.status_code == 422
    r = sec.client.post(
        "/v1/auth/password",
        json={"current_password": OPERATOR_PASSWORD, "new_password": NEW},
        headers=csrf,
    )
    assert r.status_code == 204, r.text
    assert sec.client.get("/v1/alarms").status_code == 200  # this session stays
    assert not _works(sec, old_token)  # API tokens end
    sec.client.cookies.clear()
    sec.client.cookies.set(SESSION_COOKIE, sec.creds.operator_session)  # other sessions end
    assert sec.client.get("/v1/alarms").status_code == 401
    sec.client.cookies.clear()
    assert sec.client.post("/v1/auth/login", json=OP).status_code == 401
    assert sec.client.post("/v1/auth/login", json={**OP, "password": NEW}).status_code == 200


def test_finding_7_wrong_current_passwords_count_as_failed_logins(sec: SecEnv) -> None:
    csrf = _login(sec)
    body = {"current_password": "wrong-wrong-wrong", "new_password": NEW}
    codes = [
        sec.client.post("/v1/auth/password", json=body, headers=csrf).status_code for _ in range(6)
    ]
    assert codes == [401] * 5 + [429]


def test_finding_7_admin_issued_reset_token_is_one_time_and_expires(sec: SecEnv) -> None:
    admin = {"Authorization": f"Bearer {sec.creds.admin_api}"}
    r = sec.client.post(f"/v1/users/{sec.seeded.operator_id}/reset", headers=admin)
    assert r.status_code == 201, r.text
    token = r.json()["reset_token"]
    expires = dt.datetime.fromisoformat(r.json()["expires_at"])
    assert dt.timedelta(minutes=55) < expires - utcnow() <= dt.timedelta(minutes=60)
    # Issuing changes nothing yet: the old password and sessions still work.
    assert sec.client.post("/v1/auth/login", json=OP).status_code == 200
    sec.client.cookies.clear()
    # A reset token is not a credential for anything else.
    assert (
        sec.client.get("/v1/alarms", headers={"Authorization": f"Bearer {token}"}).status_code
        == 401
    )
    r = sec.client.post("/v1/auth/reset", json={"token": token, "new_password": NEW})
    assert r.status_code == 204, r.text
    again = sec.client.post("/v1/auth/reset", json={"token": token, "new_password": NEW + "2"})
    assert again.status_code == 401  # one time
    assert sec.client.post("/v1/auth/login", json=OP).status_code == 401
    assert sec.client.post("/v1/auth/login", json={**OP, "password": NEW}).status_code == 200
    sec.client.cookies.clear()
    sec.client.cookies.set(SESSION_COOKIE, sec.creds.operator_session)
    assert sec.client.get("/v1/alarms").status_code == 401  # every old session ended
    # An expired one is refused.
    sec.client.cookies.clear()
    r = sec.client.post(f"/v1/users/{sec.seeded.operator_id}/reset", headers=admin)
    late = r.json()["reset_token"]
    with sec.app.state.db.session() as s:
        s.execute(
            update(AuthToken)
            .where(AuthToken.kind == "reset")
            .values(expires_at=utcnow() - dt.timedelta(seconds=1))
        )
    r = sec.client.post("/v1/auth/reset", json={"token": late, "new_password": NEW + "3"})
    assert r.status_code == 401 and "expired" in r.json()["message"]
    assert sec.client.post("/v1/auth/login", json={**OP, "password": NEW}).status_code == 200


def test_an_operator_cannot_issue_resets(sec: SecEnv) -> None:
    op = {"Authorization": f"Bearer {sec.creds.operator_api}"}
    r = sec.client.post(f"/v1/users/{sec.seeded.admin_id}/reset", headers=op)
    assert r.status_code == 403
    body = {"username": "admin", "password": ADMIN_PASSWORD}
    assert sec.client.post("/v1/auth/login", json=body).status_code == 200
