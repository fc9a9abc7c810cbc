"""The fob path through Web Bluetooth: the real firmware (firmware/fob.py on the simulated board,
hardware/sim/board.py) behind an emulated peripheral in Debian's Chromium, the phone page, the
real monitor (uvicorn, SQLite) and the operator console stream.

What is emulated, and why:
- The radio. Chromium's BluetoothEmulation DevTools domain (browser-level CDP session) plays a
  preconnected peripheral with the Vigil service, the frame characteristic (notify, with its
  CCCD) and the downlink characteristic (write); the chooser is answered through DeviceAccess
  on the page session. Behind it is the firmware's link interface (`.up`, `.send(frame)`,
  `.poll()`), served by `BridgeLink` below in place of firmware/ble_link.py's GATT server, which
  needs a real `bluetooth` module: advertisement, bonding and the GATT server of the firmware
  are not exercised here (host_tests/gateway/test_ble*.py cover them over bumble).
- Notifications. Chromium 156's domain has no command to push one. Each frame the fob sends is
  delivered by the test calling `readValue()` on the page's frame characteristic and serving the
  read with the fob's bytes: Chromium fires `characteristicvaluechanged`, the same event and
  handler a real notification reaches. Everything after that is the page's own code.
- Writes are real: the page's `writeValueWithResponse` bytes arrive in the CDP event and are
  handed to the fob's `on_downlink`, which verifies them with its key.
"""

from __future__ import annotations

import base64
import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, CDPSession, Page, expect, sync_playwright

from firmware import ble_uuids
from firmware.identity import Identity
from hardware.sim.board import SimBoard
from hardware.sim.clock import RealClock
from host_tests.monitor.conftest import DEVICE_ID, DEVICE_KEY, OPERATOR_PASSWORD, LiveServer
from host_tests.phone.conftest import (
    ARGS,
    CHROMIUM,
    OperatorStream,
    create_enrolment,
    new_context,
)
from protocol import frame_types as ft
from protocol import frames

pytestmark = pytest.mark.browser

ADDRESS = "F0:00:00:00:00:07"
CCCD = "00002902-0000-1000-8000-00805f9b34fb"
TICK_S = 0.005


class BridgeLink:
    """The firmware's link interface on the far side of the emulated radio."""

    kind = "ble"

    def __init__(self) -> None:
        self.up = False  # the page has subscribed
        self.to_page: queue.Queue[bytes] = queue.Queue()
        self.from_page: queue.Queue[bytes] = queue.Queue()
        self._fob: Any = None

    def attach(self, fob: Any, admin: Any = None) -> None:
        self._fob = fob

    def send(self, frame: Any) -> bool:
        if not self.up:
            return False
        self.to_page.put(bytes(frame))
        return True

    def poll(self) -> None:
        while self._fob is not None:
            try:
                data = self.from_page.get_nowait()
            except queue.Empty:
                return
            self._fob.on_downlink(data)


class ElapsedClock(RealClock):  # type: ignore[misc]
    def __init__(self) -> None:
        RealClock.__init__(self)
        self._start = time.monotonic()

    @property
    def elapsed(self) -> int:
        return int((time.monotonic() - self._start) * 1000)


class Fob:
    """The real firmware on the simulated board, its main loop on a thread."""

    def __init__(self, flash: Path) -> None:
        self.link = BridgeLink()
        self.patterns: list[str] = []
        self.board = SimBoard(
            str(flash),
            clock=ElapsedClock(),
            links=[self.link],
            on_feedback=lambda name, covert: self.patterns.append(name),
        )
        Identity(self.board.flash).set(DEVICE_ID, DEVICE_KEY)
        self.fob = self.board.boot()
        self.lock = threading.Lock()
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while self.running:
            with self.lock:
                self.fob.poll()
            time.sleep(TICK_S)

    def sos(self) -> None:
        with self.lock:
            now = self.board.clock.elapsed
            self.board.button.press(now, self.fob.config["sos_hold_ms"] + 300)

    def stop(self) -> None:
        self.running = False
        self.thread.join(5)


