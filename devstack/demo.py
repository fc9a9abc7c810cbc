"""`make run`: the whole system on this machine, every part real except the radio.

Starts the monitor (SQLite, demo accounts), the simulated air (bumble controllers), two fobs
running the real firmware on the simulated board (one on a real pty, one over emulated BLE,
paired with `vigil gateway pair`), and one `vigil gateway run` relaying both. Prints the
console URL and logins, then turns key presses into fob events:

    s  SOS on the serial fob         S  SOS on the BLE fob
    f  replay a fall                 F  same, BLE fob
    c  cancel                        C  cancel, BLE fob
    x  cut / restore the serial link X  BLE fob out of / back in range
    n  wearer stops / starts moving  N  same, BLE fob
    q  quit

`f` replays the first SisFall fall trial when the data set is there (../shared, or
$VIGIL_SISFALL), else the scripted fall in hardware/sim/scripted_fall.py. The simulated wearers
go about their work (hardware/sim/wearer.py), so their fobs' no-motion timers keep restarting;
after `n`, or a fall, the wearer lies still and the fob warns after 105 s and raises a
no-motion alarm at 120 s, unless `n` gets them moving again.
"""

from __future__ import annotations

import os
import shutil
import sys
import termios
import tty
from pathlib import Path
from typing import Any

import httpx

from devstack.localstack import (
    Demo,
    Proc,
    SimFob,
    free_port,
    pair_fob,
    start_air,
    start_gateway,
    start_monitor,
)

WORK = Path("var/demo")
BLE_FOB_ADDRESS = "F0:00:00:00:00:02"
DEMO_SITE = ("--lat", "51.5072", "--lon", "-0.1276", "--accuracy-m", "25")  # a London office
PAIR_TIMEOUT_S = 20.0
# What the person at the terminal is told about, from the fobs' JSON event lines.
SHOWN = {
    "feedback",
    "raised",
    "frame_sent",
    "downlink",
    "downlink_rejected",
    "cancelled",
    "link",
    "trace",
    "error",
    "dropped",
    "boot",
    "wearer",
}


def describe(ev: dict[str, Any]) -> str:
    kind = ev.pop("event")
    if kind == "wearer":
        if ev["moving"]:
            return "wearer is moving about (n/N: lie still)"
        return "wearer lies still (no-motion warning after 105 s; n/N: move again)"
    if kind == "feedback":
        text = {"help_coming": "HELP IS COMING (operator acknowledged)"}.get(
            ev["pattern"], ev["pattern"]
        )
        return f"fob shows: {text}"
    return f"{kind} " + " ".join(f"{k}={v}" for k, v in ev.items())


def say(text: str) -> None:
    sys.stdout.write(f"\r{text}\r\n")
    sys.stdout.flush()


def provision_ble_device(url: str, admin: tuple[str, str]) -> tuple[int, bytes]:
    with httpx.Client(base_url=url, timeout=10) as http:
        r = http.post("/v1/auth/login", json={"username": admin[0], "password": admin[1]})
        r.raise_for_status()
        headers = {"x-csrf-token": r.json()["csrf_token"]}
        workers = http.get("/v1/workers").json()
        worker_id = workers[0]["id"] if workers else None
        r = http.post(
            "/v1/devices", headers=headers, json={"board": "sim-ble", "worker_id": worker_id}
        )
        r.raise_for_status()
        body = r.json()
        return int(body["device"]["id"]), bytes.fromhex(body["key"])


def phone_enrolment_url(url: str, admin: tuple[str, str]) -> str:
    """A one-time phone enrolment for the demo worker (docs/phone.md): the URL its QR holds."""
    with httpx.Client(base_url=url, timeout=10) as http:
        r = http.post("/v1/auth/login", json={"username": admin[0], "password": admin[1]})
        r.raise_for_status()
        headers = {"x-csrf-token": r.json()["csrf_token"]}
        workers = http.get("/v1/workers").json()
        body = {"worker_id": workers[0]["id"]}
        r = http.post("/v1/phones/enrolments", headers=headers, json=body)
        r.raise_for_status()
        return url + str(r.json()["url"])


