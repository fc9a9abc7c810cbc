"""Logins, sessions, CSRF and the HTTP guards around them."""

from __future__ import annotations

import datetime as dt
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from host_tests.support.monitor import ADMIN_PASSWORD, GATEWAY_TOKEN, OPERATOR_PASSWORD, frame_item
from host_tests.support.security import SecEnv, Template, open_env
from monitor.api.hardening import MAX_BODY_BYTES
from monitor.core.config import Settings
from monitor.errors import NotAuthenticated, UnsafeSettings
from monitor.models import AuthToken, User, utcnow
from monitor.services import auth
from protocol import frame_types as ft

OP = {"username": "operator", "password": OPERATOR_PASSWORD}


def login(env: SecEnv, username: str = "operator", password: str | None = None) -> int:
    pw = password or (ADMIN_PASSWORD if username == "admin" else OPERATOR_PASSWORD)
    r = env.client.post("/v1/auth/login", json={"username": username, "password": pw})
    return r.status_code


# --- cookies -------------------------------------------------------------------------------


def _cookie_attrs(set_cookie: str) -> dict[str, str]:
    parts = [p.strip() for p in set_cookie.split(";")]
    return {p.split("=", 1)[0].lower(): (p.split("=", 1)[1] if "=" in p else "") for p in parts}


@pytest.fixture
def secure_env(security_template: Template, tmp_path: Path) -> Iterator[SecEnv]:
    with open_env(security_template, tmp_path, cookie_secure=True) as env:
        env.client.base_url = env.client.base_url.copy_with(scheme="https")
        yield env


@pytest.mark.parametrize("via", ["api", "form"])
def test_session_cookie_is_httponly_strict_secure_and_lasts_one_shift(
    secure_env: SecEnv, via: str
) -> None:
    if via == "api":
        r = secure_env.client.post("/v1/auth/login", json=OP)
    else:
        r = secure_env.client.post("/login", data=OP, follow_redirects=False)
    attrs = _cookie_attrs(r.headers["set-cookie"])
    assert "httponly" in attrs and "secure" in attrs
    assert attrs["samesite"].lower() == "strict" and attrs["path"] == "/"
    assert attrs["max-age"] == str(12 * 3600)


def test_production_refuses_cookies_without_secure_and_development_secrets() -> None:
    keys = {"master_key": "m" * 40, "webhook_secret": "w" * 40}
    with pytest.raises(UnsafeSettings, match="COOKIE_SECURE"):
        Settings(environment="production", **keys)
    with pytest.raises(UnsafeSettings, match="MASTER_KEY"):
        Settings(environment="production", cookie_secure=True)
    assert Settings(environment="production", cookie_secure=True, **keys).cookie_secure


# --- session lifetime ----------------------------------------------------------------------


def test_expired_session_is_refused_by_api_and_console(sec: SecEnv) -> None:
    assert login(sec) == 200
    with sec.app.state.db.session() as s:
        row = s.scalars(select(AuthToken).where(AuthToken.kind == "session")).all()[-1]
        # Expiry is the server's record, not the cookie's Max-Age a client could ignore.
        assert abs((row.expires_at - utcnow()) - dt.timedelta(hours=12)) < dt.timedelta(minutes=1)
        s.execute(
            update(AuthToken)
            .where(AuthToken.kind == "session")
            .values(expires_at=utcnow() - dt.timedelta(seconds=1))
        )
        s.commit()
    assert sec.client.get("/v1/alarms").status_code == 401
    r = sec.client.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"


def test_stolen_cookie_is_dead_after_logout(sec: SecEnv) -> None:
    r = sec.client.post("/v1/auth/login", json=OP)
    stolen = sec.client.cookies["vigil_session"]
    out = sec.client.post("/v1/auth/logout", headers={"X-CSRF-Token": r.json()["csrf_token"]})
    assert out.status_code == 204
    sec.client.cookies.set("vigil_session", stolen)
    assert sec.client.get("/v1/alarms").status_code == 401


