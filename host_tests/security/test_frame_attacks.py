"""Attacks on the frame path, through the real HTTP ingest: every bad frame is refused with its
reason, gets no ack, raises nothing, is counted where admins look, and never holds back a good
frame in the same batch."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update

from host_tests import strategies as S
from host_tests.support.monitor import DEVICE_ID, DEVICE_KEY, frame_item
from host_tests.support.security import (
    OTHER_GATEWAY_TOKEN,
    REVOKED_DEVICE_ID,
    REVOKED_DEVICE_KEY,
    SecEnv,
)
from monitor.models import Alarm, Device
from protocol import frame_types as ft
from protocol import frames

WRONG_KEY = bytes(16)
UNKNOWN_DEVICE = 0xABCDEF
# The template stored counters 1-2; every test starts the fob well past the replay window so a
# rolled-back counter is unambiguous.
START = 1000


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def hb(counter: int, **kw: Any) -> dict[str, Any]:
    return frame_item(ft.HEARTBEAT, counter, (90, 0, 0, 1), **kw)


def with_raw(raw: bytes | str) -> dict[str, Any]:
    return {"frame": raw if isinstance(raw, str) else raw.hex(), "received_at": now_iso()}


def flip(item: dict[str, Any], bit: int) -> dict[str, Any]:
    raw = bytearray.fromhex(item["frame"])
    raw[bit // 8] ^= 1 << (bit % 8)
    return {**item, "frame": raw.hex()}


def valid_raw(counter: int) -> bytes:
    return bytes.fromhex(hb(counter)["frame"])


# name -> (make a bad item for a fresh counter, the reason the monitor must give)
ATTACKS: dict[str, tuple[Callable[[int], Any], str]] = {
    "forged_tag_wrong_key": (lambda c: frame_item(ft.SOS, c, (80, 0, 0), key=WRONG_KEY), "bad_tag"),
    # A stolen fob's key signs for that fob only: another worker's device id does not verify.
    "signed_with_another_fobs_key": (
        lambda c: frame_item(ft.SOS, c, (80, 0, 0), key=REVOKED_DEVICE_KEY), "bad_tag"
    ),
    "tag_bit_flipped": (lambda c: flip(frame_item(ft.SOS, c, (80, 0, 0)), 100), "bad_tag"),
    "body_bit_flipped": (lambda c: flip(frame_item(ft.SOS, c, (80, 0, 0)), 70), "bad_tag"),
    "counter_bit_flipped": (lambda c: flip(frame_item(ft.SOS, c, (80, 0, 0)), 63), "bad_tag"),
    # A heartbeat far behind the window, properly signed: what a fob "reboot" to a lower
    # counter (or an attacker holding the key) produces. (An alarm there that was never stored
    # is taken: a fob holds its alarms across reboots; see test_frames.py.)
    "counter_rolled_back": (lambda c: frame_item(ft.HEARTBEAT, 10, (90, 0, 0, 1)), "stale"),
    "revoked_device": (
        lambda c: frame_item(ft.SOS, c, (80, 0, 0), device_id=REVOKED_DEVICE_ID,
                             key=REVOKED_DEVICE_KEY),
        "revoked_device",
    ),  # fmt: skip
    "unknown_device": (
        lambda c: frame_item(ft.SOS, c, (80, 0, 0), device_id=UNKNOWN_DEVICE), "unknown_device"
    ),
    "downlink_posted_uplink": (lambda c: frame_item(ft.ACK, c, (c,)), "wrong_direction"),
    "command_posted_uplink": (lambda c: frame_item(ft.COMMAND, c, (1, 0, 0)), "wrong_direction"),
    "truncated_19_bytes": (lambda c: with_raw(valid_raw(c)[:19]), "bad_length"),
    "empty_frame": (lambda c: with_raw(b""), "bad_length"),
    "oversized_21_bytes": (lambda c: with_raw(valid_raw(c) + b"\x00"), "bad_length"),
    "oversized_4k": (lambda c: with_raw(valid_raw(c) * 200), "bad_length"),
    "unknown_type": (lambda c: with_raw(bytes([1 << 5 | 0x0F]) + valid_raw(c)[1:]), "unknown_type"),
    "wrong_version": (
        lambda c: with_raw(bytes([7 << 5 | ft.SOS]) + valid_raw(c)[1:]), "unknown_type"
    ),
    "garbage_hex": (lambda c: with_raw("zz" * 20), "malformed"),
    "odd_length_hex": (lambda c: with_raw("abc"), "malformed"),
    "not_an_object": (lambda c: 42, "malformed"),
    "null_item": (lambda c: None, "malformed"),
}  # fmt: skip

# Attacks on the unsigned fields a gateway adds to a genuine frame (issue 11, findings 1 and 4):
# the frame is verified and kept (acked: the fob may let it go), the bad field is replaced or
# dropped and counted under its own reason.
FIELD_ATTACKS: dict[str, tuple[Callable[[int], Any], str]] = {
    "missing_received_at": (lambda c: {"frame": hb(c)["frame"]}, "bad_received_at"),
    "naive_received_at": (
        lambda c: {**hb(c), "received_at": dt.datetime.now().isoformat()}, "bad_received_at"
    ),
    "year_1_received_at": (
        lambda c: {**hb(c), "received_at": "0001-01-01T00:00:00+01:00"}, "clamped_received_at"
    ),
    "back_dated_received_at": (
        lambda c: {**hb(c), "received_at": "2001-09-09T01:46:40+00:00"}, "clamped_received_at"
    ),
    "future_received_at": (
        lambda c: {**hb(c), "received_at": "2099-01-01T00:00:00+00:00"}, "clamped_received_at"
    ),
    "bad_link": (lambda c: {**hb(c), "link": "carrier-pigeon"}, "bad_link"),
    "huge_rssi": (lambda c: {**hb(c), "rssi": 10**30}, "bad_rssi"),
    "infinite_location": (
        lambda c: {**frame_item(ft.CHECKIN_START, c, (30, 0)),
                   "location": {"lat": float("inf"), "lon": 0}}, "bad_location"
    ),
    "off_earth_location": (
        lambda c: {**frame_item(ft.CHECKIN_START, c, (30, 0)),
                   "location": {"lat": 91, "lon": 181}}, "bad_location"
    ),
}  # fmt: skip


def alarm_count(env: SecEnv) -> int:
    with env.app.state.db.session() as s:
        n: int = s.scalar(select(func.count()).select_from(Alarm)) or 0
        return n


def assert_good(result: dict[str, Any], counter: int) -> None:
    assert result["status"] == "accepted", result
    ack = frames.decode(bytes.fromhex(result["ack"]), DEVICE_KEY, ft.DOWNLINK)
    assert (ack.ftype, ack.device_id, ack.fields[0]) == (ft.ACK, DEVICE_ID, counter)


def prime(env: SecEnv) -> None:
    assert_good(env.frames([hb(START)])[0], START)


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_attack_is_refused_counted_for_admins_and_blocks_nothing(
    sec_any_db: SecEnv, attack: str
) -> None:
    make, reason = ATTACKS[attack]
    prime(sec_any_db)
    before, alarms_before = sec_any_db.rejections(), alarm_count(sec_any_db)
    results = sec_any_db.frames([hb(START + 1), make(START + 2), hb(START + 3)])
    assert_good(results[0], START + 1)
    assert results[1]["status"] == "rejected" and results[1]["reason"] == reason, results[1]
    assert results[1]["ack"] is None  # a refused frame must never make the fob drop an alarm
    assert_good(results[2], START + 3)
    after = sec_any_db.rejections()
    assert after.get(reason, 0) == before.get(reason, 0) + 1
    assert {k: v for k, v in after.items() if k != reason} == {
        k: v for k, v in before.items() if k != reason
    }
    assert alarm_count(sec_any_db) == alarms_before


@pytest.mark.parametrize("attack", list(FIELD_ATTACKS))
def test_field_attack_costs_that_field_counted_and_blocks_nothing(
    sec_any_db: SecEnv, attack: str
) -> None:
    make, flag = FIELD_ATTACKS[attack]
    prime(sec_any_db)
    before = sec_any_db.rejections()
    results = sec_any_db.frames([hb(START + 1), make(START + 2), hb(START + 3)])
    assert_good(results[0], START + 1)
    assert_good(results[1], START + 2)  # the signed frame itself was genuine: kept and acked
    assert results[1]["flags"] == [flag]
    assert_good(results[2], START + 3)
    after = sec_any_db.rejections()
    assert after.get(flag, 0) == before.get(flag, 0) + 1
    assert {k: v for k, v in after.items() if k != flag} == {
        k: v for k, v in before.items() if k != flag
    }


def test_rejections_name_the_gateway_that_relayed_them(sec_any_db: SecEnv) -> None:
    sec_any_db.frames(
        [frame_item(ft.SOS, START, (80, 0, 0), key=WRONG_KEY)], token=OTHER_GATEWAY_TOKEN
    )
    r = sec_any_db.client.get(
        "/v1/reports/rejections", headers={"Authorization": f"Bearer {sec_any_db.creds.admin_api}"}
    )
    row = r.json()["bad_tag"]
    assert row["last_gateway_id"] == sec_any_db.creds.other_gateway_id
    assert row["last_device_id"] == DEVICE_ID and row["last_at"] is not None


def test_console_shows_rejections_to_admins_only(sec_any_db: SecEnv) -> None:
    sec_any_db.frames([frame_item(ft.SOS, START, (80, 0, 0), key=WRONG_KEY)])
    sec_any_db.client.cookies.set("vigil_session", sec_any_db.creds.admin_session)
    page = sec_any_db.client.get("/devices")
    assert page.status_code == 200 and "Rejected frames" in page.text and "bad tag" in page.text
    sec_any_db.client.cookies.set("vigil_session", sec_any_db.creds.operator_session)
    page = sec_any_db.client.get("/devices")
    assert page.status_code == 200 and "Rejected frames" not in page.text


def test_replay_through_same_and_other_gateway_never_raises_a_second_alarm(
    sec_any_db: SecEnv,
) -> None:
    prime(sec_any_db)
    alarm = frame_item(ft.SOS, START + 1, (80, 0, 0))
    before = alarm_count(sec_any_db)
    assert_good(sec_any_db.frames([alarm])[0], START + 1)
    again = sec_any_db.frames([alarm])[0]
    other = sec_any_db.frames([alarm], token=OTHER_GATEWAY_TOKEN)[0]
    # The contract: an exact resend is a duplicate with a fresh ack (the fob may have missed the
    # first), never a second alarm.
    for r in (again, other):
        assert r["status"] == "duplicate", r
        ack = frames.decode(bytes.fromhex(r["ack"]), DEVICE_KEY, ft.DOWNLINK)
        assert ack.fields[0] == START + 1
    assert alarm_count(sec_any_db) == before + 1


def test_same_counter_with_other_content_is_a_replay(sec_any_db: SecEnv) -> None:
    prime(sec_any_db)
    assert_good(
        sec_any_db.frames([frame_item(ft.HEARTBEAT, START + 1, (90, 0, 0, 1))])[0], START + 1
    )
    before = alarm_count(sec_any_db)
    # A validly signed SOS reusing a stored counter: the fob never does this; a key thief might.
    for token in (None, OTHER_GATEWAY_TOKEN):
        items = [frame_item(ft.SOS, START + 1, (80, 0, 0))]
        r = sec_any_db.frames(items, token=token) if token else sec_any_db.frames(items)
        assert (r[0]["status"], r[0]["reason"], r[0]["ack"]) == ("rejected", "replayed", None)
    assert alarm_count(sec_any_db) == before


def test_counter_rolled_back_after_reboot_is_refused_until_it_passes_the_high_mark(
    sec_any_db: SecEnv,
) -> None:
    prime(sec_any_db)
    # The "rebooted" fob starts again from 0: its heartbeats below the window are stale...
    results = sec_any_db.frames([frame_item(ft.HEARTBEAT, c, (90, 0, 0, 1)) for c in range(3, 10)])
    assert {(r["status"], r["reason"]) for r in results} == {("rejected", "stale")}
    # ...and nothing it sends is believed until its counter is genuinely new.
    assert_good(sec_any_db.frames([hb(START + 1)])[0], START + 1)


def test_revoking_a_device_refuses_its_next_frame_even_with_a_valid_tag(sec_any_db: SecEnv) -> None:
    prime(sec_any_db)
    r = sec_any_db.client.post(
        f"/v1/devices/{DEVICE_ID}/revoke",
        headers={"Authorization": f"Bearer {sec_any_db.creds.admin_api}"},
    )
    assert r.status_code == 200
    before = alarm_count(sec_any_db)
    [res] = sec_any_db.frames([frame_item(ft.SOS, START + 1, (80, 0, 0))])
    assert (res["status"], res["reason"], res["ack"]) == ("rejected", "revoked_device", None)
    assert alarm_count(sec_any_db) == before


def test_reflected_ack_is_refused_as_wrong_direction(sec_any_db: SecEnv) -> None:
    [good] = sec_any_db.frames([hb(START)])
    [res] = sec_any_db.frames([with_raw(good["ack"])])
    assert (res["status"], res["reason"]) == ("rejected", "wrong_direction")


def test_oversized_batch_is_refused_whole_and_says_why(sec_any_db: SecEnv) -> None:
    r = sec_any_db.client.post(
        "/v1/frames",
        json={"frames": [hb(START + i) for i in range(1001)]},
        headers={"Authorization": "Bearer vgw_test_gateway_token"},
    )
    assert r.status_code == 422 and "1000" in r.text


# Hypothesis: any mix of good frames and attacks, in any order, in one batch.
_counter = itertools.count(START + 10)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    batch=st.lists(
        st.one_of(
            st.just("good"),
            st.sampled_from(sorted(ATTACKS)),
            st.tuples(st.just("bitflip"), S.frame_bits),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_any_mix_of_attacks_never_blocks_good_frames(sec_any_db: SecEnv, batch: list[Any]) -> None:
    if not getattr(sec_any_db, "primed", False):
        prime(sec_any_db)
        sec_any_db.primed = True  # type: ignore[attr-defined]
    items, expect = [], []
    for kind in batch:
        c = next(_counter)
        if kind == "good":
            items.append(hb(c))
            expect.append(("good", c))
        elif isinstance(kind, tuple):
            # Any single bit flipped anywhere in a valid SOS: refused, whatever the reason.
            items.append(flip(frame_item(ft.SOS, c, (80, 0, 0)), kind[1]))
            expect.append(("bad", None))
        else:
            make, reason = ATTACKS[kind]
            items.append(make(c))
            expect.append(("bad", reason))
    before, alarms_before = sec_any_db.rejections(), alarm_count(sec_any_db)
    results = sec_any_db.frames(items)
    assert len(results) == len(items)
    for (kind, what), r in zip(expect, results, strict=True):
        if kind == "good":
            assert_good(r, what)
        else:
            assert r["status"] == "rejected" and r["ack"] is None, r
            assert what is None or r["reason"] == what, (what, r)
    after = sec_any_db.rejections()
    assert sum(after.values()) - sum(before.values()) == sum(k == "bad" for k, _ in expect)
    assert alarm_count(sec_any_db) == alarms_before


def test_a_device_key_that_will_not_open_refuses_only_that_fobs_frames(
    sec_any_db: SecEnv,
) -> None:
    admin = {"Authorization": f"Bearer {sec_any_db.creds.admin_api}"}
    r = sec_any_db.client.post("/v1/devices", json={"board": "m5stickc-plus2"}, headers=admin)
    other_id, other_key = r.json()["device"]["id"], bytes.fromhex(r.json()["key"])
    # Someone with database access moves another device's sealed key into this fob's row.
    with sec_any_db.app.state.db.session() as s:
        moved = s.get(Device, other_id).key_sealed
        s.execute(update(Device).where(Device.id == DEVICE_ID).values(key_sealed=moved))
        s.commit()
    before = sec_any_db.rejections()
    results = sec_any_db.frames(
        [
            frame_item(ft.SOS, START, (80, 0, 0)),
            frame_item(ft.SOS, 1, (80, 0, 0), device_id=other_id, key=other_key),
        ]
    )
    assert (results[0]["status"], results[0]["reason"], results[0]["ack"]) == (
        "rejected",
        "key_unavailable",
        None,
    )
    assert results[1]["status"] == "accepted"
    after = sec_any_db.rejections()
    assert after["key_unavailable"] == before.get("key_unavailable", 0) + 1
