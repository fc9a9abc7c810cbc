"""Personal API tokens: the expiry their owner chooses, listing, and revocation by the owner or
an admin, refused at once."""

from __future__ import annotations

import datetime as dt

from host_tests.support.monitor import Env


def _mint(env: Env, csrf: dict[str, str], **body: object) -> dict[str, object]:
    r = env.client.post("/v1/auth/tokens", json={"label": "cli", **body}, headers=csrf)
    assert r.status_code == 201, r.text
    out: dict[str, object] = r.json()
    return out


def test_a_token_lasts_the_days_chosen_is_listed_and_revoked_at_once(env: Env) -> None:
    csrf = env.login("operator")
    made = _mint(env, csrf, days=7)
    expires = dt.datetime.fromisoformat(str(made["expires_at"]))
    assert abs(expires - (dt.datetime.now(dt.UTC) + dt.timedelta(days=7))) < dt.timedelta(minutes=1)
    listed = env.client.get("/v1/auth/tokens").json()
    assert [t["label"] for t in listed] == ["cli"] and listed[0]["id"] == made["id"]
    assert str(made["token"]) not in str(listed)  # the list never holds the token itself
    bearer = {"Authorization": f"Bearer {made['token']}"}
    assert env.client.get("/v1/alarms", headers=bearer, cookies={}).status_code == 200
    r = env.client.post(f"/v1/auth/tokens/{made['id']}/revoke", headers=csrf)
    assert r.status_code == 204
    env.client.cookies.clear()
    assert env.client.get("/v1/alarms", headers=bearer).status_code == 401


def test_bad_expiries_are_refused(env: Env) -> None:
    csrf = env.login("operator")
    for days, words in [
        (0, "days"),
        (367, "at most 90 days"),
        (91, "at most 90 days"),
        ("x", "days"),
    ]:
        r = env.client.post("/v1/auth/tokens", json={"label": "x", "days": days}, headers=csrf)
        assert r.status_code == 422 and words in r.text, (days, r.text)
    assert env.client.get("/v1/auth/tokens").json() == []


def test_no_one_revokes_another_users_token_but_an_admin(env: Env) -> None:
    op_csrf = env.login("operator")
    made = _mint(env, op_csrf, days=3)
    env.client.cookies.clear()
    sup_csrf = env.login("supervisor")
    r = env.client.post(f"/v1/auth/tokens/{made['id']}/revoke", headers=sup_csrf)
    assert r.status_code == 404 and "has no API token" in r.json()["message"]
    env.client.cookies.clear()
    admin = env.token("admin")
    uid = env.seeded.operator_id
    listed = env.client.get(f"/v1/users/{uid}/tokens", headers=admin).json()
    assert made["id"] in [t["id"] for t in listed]
    wrong_user = env.client.post(
        f"/v1/users/{env.seeded.supervisor_id}/tokens/{made['id']}/revoke", headers=admin
    )
    assert wrong_user.status_code == 404
    r = env.client.post(f"/v1/users/{uid}/tokens/{made['id']}/revoke", headers=admin)
    assert r.status_code == 204
    bearer = {"Authorization": f"Bearer {made['token']}"}
    assert env.client.get("/v1/alarms", headers=bearer).status_code == 401
    assert made["id"] not in [
        t["id"] for t in env.client.get(f"/v1/users/{uid}/tokens", headers=admin).json()
    ]


def test_a_tokens_last_use_is_recorded_to_the_minute_and_shown_to_its_owner(env: Env) -> None:
    csrf = env.login("operator")
    made = _mint(env, csrf, days=7)
    [listed] = env.client.get("/v1/auth/tokens").json()
    assert listed["last_used_at"] is None
    assert "never" in env.client.get("/account").text.split('class="last-used">')[1][:20]
    bearer = {"Authorization": f"Bearer {made['token']}"}
    before = dt.datetime.now(dt.UTC)
    assert env.client.get("/v1/alarms", headers=bearer, cookies={}).status_code == 200
    [listed] = env.client.get("/v1/auth/tokens").json()
    first = dt.datetime.fromisoformat(listed["last_used_at"])
    assert before - dt.timedelta(seconds=1) <= first <= dt.datetime.now(dt.UTC)
    # Within the minute another call writes nothing: a polling script costs no write per call.
    assert env.client.get("/v1/alarms", headers=bearer, cookies={}).status_code == 200
    [listed] = env.client.get("/v1/auth/tokens").json()
    assert dt.datetime.fromisoformat(listed["last_used_at"]) == first
    assert "s ago" in env.client.get("/account").text.split('class="last-used">')[1][:20]


def test_note_use_writes_again_once_a_minute_has_passed() -> None:
    from monitor.models import AuthToken
    from monitor.services import auth

    row = AuthToken()
    t0 = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC)
    auth.note_use(row, t0)
    auth.note_use(row, t0 + dt.timedelta(seconds=59))
    assert row.last_used_at == t0
    auth.note_use(row, t0 + auth.USE_RECORDED_EVERY)
    assert row.last_used_at == t0 + auth.USE_RECORDED_EVERY
