"""Forwarding alarms to an alarm receiving centre with SIA DC-09 (issue 15, item 4).

The receiver is pysiaalarm's server in a separate process on loopback (devstack/sia_receiver.py):
an independent implementation checks CRC, length, sequence, timestamp window, decryption and
the SIA code. Two behaviours pysiaalarm cannot be made to show, DUH for a code it knows and a
receiver that takes the bytes and never answers, use a small scripted TCP receiver in this file
(`Scripted`), and the tests that use it say so.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from devstack.sia_receiver import ReceiverProcess
from host_tests.support.monitor import DEVICE_ID, Env, sos
from monitor.arc import dc09
from monitor.arc.transport import Link, ReceiverConfig
from monitor.core.db import Database
from monitor.errors import ArcUnreachable, DC09Error
from monitor.models import Alarm, ArcForward, ArcReceiver, AuditEntry, Device, utcnow
from monitor.seed import Seeded
from monitor.services import alarm_kinds, alarms, arc_forwarding

ACCOUNT = "1234AB"
KEY_128 = "0123456789ABCDEF"  # pysiaalarm takes the key's characters as the key bytes
KEY_256 = "0123456789ABCDEF0123456789ABCDEF"
LOCATION = {"lat": 51.499, "lon": -0.1247, "accuracy_m": 8.0, "source": "phone_gps"}


@pytest.fixture
def db(tmp_path: Path, sqlite_template: tuple[Path, Seeded]) -> Iterator[Database]:
    shutil.copy(sqlite_template[0], tmp_path / "vigil.db")
    database = Database(f"sqlite:///{tmp_path}/vigil.db")
    yield database
    arc_forwarding.close_links()
    database.engine.dispose()


def add_receiver(
    db: Database,
    port: int,
    key: str | None = None,
    protocol: str = "tcp",
    null_interval_s: int = 0,
) -> int:
    with db.session() as s:
        r = ArcReceiver(
            name="Test ARC",
            host="127.0.0.1",
            port=port,
            protocol=protocol,
            account=ACCOUNT,
            receiver_number="12",
            line_number="3",
            aes_key_hex=key.encode().hex() if key else None,
            null_interval_s=null_interval_s,
            enabled=True,
            next_sequence=1,
        )
        s.add(r)
        s.flush()
        return r.id


def raise_alarm(db: Database, kind: str = alarm_kinds.SOS, **kw: object) -> int:
    now = utcnow()
    with db.session() as s:
        device = s.get(Device, DEVICE_ID)
        a = alarms.raise_alarm(
            s,
            kind=kind,
            device=device,
            raised_at=now,
            received_at=now,
            actor="test",
            location=LOCATION,
            **kw,  # type: ignore[arg-type]
        )
        return a.id


def forwards(db: Database) -> list[ArcForward]:
    with db.session() as s:
        return list(s.scalars(select(ArcForward).order_by(ArcForward.id)))


def later(seconds: float = 120) -> dt.datetime:
    return utcnow() + dt.timedelta(seconds=seconds)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    ("key", "protocol"),
    [(None, "tcp"), (KEY_128, "tcp"), (KEY_256, "tcp"), (KEY_128, "udp")],
    ids=["plain", "aes128", "aes256", "aes128-udp"],
)
def test_every_alarm_kind_arrives_once_with_account_code_and_content(
    db: Database, key: str | None, protocol: str
) -> None:
    kinds = [
        alarm_kinds.SOS,
        alarm_kinds.FALL,
        alarm_kinds.NO_MOTION,
        alarm_kinds.CHECKIN_OVERDUE,
        alarm_kinds.DEVICE_OFFLINE,
        alarm_kinds.LOW_BATTERY,
    ]
    with ReceiverProcess(ACCOUNT, key, udp=protocol == "udp") as arc:
        add_receiver(db, arc.port, key, protocol)
        ids = [raise_alarm(db, k, visit={"where": "12 Elm [Road]", "with": None}) for k in kinds]
        assert arc_forwarding.forward_due(db) == len(kinds)
        got = arc.wait_for(len(kinds))
        time.sleep(0.3)  # anything doubled would have arrived by now
        got = arc.alarms()
    assert len(got) == len(kinds)
    expected = {"sos": "PA", "fall": "MA", "no_motion": "QA", "checkin_overdue": "NA"}
    expected |= {"device_offline": "YC", "low_battery": "XT"}
    for kind, alarm_id, event in zip(kinds, ids, got, strict=True):
        assert event["account"] == ACCOUNT
        assert (event["receiver"], event["line"]) == ("R12", "L3")
        assert event["encrypted"] is (key is not None)
        assert event["code"] == expected[kind]
        assert event["zone"] == str(DEVICE_ID) and event["area"] == "1"
        x = event["xdata"]
        assert (float(x["X"]), float(x["Y"])) == (LOCATION["lon"], LOCATION["lat"])
        assert x["L"] == "12 Elm ?Road?"  # the block's brackets never reach the wire
        assert x["I"].startswith(f"Vigil {kind} alarm {alarm_id}; worker W")
        assert "Sam Rivera" in x["I"]
    assert [e["sequence"] for e in got] == [f"{n:04d}" for n in range(1, len(kinds) + 1)]
    assert all(f.state == "acked" and f.attempts == 1 for f in forwards(db))
    with db.session() as s:
        arc_state = alarms.payload(s, s.get(Alarm, ids[0]))["arc"]  # type: ignore[arg-type]
    assert arc_state["state"] == "acked" and arc_state["acked_at"] is not None


def test_a_receiver_that_is_down_gets_the_alarm_later_not_never(db: Database) -> None:
    port = free_port()
    add_receiver(db, port, KEY_128)
    alarm_id = raise_alarm(db)
    assert arc_forwarding.forward_due(db) == 0
    [f] = forwards(db)
    assert f.state == "failing" and f.failing_since is not None
    assert "cannot connect" in (f.last_error or "")
    with db.session() as s:
        shown = alarms.payload(s, s.get(Alarm, alarm_id))["arc"]  # type: ignore[arg-type]
        assert shown["state"] == "failing" and shown["failing_since"]
        assert arc_forwarding.health(s)[0]["failing_since"] is not None
    with ReceiverProcess(ACCOUNT, KEY_128, port=port) as arc:
        assert arc_forwarding.forward_due(db, now=later()) == 1
        [event] = arc.wait_for(1)
    assert event["code"] == "PA" and event["sequence"] == f"{f.sequence:04d}"
    [f] = forwards(db)
    assert f.state == "acked" and f.attempts == 2
    with db.session() as s:
        actions = s.scalars(select(AuditEntry.action).where(AuditEntry.alarm_id == alarm_id))
        assert {"arc_failing", "arc_acknowledged"} <= set(actions)
        assert arc_forwarding.health(s)[0]["failing_since"] is None


def test_a_nak_for_the_timestamp_resyncs_the_clock_and_resends(db: Database) -> None:
    """pysiaalarm NAKs a timestamp outside its window (40 s behind, 20 s ahead): a transmitter
    whose clock is ten minutes slow learns the offset from the NAK and is then accepted."""
    slow = dt.timedelta(minutes=10)
    with ReceiverProcess(ACCOUNT, KEY_128) as arc:
        config = ReceiverConfig(
            "127.0.0.1", arc.port, "tcp", dc09.Prefix(ACCOUNT, "12", "3"), KEY_128.encode()
        )
        link = Link(config, clock=lambda: dt.datetime.now(dt.UTC) - slow)
        ack = link.send(41, dc09.Event("PA", zone=7, user=1))
        link.send(42, dc09.Event("PA", zone=7, user=1))  # no NAK the second time
        link.close()
        got = arc.wait_for(2)
    assert ack.id == "ACK" and ack.seq == 41
    assert abs(link.offset - slow) < dt.timedelta(seconds=5)
    assert [e["sequence"] for e in got] == ["0041", "0042"]


class Scripted:
    """A scripted DC-09 receiver: answers each message with the next of `answers` (ACK, NAK,
    DUH, or SILENT to take the bytes and never answer). Only for what pysiaalarm cannot be made
    to do; it reads with the monitor's own decoder, so it proves nothing about the format."""

    def __init__(self, answers: list[str], key: bytes | None = None) -> None:
        self.answers, self.key = answers, key
        self.seen: list[dc09.Message] = []
        self.got = threading.Event()
        self._srv = socket.create_server(("127.0.0.1", 0))
        self.port = self._srv.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._srv.accept()
            except OSError:
                return
            threading.Thread(target=self._conn, args=(conn,), daemon=True).start()

    def _conn(self, conn: socket.socket) -> None:
        buf = b""
        with conn:
            while True:
                chunk = conn.recv(1024)
                if not chunk:
                    return
                buf += chunk
                while b"\r" in buf:
                    frame, buf = buf.split(b"\r", 1)
                    msg = dc09.decode(frame, self.key)
                    self.seen.append(msg)
                    self.got.set()
                    answer = self.answers.pop(0) if self.answers else "ACK"
                    if answer == "SILENT":
                        time.sleep(3600)
                    prefix = dc09.Prefix(msg.account or ACCOUNT, "12", "3")
                    conn.sendall(dc09.response(answer, prefix, msg.seq, utcnow(), self.key))

    def close(self) -> None:
        self._srv.close()


