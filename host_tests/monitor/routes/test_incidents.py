"""Incidents over the API on SQLite and PostgreSQL: recorded with or without an alarm, validated,
audited, filtered by type, team, worker and date range, exported as CSV, and scoped to a
supervisor's teams."""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import json
import re
from typing import Any
from urllib.parse import parse_qs

import pytest
from sqlalchemy import select

from host_tests.support.monitor import OPERATOR_PASSWORD, Env, sos
from monitor.api.routes.console import incidents as console_incidents
from monitor.models import AuditEntry, Incident, Team, Worker
from monitor.services import auth, scope

NOW = dt.datetime.now(dt.UTC)


def _at(days_ago: float = 0, **kw: float) -> str:
    return (NOW - dt.timedelta(days=days_ago, **kw)).isoformat()


def _record(env: Env, h: dict[str, str], **body: Any) -> Any:
    body = {"type": "online_abuse", "occurred_at": _at(hours=1), **body}
    return env.client.post("/v1/incidents", headers=h, json=body)


def other_team(env: Env) -> tuple[int, str]:
    """A second team with its own worker and supervisor ("rival", the operator's password)."""
    with env.app.state.db.session() as s:
        team = Team(name="Planning enforcement", office="Town hall")
        s.add(team)
        s.flush()
        w = Worker(name="Pat Other", team=team.name)
        s.add(w)
        sup = auth.create_user(s, "system", "rival", "Rory Rival", "supervisor", OPERATOR_PASSWORD)
        scope.set_teams(s, sup, [team.id])
        s.commit()
        return w.id, team.name


def test_incident_without_an_alarm_is_recorded_shown_whole_and_audited(env: Env) -> None:
    h = env.token("admin")
    r = _record(
        env,
        h,
        type="phone_abuse",
        occurred_at="2026-11-20T09:30:00+01:00",
        worker_id=env.seeded.worker_id,
        location="  Civic Centre reception ",
        reported_by="Sam Rivera",
        people_involved="A caller who gave no name",
        police_reference="CAD 1234/20NOV",
        actions_taken="Call logged; number blocked",
        lessons_learnt="Publish the switchboard number, not direct lines",
        summary="Threatening voicemail after a tenancy decision",
    )
    assert r.status_code == 201, r.text
    inc = r.json()
    assert inc["alarm_id"] is None and inc["type_label"] == "phone abuse"
    assert inc["occurred_at"] == "2026-11-20T08:30:00+00:00"  # stored as UTC
    assert inc["location"] == "Civic Centre reception"  # trimmed
    assert inc["worker"] == {"id": env.seeded.worker_id, "name": "Sam Rivera"}
    assert inc["team"] == "Housing visits" and inc["created_by"] == "admin"
    got = env.client.get(f"/v1/incidents/{inc['id']}", headers=h).json()
    assert got == inc
    assert got["summary"] == "Threatening voicemail after a tenancy decision"
    with env.app.state.db.session() as s:
        [entry] = s.scalars(select(AuditEntry).where(AuditEntry.action == "incident_filed"))
        assert entry.actor == "user:admin" and entry.subject == f"incident:{inc['id']}"
        assert json.loads(entry.details or "{}")["type"] == "phone_abuse"


def test_bad_incidents_are_refused_with_the_field_named_and_nothing_stored(env: Env) -> None:
    h = env.token("admin")
    cases = [
        ({"occurred_at": _at(-1)}, 422, "in the future"),
        ({"occurred_at": "2026-11-20T09:30:00"}, 422, "occurred_at"),  # no offset
        ({"occurred_at": "1999-12-31T23:00:00+00:00"}, 422, "before 2000"),
        ({"occurred_at": None}, 422, "say when it happened"),
        ({"type": "rudeness"}, 422, "type"),
        # The old combined type stays valid on old rows, not for new ones.
        ({"type": "online_phone_abuse"}, 422, "type"),
        ({"worker_id": 999999}, 404, "worker 999999 does not exist"),
        ({"alarm_id": 999999}, 404, "alarm 999999 does not exist"),
        ({"police_reference": "x" * 61}, 422, "police_reference"),
    ]
    for body, status, words in cases:
        r = _record(env, h, **body)
        assert r.status_code == status, (body, r.text)
        assert words in r.text, (body, r.text)
    # A few minutes of clock skew is not the future.
    assert _record(env, h, occurred_at=_at(minutes=-3)).status_code == 201
    assert len(env.client.get("/v1/incidents", headers=h).json()) == 1


