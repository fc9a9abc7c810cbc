"""What the schedules showed: when an ack is lost (gateway killed after the monitor stored the
SOS, cable out), the fob resends the alarm signed afresh with its current age. The monitor must
answer "duplicate" with a fresh ack, not reject it as a reused counter ("replayed") and leave
the fob retrying forever."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from host_tests.faults.rig import Rig
from protocol import frame_types as ft
from protocol import frames

pytestmark = pytest.mark.faults
COUNTER = 900_000  # far ahead of anything the rig's fobs send


def _post(rig: Rig, raw: bytes) -> dict[str, object]:
    item = {
        "frame": raw.hex(),
        "received_at": datetime.now(UTC).isoformat(),
        "link": "serial",
        "rssi": None,
        "location": None,
    }
    r = httpx.post(
        f"{rig.url}/v1/frames",
        json={"frames": [item]},
        headers={"Authorization": f"Bearer {rig.demo.gateway_token}"},
        timeout=10,
    )
    r.raise_for_status()
    return dict(r.json()["results"][0])


def test_sos_resent_with_a_later_age_is_a_duplicate_and_acked(rig: Rig) -> None:
    enc = frames.Encoder(rig.demo.device_id, rig.demo.device_key)
    first = _post(rig, bytes(enc.encode(ft.SOS, COUNTER, (80, 0, 0))))
    assert first["status"] == "accepted"
    again = _post(rig, bytes(enc.encode(ft.SOS, COUNTER, (80 | ft.AGE_LOWER_BOUND, 0, 42))))
    assert again["status"] == "duplicate" and again["ack"], again
    shown = [a for a in rig.alarms() if rig.counter_of(a["id"]) == COUNTER]
    assert len(shown) == 1


def test_counter_reused_for_another_alarm_is_still_replayed(rig: Rig) -> None:
    enc = frames.Encoder(rig.demo.device_id, rig.demo.device_key)
    assert _post(rig, bytes(enc.encode(ft.SOS, COUNTER + 1, (80, 0, 0))))["status"] == "accepted"
    other = _post(rig, bytes(enc.encode(ft.FALL, COUNTER + 1, (80, 0, 0))))
    assert (other["status"], other["reason"]) == ("rejected", "replayed")