def test_a_duh_is_recorded_as_failing_and_the_alarm_is_sent_again_later(db: Database) -> None:
    """Scripted receiver (pysiaalarm only says DUH for codes it does not know)."""
    arc = Scripted(["DUH"])
    add_receiver(db, arc.port)
    raise_alarm(db)
    assert arc_forwarding.forward_due(db) == 0
    [f] = forwards(db)
    assert f.state == "failing" and "DUH" in (f.last_error or "")
    assert arc_forwarding.forward_due(db, now=later()) == 1
    arc.close()
    assert [m.seq for m in arc.seen] == [f.sequence, f.sequence]
    assert forwards(db)[0].state == "acked"


def test_two_naks_in_a_row_fail_the_attempt_and_a_later_one_succeeds(db: Database) -> None:
    """Scripted receiver: pysiaalarm accepts the resynced timestamp, so it never NAKs twice."""
    arc = Scripted(["NAK", "NAK"])
    add_receiver(db, arc.port)
    raise_alarm(db)
    assert arc_forwarding.forward_due(db) == 0
    assert "NAK again" in (forwards(db)[0].last_error or "")
    assert arc_forwarding.forward_due(db, now=later()) == 1
    arc.close()
    assert len({m.seq for m in arc.seen}) == 1 and len(arc.seen) == 3