class Radio:
    """BluetoothEmulation + DeviceAccess, answering every operation (or the page hangs)."""

    def __init__(self, browser_cdp: CDPSession, page_cdp: CDPSession, fob: Fob) -> None:
        self.b, self.p, self.fob = browser_cdp, page_cdp, fob
        self.serve: bytes | None = None
        self.prompts: set[str] = set()
        b = self.b
        b.send("BluetoothEmulation.enable", {"state": "powered-on", "leSupported": True})
        b.send(
            "BluetoothEmulation.simulatePreconnectedPeripheral",
            {
                "address": ADDRESS,
                "name": "Vigil",
                "manufacturerData": [],
                "knownServiceUuids": [ble_uuids.SERVICE],
            },
        )
        svc = b.send(
            "BluetoothEmulation.addService",
            {"address": ADDRESS, "serviceUuid": ble_uuids.SERVICE},
        )["serviceId"]
        self.frames_id = b.send(
            "BluetoothEmulation.addCharacteristic",
            {
                "serviceId": svc,
                "characteristicUuid": ble_uuids.FRAMES,
                "properties": {"notify": True, "read": True},
            },
        )["characteristicId"]
        b.send(
            "BluetoothEmulation.addDescriptor",
            {"characteristicId": self.frames_id, "descriptorUuid": CCCD},
        )
        self.down_id = b.send(
            "BluetoothEmulation.addCharacteristic",
            {
                "serviceId": svc,
                "characteristicUuid": ble_uuids.DOWNLINK,
                "properties": {"write": True},
            },
        )["characteristicId"]
        b.on("BluetoothEmulation.gattOperationReceived", self._gatt)
        b.on("BluetoothEmulation.characteristicOperationReceived", self._char)
        b.on("BluetoothEmulation.descriptorOperationReceived", self._desc)
        self.p.send("DeviceAccess.enable")
        self.p.on("DeviceAccess.deviceRequestPrompted", self._prompt)

    def _prompt(self, e: dict[str, Any]) -> None:
        if e["id"] in self.prompts or not e["devices"]:
            return  # the event may fire more than once; a second select aborts the browser
        self.prompts.add(e["id"])
        self.p.send("DeviceAccess.selectPrompt", {"id": e["id"], "deviceId": e["devices"][0]["id"]})

    def _gatt(self, e: dict[str, Any]) -> None:
        self.b.send(
            "BluetoothEmulation.simulateGATTOperationResponse",
            {"address": e["address"], "type": e["type"], "code": 0},
        )

    def _desc(self, e: dict[str, Any]) -> None:
        args: dict[str, Any] = {"descriptorId": e["descriptorId"], "type": e["type"], "code": 0}
        if e["type"] == "read":
            args["data"] = base64.b64encode(b"\x00\x00").decode()
        self.b.send("BluetoothEmulation.simulateDescriptorOperationResponse", args)

    def _char(self, e: dict[str, Any]) -> None:
        args: dict[str, Any] = {"characteristicId": e["characteristicId"], "type": e["type"]}
        if e["type"] == "read":
            args["data"] = base64.b64encode(self.serve or b"").decode()
        elif e["type"] == "write":
            self.fob.link.from_page.put(base64.b64decode(e["data"]))
        elif e["type"] == "subscribe-to-notifications":
            self.fob.link.up = True
        elif e["type"] == "unsubscribe-from-notifications":
            self.fob.link.up = False
        args["code"] = 0
        self.b.send("BluetoothEmulation.simulateCharacteristicOperationResponse", args)

    def deliver_until(self, page: Page, ftype: int, timeout: float = 10) -> list[int]:
        """Deliver the fob's frames in the order it sends them until one of `ftype`."""
        seen: list[int] = []
        deadline = time.monotonic() + timeout
        while ftype not in seen:
            frame = self.fob.link.to_page.get(timeout=max(0.01, deadline - time.monotonic()))
            seen.append(frames.peek(frame)[0])
            self.deliver(page, frame)
        return seen

    def deliver_all(self, page: Page) -> None:
        while True:
            try:
                frame = self.fob.link.to_page.get_nowait()
            except queue.Empty:
                return
            self.deliver(page, frame)

    def deliver(self, page: Page, frame: bytes) -> None:
        """One notification from the fob, by the served-read route (module docstring)."""
        self.serve = frame
        page.evaluate("async () => { await window.vigil.fob.frames.readValue(); }")
        self.serve = None


# Debian's Chromium on Linux ships Web Bluetooth (and getDevices / watchAdvertisements) behind
# this switch; Chrome and Edge on Android, Windows, macOS and ChromeOS have it on by default.
WEB_BLUETOOTH = "--enable-experimental-web-platform-features"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[*ARGS, WEB_BLUETOOTH])
        yield b
        b.close()


@pytest.fixture
def fob(tmp_path: Path) -> Iterator[Fob]:
    f = Fob(tmp_path / "flash")
    yield f
    f.stop()


def test_fob_sos_through_web_bluetooth_reaches_the_operator_and_help_reaches_the_fob(
    browser: Browser, live_server: LiveServer, operator_stream: OperatorStream, fob: Fob
) -> None:
    enrolment = create_enrolment(live_server)
    ctx = new_context(browser)
    page = ctx.new_page()
    radio = Radio(browser.new_browser_cdp_session(), ctx.new_cdp_session(page), fob)
    page.goto(live_server.url + enrolment["url"])
    expect(page.locator("#fob-state")).to_have_text("no fob paired")
    page.click("#pair")
    expect(page.locator("#fob-state")).to_have_text("fob connected")
    assert fob.link.up

    fob.sos()
    seen = radio.deliver_until(page, ft.SOS)
    alarm = operator_stream.next_alarm()
    assert alarm["kind"] == "sos" and alarm["device_id"] == DEVICE_ID
    assert alarm["location_source"] == "phone_gps"
    assert alarm["link"] == "ble"
    assert ft.SOS in seen
    # The monitor's signed acks went back through the page's writes; the fob verified them
    # with its key and emptied its outbox.
    deadline = time.monotonic() + 10
    while fob.fob.status()["outbox"]:
        assert time.monotonic() < deadline, "the fob never got its acks"
        radio.deliver_all(page)
        page.wait_for_timeout(50)
    expect(page.locator("#waiting")).to_have_text("nothing waiting")

    with httpx.Client(base_url=live_server.url) as op:
        r = op.post("/v1/auth/login", json={"username": "operator", "password": OPERATOR_PASSWORD})
        csrf = {"X-CSRF-Token": r.json()["csrf_token"]}
        op.post(f"/v1/alarms/{alarm['id']}/acknowledge", headers=csrf).raise_for_status()
    deadline = time.monotonic() + 15
    while "help_coming" not in fob.patterns:
        assert time.monotonic() < deadline, f"no help_coming on the fob: {fob.patterns}"
        page.wait_for_timeout(100)
    ctx.close()
