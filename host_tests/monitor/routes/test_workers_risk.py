"""Workers and their risk assessments over the API on SQLite and PostgreSQL: versions kept with
what changed, validation, the reviews-due list with the follow-up after an incident, who reads
risk notes, and a supervisor confined to their own teams."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from host_tests.monitor.routes.test_incidents import other_team
from host_tests.support.monitor import Env, sos
from monitor.models import AuditEntry, Team

TODAY = dt.datetime.now(dt.UTC).date()


def _assess(env: Env, h: dict[str, str], worker_id: int, **body: Any) -> Any:
    body = {
        "hazards": "Home visits to tenants in arrears",
        "controls": "Check-in per visit; visit in pairs after 6 pm",
        "level": "medium",
        "owner": "Corporate security",
        "review_due": (TODAY + dt.timedelta(days=180)).isoformat(),
        **body,
    }
    return env.client.post(f"/v1/workers/{worker_id}/risk", headers=h, json=body)


def test_each_save_is_a_version_and_the_history_says_what_changed(env: Env) -> None:
    sup = env.token("supervisor")
    wid = env.seeded.worker_id
    first = _assess(env, sup, wid)
    assert first.status_code == 201, first.text
    assert first.json()["current"]["version"] == 1
    second = _assess(env, sup, wid, level="high", reason="  after a threat on the doorstep ")
    got = second.json()
    assert got["current"]["version"] == 2 and got["current"]["level"] == "high"
    assert got["current"]["reason"] == "after a threat on the doorstep"
    newest, oldest = got["history"]
    assert [c["field"] for c in newest["changes"]] == ["level"]
    assert newest["changes"][0] == {"field": "level", "from": "medium", "to": "high"}
    assert {c["field"] for c in oldest["changes"]} == {
        "hazards", "controls", "level", "owner", "review_due"
    }  # fmt: skip
    assert all(c["from"] is None for c in oldest["changes"])
    with env.app.state.db.session() as s:
        entries = s.scalars(select(AuditEntry).where(AuditEntry.action == "risk_assessed")).all()
        assert [e.actor for e in entries] == ["user:supervisor", "user:supervisor"]
    listed = {w["id"]: w for w in env.client.get("/v1/workers", headers=sup).json()}
    assert listed[wid]["risk_level"] == "high"


def test_bad_assessments_are_refused_and_change_nothing(env: Env) -> None:
    admin = env.token("admin")
    wid = env.seeded.worker_id
    past = (TODAY - dt.timedelta(days=1)).isoformat()
    far = (TODAY + dt.timedelta(days=5 * 365)).isoformat()
    for body, code in (
        ({"review_due": past}, 409),
        ({"review_due": far}, 409),
        ({"level": "extreme"}, 422),
        ({"hazards": ""}, 422),
        ({"hazards": "   "}, 409),
        ({"review_due": "next week"}, 422),
        ({"owner": "x" * 121}, 422),
    ):
        r = _assess(env, admin, wid, **body)
        assert r.status_code == code, (body, r.status_code, r.text)
        assert r.json()["message"]
    assert _assess(env, admin, 99999).status_code == 404
    risk = env.client.get(f"/v1/workers/{wid}/risk", headers=admin).json()
    assert risk == {"current": None, "history": [], "incidents_since": []}


def test_an_incident_after_the_assessment_puts_the_worker_on_the_reviews_due_list(
    env: Env,
) -> None:
    admin = env.token("admin")
    wid = env.seeded.worker_id
    due = env.client.get("/v1/workers/reviews-due", headers=admin).json()
    assert [(r["worker"]["id"], r["why"]) for r in due] == [(wid, "never assessed")]
    _assess(env, admin, wid)
    assert env.client.get("/v1/workers/reviews-due", headers=admin).json() == []
    r = env.client.post(
        "/v1/incidents",
        headers=admin,
        json={"type": "in_person", "occurred_at": dt.datetime.now(dt.UTC).isoformat(),
              "worker_id": wid},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    [row] = env.client.get("/v1/workers/reviews-due", headers=admin).json()
    assert row["why"] == "incident since the last assessment" and row["incidents_since"] == 1
    risk = env.client.get(f"/v1/workers/{wid}/risk", headers=admin).json()
    assert risk["incidents_since"] == [r.json()["id"]]
    _assess(env, admin, wid, reason=f"after incident #{r.json()['id']}")
    assert env.client.get("/v1/workers/reviews-due", headers=admin).json() == []
    # A review date within 30 days is due again.
    _assess(env, admin, wid, review_due=(TODAY + dt.timedelta(days=10)).isoformat())
    [soon] = env.client.get("/v1/workers/reviews-due", headers=admin).json()
    assert soon["why"] == "review due in 10 days"


def test_operators_read_risk_notes_on_an_alarm_only(env: Env) -> None:
    admin = env.token("admin")
    wid = env.seeded.worker_id
    w = env.client.get(f"/v1/workers/{wid}", headers=admin).json()
    env.client.put(
        f"/v1/workers/{wid}", headers=admin, json={**w, "risk_notes": "Carries an inhaler"}
    )
    _assess(env, admin, wid, level="high")
    op = env.token()
    assert env.client.get(f"/v1/workers/{wid}", headers=op).json()["risk_notes"] is None
    assert env.client.get(f"/v1/workers/{wid}/risk", headers=op).status_code == 403
    assert env.client.get("/v1/workers/reviews-due", headers=op).status_code == 403
    env.post_frames(sos(1))
    aid = env.client.get("/v1/alarms", headers=op).json()[0]["id"]
    alarm = env.client.get(f"/v1/alarms/{aid}", headers=op).json()
    profile = alarm["worker_profile"]
    assert profile["risk_notes"] == "Carries an inhaler"
    assert profile["risk_assessment"]["level"] == "high"
    env.login()
    alarm_page = env.client.get(f"/alarms/{aid}").text
    assert "high risk" in alarm_page and "Home visits to tenants in arrears" in alarm_page
    worker_page = env.client.get(f"/workers/{wid}").text
    assert "inhaler" not in worker_page and "Home visits to tenants" not in worker_page


def test_a_supervisor_keeps_only_their_own_teams_workers(env: Env) -> None:
    other_id, other_name = other_team(env)
    sup = env.token("supervisor")
    listed = [w["id"] for w in env.client.get("/v1/workers", headers=sup).json()]
    assert listed == [env.seeded.worker_id]
    assert env.client.get(f"/v1/workers/{other_id}", headers=sup).status_code == 404
    assert _assess(env, sup, other_id).status_code == 404
    assert env.client.get(f"/v1/workers/{other_id}/risk", headers=sup).status_code == 404
    into_other = env.client.post(
        "/v1/workers", headers=sup, json={"name": "Sneaky", "team": other_name}
    )
    assert into_other.status_code == 403
    no_team = env.client.post("/v1/workers", headers=sup, json={"name": "Nobody's"})
    assert no_team.status_code == 403
    mine = env.client.post(
        "/v1/workers", headers=sup, json={"name": "New Starter", "team": "Housing visits"}
    )
    assert mine.status_code == 201, mine.text
    # The other team's supervisor does not see it, an admin does.
    rival = env.token("rival")
    assert [w["id"] for w in env.client.get("/v1/workers", headers=rival).json()] == [other_id]
    everyone = {w["id"] for w in env.client.get("/v1/workers", headers=env.token("admin")).json()}
    assert {other_id, mine.json()["id"], env.seeded.worker_id} <= everyone
    # Moving a worker out of the supervisor's teams is refused too.
    moved = env.client.put(
        f"/v1/workers/{mine.json()['id']}", headers=sup, json={"name": "New Starter",
                                                              "team": other_name},
    )  # fmt: skip
    assert moved.status_code == 403


def test_an_admin_naming_a_new_team_creates_it(env: Env) -> None:
    admin = env.token("admin")
    r = env.client.post("/v1/workers", headers=admin, json={"name": "Ola", "team": "Night patrol"})
    assert r.status_code == 201
    with env.app.state.db.session() as s:
        assert s.scalar(select(Team.id).where(Team.name == "Night patrol")) is not None


def test_contacts_are_capped_and_validated(env: Env) -> None:
    admin = env.token("admin")
    wid = env.seeded.worker_id
    one = {"name": "Duty manager", "channel": "email", "address": "duty@example.org", "delay_s": 60}
    assert (
        env.client.put(f"/v1/workers/{wid}/contacts", headers=admin, json=[one]).status_code == 200
    )
    too_many = [one] * 21
    r = env.client.put(f"/v1/workers/{wid}/contacts", headers=admin, json=too_many)
    assert r.status_code == 422
    bad = {**one, "address": "not-an-address"}
    assert (
        env.client.put(f"/v1/workers/{wid}/contacts", headers=admin, json=[bad]).status_code == 422
    )
    got = env.client.get(f"/v1/workers/{wid}", headers=admin).json()["contacts"]
    assert [c["address"] for c in got] == ["duty@example.org"]


def test_a_console_refusal_is_a_page_for_a_browser_and_json_for_a_script(env: Env) -> None:
    env.login()
    browser = {"Accept": "text/html,application/xhtml+xml"}
    missing = env.client.get("/workers/99999", headers=browser)
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
    assert "worker 99999 does not exist" in missing.text and 'href="/"' in missing.text
    refused = env.client.get("/workers/reviews", headers=browser)
    assert refused.status_code == 403 and "supervisors and admins only" in refused.text
    script = env.client.get("/workers/99999", headers={"Accept": "application/json"})
    assert script.status_code == 404 and script.json()["error"] == "not_found"
    api = env.client.get("/v1/workers/99999", headers=browser)
    assert api.headers["content-type"].startswith("application/json")
    typo = env.client.get("/workers/abc", headers=browser)
    assert typo.status_code == 422 and typo.headers["content-type"].startswith("text/html")
    assert "This address is not right: worker_id" in typo.text and 'href="/"' in typo.text
    bad_api = env.client.get("/v1/workers/abc", headers=browser)
    assert bad_api.status_code == 422 and bad_api.json()["error"] == "invalid_request"