_CHILD = """
import sys
from monitor.core.db import Database
from monitor.services import arc_forwarding
arc_forwarding.forward_due(Database(sys.argv[1]))
"""


def test_kill_9_mid_send_resends_with_the_same_sequence_number(db: Database) -> None:
    """The first ARC (scripted: takes the bytes, never answers) holds the send open while the
    forwarding process is killed; after the restart the alarm reaches pysiaalarm once, with
    the sequence number of the lost attempt."""
    stuck = Scripted(["SILENT"])
    rid = add_receiver(db, stuck.port, KEY_128)
    stuck.key = KEY_128.encode()
    raise_alarm(db)
    url = str(db.engine.url)
    child = subprocess.Popen([sys.executable, "-c", _CHILD, url])
    try:
        assert stuck.got.wait(30), "the child never sent"
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
    stuck.close()
    [f] = forwards(db)
    assert f.state == "sent" and f.acked_at is None
    # Not resent while it may still be in flight; resent once it has gone stale.
    assert arc_forwarding.forward_due(db) == 0
    with ReceiverProcess(ACCOUNT, KEY_128) as arc:
        with db.session() as s:
            s.get(ArcReceiver, rid).port = arc.port  # type: ignore[union-attr]
        stale = utcnow() + arc_forwarding.STALE_SENT + dt.timedelta(seconds=1)
        assert arc_forwarding.forward_due(db, now=stale) == 1
        got = arc.wait_for(1)
        time.sleep(0.3)
        got = arc.alarms()
    assert [e["sequence"] for e in got] == [f"{stuck.seen[0].seq:04d}"]
    [f] = forwards(db)
    assert f.state == "acked" and f.attempts == 2


def test_null_supervision_reaches_the_receiver_at_its_interval(db: Database) -> None:
    with ReceiverProcess(ACCOUNT, KEY_128) as arc:
        add_receiver(db, arc.port, KEY_128, null_interval_s=30)
        assert arc_forwarding.supervise(db) == 1
        assert arc_forwarding.supervise(db) == 0  # acknowledged just now: not due
        assert arc_forwarding.supervise(db, now=later(31)) == 1
        deadline = time.monotonic() + 5
        while len(arc.events) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        nulls = [e for e in arc.events if e["type"] == "NULL"]
    assert len(nulls) == 2 and nulls[0]["account"] == ACCOUNT
    with db.session() as s:
        assert arc_forwarding.health(s)[0]["last_ack_at"] is not None


