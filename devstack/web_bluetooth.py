"""The real firmware behind Chromium's emulated Bluetooth radio, for the phone app's tests and
its latency bench.

What is emulated, and why:
- The radio. Chromium's BluetoothEmulation DevTools domain (a browser-level CDP session) plays a
  preconnected peripheral with the Vigil service, the frame characteristic (notify, with its
  CCCD) and the downlink characteristic (write); the device chooser is answered through
  DeviceAccess on the page session. Behind it is the firmware's link interface (`.up`,
  `.send(frame)`, `.poll()`), served by `BridgeLink` in place of firmware/ble_link.py's GATT
  server, which needs a real `bluetooth` module: the firmware's advertisement, bonding and GATT
  server are covered over bumble (host_tests/gateway/test_ble*.py), not here.
- Notifications. Chromium 156's domain has no command to push one. Each frame the fob sends is
  delivered by calling `readValue()` on the page's frame characteristic and serving that read
  with the fob's bytes: Chromium fires `characteristicvaluechanged`, the same event and handler
  a real notification reaches. Everything after that is the page's own code.
- Writes are real: the page's `writeValueWithResponse` bytes arrive in the CDP event and are
  handed to the fob's `on_downlink`, which verifies them with its key.
"""

from __future__ import annotations

import base64
import queue
import threading
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import CDPSession, Page

from firmware import ble_uuids
from firmware.identity import Identity
from hardware.sim.board import SimBoard
from hardware.sim.run_fob import ElapsedClock
from protocol import frames

ADDRESS = "F0:00:00:00:00:07"
CCCD = "00002902-0000-1000-8000-00805f9b34fb"
TICK_S = 0.005  # the fob's main loop period here (10 ms on the device)
RELEASE_AFTER_MS = 100  # a hold ends this long after the SOS threshold; more than a debounce

# Debian's Chromium on Linux ships Web Bluetooth (and getDevices / watchAdvertisements) behind
# the first switch; Chrome and Edge on Android, Windows, macOS and ChromeOS have it on by
# default. The second keeps a page's permission for its fob across reloads: without it
# getDevices() answers [] after a reload here, and the page could not reconnect by itself.
WEB_BLUETOOTH = [
    "--enable-experimental-web-platform-features",
    "--enable-features=WebBluetoothNewPermissionsBackend",
]


class BridgeLink:
    """The firmware's link interface on the far side of the emulated radio. Each frame the fob
    sends is queued with the time it left the fob (time.perf_counter(), s; the clock
    devstack.localstack.Operator stamps stream arrivals with), for latency figures."""

    kind = "ble"

    def __init__(self) -> None:
        self.up = False  # the page has subscribed
        self.to_page: queue.Queue[tuple[float, bytes]] = queue.Queue()
        self.from_page: queue.Queue[bytes] = queue.Queue()
        self._fob: Any = None

    def attach(self, fob: Any, admin: Any = None) -> None:
        self._fob = fob

    def send(self, frame: Any) -> bool:
        if not self.up:
            return False
        self.to_page.put((time.perf_counter(), bytes(frame)))
        return True

    def poll(self) -> None:
        while self._fob is not None:
            try:
                data = self.from_page.get_nowait()
            except queue.Empty:
                return
            self._fob.on_downlink(data)


class Fob:
    """The real firmware on the simulated board, provisioned, its main loop on a thread."""

    def __init__(self, flash: Path, device_id: int, key: bytes) -> None:
        self.link = BridgeLink()
        self.patterns: list[str] = []
        self.board = SimBoard(
            str(flash),
            clock=ElapsedClock(),
            links=[self.link],
            on_feedback=lambda name, covert: self.patterns.append(name),
        )
        Identity(self.board.flash).set(device_id, key)
        self.fob = self.board.boot()
        self.lock = threading.Lock()
        self._released_at = 0  # board ms when the last press is up and settled
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while self.running:
            with self.lock:
                self.fob.poll()
            time.sleep(TICK_S)

    def sos(self) -> None:
        """The worker holds the button past the SOS threshold (config `sos_hold_ms`). A hold
        that starts while the last one is still down would merge with it, so this waits for the
        button to be up (plus a debounce's worth) first."""
        while self.board.clock.elapsed < self._released_at:
            time.sleep(0.01)
        with self.lock:
            now = self.board.clock.elapsed
            hold = self.fob.config["sos_hold_ms"] + RELEASE_AFTER_MS
            self.board.button.press(now, hold)
            self._released_at = now + hold + RELEASE_AFTER_MS

    def outbox(self) -> int:
        with self.lock:
            return int(self.fob.status()["outbox"])

    def stop(self) -> None:
        self.running = False
        self.thread.join(5)