def test_incident_from_an_alarm_takes_its_worker_team_and_time_once(env: Env) -> None:
    env.post_frames(sos(1))
    h = env.token()
    [alarm] = env.client.get("/v1/alarms", headers=h).json()
    body = {"type": "in_person", "alarm_id": alarm["id"], "occurred_at": None}
    r = env.client.post("/v1/incidents", headers=h, json=body)
    assert r.status_code == 409 and "resolve the alarm" in r.text
    env.client.post(f"/v1/alarms/{alarm['id']}/resolve", headers=h, json={"outcome": "help_sent"})
    wrong = env.client.post(
        "/v1/incidents", headers=h, json={**body, "worker_id": env.seeded.worker_id + 1000}
    )
    assert wrong.status_code == 422 and "raised by worker" in wrong.text
    r = env.client.post("/v1/incidents", headers=h, json={**body, "location": "Elm Road"})
    assert r.status_code == 201, r.text
    inc = r.json()
    assert inc["alarm_id"] == alarm["id"] and inc["alarm_kind"] == "sos"
    assert inc["worker"]["name"] == "Sam Rivera" and inc["team"] == "Housing visits"
    assert dt.datetime.fromisoformat(inc["occurred_at"]) == dt.datetime.fromisoformat(
        alarm["raised_at"]
    )
    again = env.client.post("/v1/incidents", headers=h, json=body)
    assert again.status_code == 409 and "already filed" in again.text
    short = env.client.post(f"/v1/alarms/{alarm['id']}/incident", headers=h, json={"type": "other"})
    assert short.status_code == 409  # the short form shares the one-incident-per-alarm rule


def test_filters_by_type_team_worker_and_inclusive_utc_days(env: Env) -> None:
    h = env.token("admin")
    other_worker, other_team_name = other_team(env)
    day = dt.date(2026, 11, 10)
    start = dt.datetime.combine(day, dt.time.min, dt.UTC)
    made = {
        "before": _record(env, h, occurred_at=(start - dt.timedelta(seconds=1)).isoformat()),
        "first": _record(env, h, occurred_at=start.isoformat(), worker_id=env.seeded.worker_id),
        "last": _record(
            env,
            h,
            type="at_home",
            occurred_at=(
                start + dt.timedelta(days=2, hours=23, minutes=59, seconds=59)
            ).isoformat(),
            worker_id=other_worker,
        ),
        "after": _record(env, h, occurred_at=(start + dt.timedelta(days=3)).isoformat()),
    }
    ids = {k: r.json()["id"] for k, r in made.items()}

    def listed(**params: Any) -> list[int]:
        r = env.client.get("/v1/incidents", headers=h, params=params)
        assert r.status_code == 200, r.text
        return sorted(i["id"] for i in r.json())

    assert listed(**{"from": "2026-11-10", "to": "2026-11-12"}) == [ids["first"], ids["last"]]
    assert listed(**{"from": "2026-11-13"}) == [ids["after"]]
    assert listed(to="2026-11-09") == [ids["before"]]
    assert listed(type="at_home") == [ids["last"]]
    assert listed(team=other_team_name) == [ids["last"]]
    assert listed(worker_id=env.seeded.worker_id) == [ids["first"]]
    assert listed(type="online_phone_abuse") == []  # a legacy type is still a valid filter
    bad = env.client.get(
        "/v1/incidents", headers=h, params={"from": "2026-11-12", "to": "2026-11-10"}
    )
    assert bad.status_code == 422 and "is after to" in bad.text
    assert (
        env.client.get("/v1/incidents", headers=h, params={"to": "9999-12-31"}).status_code == 422
    )
    assert env.client.get("/v1/incidents", headers=h, params={"type": "rude"}).status_code == 422


def _csv(env: Env, h: dict[str, str], path: str, **params: Any) -> list[dict[str, str]]:
    r = env.client.get(path, headers=h, params=params)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    return list(csv.DictReader(io.StringIO(r.text)))


def test_csv_has_the_filtered_rows_and_disarms_formulas(env: Env) -> None:
    h = env.token("admin")
    r = _record(
        env,
        h,
        occurred_at="2026-11-11T10:00:00+00:00",
        location='=HYPERLINK("http://evil.example","click")',
        reported_by="+44 7700 900123",
        people_involved="-2+3",
        summary="@SUM(A1:A9)",
        actions_taken="a line\nand another, with a comma",
    )
    _record(env, h, occurred_at="2026-11-01T10:00:00+00:00")
    rows = _csv(env, h, "/v1/incidents.csv", **{"from": "2026-11-11", "to": "2026-11-11"})
    assert len(rows) == 1
    [row] = rows
    assert row["id"] == str(r.json()["id"]) and row["type"] == "online_abuse"
    assert row["location"] == '\'=HYPERLINK("http://evil.example","click")'
    assert row["reported_by"] == "'+44 7700 900123"
    assert row["people_involved"] == "'-2+3" and row["summary"] == "'@SUM(A1:A9)"
    assert row["actions_taken"] == "a line\nand another, with a comma"  # quoted, not split
    assert row["recorded_by"] == "admin"
    assert len(_csv(env, h, "/v1/incidents.csv")) == 2


