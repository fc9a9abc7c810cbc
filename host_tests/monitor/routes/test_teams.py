"""Teams and offices: creation, and renames that carry the team's workers and incidents."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from host_tests.support.monitor import Env
from monitor.models import Worker
from monitor.services import scope


def _worker_team(env: Env) -> str | None:
    with env.app.state.db.session() as s:
        return s.scalar(select(Worker.team).where(Worker.id == env.seeded.worker_id))


def test_teams_are_created_once_by_name(env: Env) -> None:
    admin = env.token("admin")
    r = env.client.post("/v1/teams", json={"name": "Surgeries", "office": "Ward 4"}, headers=admin)
    assert r.status_code == 201 and r.json()["office"] == "Ward 4"
    again = env.client.post("/v1/teams", json={"name": "surgeries"}, headers=admin)
    assert again.status_code == 409 and "already a team" in again.json()["message"]
    for bad in ({"name": ""}, {"name": "   "}, {"name": "x" * 81}, {}):
        assert env.client.post("/v1/teams", json=bad, headers=admin).status_code == 422, bad
    names = [t["name"] for t in env.client.get("/v1/teams", headers=admin).json()]
    assert names == ["Housing visits", "Surgeries"]


def test_a_rename_carries_workers_incidents_and_supervisors_with_it(env: Env) -> None:
    admin = env.token("admin")
    an_hour_ago = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat()
    incident = {
        "type": "online_abuse",
        "occurred_at": an_hour_ago,
        "worker_id": env.seeded.worker_id,
    }
    made = env.client.post("/v1/incidents", json=incident, headers=admin)
    assert made.status_code == 201, made.text
    r = env.client.patch(
        f"/v1/teams/{env.seeded.team_id}", json={"name": "Home visits", "office": ""}, headers=admin
    )
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["renamed_workers"], out["renamed_incidents"]) == (1, 1)
    assert out["office"] is None and out["supervisors"] == ["supervisor"]
    assert _worker_team(env) == "Home visits"
    got = env.client.get(f"/v1/incidents/{made.json()['id']}", headers=admin).json()
    assert got["team"] == "Home visits"
    with env.app.state.db.session() as s:
        assert scope.team_names(s, env.seeded.supervisor_id) == {"Home visits"}


def test_a_rename_onto_another_team_changes_nothing(env: Env) -> None:
    admin = env.token("admin")
    env.client.post("/v1/teams", json={"name": "Surgeries"}, headers=admin)
    r = env.client.patch(
        f"/v1/teams/{env.seeded.team_id}", json={"name": "Surgeries"}, headers=admin
    )
    assert r.status_code == 409
    assert _worker_team(env) == "Housing visits"
    assert (
        env.client.patch("/v1/teams/424242", json={"name": "X"}, headers=admin).status_code == 404
    )
