"""Frame sizes and costs: Vigil frames next to SIA DC-09 (plain and AES), JSON and COSE_Mac0.

    .venv/bin/python -m bench.frame_sizes [--n 20000]

Prints a table of bytes per event type, encode/verify cost on CPython and on MicroPython (the
WebAssembly port under Node.js), and, last, one JSON line with the headline figures.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime

import cbor2
from pysiaalarm import SIAAccount  # type: ignore[attr-defined]
from pysiaalarm.event import SIAEvent

from devstack.interpreters import MicroPython
from protocol import frame_types as T
from protocol import frames, framing

KEY = bytes(range(16))
DEVICE = 0x0A1B2C
ACCOUNT = "A1B2C"
# The SIA event code an alarm receiving centre would use for each Vigil event.
SIA_CODE = {
    T.SOS: "PA",  # panic alarm
    T.FALL: "MA",  # medical alarm
    T.NO_MOTION: "MA",
    T.CHECKIN_OVERDUE: "MA",
    T.LOW_BATTERY: "YT",  # system battery trouble
    T.HEARTBEAT: "RP",  # automatic communication test
    T.SOS_CANCEL: "PR",  # panic restoral
}
EVENTS = [
    (T.SOS, (87, 0, 0)),
    (T.FALL, (87, 31, 0)),
    (T.NO_MOTION, (87, 0, 0)),
    (T.CHECKIN_OVERDUE, (87, 0, 0)),
    (T.LOW_BATTERY, (9, 10, 0)),
    (T.SOS_CANCEL, (1, 3)),
    (T.HEARTBEAT, (87, 0, 0, 5)),
]


def dc09(ftype: int, seq: int, aes_key: bytes | None) -> bytes:
    """One DC-09 message as a transmitter sends it, checked by pysiaalarm's parser."""
    stamp = datetime.now(UTC).strftime("_%H:%M:%S,%m-%d-%Y")
    data = f"#{ACCOUNT}|Nri1/{SIA_CODE[ftype]}001]{stamp}"
    if aes_key is None:
        body = f'"SIA-DCS"{seq:04d}R0L0#{ACCOUNT}[{data}'
    else:
        account = SIAAccount(ACCOUNT, aes_key.hex().upper())
        ev = SIAEvent(full_message="", msg_crc="", length="0", encrypted=True, sia_account=account)
        enc = ev.encrypt_content(f"|Nri1/{SIA_CODE[ftype]}001]{stamp}")
        body = f'"*SIA-DCS"{seq:04d}R0L0#{ACCOUNT}[{enc}'
    crc = SIAEvent._crc_calc(body)
    line = f"{crc}0{len(body):03X}{body}"
    accounts = {ACCOUNT: SIAAccount(ACCOUNT, aes_key.hex().upper() if aes_key else None)}
    parsed = SIAEvent.from_line(line, accounts)
    assert parsed.valid_message, f"pysiaalarm rejected {line!r}"
    return ("\n" + line + "\r").encode()