def test_the_alarm_api_shows_the_forward_as_the_commit_wakes_the_forwarder(
    sqlite_env: Env,
) -> None:
    db: Database = sqlite_env.app.state.db
    with ReceiverProcess(ACCOUNT) as arc:
        add_receiver(db, arc.port)
        arc_forwarding.WAKE.clear()
        sqlite_env.post_frames(sos(40, location={"lat": 51.5, "lon": -0.12}))
        assert arc_forwarding.WAKE.is_set()  # the commit asked for an immediate send
        h = sqlite_env.token()
        [alarm] = sqlite_env.client.get("/v1/alarms", headers=h).json()
        assert alarm["arc"]["state"] == "pending"
        arc_forwarding.forward_due(db)
        [event] = arc.wait_for(1)
        detail = sqlite_env.client.get(f"/v1/alarms/{alarm['id']}", headers=h).json()
        [link] = sqlite_env.client.get("/v1/reports/arc", headers=h).json()
        sqlite_env.login()
        page = sqlite_env.client.get(f"/alarms/{alarm['id']}").text
    assert link["last_ack_at"] and link["unacknowledged"] == 0 and link["failing_since"] is None
    assert event["code"] == "PA"
    assert detail["arc"]["state"] == "acked" and detail["arc"]["attempts"] == 1
    assert "acknowledged by the ARC" in page  # the operator sees it on the alarm's page
    arc_forwarding.close_links()


def test_no_receiver_means_no_forward_and_arc_null(sqlite_env: Env) -> None:
    sqlite_env.post_frames(sos(41))
    [alarm] = sqlite_env.client.get("/v1/alarms", headers=sqlite_env.token()).json()
    assert alarm["arc"] is None


def test_a_bad_receiver_setting_is_recorded_on_the_forward_not_a_crash(db: Database) -> None:
    rid = add_receiver(db, 1)
    with db.session() as s:
        s.get(ArcReceiver, rid).account = "not-hex"  # type: ignore[union-attr]
    raise_alarm(db)
    assert arc_forwarding.forward_due(db) == 0
    [f] = forwards(db)
    assert f.state == "failing" and "hex digits" in (f.last_error or "")


def test_add_receiver_refuses_settings_the_transport_would_refuse(db: Database) -> None:
    with db.session() as s:
        kw = {"name": "x", "host": "127.0.0.1", "port": 9000, "account": ACCOUNT}
        with pytest.raises(DC09Error, match="16, 24 or 32"):
            arc_forwarding.add_receiver(s, "test", **kw, aes_key_hex="00" * 15)  # type: ignore[arg-type]
        with pytest.raises(DC09Error, match="tcp or udp"):
            arc_forwarding.add_receiver(s, "test", **kw, protocol="sctp")  # type: ignore[arg-type]
        r = arc_forwarding.add_receiver(s, "test", **kw, aes_key_hex="ab" * 32)  # type: ignore[arg-type]
        assert config_key_len(r) == 32


def config_key_len(r: ArcReceiver) -> int:
    key = arc_forwarding.config_of(r).key
    return len(key or b"")


def _valid() -> bytes:
    return dc09.encode(dc09.Prefix(ACCOUNT), 7, dc09.Event("PA", 1), utcnow())


@pytest.mark.parametrize(
    ("frame", "says"),
    [
        (b"", "not a DC-09 message"),
        (b"hello world\r", "not a DC-09 message"),
        (b"\n\xff\xfe\r", "ASCII"),
        (_valid().replace(b"PA1", b"PA2"), "CRC mismatch"),
        (
            b"\n" + b"%04X0099" % dc09.crc16(b'"ACK"0001R0L0#1234[]') + b'"ACK"0001R0L0#1234[]\r',
            "length mismatch",
        ),
        (dc09.encode(dc09.Prefix(ACCOUNT), 1, None, utcnow(), KEY_128.encode()), "no key"),
    ],
    ids=["empty", "garbage", "not-ascii", "crc", "length", "encrypted-without-key"],
)
def test_malformed_input_to_the_decoder_gets_a_clear_error(frame: bytes, says: str) -> None:
    with pytest.raises(DC09Error, match=says):
        dc09.decode(frame)