def test_disabling_a_user_ends_their_sessions_and_tokens(sec: SecEnv) -> None:
    bearer = {"Authorization": f"Bearer {sec.creds.operator_api}"}
    sec.client.cookies.set("vigil_session", sec.creds.operator_session)
    assert sec.client.get("/v1/alarms").status_code == 200
    with sec.app.state.db.session() as s:
        s.execute(update(User).where(User.username == "operator").values(active=False))
        s.commit()
    assert sec.client.get("/v1/alarms").status_code == 401
    sec.client.cookies.clear()
    assert sec.client.get("/v1/alarms", headers=bearer).status_code == 401
    assert login(sec) == 401


def test_each_login_gets_a_fresh_session_and_csrf_token(sec: SecEnv) -> None:
    a = sec.client.post("/v1/auth/login", json=OP)
    b = sec.client.post("/v1/auth/login", json=OP)
    assert a.cookies["vigil_session"] != b.cookies["vigil_session"]
    assert a.json()["csrf_token"] != b.json()["csrf_token"]


# --- CSRF (every state-changing route is also covered by the authorisation matrix) ---------


def test_cross_site_form_post_with_the_cookie_is_refused(sec: SecEnv) -> None:
    sec.client.cookies.set("vigil_session", sec.creds.operator_session)
    url = f"/v1/alarms/{sec.creds.open_alarm_id}/acknowledge"
    # What a hostile page can send: a form post (no custom header), or a guessed token.
    r = sec.client.post(url, data={"x": "1"})
    assert r.status_code == 403 and r.json()["error"] == "csrf_failed"
    r = sec.client.post(url, headers={"X-CSRF-Token": sec.creds.admin_csrf})  # another session's
    assert r.status_code == 403
    r = sec.client.post(url, headers={"X-CSRF-Token": sec.creds.operator_csrf})
    assert r.status_code == 200 and r.json()["status"] == "acknowledged"


def test_console_pages_carry_the_sessions_csrf_token_for_their_forms(sec: SecEnv) -> None:
    sec.client.cookies.set("vigil_session", sec.creds.operator_session)
    page = sec.client.get("/")
    assert f'name="csrf-token" content="{sec.creds.operator_csrf}"' in page.text
    assert f'name="csrf_token" value="{sec.creds.operator_csrf}"' in page.text
    r = sec.client.post("/logout", data={"csrf_token": "forged"}, follow_redirects=False)
    assert r.status_code == 403
    assert sec.client.get("/v1/alarms").status_code == 200  # still logged in


# --- login throttling ----------------------------------------------------------------------


def test_repeated_failures_lock_that_account_from_that_address_form_included(
    sec: SecEnv,
) -> None:
    codes = [login(sec, password="wrong-password") for _ in range(5)]
    assert codes == [401] * 5
    r = sec.client.post("/v1/auth/login", json=OP)  # the right password no longer helps
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    form = sec.client.post("/login", data=OP, follow_redirects=False)
    assert form.status_code == 429 and "too many failed logins" in form.text
    assert login(sec, "admin") == 200  # another account from the same address is not locked


def test_password_spraying_across_accounts_is_capped_per_address(sec: SecEnv) -> None:
    throttle = sec.app.state.throttle
    for i in range(throttle.max_per_address):
        throttle.check("198.51.100.7", f"user{i}")
        throttle.failed("198.51.100.7", f"user{i}")
    with pytest.raises(Exception, match="too many failed logins"):
        throttle.check("198.51.100.7", "operator")
    throttle.check("203.0.113.9", "operator")  # other addresses are unaffected


def test_throttle_memory_is_bounded_by_recent_failures_not_names_tried() -> None:
    throttle = auth.LoginThrottle(max_failures=5, window_s=0)
    for i in range(5000):
        throttle.check("192.0.2.1", f"random-{i}")
        throttle.failed("192.0.2.1", f"random-{i}")
    time.sleep(0.01)
    throttle.check("192.0.2.1", "anyone")  # expiry sweeps what it looks at
    assert throttle.tracked() <= 5001  # never more than one entry per failure still in window
    throttle.check("192.0.2.1", "random-1")
    assert throttle.tracked() <= 5000


