"""The console renders an alarm whatever a damaged or half-written row holds (left open in the
notes of earlier sessions): an infinite time to acknowledge, a device with one coordinate."""

from __future__ import annotations

import math

import pytest
from sqlalchemy import update

from host_tests.support.monitor import DEVICE_ID, Env, sos
from monitor.api.routes.console import duration
from monitor.models import Alarm, Device


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
def test_a_non_finite_duration_is_shown_as_none(value: float) -> None:
    assert duration(value) == "—"


def test_duration_keeps_its_units() -> None:
    assert (duration(4.25), duration(75), duration(7300)) == ("4.2 s", "1 min 15 s", "2 h 01 min")


def test_an_alarm_page_renders_with_one_coordinate_and_an_infinite_ack_time(env: Env) -> None:
    env.post_frames(sos(1))
    h = env.token()
    [alarm] = env.client.get("/v1/alarms", headers=h).json()
    with env.app.state.db.session() as s:
        s.execute(update(Device).where(Device.id == DEVICE_ID).values(last_lat=52.2, last_lon=None))
        s.execute(update(Alarm).where(Alarm.id == alarm["id"]).values(time_to_ack_s=math.inf))
    env.login()
    r = env.client.get(f"/alarms/{alarm['id']}")
    assert r.status_code == 200, r.text[:300]
    assert "last known: 52.2" not in r.text  # half a position is no position
