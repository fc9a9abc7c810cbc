"""Accounts run by admins: roles and teams, disabling, temporary passwords and the forced
change, the last-admin rule, and the audit trail of all of it."""

from __future__ import annotations

from sqlalchemy import select

from host_tests.support.monitor import OPERATOR_PASSWORD, Env
from monitor.models import AuditEntry

NEW = {
    "username": "sue",
    "name": "Sue Pervisor",
    "role": "supervisor",
    "password": "sue-password-1",
}


def _users(env: Env, admin: dict[str, str]) -> dict[str, dict[str, object]]:
    r = env.client.get("/v1/users", headers=admin)
    assert r.status_code == 200, r.text
    return {u["username"]: u for u in r.json()}


def _actions(env: Env) -> list[str]:
    with env.app.state.db.session() as s:
        return list(s.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def test_a_supervisor_is_created_with_their_teams_and_listed_with_them(env: Env) -> None:
    admin = env.token("admin")
    r = env.client.post("/v1/users", json={**NEW, "team_ids": [env.seeded.team_id]}, headers=admin)
    assert r.status_code == 201, r.text
    assert r.json()["teams"] == ["Housing visits"] and r.json()["must_change_password"] is False
    users = _users(env, admin)
    assert users["sue"]["teams"] == ["Housing visits"] and users["sue"]["last_login_at"] is None
    env.client.post("/v1/auth/login", json={"username": "sue", "password": "sue-password-1"})
    env.client.cookies.clear()
    assert _users(env, admin)["sue"]["last_login_at"] is not None
    assert "user_created" in _actions(env)


def test_bad_new_users_are_refused_with_a_reason_and_nothing_is_created(env: Env) -> None:
    admin = env.token("admin")
    cases = [
        ({**NEW, "role": "operator", "team_ids": [env.seeded.team_id]}, 422, "only supervisors"),
        ({**NEW, "team_ids": [424242]}, 404, "no team 424242"),
        ({**NEW, "role": "root"}, 422, "role"),
        ({**NEW, "password": "short"}, 422, "password"),
        ({**NEW, "username": "operator"}, 409, "already exists"),
        ({**NEW, "username": "has space"}, 422, "username"),
    ]
    for body, code, words in cases:
        r = env.client.post("/v1/users", json=body, headers=admin)
        assert r.status_code == code and words in r.text, (body, r.status_code, r.text)
    assert "sue" not in _users(env, admin)


def test_disabling_a_user_ends_their_session_and_tokens_at_once(env: Env) -> None:
    op_token = env.token("operator")
    env.login("operator")
    op_cookie = dict(env.client.cookies)
    env.client.cookies.clear()
    admin = env.token("admin")
    assert env.client.get("/v1/alarms", headers=op_token).status_code == 200
    r = env.client.post(f"/v1/users/{env.seeded.operator_id}/disable", headers=admin)
    assert r.status_code == 200 and r.json()["active"] is False
    assert env.client.get("/v1/alarms", headers=op_token).status_code == 401
    assert env.client.get("/v1/alarms", cookies=op_cookie).status_code == 401
    login = {"username": "operator", "password": OPERATOR_PASSWORD}
    assert env.client.post("/v1/auth/login", json=login).status_code == 401
    assert env.client.post(f"/v1/users/{env.seeded.operator_id}/enable", headers=admin).json()[
        "active"
    ]
    assert env.client.post("/v1/auth/login", json=login).status_code == 200
    assert {"user_disabled", "user_enabled"} <= set(_actions(env))


def test_the_last_active_admin_cannot_be_disabled_or_demoted(env: Env) -> None:
    admin = env.token("admin")
    me = env.seeded.admin_id
    r = env.client.post(f"/v1/users/{me}/disable", headers=admin)
    assert r.status_code == 409 and "last active admin" in r.json()["message"]
    r = env.client.patch(f"/v1/users/{me}", json={"role": "operator"}, headers=admin)
    assert r.status_code == 409 and "last active admin" in r.json()["message"]
    assert env.client.get("/v1/users", headers=admin).status_code == 200  # still an admin
    second = {**NEW, "username": "ada", "role": "admin"}
    assert env.client.post("/v1/users", json=second, headers=admin).status_code == 201
    r = env.client.patch(f"/v1/users/{me}", json={"role": "operator"}, headers=admin)
    assert r.status_code == 200 and r.json()["role"] == "operator"
    # A new role ends the old credentials: the admin token is gone with the admin role.
    assert env.client.get("/v1/users", headers=admin).status_code == 401


def test_a_temporary_password_must_be_changed_before_anything_else(env: Env) -> None:
    admin = env.token("admin")
    uid = env.seeded.operator_id
    body = {"password": "temporary-pass-1"}
    r = env.client.post(f"/v1/users/{uid}/password", json=body, headers=admin)
    assert r.status_code == 200 and r.json()["must_change_password"] is True
    r = env.client.post(
        "/v1/auth/login", json={"username": "operator", "password": "temporary-pass-1"}
    )
    csrf = {"X-CSRF-Token": r.json()["csrf_token"]}
    refused = env.client.get("/v1/alarms")
    assert refused.status_code == 403 and "change your password first" in refused.json()["message"]
    assert env.client.get("/v1/auth/me").json()["username"] == "operator"
    page = env.client.get("/", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/account/password"
    assert "An admin set your password" in env.client.get("/account/password").text
    change = {"current_password": "temporary-pass-1", "new_password": "my-own-password-9"}
    assert env.client.post("/v1/auth/password", json=change, headers=csrf).status_code == 204
    assert env.client.get("/v1/alarms").status_code == 200
    assert env.client.get("/", follow_redirects=False).status_code == 200
    env.client.cookies.clear()
    assert _users(env, admin)["operator"]["must_change_password"] is False
    assert "password_set_by_admin" in _actions(env)


def test_an_admin_forces_a_change_and_edits_teams(env: Env) -> None:
    admin = env.token("admin")
    sup = env.seeded.supervisor_id
    r = env.client.patch(f"/v1/users/{sup}", json={"must_change_password": True}, headers=admin)
    assert r.status_code == 200 and r.json()["must_change_password"] is True
    r = env.client.patch(f"/v1/users/{sup}", json={"team_ids": []}, headers=admin)
    assert r.json()["teams"] == []
    r = env.client.patch(
        f"/v1/users/{env.seeded.operator_id}",
        json={"team_ids": [env.seeded.team_id]},
        headers=admin,
    )
    assert r.status_code == 422 and "only supervisors" in r.json()["message"]
    assert env.client.patch("/v1/users/424242", json={}, headers=admin).status_code == 404
    r = env.client.patch(f"/v1/users/{sup}", json={"role": "operator"}, headers=admin)
    assert r.json()["role"] == "operator" and r.json()["teams"] == []
