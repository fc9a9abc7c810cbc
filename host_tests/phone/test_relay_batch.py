"""The page's packed batch (phone/js/relay_batch.mjs) is byte for byte protocol/relay_batch.py:
outbox items packed in Chromium equal `encode_request` on the same items in Python, and the
page reads what `encode_reply` makes as `decode_reply` does. Runs on the page the monitor
serves; nothing is emulated."""

from __future__ import annotations

import datetime as dt
import struct
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from host_tests.support.monitor import LiveServer
from host_tests.support.phone import new_context
from protocol import relay_batch as rb

pytestmark = pytest.mark.browser

BASE_MS = 1_767_225_600_000 + 86_400_000 * 40  # 2026-02-10T00:00:00Z
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
HERE = {"lat": 51.5072, "lon": -0.1276, "accuracy_m": 12, "source": "phone_gps", "fix_age_s": 8}

# As the outbox holds them (phone/js/outbox.mjs commit): hex frame, ISO received_at, link, rssi,
# location; and some with fields missing, null, unparseable or out of their field's range.
ITEMS: list[dict[str, Any]] = [
    {
        "frame": bytes(range(20)).hex(),
        "received_at": "2026-02-09T23:59:58.500Z",
        "link": "ble",
        "rssi": -61,
        "location": HERE,
    },
    {"frame": bytes(range(20, 40)).hex()},  # nothing but the frame
    {"frame": "ff" * 20, "received_at": None, "link": None, "rssi": None, "location": None},
    {
        "frame": bytes(20).hex(),
        "received_at": "yesterday",  # does not parse: age unknown
        "link": "serial",
        "rssi": 20,
        "location": {"lat": -33.8688, "lon": 151.2093},  # no accuracy, source or fix age
    },
    {
        "frame": "a5" * 20,
        "received_at": "2026-02-10T00:00:05.000Z",  # after base_ms: clamped to 0
        "rssi": 200,  # clamped to 127
        "location": {
            "lat": 0.0,
            "lon": -0.0,
            "accuracy_m": 0.1,  # not exact in a float32: rounded as struct rounds it
            "source": "gateway_site",
            "fix_age_s": 0,
        },
    },
    {
        "frame": "5a" * 20,
        "received_at": "2025-11-01T10:00:00.123+02:00",  # over 49 days: clamped below unknown
        "link": "ble",
        "rssi": -300,  # clamped to -127
    },
    {
        "frame": "0f" * 20,
        "received_at": "2026-02-09T12:00:00Z",
        "rssi": -61.7,  # as int(): toward zero
        "location": {"lat": 89.9, "lon": 179.9, "accuracy_m": 5000, "fix_age_s": 3.7},
    },
]


def age_ms(received_at: object, base_ms: int) -> int | None:
    """base_ms - when heard, as the page takes it from `received_at` (None: unknown)."""
    if not isinstance(received_at, str):
        return None
    try:
        heard = dt.datetime.fromisoformat(received_at)
    except ValueError:
        return None
    return base_ms - (heard - EPOCH) // dt.timedelta(milliseconds=1)


def as_python(items: list[dict[str, Any]], base_ms: int) -> list[tuple[Any, ...]]:
    return [
        (
            bytes.fromhex(i["frame"]),
            age_ms(i.get("received_at"), base_ms),
            i.get("link"),
            i.get("rssi"),
            i.get("location"),
        )
        for i in items
    ]


def page_for(browser: Browser, live_server: LiveServer) -> Page:
    page = new_context(browser).new_page()
    page.goto(live_server.url + "/phone/")
    return page


def test_the_page_packs_outbox_items_as_protocol_relay_batch_does(
    browser: Browser, live_server: LiveServer
) -> None:
    page = page_for(browser, live_server)
    packed = page.evaluate(
        """async ([items, base]) => {
            const rb = await import('/phone/js/relay_batch.mjs');
            const f = await import('/phone/js/frames.mjs');
            const out = [];
            for (let n = 0; n <= items.length; n++) {
                out.push(f.toHex(rb.encodeRequest(items.slice(0, n), base)));
            }
            return out;
        }""",
        [ITEMS, BASE_MS],
    )
    for n, got in enumerate(packed):
        # Every prefix, so a location's index and the located count are checked at each size.
        want = rb.encode_request(as_python(ITEMS[:n], BASE_MS), BASE_MS)
        assert bytes.fromhex(got) == want, f"the first {n} items"
    body = bytes.fromhex(packed[-1])
    assert len(body) == rb.request_len(len(ITEMS), 4)
    base, records, locations = rb.decode_request(body, len(ITEMS))
    assert base == BASE_MS
    assert [r[1] for r in records] == [
        1500,
        rb.AGE_UNKNOWN,
        rb.AGE_UNKNOWN,
        rb.AGE_UNKNOWN,
        0,
        rb.AGE_UNKNOWN - 1,
        12 * 3_600_000,
    ]
    assert [r[3] for r in records] == [-61, rb.RSSI_NONE, rb.RSSI_NONE, 20, 127, -127, -61]
    assert rb.location_dict(locations[0]) == HERE
    assert rb.location_dict(locations[3]) == {"lat": -33.8688, "lon": 151.2093}
    second = rb.request_len(len(ITEMS), 1)  # the location of item 3, packed after item 0's
    assert body[second + 18 : second + 22] == struct.pack(">f", float("nan"))  # CPython's NaN
    assert locations[6][4] == 3
    page.context.close()


