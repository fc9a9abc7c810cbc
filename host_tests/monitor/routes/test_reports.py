"""Reports over the API on SQLite and PostgreSQL: answer times per alarm kind from alarms raised
through the real ingest, their rows as CSV, incidents by month, team and type, date ranges and
a supervisor's scope."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

from host_tests.monitor.routes.test_incidents import other_team
from host_tests.support.monitor import Env, frame_item, sos
from protocol import frame_types as ft

TODAY = dt.datetime.now(dt.UTC).date()


def _four_alarms(env: Env, h: dict[str, str]) -> dict[str, int]:
    """An SOS acknowledged, one resolved without acknowledgement, one cancelled at the fob and
    a fall still open."""
    env.post_frames(sos(1), sos(3), sos(5), frame_item(ft.SOS_CANCEL, 6, (1, 0)))
    env.post_frames(frame_item(ft.FALL, 7, (70, 0, 0)))
    alarms = env.client.get("/v1/alarms", headers=h).json()
    by_counter: dict[str, int] = {}
    for a in sorted(alarms, key=lambda a: a["id"]):
        name = a["kind"] if a["kind"] == "fall" else ("cancelled" if a["cancelled_at"] else None)
        if name is None:
            name = "acked" if "acked" not in by_counter else "resolved"
        by_counter[name] = a["id"]
    acked, resolved = by_counter["acked"], by_counter["resolved"]
    assert env.client.post(f"/v1/alarms/{acked}/acknowledge", headers=h).status_code == 200
    r = env.client.post(f"/v1/alarms/{resolved}/resolve", headers=h, json={"outcome": "test"})
    assert r.status_code == 200
    return by_counter


def test_answer_times_per_kind_count_resolved_and_open_alarms_and_leave_out_cancelled(
    env: Env,
) -> None:
    h = env.token()
    _four_alarms(env, h)
    r = env.client.get("/v1/reports/answer-times", headers=h)
    assert r.status_code == 200, r.text
    by_kind = {k["kind"]: k for k in r.json()["by_kind"]}
    assert set(by_kind) == {"sos", "fall"}  # per kind, never mixed
    s = by_kind["sos"]
    assert (s["alarms"], s["answered"], s["not_answered"]) == (2, 2, 0)
    assert (s["resolved_without_acknowledgement"], s["cancelled_at_fob"]) == (1, 1)
    assert s["within_10_s_pct"] == 100.0 and s["median_s"] is not None and s["median_s"] < 10
    f = by_kind["fall"]
    assert (f["alarms"], f["answered"], f["not_answered"]) == (1, 0, 1)
    assert f["median_s"] is None and f["within_10_s_pct"] == 0.0 and f["within_40_s_pct"] == 0.0


def test_alarms_csv_has_one_row_per_alarm_with_its_flags(env: Env) -> None:
    h = env.token()
    ids = _four_alarms(env, h)
    r = env.client.get("/v1/reports/alarms.csv", headers=h, params={"from": TODAY.isoformat()})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = {int(row["alarm_id"]): row for row in csv.DictReader(io.StringIO(r.text))}
    assert set(rows) == set(ids.values())
    assert rows[ids["acked"]]["answered_by"] == "acknowledged"
    assert rows[ids["resolved"]]["answered_by"] == "resolved_without_acknowledgement"
    assert float(rows[ids["resolved"]]["answer_s"]) >= 0
    assert rows[ids["cancelled"]]["counted"] == "no"
    assert rows[ids["cancelled"]]["cancelled_at_fob"] == "yes"
    assert rows[ids["cancelled"]]["within_10_s"] == "no"
    fall = rows[ids["fall"]]
    assert (fall["answered_by"], fall["answer_s"], fall["within_40_s"]) == (
        "not_answered",
        "",
        "no",
    )
    assert rows[ids["acked"]]["within_10_s"] == "yes"
    tomorrow = (TODAY + dt.timedelta(days=1)).isoformat()
    later = env.client.get("/v1/reports/alarms.csv", headers=h, params={"from": tomorrow})
    assert later.text.strip().count("\n") == 0  # the header alone


def test_date_range_and_scope_narrow_every_report(env: Env) -> None:
    admin = env.token("admin")
    _four_alarms(env, admin)
    other_worker, _ = other_team(env)
    for when, worker, type_ in [
        ("2026-10-31T23:59:59+00:00", env.seeded.worker_id, "online_abuse"),
        ("2026-11-01T00:00:00+00:00", env.seeded.worker_id, "online_abuse"),
        ("2026-11-15T12:00:00+00:00", env.seeded.worker_id, "at_home"),
        ("2026-11-16T08:00:00+00:00", other_worker, "at_home"),
    ]:
        body: dict[str, Any] = {"type": type_, "occurred_at": when, "worker_id": worker}
        assert env.client.post("/v1/incidents", headers=admin, json=body).status_code == 201
    nov = {"from": "2026-11-01", "to": "2026-11-30"}
    rep = env.client.get("/v1/reports/incidents", headers=admin, params=nov).json()
    assert rep["total"] == 3 and rep["from"] == "2026-11-01" and rep["to"] == "2026-11-30"
    assert rep["by_month"] == {"2026-11": 3}
    assert rep["by_type"] == {"at_home": 2, "online_abuse": 1}
    assert rep["by_team"] == {"Housing visits": 2, "Planning enforcement": 1}
    every = env.client.get("/v1/reports/incidents", headers=admin).json()
    assert every["by_month"] == {"2026-10": 1, "2026-11": 3} and every["from"] is None
    # Another team's supervisor sees neither the seeded team's incidents nor its alarms.
    rival = env.token("rival")
    theirs = env.client.get("/v1/reports/incidents", headers=rival, params=nov).json()
    assert theirs["total"] == 1 and theirs["by_team"] == {"Planning enforcement": 1}
    assert env.client.get("/v1/reports/answer-times", headers=rival).json()["by_kind"] == []
    csv_text = env.client.get("/v1/reports/alarms.csv", headers=rival).text
    assert csv_text.count("\n") == 1
    # No alarm today falls before the range.
    old = {"from": "2026-01-01", "to": "2026-01-31"}
    r = env.client.get("/v1/reports/answer-times", headers=admin, params=old)
    assert r.json()["by_kind"] == []


def test_bad_ranges_are_a_clear_422(env: Env) -> None:
    h = env.token()
    for path in ("/v1/reports/incidents", "/v1/reports/answer-times", "/v1/reports/alarms.csv"):
        r = env.client.get(path, headers=h, params={"from": "2026-11-30", "to": "2026-11-01"})
        assert r.status_code == 422 and "is after to" in r.json()["message"], r.text
        r = env.client.get(path, headers=h, params={"from": "30/11/2026"})
        assert r.status_code == 422, r.text
        r = env.client.get(path, headers=h, params={"to": "9999-12-31"})
        assert r.status_code == 422 and "outside" in r.json()["message"], r.text
