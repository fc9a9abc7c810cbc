"""Phones as gateways (issue 12): enrolment, redeem, scoped relay and downlinks, health,
revocation, visit memos and reminders.

Real app under Starlette's TestClient, real SQLite and PostgreSQL (`env`), real signed frames;
the phone's side is played by this test with the token and device key redeem returns.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import segno
from sqlalchemy import func, select, update

from host_tests.support.monitor import DEVICE_ID, DEVICE_KEY, Env, frame_item, heartbeat, sos
from monitor.models import Alarm, Device, Downlink, Gateway, PhoneEnrolment, Worker
from monitor.services import phones, provisioning, supervision
from protocol import frame_types as ft
from protocol import frames

HERE = {"lat": 51.5072, "lon": -0.1276, "accuracy_m": 12.0, "source": "phone_gps", "fix_age_s": 8}


@dataclass
class Phone:
    headers: dict[str, str]
    gateway_id: int
    device_id: int
    key: bytes


def _enrol(env: Env, worker_id: int | None = None) -> dict[str, Any]:
    r = env.client.post(
        "/v1/phones/enrolments",
        json={"worker_id": worker_id or env.seeded.worker_id},
        headers=env.token(),
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def _redeem(env: Env, code: str) -> Any:
    return env.client.post(
        "/v1/phones/redeem", json={"code": code, "app_version": "phone-0.1", "name": None}
    )


def _phone(env: Env, worker_id: int | None = None) -> Phone:
    r = _redeem(env, _enrol(env, worker_id)["code"])
    assert r.status_code == 201, r.text
    b = r.json()
    return Phone(
        {"Authorization": f"Bearer {b['gateway_token']}"},
        b["gateway_id"],
        b["device"]["id"],
        bytes.fromhex(b["device"]["key"]),
    )


def _relay(env: Env, phone: Phone, *items: dict[str, Any]) -> list[dict[str, Any]]:
    r = env.client.post("/v1/frames", json={"frames": list(items)}, headers=phone.headers)
    assert r.status_code == 200, r.text
    results: list[dict[str, Any]] = r.json()["results"]
    return results


def _alarms(env: Env) -> list[dict[str, Any]]:
    r = env.client.get("/v1/alarms", headers=env.token())
    assert r.status_code == 200
    got: list[dict[str, Any]] = r.json()
    return got


def _other_worker_with_fob(env: Env, device_id: int = 100) -> tuple[int, bytes]:
    key = bytes(range(50, 66))
    with env.app.state.db.session() as s:
        w = Worker(name="Pat Other")
        s.add(w)
        s.flush()
        provisioning.provision_device(
            s, env.app.state.keybox, "system", board="m5stickc-plus2", device_id=device_id,
            worker_id=w.id, key=key,
        )  # fmt: skip
        return w.id, key


def _counts(env: Env) -> tuple[int, int, int]:
    with env.app.state.db.session() as s:
        return (
            s.scalar(select(func.count()).select_from(Gateway)) or 0,
            s.scalar(select(func.count()).select_from(Device)) or 0,
            s.scalar(select(func.count()).where(PhoneEnrolment.used_at.is_not(None))) or 0,
        )


def test_enrolled_phone_relays_its_own_signed_sos_with_its_gps_position(env: Env) -> None:
    e = _enrol(env)
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}", e["code"])
    expires = dt.datetime.fromisoformat(e["expires_at"])
    left = expires - dt.datetime.now(dt.UTC)
    assert dt.timedelta(minutes=14) < left <= phones.ENROLMENT_TTL
    assert e["url"] == f"/phone/#code={e['code']}"
    # The QR holds the absolute URL (what a phone's camera opens), drawn by segno.
    absolute = f"http://testserver/phone/#code={e['code']}"
    assert e["qr_svg"].startswith("<svg")
    assert e["qr_svg"] == segno.make(absolute, error="m").svg_inline(
        scale=4, title="Vigil phone enrolment"
    )
    with env.app.state.db.session() as s:
        row = s.get(PhoneEnrolment, e["id"])
        assert row is not None and e["code"] not in row.code_hash  # only the hash is stored
        assert row.code_hash == phones.code_hash(e["code"])

    r = _redeem(env, e["code"].lower().replace("-", " "))  # typed by hand: forgiven
    assert r.status_code == 201, r.text
    b = r.json()
    assert b["worker"] == {"id": env.seeded.worker_id, "name": "Sam Rivera"}
    assert len(b["device"]["key"]) == 32
    phone = Phone(
        {"Authorization": f"Bearer {b['gateway_token']}"},
        b["gateway_id"],
        b["device"]["id"],
        bytes.fromhex(b["device"]["key"]),
    )
    with env.app.state.db.session() as s:
        gw = s.get(Gateway, phone.gateway_id)
        dev = s.get(Device, phone.device_id)
        assert gw is not None and (gw.kind, gw.worker_id, gw.device_id) == (
            "phone",
            env.seeded.worker_id,
            phone.device_id,
        )
        assert dev is not None and (dev.board, dev.worker_id) == ("phone", env.seeded.worker_id)

    [res] = _relay(env, phone, sos(1, device_id=phone.device_id, key=phone.key, location=HERE))
    assert res["status"] == "accepted"
    ack = frames.decode(bytes.fromhex(res["ack"]), phone.key, ft.DOWNLINK)
    assert (ack.ftype, ack.fields) == (ft.ACK, (1,))
    [alarm] = _alarms(env)
    assert alarm["kind"] == "sos" and alarm["device_id"] == phone.device_id
    assert alarm["worker"]["id"] == env.seeded.worker_id
    assert alarm["location_source"] == "phone_gps" and alarm["location_fix_age_s"] == 8
    assert alarm["location"]["accuracy_m"] == 12.0
    # The console says where the position came from, with its unit and age.
    env.login()
    page = env.client.get(f"/alarms/{alarm['id']}").text
    assert "phone GPS ±12 m, 8 s old" in page


def test_a_relay_that_does_not_say_where_its_position_came_from_is_gateway(env: Env) -> None:
    env.post_frames(sos(1, location={"lat": 53.0, "lon": -2.0, "accuracy_m": 50.0}))
    env.post_frames(sos(2, location={"lat": 53.0, "lon": -2.0, "source": "gateway_site"}))
    got = sorted((a["id"], a["location_source"]) for a in _alarms(env))
    assert [source for _, source in got] == ["gateway", "gateway_site"]
    [bad] = env.post_frames(sos(3, location={"lat": 53.0, "lon": -2.0, "fix_age_s": -1}))
    assert bad["status"] == "accepted" and bad["flags"] == ["bad_location"]


def test_expired_used_and_unknown_codes_give_their_error_and_create_nothing(env: Env) -> None:
    used = _enrol(env)["code"]
    assert _redeem(env, used).status_code == 201
    expired = _enrol(env)
    with env.app.state.db.session() as s:
        s.execute(
            update(PhoneEnrolment)
            .where(PhoneEnrolment.id == expired["id"])
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
    before = _counts(env)
    for code, status, error in (
        (used, 409, "enrolment_used"),
        (expired["code"], 410, "enrolment_expired"),
        ("ZZZZZ-ZZZZZ", 404, "enrolment_unknown"),
    ):
        r = _redeem(env, code)
        assert r.status_code == status, r.text
        assert r.json()["error"] == error and r.json()["message"]
    assert _counts(env) == before


def test_redeeming_is_throttled_per_address_like_login(env: Env) -> None:
    for _ in range(env.app.state.settings.login_max_failures):
        assert _redeem(env, "ZZZZZ-ZZZZZ").status_code == 404
    good = _enrol(env)["code"]
    r = _redeem(env, good)
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0


def test_a_phone_relaying_another_workers_fob_gets_out_of_scope_and_the_good_frame_is_taken(
    env: Env,
) -> None:
    phone = _phone(env)
    _, other_key = _other_worker_with_fob(env, 100)
    results = _relay(
        env,
        phone,
        sos(1, device_id=100, key=other_key),
        heartbeat(2),  # the worker's own fob (device 7)
        sos(3, device_id=4321, key=bytes(16)),  # no such device: the phone is not told
    )
    assert [(r["status"], r["reason"]) for r in results] == [
        ("rejected", "out_of_scope"),
        ("accepted", None),
        ("rejected", "out_of_scope"),
    ]
    assert results[0]["ack"] is None
    assert _alarms(env) == []
    rej = env.client.get("/v1/reports/rejections", headers=env.token("admin")).json()
    assert rej["out_of_scope"]["count"] == 2
    # The same fob through an ordinary relay is accepted: only the phone is scoped.
    [ok] = env.post_frames(sos(1, device_id=100, key=other_key))
    assert ok["status"] == "accepted"


def test_the_phones_long_poll_gets_only_its_workers_downlinks(env: Env) -> None:
    phone = _phone(env)
    other_worker, _ = _other_worker_with_fob(env, 100)
    with env.app.state.db.session() as s:  # a second fob for the phone's worker
        provisioning.provision_device(
            s, env.app.state.keybox, "system", board="m5stickc-plus2", device_id=101,
            worker_id=env.seeded.worker_id, key=DEVICE_KEY,
        )  # fmt: skip
    assert [r["status"] for r in _relay(env, phone, heartbeat(1), heartbeat(1, device_id=101))] == [
        "accepted",
        "accepted",
    ]
    admin = env.token("admin")
    # Fob 101 goes to another worker while the phone is still the last to have heard it.
    r = env.client.patch("/v1/devices/101", json={"worker_id": other_worker}, headers=admin)
    assert r.status_code == 200
    for dev in (DEVICE_ID, 101):
        r = env.client.post(f"/v1/devices/{dev}/commands", json={"command": 5}, headers=admin)
        assert r.status_code == 202
    r = env.client.get("/v1/downlink", params={"after": 0, "wait": 0}, headers=phone.headers)
    assert r.status_code == 200
    items = r.json()["items"]
    assert [i["device_id"] for i in items] == [DEVICE_ID]
    f = frames.decode(bytes.fromhex(items[0]["frame"]), DEVICE_KEY, ft.DOWNLINK)
    assert (f.ftype, f.fields[0]) == (ft.COMMAND, ft.CMD_LOCATE)


def test_a_revoked_phone_is_refused_and_its_own_device_with_it(env: Env) -> None:
    phone = _phone(env)
    assert _relay(env, phone, heartbeat(1))[0]["status"] == "accepted"
    r = env.client.post(f"/v1/gateways/{phone.gateway_id}/revoke", headers=env.token("admin"))
    assert r.status_code == 200 and r.json()["revoked_at"]
    health = {"links": [], "queue_depth": 0, "version": "x"}
    for method, path, kw in (
        ("POST", "/v1/frames", {"json": {"frames": [heartbeat(2)]}}),
        ("GET", "/v1/downlink", {"params": {"wait": 0}}),
        ("POST", "/v1/gateways/health", {"json": health}),
        ("POST", "/v1/phones/visit", {"json": {"device_id": DEVICE_ID, "where": "x"}}),
    ):
        r = env.client.request(method, path, headers=phone.headers, **kw)
        assert r.status_code == 401, (path, r.text)
    # Its device key cannot raise an alarm through any other gateway either.
    [res] = env.post_frames(sos(1, device_id=phone.device_id, key=phone.key))
    assert (res["status"], res["reason"]) == ("rejected", "revoked_device")


def test_a_revoked_phone_still_calling_shows_on_its_workers_page_to_an_operator(
    env: Env,
) -> None:
    """Not only the admin on /gateways: whoever answers for the worker sees their phone may
    be holding frames."""
    phone = _phone(env)
    env.client.post(f"/v1/gateways/{phone.gateway_id}/revoke", headers=env.token("admin"))
    page = f"/workers/{env.seeded.worker_id}"
    env.login("operator")
    before = env.client.get(page).text
    assert "revoked" in before and "Still trying to send" not in before
    r = env.client.post("/v1/frames", json={"frames": [heartbeat(2)]}, headers=phone.headers)
    assert r.status_code == 401
    after = env.client.get(page).text
    assert f'class="still-calling" data-gateway="{phone.gateway_id}"' in after
    assert "1 refused call)" in after


def test_phone_health_with_app_version_and_battery_is_listed_for_admins(env: Env) -> None:
    phone = _phone(env)
    body = {"links": [], "queue_depth": 2, "app_version": "phone-0.2", "battery_pct": 41}
    r = env.client.post("/v1/gateways/health", json=body, headers=phone.headers)
    assert r.status_code == 204, r.text
    bad = env.client.post(
        "/v1/gateways/health", json={**body, "battery_pct": 101}, headers=phone.headers
    )
    assert bad.status_code == 422
    listed = {g["id"]: g for g in env.client.get("/v1/gateways", headers=env.token("admin")).json()}
    g = listed[phone.gateway_id]
    assert (g["kind"], g["worker_id"], g["version"], g["battery_pct"], g["queue_depth"]) == (
        "phone",
        env.seeded.worker_id,
        "phone-0.2",
        41,
        2,
    )
    assert listed[env.seeded.gateway_id]["kind"] == "relay"
    env.login("admin")
    page = env.client.get("/gateways").text
    assert "Phones" in page and "phone-0.2" in page and "41 %" in page
    assert "Sam Rivera" in page and "s ago" in page
    assert f'data-api="/v1/gateways/{phone.gateway_id}/revoke"' in page


def test_a_visit_memo_appears_on_the_overdue_alarm_with_the_last_shared_position(env: Env) -> None:
    phone = _phone(env)
    t0 = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    memo = {"device_id": phone.device_id, "where": "14 Elm Road", "with": "Mr Jones"}
    r = env.client.post("/v1/phones/visit", json=memo, headers=phone.headers)
    assert r.status_code == 200, r.text
    start = frame_item(
        ft.CHECKIN_START, 1, (30, 0), device_id=phone.device_id, key=phone.key,
        received_at=t0, location=HERE,
    )  # fmt: skip
    assert _relay(env, phone, start)[0]["status"] == "accepted"
    with env.app.state.db.session() as s:
        [aid] = supervision.supervise(
            s, env.app.state.settings, now=t0 + dt.timedelta(minutes=30, seconds=1)
        )
    [alarm] = _alarms(env)
    assert alarm["id"] == aid and alarm["kind"] == "checkin_overdue"
    assert alarm["visit"] == {"where": "14 Elm Road", "with": "Mr Jones"}
    assert alarm["location_source"] == "phone_gps"
    assert alarm["location_fix_age_s"] >= 30 * 60  # as old as it is when the alarm is raised
    env.login()
    page = env.client.get(f"/alarms/{aid}").text
    assert "14 Elm Road" in page and "Mr Jones" in page
    with env.app.state.db.session() as s:  # one memo per visit
        d = s.get(Device, phone.device_id)
        assert d is not None and d.visit_where is None


def test_a_visit_memo_only_for_the_phones_own_workers_devices_and_only_from_a_phone(
    env: Env,
) -> None:
    phone = _phone(env)
    _other_worker_with_fob(env, 100)
    for dev in (100, 4321):
        r = env.client.post(
            "/v1/phones/visit", json={"device_id": dev, "where": "x"}, headers=phone.headers
        )
        assert r.status_code == 403
    r = env.client.post(
        "/v1/phones/visit", json={"device_id": DEVICE_ID, "where": "x"}, headers=env.gw
    )
    assert r.status_code == 403  # a relay token is not a phone
    r = env.client.post(
        "/v1/phones/visit", json={"device_id": DEVICE_ID, "where": "x" * 121}, headers=phone.headers
    )
    assert r.status_code == 422


def test_checking_out_clears_the_memo(env: Env) -> None:
    phone = _phone(env)
    memo = {"device_id": phone.device_id, "where": "Surgery, Town Hall", "with": None}
    assert env.client.post("/v1/phones/visit", json=memo, headers=phone.headers).status_code == 200
    kw: dict[str, Any] = {"device_id": phone.device_id, "key": phone.key}
    _relay(env, phone, frame_item(ft.CHECKIN_START, 1, (30, 0), **kw))
    _relay(env, phone, frame_item(ft.CHECKIN_STOP, 2, (90, 0, 0), **kw))
    with env.app.state.db.session() as s:
        d = s.get(Device, phone.device_id)
        assert d is not None and (d.checkin_due_at, d.visit_where) == (None, None)


def test_the_visit_reminder_buzzes_the_workers_fobs_once_before_it_is_due(env: Env) -> None:
    phone = _phone(env)
    t0 = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
    start = frame_item(
        ft.CHECKIN_START, 1, (30, 0), device_id=phone.device_id, key=phone.key, received_at=t0
    )
    assert _relay(env, phone, start)[0]["status"] == "accepted"
    env.post_frames(heartbeat(1))  # the fob is heard by the relay: its downlinks go there
    due = t0 + dt.timedelta(minutes=30)
    keybox = env.app.state.keybox

    def remind(at: dt.datetime) -> list[int]:
        with env.app.state.db.session() as s:
            return supervision.remind_visits(s, keybox, now=at)

    before = supervision.VISIT_REMIND_BEFORE
    assert remind(due - before - dt.timedelta(seconds=1)) == []
    assert remind(due - before + dt.timedelta(seconds=1)) == [phone.device_id]
    assert remind(due - dt.timedelta(seconds=10)) == []  # once per check-in
    with env.app.state.db.session() as s:
        rows = s.scalars(select(Downlink).order_by(Downlink.id)).all()
    # To the fob, not to the phone's own device identity (the phone reminds on its screen).
    assert [r.device_id for r in rows] == [DEVICE_ID]
    f = frames.decode(bytes(rows[0].frame), DEVICE_KEY, ft.DOWNLINK)
    assert (f.ftype, f.fields) == (ft.COMMAND, (ft.CMD_LOCATE, 0, 0))
    r = env.client.get("/v1/downlink", params={"after": 0, "wait": 0}, headers=env.gw)
    assert [i["device_id"] for i in r.json()["items"]] == [DEVICE_ID]
    # Extending the visit is a new check-in: reminded again before the new time.
    later = frame_item(
        ft.CHECKIN_START, 2, (60, 0), device_id=phone.device_id, key=phone.key, received_at=t0
    )
    _relay(env, phone, later)
    assert remind(t0 + dt.timedelta(minutes=56)) == [phone.device_id]


def test_operators_enrol_from_the_worker_page(env: Env) -> None:
    env.login()
    page = env.client.get(f"/workers/{env.seeded.worker_id}").text
    assert f'data-enrol="{env.seeded.worker_id}"' in page


def test_the_phones_own_device_going_silent_is_no_offline_alarm(env: Env) -> None:
    phone = _phone(env)
    t0 = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    kw: dict[str, Any] = {"device_id": phone.device_id, "key": phone.key, "received_at": t0}
    _relay(env, phone, frame_item(ft.TEST, 1, (90, 0, 0), **kw))
    _relay(env, phone, heartbeat(1, received_at=t0))  # the fob, heard then gone quiet too
    with env.app.state.db.session() as s:
        raised = supervision.supervise(s, env.app.state.settings)
        kinds = {(a.device_id, a.kind) for a in s.scalars(select(Alarm))}
    assert len(raised) == 1 and kinds == {(DEVICE_ID, "device_offline")}