def test_codec_edges() -> None:
    assert dc09.crc16(b"123456789") == 0xBB3D  # the CRC-16/ARC check value
    assert dc09.next_sequence(9999) == 1 and dc09.next_sequence(1) == 2
    with pytest.raises(DC09Error, match="16, 24 or 32"):
        dc09.encode(dc09.Prefix(ACCOUNT), 1, None, utcnow(), b"short")
    with pytest.raises(DC09Error, match="not hex"):
        body = '"*ACK"0001R0L0#1234[ZZ'
        dc09.decode(b"%04X%04X" % (dc09.crc16(body.encode()), len(body)) + body.encode(), b"k" * 16)
    with pytest.raises(DC09Error, match="two capital letters"):
        dc09.Event("pa").render()
    with pytest.raises(DC09Error, match="hex digits"):
        dc09.Prefix("12")


def test_silent_receiver_times_out_as_a_failure() -> None:
    """Scripted receiver: takes the message and never answers."""
    arc = Scripted(["SILENT"])
    link = Link(ReceiverConfig("127.0.0.1", arc.port, "tcp", dc09.Prefix(ACCOUNT)), timeout_s=0.5)
    with pytest.raises(ArcUnreachable, match="no answer"):
        link.send(1, None)
    link.close()
    arc.close()


def test_the_running_monitor_forwards_on_commit_not_at_the_next_tick(
    tmp_path: Path, sqlite_template: tuple[Path, Seeded]
) -> None:
    """A real uvicorn with its scheduler on and a 30 s tick: the alarm reaches pysiaalarm in
    well under a tick, so the commit woke the forwarder."""
    from devstack.localstack import uvicorn_in_thread
    from host_tests.support.monitor import GATEWAY_TOKEN, make_settings
    from monitor.api.main import create_app

    shutil.copy(sqlite_template[0], tmp_path / "vigil.db")
    settings = make_settings(
        f"sqlite:///{tmp_path}/vigil.db", run_scheduler=True, scheduler_tick_s=30.0
    )
    app = create_app(settings)
    with ReceiverProcess(ACCOUNT, KEY_128) as arc:
        add_receiver(app.state.db, arc.port, KEY_128)
        with uvicorn_in_thread(app, grace_s=2) as url:
            time.sleep(0.5)  # the first tick (supervision) runs at start-up
            started = time.monotonic()
            r = httpx.post(
                f"{url}/v1/frames",
                json={"frames": [sos(50)]},
                headers={"Authorization": f"Bearer {GATEWAY_TOKEN}"},
            )
            assert r.status_code == 200, r.text
            [event] = arc.wait_for(1, timeout=10)
            took = time.monotonic() - started
    app.state.db.engine.dispose()
    arc_forwarding.close_links()
    assert event["code"] == "PA" and event["encrypted"]
    assert took < 5, f"{took:.1f} s: forwarded by the tick, not by the commit"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_the_decoder_raises_only_its_own_clear_error_on_any_bytes(raw: bytes) -> None:
    for key in (None, KEY_128.encode()):
        try:
            dc09.decode(raw, key)
        except DC09Error as e:
            assert e.message


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from([None, KEY_128.encode(), KEY_256.encode()]),
    st.integers(0, 9999),
    st.text(max_size=80),
)
def test_whatever_the_text_a_message_decodes_to_its_sequence(
    key: bytes | None, seq: int, text: str
) -> None:
    ev = dc09.Event("PA", 7, 3, xdata=(("I", text), ("L", text)))
    msg = dc09.decode(dc09.encode(dc09.Prefix(ACCOUNT), seq, ev, utcnow(), key), key)
    assert msg.seq == seq and msg.encrypted is (key is not None)
    assert msg.content.count("[") == 2 and "|Nid3/ri1/PA7]" in msg.content


