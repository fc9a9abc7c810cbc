"""The page's signer (phone/js/frames.mjs, WebCrypto HMAC-SHA256) produces the protocol's fixed
vectors byte for byte, and reads headers as protocol.frames.peek does. Runs in Chromium on the
page the monitor serves; nothing is emulated."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from host_tests.support.monitor import LiveServer
from host_tests.support.phone import new_context

pytestmark = pytest.mark.browser

VECTORS = json.loads((Path(__file__).parents[1] / "protocol" / "vectors.json").read_text())
SIGNED = [v for v in VECTORS if v["ftype"] < 0x18]


def test_page_signer_reproduces_every_signed_protocol_vector(
    browser: Browser, live_server: LiveServer
) -> None:
    assert len(SIGNED) >= 15
    ctx = new_context(browser)
    page = ctx.new_page()
    page.goto(live_server.url + "/phone/")
    got = page.evaluate(
        """async (vectors) => {
            const f = await import('/phone/js/frames.mjs');
            const out = [];
            for (const v of vectors) {
                // As the page signs: with a non-extractable CryptoKey.
                const key = await f.hmacKey(f.fromHex(v.key), false);
                const frame = await f.encode(v.ftype, v.device_id, v.counter, v.fields, key);
                const h = f.peek(frame);
                out.push({frame: f.toHex(frame), ftype: h.ftype,
                          device_id: h.deviceId, counter: h.counter});
            }
            return out;
        }""",
        SIGNED,
    )
    for v, g in zip(SIGNED, got, strict=True):
        assert g == {
            "frame": v["frame"],
            "ftype": v["ftype"],
            "device_id": v["device_id"],
            "counter": v["counter"],
        }, v["type"]
    ctx.close()


def test_page_verifies_downlinks_and_refuses_a_flipped_bit(
    browser: Browser, live_server: LiveServer
) -> None:
    down = [v for v in SIGNED if v["ftype"] >= 0x10]
    ctx = new_context(browser)
    page = ctx.new_page()
    page.goto(live_server.url + "/phone/")
    reasons = page.evaluate(
        """async (vectors) => {
            const f = await import('/phone/js/frames.mjs');
            const out = [];
            for (const v of vectors) {
                const key = await f.hmacKey(f.fromHex(v.key));
                const good = f.fromHex(v.frame);
                await f.verify(good, key, f.DOWNLINK);
                const bad = good.slice(); bad[19] ^= 1;
                try { await f.verify(bad, key, f.DOWNLINK); out.push('accepted'); }
                catch (e) { out.push(e.reason); }
            }
            return out;
        }""",
        down,
    )
    assert reasons == ["bad_tag"] * len(down)
    ctx.close()
