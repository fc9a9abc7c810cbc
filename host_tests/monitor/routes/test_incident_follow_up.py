"""Adding the follow-up to an incident after it was recorded (a police reference, actions,
lessons learnt) on SQLite and PostgreSQL: only those fields change, each change is audited and
shown on the incident's page, and a supervisor cannot touch another team's incident."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select

from host_tests.monitor.routes.test_incidents import other_team
from host_tests.support.monitor import Env
from monitor.models import AuditEntry


def _incident(env: Env, h: dict[str, str], worker_id: int) -> dict[str, object]:
    r = env.client.post(
        "/v1/incidents",
        headers=h,
        json={"type": "in_person", "occurred_at": dt.datetime.now(dt.UTC).isoformat(),
              "worker_id": worker_id, "summary": "Shouted at on the doorstep"},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def test_the_follow_up_is_added_audited_and_shown(env: Env) -> None:
    h = env.token("operator")
    inc = _incident(env, h, env.seeded.worker_id)
    path = f"/v1/incidents/{inc['id']}"
    r = env.client.patch(
        path, headers=h, json={"police_reference": " CAD 77 ", "lessons_learnt": "Visit in pairs"}
    )
    assert r.status_code == 200, r.text
    got = r.json()
    assert (got["police_reference"], got["lessons_learnt"]) == ("CAD 77", "Visit in pairs")
    assert got["summary"] == "Shouted at on the doorstep"  # untouched
    assert got["type"] == inc["type"] and got["occurred_at"] == inc["occurred_at"]
    # The same values again change nothing and add no audit entry; "" clears a field.
    env.client.patch(path, headers=h, json={"police_reference": "CAD 77"})
    cleared = env.client.patch(path, headers=h, json={"summary": ""}).json()
    assert cleared["summary"] is None
    with env.app.state.db.session() as s:
        entries = s.scalars(select(AuditEntry).where(AuditEntry.action == "incident_updated")).all()
        assert [json.loads(e.details or "{}")["changed"] for e in entries] == [
            ["police_reference", "lessons_learnt"],
            ["summary"],
        ]
    env.login()
    page = env.client.get(f"/incidents/{inc['id']}").text
    assert "CAD 77" in page and "police reference, lessons learnt" in page


def test_what_was_recorded_cannot_be_rewritten_and_bad_input_changes_nothing(env: Env) -> None:
    h = env.token("admin")
    inc = _incident(env, h, env.seeded.worker_id)
    path = f"/v1/incidents/{inc['id']}"
    for body in ({"type": "phone_abuse"}, {"occurred_at": "2020-01-01T00:00:00Z"},
                 {"worker_id": 1}, {"police_reference": "x" * 61}, []):  # fmt: skip
        r = env.client.patch(path, headers=h, json=body)
        assert r.status_code == 422, (body, r.text)
    assert env.client.patch("/v1/incidents/99999", headers=h, json={}).status_code == 404
    assert env.client.get(path, headers=h).json() == inc


def test_a_supervisor_cannot_add_to_another_teams_incident(env: Env) -> None:
    other_id, _ = other_team(env)
    inc = _incident(env, env.token("admin"), other_id)
    r = env.client.patch(
        f"/v1/incidents/{inc['id']}", headers=env.token("supervisor"), json={"summary": "x"}
    )
    assert r.status_code == 404
    rival = env.client.patch(
        f"/v1/incidents/{inc['id']}", headers=env.token("rival"), json={"summary": "ok"}
    )
    assert rival.status_code == 200 and rival.json()["summary"] == "ok"