def test_unknown_username_takes_as_long_as_a_wrong_password(sec: SecEnv) -> None:
    def timed(username: str) -> float:
        with sec.app.state.db.session() as s:
            t = time.perf_counter()
            with pytest.raises(NotAuthenticated):
                auth.authenticate(s, username, "not-the-password")
            return time.perf_counter() - t

    timed("nobody")  # first call builds the decoy hash
    known = statistics.median(timed("operator") for _ in range(5))
    unknown = statistics.median(timed(f"nobody-{i}") for i in range(5))
    # Without the decoy verify an unknown name answers ~100x faster (one indexed SELECT).
    assert unknown > 0.5 * known, (unknown, known)


# --- HTTP guards ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/login", "/v1/alarms", "/v1/auth/me"])
def test_pages_and_api_refuse_framing_sniffing_and_caching(sec: SecEnv, path: str) -> None:
    sec.client.cookies.set("vigil_session", sec.creds.operator_session)
    r = sec.client.get(path)
    assert r.status_code == 200
    assert r.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["cache-control"] == "no-store"


def test_oversized_bodies_are_refused_before_anyone_reads_them(sec: SecEnv) -> None:
    big = b'{"frames": [' + b" " * (MAX_BODY_BYTES + 1) + b"]}"
    # Anonymous, with a Content-Length: refused without reading the body...
    r = sec.client.post("/v1/frames", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"] == "payload_too_large"

    # ...and streamed without one (chunked): cut off once the cap is passed.
    def chunks() -> Iterator[bytes]:
        for i in range(0, len(big), 64 * 1024):
            yield big[i : i + 64 * 1024]

    r = sec.client.post(
        "/v1/auth/login", content=chunks(), headers={"content-type": "application/json"}
    )
    assert r.status_code == 413


def test_the_largest_legitimate_batch_fits_under_the_cap(sec: SecEnv) -> None:
    loc = {"lat": -33.123456789012, "lon": 151.123456789012, "accuracy_m": 1234.56789}
    items = [
        {**frame_item(ft.HEARTBEAT, 1000 + i, (90, 0, 0, 1), location=loc), "rssi": -100}
        for i in range(1000)
    ]
    r = sec.client.post(
        "/v1/frames", json={"frames": items}, headers={"Authorization": f"Bearer {GATEWAY_TOKEN}"}
    )
    assert r.status_code == 200
    assert len(r.request.content) < MAX_BODY_BYTES / 2  # twice the headroom
    assert [x["status"] for x in r.json()["results"]] == ["accepted"] * 1000


def test_a_non_ascii_csrf_token_is_a_403_not_a_crash(sec: SecEnv) -> None:
    sec.client.cookies.set("vigil_session", sec.creds.operator_session)
    r = sec.client.post(
        "/v1/auth/tokens", json={"label": "x"}, headers={"X-CSRF-Token": "é".encode("latin-1")}
    )
    assert r.status_code == 403 and r.json()["error"] == "csrf_failed"
    r = sec.client.post("/logout", data={"csrf_token": "é"}, follow_redirects=False)
    assert r.status_code == 403


def test_other_origins_get_no_cors_permission_to_read(sec: SecEnv) -> None:
    sec.client.cookies.set("vigil_session", sec.creds.operator_session)
    evil = {"Origin": "https://evil.example"}
    r = sec.client.get("/v1/alarms", headers=evil)
    assert "access-control-allow-origin" not in r.headers
    pre = sec.client.options(
        "/v1/alarms/1/acknowledge",
        headers={**evil, "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "x-csrf-token"},
    )  # fmt: skip
    assert pre.status_code >= 400 and "access-control-allow-origin" not in pre.headers


# Header values are latin-1 on the wire; anything a client can put there must be a clean 401.
_header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=80)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    authorization=st.one_of(_header_text, _header_text.map(lambda t: "Bearer " + t)),
    cookie=_header_text.filter(lambda t: ";" not in t and "," not in t),
)
def test_any_made_up_credential_is_a_clean_401(
    sec: SecEnv, authorization: str, cookie: str
) -> None:
    sec.client.cookies.clear()
    r = sec.client.get(
        "/v1/alarms",
        headers={"Authorization": authorization.encode("latin-1"),
                 "Cookie": f"vigil_session={cookie}".encode("latin-1")},
    )  # fmt: skip
    assert r.status_code == 401, (authorization, cookie, r.text)
