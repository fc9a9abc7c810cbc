"""A small demo office on top of `monitor.seed.seed`: three teams, five workers with fobs, three
spares on the shelf and a risk assessment, then a morning's alarms sent as signed frames through
the gateway API (the path a real fob's frames take), some acknowledged or resolved.

Used by `devstack.screenshot` so the README's pictures come from data anyone can recreate.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.demo import (
    DEMO_DEVICE_ID,
    DEMO_DEVICE_KEY,
    DEMO_GATEWAY_TOKEN,
    DEMO_OPERATOR_PASSWORD,
    seed_demo,
)
from monitor.models import Alarm, Device, Team, User, Worker, utcnow
from monitor.seed import SEED_TEAM
from monitor.services import provisioning, risk, supervision
from protocol import frame_types as ft
from protocol import frames

TEAMS = {
    SEED_TEAM: "Civic Centre, floor 2",
    "Community nursing": "Northgate Health Centre",
    "Night security": "Depot, Mill Lane",
}
# name, phone, team, fob id. Sam Rivera is the seed's worker, on the demo fob.
WORKERS = (
    ("Priya Shah", "+44 7700 900456", "Community nursing", 2),
    ("Tom Okafor", "+44 7700 900789", "Night security", 3),
    ("Amira Haddad", "+44 7700 900321", "Community nursing", 4),
    ("Dan Whitfield", "+44 7700 900654", SEED_TEAM, 5),
)
SPARES = (101, 102, 103)
BOARD = "m5stickc-plus2"
# Positions as a phone gateway sends them: its GPS fix, how precise and how old.
GPS = {"source": "phone_gps"}
NORTH: dict[str, Any] = {"lat": 53.4794, "lon": -2.2453, "accuracy_m": 9.0, "fix_age_s": 4, **GPS}
LONDON: dict[str, Any] = {"lat": 51.5072, "lon": -0.1276, "accuracy_m": 12.0, "fix_age_s": 8, **GPS}


def fob_key(device_id: int) -> bytes:
    """Known keys, so the frames below can be signed: development data only."""
    return DEMO_DEVICE_KEY if device_id == DEMO_DEVICE_ID else bytes([device_id] * 16)


def build(app: FastAPI) -> dict[str, int]:
    """Teams, workers, fobs, spares and a risk assessment; returns worker ids by name."""
    seeded = seed_demo(app)
    with app.state.db.session() as s:
        for name, office in TEAMS.items():
            if s.scalar(select(Team).where(Team.name == name)) is None:
                s.add(Team(name=name, office=office))
        ids = {"Sam Rivera": seeded.worker_id}
        for name, phone, team, fob in WORKERS:
            w = s.scalar(select(Worker).where(Worker.name == name))
            if w is None:
                w = Worker(name=name, phone=phone, team=team)
                s.add(w)
                s.flush()
                _fob(app, s, fob, w.id)
            ids[name] = w.id
        for fob in SPARES:
            if s.get(Device, fob) is None:
                _fob(app, s, fob, None)
        admin = s.get(User, seeded.admin_id)
        tom = s.get(Worker, ids["Tom Okafor"])
        assert admin is not None and tom is not None
        if risk.current(s, tom.id) is None:
            risk.save(
                s,
                admin,
                tom,
                hazards="Patrols the depot alone at night; intruders reported twice this year.",
                controls="Hourly check-in; fob on a lanyard; police non-emergency line agreed.",
                level="high",
                owner="Avery Admin",
                review_due=utcnow().date() + dt.timedelta(days=10),
            )
    return ids


def _fob(app: FastAPI, session: Session, device_id: int, worker_id: int | None) -> None:
    provisioning.provision_device(
        session,
        app.state.keybox,
        "system",
        board=BOARD,
        device_id=device_id,
        firmware_version="0.1.0",
        worker_id=worker_id,
        key=fob_key(device_id),
    )


def _item(
    ftype: int,
    device_id: int,
    counter: int,
    body: tuple[int, ...],
    received_at: dt.datetime,
    location: dict[str, Any] | None = None,
) -> dict[str, Any]:
    frame = frames.encode(ftype, device_id, counter, body, fob_key(device_id))
    return {
        "frame": frame.hex(),
        "received_at": received_at.isoformat(),
        "link": "ble",
        "rssi": -68,
        "location": location,
    }


def morning(app: FastAPI, url: str, ids: dict[str, int]) -> None:
    """The alarms of the picture, relayed by the demo gateway over HTTP.

    An SOS 6 s late (its frame says it was raised 6 s before the gateway got it), an
    acknowledged fall, a fob that went quiet after warning of a low battery, and a resolved
    false alarm. Times are relative to now so the picture always reads "minutes ago".
    """
    now = dt.datetime.now(dt.UTC)

    def ago(s: int) -> dt.datetime:
        return now - dt.timedelta(seconds=s)

    # (type, fob, counter, body, seconds ago, position). Heartbeats: battery, flags, outbox,
    # uptime in hours; alarms: battery, detail, seconds between raising and sending.
    sent = (
        (ft.HEARTBEAT, 2, 1, (63, 0, 0, 2), 300, None),
        (ft.HEARTBEAT, 3, 1, (14, 0, 0, 9), 900, None),
        (ft.HEARTBEAT, 4, 1, (88, 0, 0, 1), 40, None),
        (ft.HEARTBEAT, 5, 1, (77, 0, 0, 3), 60, None),
        (ft.HEARTBEAT, DEMO_DEVICE_ID, 1, (80, 0, 0, 2), 30, None),
        (ft.LOW_BATTERY, 3, 2, (12, 0, 0), 430, None),
        (ft.HEARTBEAT, 3, 3, (12, 0, 0, 9), 420, None),
        (ft.FALL, 2, 2, (63, 0, 0), 100, NORTH),
        (ft.SOS, 5, 2, (77, 0, 0), 50, LONDON),
        (ft.SOS, DEMO_DEVICE_ID, 2, (80, 0, 6), 8, LONDON),
    )
    items = [_item(t, fob, n, body, ago(s), pos) for t, fob, n, body, s, pos in sent]
    headers = {"Authorization": f"Bearer {DEMO_GATEWAY_TOKEN}"}
    with httpx.Client(base_url=url, timeout=30) as http:
        r = http.post("/v1/frames", json={"frames": items}, headers=headers)
        r.raise_for_status()
        bad = [x for x in r.json()["results"] if x["status"] == "rejected"]
        if bad:
            raise RuntimeError(f"demo frames refused: {bad}")
        # Tom's fob has been silent for 7 min: supervision (normally on the scheduler) sees it.
        with app.state.db.session() as s:
            supervision.supervise(s, app.state.settings)
        alarm = _alarm_ids(app)
        r = http.post(
            "/v1/auth/login", json={"username": "operator", "password": DEMO_OPERATOR_PASSWORD}
        )
        r.raise_for_status()
        csrf = {"X-CSRF-Token": r.json()["csrf_token"]}
        fall, dans = alarm[(ids["Priya Shah"], "fall")], alarm[(ids["Dan Whitfield"], "sos")]
        http.post(f"/v1/alarms/{fall}/acknowledge", headers=csrf).raise_for_status()
        http.post(f"/v1/alarms/{dans}/acknowledge", headers=csrf).raise_for_status()
        body = {"outcome": "false_alarm", "notes": "Pressed in a bag; called back, safe."}
        http.post(f"/v1/alarms/{dans}/resolve", headers=csrf, json=body).raise_for_status()


def _alarm_ids(app: FastAPI) -> dict[tuple[int, str], int]:
    with app.state.db.session() as s:
        rows = s.execute(select(Alarm.worker_id, Alarm.kind, Alarm.id)).all()
    return {(w, k): i for w, k, i in rows if w is not None}