def test_the_page_refuses_what_protocol_relay_batch_cannot_pack(
    browser: Browser, live_server: LiveServer
) -> None:
    good = {"frame": "00" * 20}
    bad: list[dict[str, Any]] = [
        {"frame": "00" * 19},
        {"frame": "00" * 20, "link": "wifi"},
        {"frame": "00" * 20, "location": {"lat": 1.0, "lon": 2.0, "source": "guess"}},
        {"frame": "00" * 20, "location": {"lon": 2.0}},
        {"frame": "00" * 20, "location": {"lat": 1.0, "lon": 2.0, "fix_age_s": 2**31}},
        {"frame": "00" * 20, "location": {"lat": 1.0, "lon": 2.0, "accuracy_m": 1e39}},
    ]
    page = page_for(browser, live_server)
    refused = page.evaluate(
        """async ([good, bad]) => {
            const rb = await import('/phone/js/relay_batch.mjs');
            return bad.map((b) => {
                try { rb.encodeRequest([good, b, good], 0); return null; }
                catch (e) { return [e.constructor.name, e.reason, e.index, e.message]; }
            });
        }""",
        [good, bad],
    )
    for b, got in zip(bad, refused, strict=True):
        assert got is not None and got[:3] == ["BatchError", "bad_batch", 1], (b, got)
        assert got[3].startswith("item 1: ")
        items = as_python([good, b, good], 0)
        if b["frame"] != "00" * 20:
            with pytest.raises(rb.BadBatch):
                rb.encode_request(items, 0)
        else:
            with pytest.raises((ValueError, KeyError, struct.error, OverflowError)):
                rb.encode_request(items, 0)
    page.context.close()


def test_the_page_reads_a_reply_as_protocol_relay_batch_does(
    browser: Browser, live_server: LiveServer
) -> None:
    results: list[tuple[str, str | None, bytes | None]] = [
        ("accepted", None, bytes(range(1, 21))),
        ("duplicate", None, bytes([7]) * 20),
        ("rejected", "bad_tag", None),
        ("rejected", "no_such_reason", None),  # goes as REASON_OTHER
        ("rejected", "out_of_scope", None),
        ("accepted", None, None),  # answered, no ack
        ("rejected", "key_unavailable", None),  # the table's last
    ]
    reply = rb.encode_reply(results)
    # A reason code past the table that is not REASON_OTHER (a newer monitor's): "other" too.
    newer = bytearray(rb.encode_reply([("rejected", None, None)]))
    newer[rb.REPLY_HEADER_LEN + 1] = len(rb.REASONS)
    wrong = {
        "short": reply[:-1],
        "long": reply + b"\0",
        "magic": b"VGR0" + reply[4:],
        "count": reply[:4] + struct.pack(">H", len(results) + 1) + reply[6:],
        "status": reply[:6] + b"\x03" + reply[7:],
    }
    page = page_for(browser, live_server)
    got = page.evaluate(
        """async ([reply, newer, wrong, count]) => {
            const rb = await import('/phone/js/relay_batch.mjs');
            const f = await import('/phone/js/frames.mjs');
            const refused = {};
            for (const [k, hex] of Object.entries(wrong)) {
                try { rb.decodeReply(f.fromHex(hex), count); refused[k] = null; }
                catch (e) { refused[k] = e.reason; }
            }
            return {
                results: rb.decodeReply(f.fromHex(reply).buffer, count),
                newer: rb.decodeReply(f.fromHex(newer), 1),
                empty: rb.decodeReply(f.fromHex("56475231" + "0000"), 0),
                refused,
            };
        }""",
        [reply.hex(), newer.hex(), {k: v.hex() for k, v in wrong.items()}, len(results)],
    )

    def as_page(decoded: list[tuple[str, str | None, bytes | None]]) -> list[dict[str, Any]]:
        return [{"status": s, "reason": r, "ack": a.hex() if a else None} for s, r, a in decoded]

    assert got["results"] == as_page(rb.decode_reply(reply, len(results)))
    assert [r["reason"] for r in got["results"]][2:5] == ["bad_tag", "other", "out_of_scope"]
    assert [r["ack"] for r in got["results"]][5:] == [None, None]
    assert got["newer"] == as_page(rb.decode_reply(bytes(newer), 1))
    assert got["newer"] == [{"status": "rejected", "reason": "other", "ack": None}]
    assert got["empty"] == []
    assert got["refused"] == {k: "bad_batch" for k in wrong}
    for body in wrong.values():
        with pytest.raises(rb.BadBatch):
            rb.decode_reply(body, len(results))
    page.context.close()