def json_body(ftype: int, counter: int, fields: tuple[int, ...]) -> bytes:
    event = {
        "device_id": DEVICE,
        "type": T.NAMES[ftype],
        "counter": counter,
        "fields": list(fields),
        "ts": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    raw = json.dumps(event, separators=(",", ":")).encode()
    event["mac"] = hmac.new(KEY, raw, hashlib.sha256).hexdigest()
    return json.dumps(event, separators=(",", ":")).encode()


def cose_mac0(ftype: int, counter: int, fields: tuple[int, ...]) -> bytes:
    # RFC 9052 COSE_Mac0 with alg 4 (HMAC 256/64): the same 8-byte tag Vigil uses.
    protected = cbor2.dumps({1: 4})
    payload = cbor2.dumps([DEVICE, ftype, counter, *fields])
    to_mac = cbor2.dumps(["MAC0", protected, b"", payload])
    tag = hmac.new(KEY, to_mac, hashlib.sha256).digest()[:8]
    return cbor2.dumps(cbor2.CBORTag(17, [protected, {}, payload, tag]))


def size_table() -> dict[str, int]:
    cols = f"{'vigil':>6}{'serial':>8}{'DC-09':>7}{'DC-09 AES':>11}{'JSON':>6}{'COSE':>6}"
    print(f"{'event':<16}{cols}")
    worst = {"vigil": 0, "dc09": 0, "dc09_aes": 0, "json": 0, "cose": 0}
    for seq, (ftype, fields) in enumerate(EVENTS, 1):
        v = frames.encode(ftype, DEVICE, seq, fields, KEY)
        row = {
            "vigil": len(v),
            "serial": len(framing.encode(v)),
            "dc09": len(dc09(ftype, seq, None)),
            "dc09_aes": len(dc09(ftype, seq, KEY)),
            "json": len(json_body(ftype, seq, fields)),
            "cose": len(cose_mac0(ftype, seq, fields)),
        }
        print(
            f"{T.NAMES[ftype]:<16}{row['vigil']:>6}{row['serial']:>8}{row['dc09']:>7}"
            f"{row['dc09_aes']:>11}{row['json']:>6}{row['cose']:>6}"
        )
        if T.is_alarm(ftype):
            for k in worst:
                worst[k] = max(worst[k], row[k])
    print("bytes per event; serial = Vigil frame with COBS, CRC-32 and delimiters")
    return worst


def cpython_costs(n: int) -> tuple[float, float]:
    enc = frames.Encoder(DEVICE, KEY)
    t0 = time.perf_counter()
    for i in range(n):
        enc.encode(T.SOS, i, (87, 0, 0))
    encode_s = time.perf_counter() - t0
    data = [frames.encode(T.SOS, DEVICE, i, (87, 0, 0), KEY) for i in range(n)]
    keys = {DEVICE: KEY}  # the monitor looks the key up per frame, so the bench does too
    t0 = time.perf_counter()
    for d in data:
        frames.decode(d, keys[frames.peek(d)[1]], T.UPLINK)
    verify_s = time.perf_counter() - t0
    return n / encode_s, n / verify_s


def micropython_costs(n: int) -> tuple[float, float]:
    mp = MicroPython()
    try:
        mp.exec(
            "import time\nfrom protocol import frames, frame_types as T\n"
            f"_k = bytes(range(16))\n_e = frames.Encoder({DEVICE}, _k)\n"
            "_t0 = time.ticks_us()\n"
            f"for _i in range({n}): _e.encode(T.SOS, _i, (87, 0, 0))\n"
            "_enc_us = time.ticks_diff(time.ticks_us(), _t0)\n"
            f"_d = bytes(_e.encode(T.SOS, 1, (87, 0, 0)))\n"
            "_t0 = time.ticks_us()\n"
            f"for _i in range({n}): frames.decode(_d, _k, T.UPLINK)\n"
            "_ver_us = time.ticks_diff(time.ticks_us(), _t0)\n"
        )
        enc_us, ver_us = mp.eval("(_enc_us, _ver_us)")
    finally:
        mp.close()
    return n / (enc_us / 1e6), n / (ver_us / 1e6)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=20000, help="frames per cost measurement")
    args = ap.parse_args()
    worst = size_table()
    enc_c, ver_c = cpython_costs(args.n)
    enc_m, ver_m = micropython_costs(max(1000, args.n // 10))
    print()
    print(f"{'cost':<24}{'encode/s':>12}{'verify/s':>12}")
    print(f"{'CPython (1 core)':<24}{enc_c:>12,.0f}{ver_c:>12,.0f}")
    print(f"{'MicroPython (wasm)':<24}{enc_m:>12,.0f}{ver_m:>12,.0f}")
    print(f"verify on CPython: {ver_c / 50000:.1f}x the 50,000 frames/s target")
    result = {
        "max_alarm_frame_bytes": worst["vigil"],
        "tag_bytes": 8,
        "dc09_alarm_bytes": worst["dc09"],
        "dc09_aes_alarm_bytes": worst["dc09_aes"],
        "json_alarm_bytes": worst["json"],
        "cose_alarm_bytes": worst["cose"],
        "verify_per_s_cpython": round(ver_c),
        "encode_per_s_cpython": round(enc_c),
        "verify_per_s_micropython_wasm": round(ver_m),
        "encode_per_s_micropython_wasm": round(enc_m),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