@pytest.mark.slow
def test_kill_9_of_the_whole_monitor_mid_send_neither_loses_nor_doubles_the_alarm(
    tmp_path: Path,
) -> None:
    """The real monitor process (`python -m monitor.demo`, scheduler on) is killed -9 while its
    forwarder waits for the ARC's answer (scripted receiver: takes the bytes, never answers).
    Restarted, it sends the alarm again once the attempt is stale, with the same sequence
    number, and pysiaalarm gets it exactly once. About STALE_SENT (20 s) long."""
    from devstack.localstack import Demo, free_port, start_monitor
    from protocol import frame_types, frames

    demo = Demo.load()
    key = KEY_128.encode()
    stuck = Scripted(["SILENT"], key)
    port = free_port()
    monitor = start_monitor(tmp_path, port)
    url = f"sqlite:///{tmp_path / 'monitor.sqlite3'}"
    db = Database(url)
    try:
        rid = add_receiver(db, stuck.port, KEY_128)
        frame = frames.encode(frame_types.SOS, demo.device_id, 77, (80, 0, 0), demo.device_key)
        item = {"frame": frame.hex(), "received_at": utcnow().isoformat(), "link": "serial"}
        r = httpx.post(
            f"http://127.0.0.1:{port}/v1/frames",
            json={"frames": [item]},
            headers={"Authorization": f"Bearer {demo.gateway_token}"},
        )
        assert r.status_code == 200, r.text
        assert stuck.got.wait(10), "the monitor never sent to the ARC"
        monitor.kill9()
        stuck.close()
        [f] = forwards(db)
        assert f.state == "sent" and f.acked_at is None
        with ReceiverProcess(ACCOUNT, KEY_128) as arc:
            with db.session() as s:
                s.get(ArcReceiver, rid).port = arc.port  # type: ignore[union-attr]
            monitor = start_monitor(tmp_path, port)
            wait = arc_forwarding.STALE_SENT.total_seconds() + 15
            got = arc.wait_for(1, timeout=wait)
            time.sleep(1.0)  # a second copy would be here by now
            got = arc.alarms()
        assert [e["sequence"] for e in got] == [f"{stuck.seen[0].seq:04d}"]
        assert got[0]["code"] == "PA"
        deadline = time.monotonic() + 5
        while forwards(db)[0].state != "acked" and time.monotonic() < deadline:
            time.sleep(0.1)
        [f] = forwards(db)
        assert f.state == "acked" and f.attempts == 2
    finally:
        monitor.stop()
        db.engine.dispose()


def test_forwarding_on_either_engine_takes_distinct_sequences_and_delivers(db_url: str) -> None:
    """SQLite and PostgreSQL (the receivers' rows are locked while a sequence is taken)."""
    database = Database(db_url)
    try:
        with ReceiverProcess(ACCOUNT) as arc:
            add_receiver(database, arc.port)
            threads = [threading.Thread(target=raise_alarm, args=(database,)) for _ in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert arc_forwarding.forward_due(database) == 8
            got = arc.wait_for(8)
        assert sorted(e["sequence"] for e in got) == [f"{n:04d}" for n in range(1, 9)]
    finally:
        arc_forwarding.close_links()
        database.engine.dispose()


def test_a_failing_forward_tells_the_operator_to_call_the_arc(sqlite_env: Env) -> None:
    db: Database = sqlite_env.app.state.db
    add_receiver(db, free_port())  # nothing listens there
    sqlite_env.post_frames(sos(42))
    arc_forwarding.forward_due(db)
    h = sqlite_env.token()
    [alarm] = sqlite_env.client.get("/v1/alarms", headers=h).json()
    assert alarm["arc"]["state"] == "failing"
    sqlite_env.login()
    page = sqlite_env.client.get(f"/alarms/{alarm['id']}").text
    assert "not accepted by the ARC since" in page and "call the ARC" in page
    arc_forwarding.close_links()


def test_the_console_reports_page_shows_each_arc_links_health(sqlite_env: Env) -> None:
    db: Database = sqlite_env.app.state.db
    add_receiver(db, free_port())  # nothing listens: the link fails
    sqlite_env.post_frames(sos(43))
    arc_forwarding.forward_due(db)
    sqlite_env.login()
    page = sqlite_env.client.get("/reports").text
    assert "Alarm receiving centres" in page and "failing since" in page
    assert "1 alarm" in page  # waiting for the ARC's acknowledgement
    arc_forwarding.close_links()
