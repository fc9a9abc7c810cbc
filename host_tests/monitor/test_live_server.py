"""Against a real uvicorn: the SSE stream and the downlink long poll."""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import threading
import time
from pathlib import Path

import httpx

from host_tests.support.console import monitor_with
from host_tests.support.monitor import (
    ADMIN_PASSWORD,
    DEVICE_KEY,
    OPERATOR_PASSWORD,
    LiveServer,
    gateway_client,
    sos,
)
from monitor.seed import Seeded
from protocol import frame_types as ft
from protocol import frames


def _operator(url: str) -> httpx.Client:
    c = httpx.Client(base_url=url, timeout=30)
    r = c.post("/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    return c


def test_sse_stream_pushes_new_alarms_and_status_changes(live_server: LiveServer) -> None:
    op = _operator(live_server.url)
    events: list[dict[str, object]] = []
    connected = threading.Event()

    def listen() -> None:
        with op.stream("GET", "/v1/alarms/stream") as r:
            name = None
            for line in r.iter_lines():
                if line.startswith("event:"):
                    name = line.split(":", 1)[1].strip()
                    if name == "hello":
                        connected.set()
                elif line.startswith("data:") and name == "alarm":
                    events.append(json.loads(line.split(":", 1)[1]))
                    if len(events) == 2:
                        return

    t = threading.Thread(target=listen, daemon=True)
    t.start()
    assert connected.wait(10)
    with gateway_client(live_server.url) as gw:
        sent = time.monotonic()
        gw.post("/v1/frames", json={"frames": [sos(1)]}).raise_for_status()
    deadline = time.monotonic() + 10
    while not events and time.monotonic() < deadline:
        time.sleep(0.01)
    latency = time.monotonic() - sent
    assert events and events[0]["kind"] == "sos" and events[0]["status"] == "open"
    assert latency < 2.0  # BS 8484 allows 30 s end to end; the monitor's share is far less
    op.post(f"/v1/alarms/{events[0]['id']}/acknowledge").raise_for_status()
    t.join(10)
    assert [e["status"] for e in events] == ["open", "acknowledged"]


def test_downlink_long_poll_wakes_when_an_operator_acknowledges(live_server: LiveServer) -> None:
    with gateway_client(live_server.url) as gw:
        gw.post("/v1/frames", json={"frames": [sos(9)]}).raise_for_status()
        got: dict[str, object] = {}

        def poll() -> None:
            started = time.monotonic()
            r = gw.get("/v1/downlink", params={"after": 0, "wait": 20})
            got["body"] = r.json()
            got["waited"] = time.monotonic() - started

        t = threading.Thread(target=poll)
        t.start()
        time.sleep(0.5)
        op = _operator(live_server.url)
        aid = op.get("/v1/alarms").json()[0]["id"]
        op.post(f"/v1/alarms/{aid}/acknowledge").raise_for_status()
        t.join(25)
    body = got["body"]
    assert isinstance(body, dict)
    [item] = body["items"]
    assert body["cursor"] == item["id"]
    f = frames.decode(bytes.fromhex(item["frame"]), DEVICE_KEY, ft.DOWNLINK)
    assert f.ftype == ft.ACK_HELP and f.fields == (9,)
    assert 0.4 < float(got["waited"]) < 5  # type: ignore[arg-type]
    # Empty poll returns at the deadline with the cursor unchanged.
    with gateway_client(live_server.url) as gw:
        r = gw.get("/v1/downlink", params={"after": item["id"], "wait": 0.3}).json()
    assert r == {"items": [], "cursor": item["id"]}


def _revoke_the_gateway(live_server: LiveServer) -> None:
    admin = _operator(live_server.url)  # _operator logs in as admin
    [gw] = [g for g in admin.get("/v1/gateways").json() if g["revoked_at"] is None]
    admin.post(f"/v1/gateways/{gw['id']}/revoke").raise_for_status()


def test_finding_3_revoked_gateway_long_poll_ends_and_returns_nothing(
    live_server: LiveServer,
) -> None:
    # Issue 11, finding 3: the poll checked the token only at connect, so a gateway revoked
    # while its poll waited still got the ACK_HELP queued after the revocation.
    with gateway_client(live_server.url) as gw:
        gw.post("/v1/frames", json={"frames": [sos(9)]}).raise_for_status()
        got: dict[str, object] = {}

        def poll() -> None:
            r = gw.get("/v1/downlink", params={"after": 0, "wait": 20})
            got["status"], got["body"], got["at"] = r.status_code, r.text, time.monotonic()

        t = threading.Thread(target=poll)
        t.start()
        time.sleep(0.5)  # the poll is waiting
        _revoke_the_gateway(live_server)
        op = _operator(live_server.url)
        aid = op.get("/v1/alarms").json()[0]["id"]
        acked = time.monotonic()
        op.post(f"/v1/alarms/{aid}/acknowledge").raise_for_status()  # wakes the poll at once
        t.join(25)
    assert got["status"] == 401
    assert "frame" not in str(got["body"])
    assert float(got["at"]) - acked < 2  # type: ignore[arg-type]


def test_finding_3_revoked_gateway_long_poll_ends_at_the_next_recheck(
    live_server: LiveServer,
) -> None:
    # Nothing new to wake it: the poll still ends within one re-check of the revocation.
    from monitor.api.routes.downlink import RECHECK_S

    with gateway_client(live_server.url) as gw:
        got: dict[str, object] = {}

        def poll() -> None:
            r = gw.get("/v1/downlink", params={"after": 0, "wait": 20})
            got["status"], got["at"] = r.status_code, time.monotonic()

        t = threading.Thread(target=poll)
        t.start()
        time.sleep(0.5)
        _revoke_the_gateway(live_server)
        revoked = time.monotonic()
        t.join(25)
    assert got["status"] == 401
    assert float(got["at"]) - revoked < RECHECK_S + 1  # type: ignore[arg-type]


def test_one_user_holds_at_most_the_capped_number_of_streams(
    tmp_path: Path, sqlite_template: tuple[Path, Seeded]
) -> None:
    """Thousands of unread streams on one login once slowed every request to seconds: past
    VIGIL_MAX_STREAMS_PER_USER the next is a 429 saying why, and closing one frees a place."""
    with monitor_with(tmp_path, sqlite_template, max_streams_per_user=2) as server:
        op = _operator(server.url)
        readers = []  # kept: dropping a line iterator closes its response
        with contextlib.ExitStack() as open_streams:
            for _ in range(2):
                r = open_streams.enter_context(op.stream("GET", "/v1/alarms/stream"))
                assert r.status_code == 200
                readers.append(r.iter_lines())
                assert next(readers[-1]).startswith("event: hello")
            with op.stream("GET", "/v1/alarms/stream", timeout=5) as third:
                first_line = "" if third.status_code == 429 else next(third.iter_lines())
                assert third.status_code == 429, (third.status_code, first_line)
                assert third.headers["retry-after"] == "5"
                body = json.loads(third.read())
            assert "already has 2 alarm streams open" in body["message"]
            # Other requests of the same user still work, and so do other users' streams.
            assert op.get("/v1/alarms").status_code == 200
            other = httpx.Client(base_url=server.url, timeout=30)
            login = {"username": "operator", "password": OPERATOR_PASSWORD}
            other.post("/v1/auth/login", json=login).raise_for_status()
            with other.stream("GET", "/v1/alarms/stream") as r:
                assert r.status_code == 200
        readers.clear()
        # Both closed: the server sees the disconnects and frees their places.
        deadline = time.monotonic() + 10
        while True:
            with op.stream("GET", "/v1/alarms/stream") as r:
                if r.status_code == 200:
                    break
            assert time.monotonic() < deadline, "closed streams were never freed"
            time.sleep(0.2)


def test_one_gateway_holds_at_most_the_capped_number_of_downlink_polls(
    tmp_path: Path, sqlite_template: tuple[Path, Seeded]
) -> None:
    """Past VIGIL_MAX_LONG_POLLS_PER_GATEWAY a gateway's next long poll is a 429 saying why;
    a poll that does not wait is never refused, and an answered poll frees its place."""
    with monitor_with(tmp_path, sqlite_template, max_long_polls_per_gateway=2) as server:
        gw = gateway_client(server.url)
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            held = [pool.submit(gw.get, "/v1/downlink", params={"wait": 2}) for _ in range(2)]
            time.sleep(0.5)  # both are waiting at the monitor
            third = gw.get("/v1/downlink", params={"wait": 2})
            assert third.status_code == 429 and third.headers["retry-after"] == "5"
            assert "already holds 2 downlink polls" in third.json()["message"]
            assert gw.get("/v1/downlink").status_code == 200  # no wait: not a long poll
            assert [f.result().status_code for f in held] == [200, 200]
        assert gw.get("/v1/downlink", params={"wait": 0.2}).status_code == 200