def test_supervisor_records_and_sees_only_their_teams_incidents(env: Env) -> None:
    admin = env.token("admin")
    other_worker, _ = other_team(env)
    theirs = _record(env, admin, worker_id=other_worker, summary="other team's").json()
    ours = _record(env, admin, worker_id=env.seeded.worker_id).json()
    _record(env, admin)  # no worker: no team, so no supervisor sees it
    sup = env.token("supervisor")
    assert [i["id"] for i in env.client.get("/v1/incidents", headers=sup).json()] == [ours["id"]]
    r = env.client.get(f"/v1/incidents/{theirs['id']}", headers=sup)
    assert r.status_code == 404 and "not from one of your teams" in r.text
    assert [row["id"] for row in _csv(env, sup, "/v1/incidents.csv")] == [str(ours["id"])]
    report = env.client.get("/v1/reports/incidents", headers=sup).json()
    assert report["total"] == 1 and report["by_team"] == {"Housing visits": 1}
    assert env.client.get("/v1/reports/incidents", headers=admin).json()["total"] == 3
    # Recording: a worker of their team is required, another team's worker does not exist.
    r = _record(env, sup)
    assert r.status_code == 422 and "must name a worker" in r.text
    r = _record(env, sup, worker_id=other_worker)
    assert r.status_code == 404
    r = _record(env, sup, worker_id=env.seeded.worker_id)
    assert r.status_code == 201 and r.json()["team"] == "Housing visits"
    rival = env.token("rival")
    assert env.client.get(f"/v1/incidents/{ours['id']}", headers=rival).status_code == 404
    assert env.client.get(f"/v1/incidents/{theirs['id']}", headers=rival).status_code == 200


def test_team_snapshot_stays_when_the_worker_moves(env: Env) -> None:
    h = env.token("admin")
    inc = _record(env, h, worker_id=env.seeded.worker_id).json()
    with env.app.state.db.session() as s:
        w = s.get(Worker, env.seeded.worker_id)
        assert w is not None
        w.team = "Somewhere else"
        s.commit()
    assert (
        env.client.get(f"/v1/incidents/{inc['id']}", headers=h).json()["team"] == "Housing visits"
    )
    with env.app.state.db.session() as s:
        assert s.get(Incident, inc["id"]) is not None


def test_an_old_row_with_the_combined_type_is_still_listed_labelled_and_reported(env: Env) -> None:
    """Written straight to the table: no route creates this type any more, but rows recorded
    before the split hold it."""
    with env.app.state.db.session() as s:
        s.add(
            Incident(
                type="online_phone_abuse",
                occurred_at=dt.datetime(2026, 3, 4, 10, tzinfo=dt.UTC),
                team="Housing visits",
                summary="recorded before the split",
            )
        )
        s.commit()
    h = env.token()
    [row] = env.client.get("/v1/incidents", headers=h, params={"type": "online_phone_abuse"}).json()
    assert row["type_label"] == "online or phone abuse (recorded before the split)"
    rep = env.client.get("/v1/reports/incidents", headers=h).json()
    assert rep["by_type"] == {"online_phone_abuse": 1} and rep["by_month"] == {"2026-03": 1}
    env.login()
    page = env.client.get("/incidents", params={"type": "online_phone_abuse"})
    assert page.status_code == 200 and "recorded before the split" in page.text


def test_console_filters_carry_into_the_csv_link(env: Env) -> None:
    env.login()
    wid = env.seeded.worker_id
    params = {"from": "2026-11-01", "to": "2026-11-30", "type": "at_home", "worker": str(wid)}
    page = env.client.get("/incidents", params=params)
    assert page.status_code == 200
    [href] = re.findall(r'id="csv" href="([^"]+)"', page.text)
    path, _, query = html.unescape(href).partition("?")
    assert path == "/v1/incidents.csv"
    assert parse_qs(query) == {
        "type": ["at_home"],
        "worker_id": [str(wid)],
        "from": ["2026-11-01"],
        "to": ["2026-11-30"],
    }
    bad = env.client.get("/incidents", params={"worker": "abc", "from": "2026-13-01"})
    assert bad.status_code == 200 and "is not a date like" in bad.text
    for junk in ("²", "0", "99999999999"):
        bad = env.client.get("/incidents", params={"worker": junk})
        assert bad.status_code == 200 and "is not a worker id" in bad.text, junk


def test_a_long_list_shows_the_newest_and_says_how_many_match(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The console's page size is lowered to 2 here (it is 500) so that three incidents are
    enough to go past it."""
    monkeypatch.setattr(console_incidents, "PAGE_ROWS", 2)
    h = env.token("admin")
    made = [_record(env, h, occurred_at=_at(days_ago=d)).json()["id"] for d in (3, 1, 2)]
    newest = env.client.get("/v1/incidents", headers=h, params={"limit": 1}).json()
    assert [i["id"] for i in newest] == [made[1]]
    env.login("admin")
    page = env.client.get("/incidents").text
    assert "3 incidents: the newest 2 shown, every one in the CSV" in page
    assert len(re.findall(r'<a href="/incidents/\d+">', page)) == 2