def main() -> None:
    if WORK.exists():
        shutil.rmtree(WORK)  # a fresh demo: counters, bonds and the database start over
    WORK.mkdir(parents=True)
    demo = Demo.load()
    port = int(os.environ.get("VIGIL_PORT", "8000"))
    url = f"http://127.0.0.1:{port}"
    procs: list[Proc] = []
    fobs: list[SimFob] = []
    try:
        say("starting the monitor...")
        monitor = start_monitor(WORK / "monitor", port)
        procs.append(monitor)
        ble_id, ble_key = provision_ble_device(url, demo.admin)

        gw_air, fob_air = free_port(), free_port()
        procs.append(start_air(WORK, [gw_air, fob_air]))

        say("starting the fobs (real firmware on the simulated board)...")
        serial_fob = SimFob(
            "serial fob",
            WORK / "fob1",
            demo.device_id,
            demo.device_key,
            ["--link-path", str(WORK / "fob1.tty")],
            {},
            show,
        )
        fobs.append(serial_fob)
        ble_fob = SimFob(
            "BLE fob",
            WORK / "fob2",
            ble_id,
            ble_key,
            ["--ble"],
            {
                "VIGIL_SIM_BLE_HCI": f"tcp-client:127.0.0.1:{fob_air}",
                "VIGIL_SIM_BLE_ADDRESS": BLE_FOB_ADDRESS,
                "VIGIL_SIM_BLE_BONDS": str(WORK / "fob2-bonds.json"),
            },
            show,
        )
        fobs.append(ble_fob)

        hci = f"tcp-client:127.0.0.1:{gw_air}"
        allow = WORK / "gateway" / "paired-fobs.json"
        say("pairing the BLE fob: five taps open its pairing window, then vigil gateway pair ...")
        if not ble_fob.open_pairing():
            say("the BLE fob did not confirm its pairing window")
        pair = pair_fob(allow, hci, BLE_FOB_ADDRESS, PAIR_TIMEOUT_S)
        if pair.returncode != 0:
            say(f"BLE pairing failed, continuing on serial only: {pair.stderr.strip()}")
        gateway = start_gateway(
            WORK / "gateway",
            url,
            demo.gateway_token,
            [str(WORK / "fob1.tty")],
            # The demo gateway stands at a fixed site, so alarms arrive with a location (sent with
            # alarms and check-ins only, never as tracking).
            *DEMO_SITE,
            *(
                ["--ble", "--ble-hci", hci, "--allowlist", str(allow)]
                if pair.returncode == 0
                else []
            ),
        )
        procs.append(gateway)

        say("")
        say(f"Vigil is running. Operator console: {url}/")
        say(f"  operator login: {demo.operator[0]} / {demo.operator[1]}")
        say(f"  admin login:    {demo.admin[0]} / {demo.admin[1]}")
        try:
            phone_url = phone_enrolment_url(url, demo.admin)
            say(f"Phone app, enrolled for the demo worker (one use, 15 min): {phone_url}")
            say(
                "  its own SOS and visits work in any browser here; the fob path needs a phone "
                "with Bluetooth (Chrome/Edge on Android) and the monitor on HTTPS"
            )
        except httpx.HTTPError as e:
            say(f"Phone app at {url}/phone/ (no enrolment: {e})")
        say(f"  logs: {WORK}/ (monitor, gateway, air)")
        say(
            "keys: s/S SOS, f/F fall, c/C cancel, x/X link, n/N stop/start moving, q quit "
            "(lower case: serial fob, upper case: BLE fob)"
        )
        keyloop(serial_fob, ble_fob)
    finally:
        for f in fobs:
            f.stop()
        for p in reversed(procs):
            p.stop(grace=3.0)


def show(fob: SimFob, ev: dict[str, Any]) -> None:
    if ev.get("event") in SHOWN and ev.get("type") != "heartbeat":
        say(f"[{fob.label}] " + describe(dict(ev)))


def keyloop(serial_fob: SimFob, ble_fob: SimFob) -> None:
    actions = {"s": "sos", "f": "trace", "c": "cancel"}
    interactive = sys.stdin.isatty()
    saved = termios.tcgetattr(sys.stdin) if interactive else None
    try:
        if interactive:
            tty.setcbreak(sys.stdin.fileno())
        while True:
            ch = sys.stdin.read(1)
            if ch in ("", "q", "\x03", "\x04"):
                return
            fob = ble_fob if ch.isupper() else serial_fob
            key = ch.lower()
            if key in actions:
                fob.command(actions[key])
            elif key == "x":
                fob.link_up = not fob.link_up
                fob.command("link up" if fob.link_up else "link down")
                say(f"[{fob.label}] link {'restored' if fob.link_up else 'cut'}")
            elif key == "n":
                # The fob reports the change as a "wearer" event, which show() prints.
                fob.command("move off" if fob.moving else "move on")
    finally:
        if saved is not None:
            termios.tcsetattr(sys.stdin, termios.TCSADRAIN, saved)


if __name__ == "__main__":
    main()
