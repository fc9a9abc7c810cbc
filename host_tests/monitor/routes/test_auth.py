"""Login, sessions, rate limiting, roles."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update

from host_tests.support.monitor import Env
from monitor.models import AuthToken, utcnow


def test_wrong_password_is_401_and_repeated_failures_are_rate_limited(env: Env) -> None:
    bad = {"username": "operator", "password": "nope"}
    codes = [env.client.post("/v1/auth/login", json=bad).status_code for _ in range(6)]
    assert codes == [401] * 5 + [429]
    r = env.client.post("/v1/auth/login", json={**bad, "password": "operator-password-123"})
    assert r.status_code == 429 and "Retry-After" in r.headers


def test_session_cookie_is_httponly_and_strict(env: Env) -> None:
    r = env.client.post(
        "/v1/auth/login", json={"username": "operator", "password": "operator-password-123"}
    )
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie


def test_expired_session_is_anonymous(env: Env) -> None:
    env.login()
    assert env.client.get("/v1/alarms").status_code == 200
    with env.app.state.db.session() as s:
        s.execute(update(AuthToken).values(expires_at=utcnow() - dt.timedelta(seconds=1)))
    assert env.client.get("/v1/alarms").status_code == 401


def test_logout_ends_the_session(env: Env) -> None:
    csrf = env.login()
    assert env.client.post("/v1/auth/logout", headers=csrf).status_code == 204
    assert env.client.get("/v1/alarms").status_code == 401


def test_console_redirects_anonymous_to_login(env: Env) -> None:
    r = env.client.get("/devices", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"


def test_console_form_login_sets_session(env: Env) -> None:
    r = env.client.post(
        "/login",
        data={"username": "admin", "password": "admin-password-123"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = env.client.get("/devices")
    assert page.status_code == 200 and "Rejected frames" in page.text  # admin-only panel


def test_admin_only_routes_refuse_operators(env: Env) -> None:
    h = env.token()
    assert env.client.get("/v1/users", headers=h).status_code == 403
    assert env.client.get("/v1/reports/rejections", headers=h).status_code == 403
    assert env.client.get("/v1/users", headers=env.token("admin")).status_code == 200