class Radio:
    """BluetoothEmulation + DeviceAccess, answering every operation (or the page hangs)."""

    def __init__(self, browser_cdp: CDPSession, page_cdp: CDPSession, fob: Fob) -> None:
        self.b, self.fob = browser_cdp, fob
        self.serve: bytes | None = None
        self.prompts: set[str] = set()
        self.connections = 0  # GATT connections the page made
        self.delivered = 0  # frames handed to the page
        self._build()
        b = self.b
        b.on("BluetoothEmulation.gattOperationReceived", self._gatt)
        b.on("BluetoothEmulation.characteristicOperationReceived", self._char)
        b.on("BluetoothEmulation.descriptorOperationReceived", self._desc)
        self.attach_page(page_cdp)

    def _build(self) -> None:
        """The emulated adapter and the fob's GATT table."""
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
        self._gatt_table()

    def _gatt_table(self) -> None:
        b = self.b
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

    def after_navigation(self) -> None:
        """Chromium tears the emulated adapter down when the page navigates (a reload): the
        fob is still there, in range, so build it again. The page's permission for it is the
        browser's own and survives (see WEB_BLUETOOTH)."""
        self.fob.link.up = False
        self.b.send("BluetoothEmulation.disable")
        self._build()

    def close(self) -> None:
        """The emulated adapter is the browser's, enabled by this session: give it back, or
        the next Radio in the same browser is refused ("already enabled"). Call it after the
        page's context is closed: disabling under a page still connected to the peripheral
        crashed Chromium 156 at the context's close in about one run in four."""
        self.fob.link.up = False
        self.b.send("BluetoothEmulation.disable")

    def attach_page(self, page_cdp: CDPSession) -> None:
        """Answer the device chooser of (another) page in the same browser context."""
        self.p = page_cdp
        self.p.send("DeviceAccess.enable")
        self.p.on("DeviceAccess.deviceRequestPrompted", self._prompt)

    def _prompt(self, e: dict[str, Any]) -> None:
        if e["id"] in self.prompts or not e["devices"]:
            return  # the event may fire more than once; a second select aborts the browser
        self.prompts.add(e["id"])
        self.p.send("DeviceAccess.selectPrompt", {"id": e["id"], "deviceId": e["devices"][0]["id"]})

    def _gatt(self, e: dict[str, Any]) -> None:
        if e["type"] == "connection":
            self.connections += 1
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

    def disconnect(self) -> None:
        """The fob goes out of range and comes back: the peripheral drops the connection.
        Chromium's emulation forgets the peripheral's services on a disconnection (the page
        then finds "No Services matching UUID"), so the same table is added again, as the fob
        would offer it on the next connection."""
        self.fob.link.up = False
        self.b.send("BluetoothEmulation.simulateGATTDisconnection", {"address": ADDRESS})
        self._gatt_table()

    def deliver_until(self, page: Page, ftype: int, timeout: float = 10) -> list[tuple[float, int]]:
        """Deliver the fob's frames in the order it sends them until one of `ftype`; returns
        (time it left the fob, perf_counter s; type) for each."""
        seen: list[tuple[float, int]] = []
        deadline = time.monotonic() + timeout
        while not seen or seen[-1][1] != ftype:
            sent_at, frame = self.fob.link.to_page.get(
                timeout=max(0.01, deadline - time.monotonic())
            )
            seen.append((sent_at, frames.peek(frame)[0]))
            self.deliver(page, frame)
        return seen

    def deliver_all(self, page: Page) -> None:
        while True:
            try:
                _sent_at, frame = self.fob.link.to_page.get_nowait()
            except queue.Empty:
                return
            self.deliver(page, frame)

    def deliver(self, page: Page, frame: bytes) -> None:
        """One notification from the fob, by the served-read route (module docstring)."""
        self.serve = frame
        self.delivered += 1
        page.evaluate("async () => { await window.vigil.fob.frames.readValue(); }")
        self.serve = None

    def settle(self, page: Page, timeout: float = 10) -> None:
        """Deliver until the fob's outbox is empty: every frame acked through the page."""
        deadline = time.monotonic() + timeout
        while self.fob.outbox():
            if time.monotonic() > deadline:
                raise TimeoutError("the fob never got its acks")
            self.deliver_all(page)
            page.wait_for_timeout(20)

    def wait_for_pattern(
        self, page: Page, name: str, timeout: float = 15, poll_ms: int = 50
    ) -> None:
        """Until the fob plays feedback pattern `name` (e.g. "help_coming"). Waits in
        Playwright, so the page's BLE writes reach the fob meanwhile."""
        deadline = time.monotonic() + timeout
        while name not in self.fob.patterns:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {name} on the fob: {self.fob.patterns}")
            page.wait_for_timeout(poll_ms)
