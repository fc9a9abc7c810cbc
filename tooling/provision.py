"""`vigil provision`: register a fob with the monitor, write its identity over USB, prove it.

The key travels monitor -> this process -> the fob's serial port, and nowhere else: it is never
printed (unless asked for) and never written to the engineer's disk. The monitor then verifies a
signed TEST frame from the fob, so a provisioned fob is known to be able to raise an alarm.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from protocol import frame_types as ft
from protocol import provisioning as pv
from tooling.errors import ToolingError
from tooling.fob_serial import FobSerial

MONITOR_TIMEOUT_S = 10.0


# The monitor as the engineer reaches it to register a fob; the gateway's errors for its own
# link to the monitor are gateway.errors.Monitor*.
class RegistrationUnreachable(ToolingError):
    hint = "Check the --monitor URL and that the monitor is running (`curl URL/healthz`)."


class RegistrationRefused(ToolingError):
    hint = "Check the admin token (--token or VIGIL_ADMIN_TOKEN): it must belong to an admin."


class AlreadyProvisioned(ToolingError):
    hint = (
        "This fob already has an identity. Re-provision with --force (its pending alarms are "
        "discarded and its old key stops working), or `vigil fob reset` first."
    )


class TestFrameRejected(ToolingError):
    hint = "The key written to the fob does not verify at the monitor: re-run with --force."


@dataclass
class Provisioned:
    device_id: int
    board: str
    firmware: str
    key_hex: str
    verified: bool


def _monitor(client: httpx.Client, method: str, path: str, **kw: Any) -> Any:
    try:
        res = client.request(method, path, **kw)
    except httpx.HTTPError as e:
        raise RegistrationUnreachable(f"monitor unreachable at {client.base_url}: {e}") from e
    if res.status_code in (401, 403):
        raise RegistrationRefused(f"monitor refused {method} {path}: {res.status_code}")
    if res.status_code >= 400:
        raise ToolingError(f"monitor answered {res.status_code} to {method} {path}: {res.text}")
    return res.json() if res.content else None


def provision(
    port: str,
    monitor_url: str,
    admin_token: str,
    force: bool = False,
    worker_id: int | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> Provisioned:
    with (
        FobSerial(port) as fob,
        httpx.Client(
            base_url=monitor_url,
            headers={"Authorization": f"Bearer {admin_token}"},
            timeout=MONITOR_TIMEOUT_S,
        ) as client,
    ):
        progress("asking the fob who it is")
        info = fob.request(ft.PROV_INFO_REQ, {}, ft.PROV_INFO)
        board = str(info.get(pv.T_BOARD, "unknown"))
        firmware = str(info.get(pv.T_FIRMWARE, "unknown"))
        if info.get(pv.T_PROVISIONED) and not force:
            raise AlreadyProvisioned(
                f"fob on {port} is already provisioned as device {info.get(pv.T_DEVICE_ID)}"
            )
        progress("registering with the monitor")
        body: dict[str, Any] = {"board": board, "firmware_version": firmware, "replace": force}
        if force and info.get(pv.T_DEVICE_ID) is not None:
            body["device_id"] = info[pv.T_DEVICE_ID]
        if worker_id is not None:
            body["worker_id"] = worker_id
        created = _monitor(client, "POST", "/v1/devices", json=body)
        device_id = int(created["device"]["id"])
        key = bytes.fromhex(created["key"])
        progress("writing identity to the fob")
        records: dict[int, Any] = {pv.T_DEVICE_ID: device_id, pv.T_KEY: key}
        if force:
            records[pv.T_FORCE] = 1
        fob.request(ft.PROV_SET, records, ft.PROV_RESULT)
        progress("verifying a signed test frame at the monitor")
        status = fob.request(ft.PROV_STATUS_REQ, {pv.T_TEST_FRAME: 1}, ft.PROV_STATUS)
        frame = status.get(pv.T_TEST_FRAME)
        if not isinstance(frame, bytes):
            raise TestFrameRejected(f"the fob sent no test frame: {status.get(pv.T_MESSAGE)}")
        result = _monitor(
            client, "POST", f"/v1/devices/{device_id}/test", json={"frame": frame.hex()}
        )
        if result.get("status") not in ("accepted", "duplicate"):
            raise TestFrameRejected(f"monitor rejected the test frame: {result.get('reason')}")
        return Provisioned(device_id, board, firmware, key.hex(), True)


def status(port: str) -> dict[str, Any]:
    with FobSerial(port) as fob:
        info = fob.request(ft.PROV_INFO_REQ, {}, ft.PROV_INFO)
        st = fob.request(ft.PROV_STATUS_REQ, {}, ft.PROV_STATUS)
    return {
        "device_id": info.get(pv.T_DEVICE_ID),
        "board": info.get(pv.T_BOARD),
        "firmware": info.get(pv.T_FIRMWARE),
        "provisioned": bool(info.get(pv.T_PROVISIONED)),
        "battery_pct": st.get(pv.T_BATTERY_PCT),
        "outbox": st.get(pv.T_OUTBOX),
        "sensor_ok": bool(st.get(pv.T_SENSOR_OK)),
        "mem_free_bytes": st.get(pv.T_MEM_FREE),
        "uptime_s": st.get(pv.T_UPTIME_S),
        "counter": st.get(pv.T_COUNTER),
        "checkin_remaining_s": st.get(pv.T_CHECKIN_ACTIVE),
        "covert": bool(st.get(pv.T_COVERT)),
    }


def reset(port: str) -> str:
    """Factory-reset the fob: its key, settings, outbox and check-in are wiped (its counter is
    kept, so a re-provisioned fob never reuses one). Returns what the fob said."""
    with FobSerial(port) as fob:
        res = fob.request(ft.PROV_RESET, {}, ft.PROV_RESULT)
    message = str(res.get(pv.T_MESSAGE, "no reason given"))
    if res.get(pv.T_RESULT) != pv.R_OK:
        raise ToolingError(
            f"the fob refused the reset: {message}", "See `vigil fob logs` for what the fob said."
        )
    return message


CONFIG_TAGS = {
    "heartbeat_s": pv.T_HEARTBEAT_S,
    "no_motion_s": pv.T_NO_MOTION_S,
    "sos_hold_ms": pv.T_SOS_HOLD_MS,
    "fall_cancel_s": pv.T_FALL_CANCEL_S,
    "covert": pv.T_COVERT,
}


def config(port: str) -> dict[str, Any]:
    """The fob's current settings, read over USB. Changing them needs the fob's key, which this
    machine never holds: settings are changed from the monitor (signed COMMAND frames) or by
    re-provisioning."""
    with FobSerial(port) as fob:
        st = fob.request(ft.PROV_STATUS_REQ, {}, ft.PROV_STATUS)
    return {name: st.get(tag) for name, tag in CONFIG_TAGS.items()}


def logs(port: str, seconds: float) -> list[str]:
    with FobSerial(port) as fob:
        fob.listen(seconds)
        return fob.logs
