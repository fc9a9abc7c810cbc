"""Serial provisioning messages handled by the fob: the key goes in and never comes out, a
provisioned fob refuses PROV_SET without force, factory reset wipes the key, status and a
signed TEST frame for `vigil provision` to verify with the monitor."""

from __future__ import annotations

from typing import Any

from host_tests.support.firmware import KEY
from protocol import frame_types as ft
from protocol import frames
from protocol import provisioning as pv

NEW_KEY = bytes(range(100, 132))


def msg(ptype: int, records: dict[int, Any] | None = None) -> list[Any]:
    return ["admin", pv.encode(ptype, records or {}).hex()]


def replies(log: dict[str, Any]) -> list[tuple[int, dict[int, Any]]]:
    return [pv.decode(bytes.fromhex(r)) for r in log["replies"]]


def test_unprovisioned_fob_reports_itself_and_accepts_provisioning(scenario: Any) -> None:
    log = scenario(
        [
            msg(ft.PROV_INFO_REQ),
            msg(
                ft.PROV_SET,
                {
                    pv.T_DEVICE_ID: 77,
                    pv.T_KEY: NEW_KEY,
                    pv.T_HEARTBEAT_S: 30,
                    pv.T_SOS_HOLD_MS: 1500,
                },
            ),
            msg(ft.PROV_INFO_REQ),
            msg(ft.PROV_STATUS_REQ, {pv.T_TEST_FRAME: 1}),
            ["hold", 1600],
            ["wait", 100],
        ],
        provisioned=False,
    )
    (t0, info0), (t1, res), (t2, info1), (t3, status) = replies(log)
    assert t0 == ft.PROV_INFO and info0[pv.T_PROVISIONED] == 0 and pv.T_DEVICE_ID not in info0
    assert info0[pv.T_FIRMWARE] and info0[pv.T_BOARD] == "sim"
    assert t1 == ft.PROV_RESULT and res[pv.T_RESULT] == pv.R_OK
    assert info1[pv.T_PROVISIONED] == 1 and info1[pv.T_DEVICE_ID] == 77
    for _, rec in replies(log):
        assert NEW_KEY not in b"".join(v for v in rec.values() if isinstance(v, bytes))
    assert t3 == ft.PROV_STATUS and status[pv.T_RESULT] == pv.R_OK
    test = frames.decode(status[pv.T_TEST_FRAME], NEW_KEY, expect=ft.UPLINK)
    assert test.ftype == ft.TEST and test.device_id == 77
    # The new hold threshold applies; the SOS is signed with the new key.
    sos = [frames.decode(bytes.fromhex(h), NEW_KEY) for _, h in log["sent"]]
    assert ft.SOS in [f.ftype for f in sos]
    assert test.counter not in [f.counter for f in sos]


def test_provisioned_fob_refuses_set_without_force(scenario: Any) -> None:
    log = scenario(
        [
            msg(ft.PROV_SET, {pv.T_DEVICE_ID: 5, pv.T_KEY: NEW_KEY}),
            msg(ft.PROV_INFO_REQ),
            msg(ft.PROV_SET, {pv.T_DEVICE_ID: 5, pv.T_KEY: NEW_KEY, pv.T_FORCE: 1}),
            msg(ft.PROV_INFO_REQ),
        ]
    )
    (_, r1), (_, i1), (_, r2), (_, i2) = replies(log)
    assert r1[pv.T_RESULT] == pv.R_ALREADY_PROVISIONED
    assert i1[pv.T_DEVICE_ID] != 5
    assert r2[pv.T_RESULT] == pv.R_OK and i2[pv.T_DEVICE_ID] == 5


def test_factory_reset_wipes_key_and_fob_refuses_alarms_and_test_frame(scenario: Any) -> None:
    log = scenario(
        [
            msg(ft.PROV_RESET),
            msg(ft.PROV_INFO_REQ),
            msg(ft.PROV_STATUS_REQ, {pv.T_TEST_FRAME: 1}),
            ["hold", 2200],
            ["wait", 50],
        ]
    )
    (_, r), (_, info), (_, status) = replies(log)
    assert r[pv.T_RESULT] == pv.R_OK
    assert info[pv.T_PROVISIONED] == 0
    assert status[pv.T_RESULT] == pv.R_NOT_PROVISIONED and pv.T_TEST_FRAME not in status
    sent_after_reset = [h for t, h in log["sent"] if t > 0]
    assert sent_after_reset == []
    assert "not_provisioned" in [n for _, n in log["feedback"]]


def test_bad_requests_get_an_answer_not_a_crash(scenario: Any) -> None:
    log = scenario(
        [
            msg(ft.PROV_SET, {pv.T_DEVICE_ID: 1 << 25, pv.T_KEY: NEW_KEY, pv.T_FORCE: 1}),
            msg(ft.PROV_SET, {pv.T_DEVICE_ID: 3, pv.T_KEY: b"short", pv.T_FORCE: 1}),
            ["admin", "3a0205"],
            ["admin", "38"],
            msg(ft.PROV_LOG),
            ["wait", 50],
        ]
    )
    codes = [rec.get(pv.T_RESULT) for _, rec in replies(log)]
    assert codes[0] == codes[1] == codes[2] == pv.R_BAD_REQUEST
    assert replies(log)[3][0] == ft.PROV_INFO
    assert codes[4] == pv.R_BAD_REQUEST
    # Still provisioned with the original key: nothing was half-applied.
    assert log["status"]["device_id"] != 3
    frames.decode(bytes.fromhex(log["sent"][0][1]), KEY)


def test_status_reports_battery_outbox_sensor_memory_uptime_counter(scenario: Any) -> None:
    log = scenario(
        [["battery", 64], ["link", 0], ["hold", 2200], ["wait", 5000], msg(ft.PROV_STATUS_REQ)]
    )
    ((t, st),) = replies(log)
    assert st[pv.T_BATTERY_PCT] == 64
    assert st[pv.T_OUTBOX] == 2
    assert st[pv.T_SENSOR_OK] == 1
    assert st[pv.T_UPTIME_S] == 7
    assert st[pv.T_COUNTER] == 2
    assert pv.T_MEM_FREE in st


def test_forced_reprovisioning_with_same_key_keeps_refusing_replayed_downlinks(
    scenario: Any,
) -> None:
    from host_tests.support.firmware import DEVICE_ID

    help_frame = frames.encode(ft.ACK_HELP, DEVICE_ID, 7, (1,), KEY).hex()
    log = scenario(
        [
            ["acks", 0],
            ["hold", 2200],
            ["downlink", help_frame],
            msg(
                ft.PROV_SET,
                {pv.T_DEVICE_ID: DEVICE_ID, pv.T_KEY: KEY, pv.T_FORCE: 1, pv.T_HEARTBEAT_S: 30},
            ),
            ["downlink", help_frame],
        ]
    )
    assert log["rejected"] == 1
    assert [n for _, n in log["feedback"]].count("help_coming") == 1


def test_factory_reset_during_checkin_sends_nothing_and_forgets_it(scenario: Any) -> None:
    log = scenario(
        [
            ["checkin", 1],
            ["wait", 100],
            ["link", 0],
            msg(ft.PROV_RESET),
            ["link", 1],
            ["wait", 70000],
        ],
        config={"no_motion_s": 0},
    )
    types = [bytes.fromhex(h)[0] & 0x1F for _, h in log["sent"]]
    assert ft.CHECKIN_OVERDUE not in types and ft.CHECKIN_STOP not in types
    assert log["status"]["checkin_s"] == 0
