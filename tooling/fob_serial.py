"""Talking to a fob over its USB serial port: provisioning requests and the console view.

The line carries three kinds of payload in the protocol's serial framing: signed 20-byte frames
(alarms, heartbeats), provisioning replies and PROV_LOG lines. Requests wait for the reply type
they expect and keep everything else (frames, log lines) for the caller to show.
"""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any

import serial

from protocol import frame_types as ft
from protocol import framing
from protocol import provisioning as pv
from protocol.errors import ProtocolError
from tooling.errors import PortBusyError, PortError, ToolingError

REPLY_TIMEOUT_S = 3.0  # a fob answers in milliseconds; allow for a busy main loop and a GC pause
READ_SLICE_S = 0.05


class FobNotAnswering(ToolingError):
    hint = (
        "Is Vigil firmware running? `vigil flash --port ...` deploys it; press the reset button "
        "and retry."
    )


class FobSerial:
    def __init__(self, port: str, baudrate: int = 115200) -> None:
        try:
            self._ser = serial.serial_for_url(
                port, baudrate=baudrate, timeout=READ_SLICE_S, exclusive=True
            )
        except serial.SerialException as e:
            text = str(e)
            if "busy" in text.lower() or "lock" in text.lower():
                raise PortBusyError(f"serial port {port} is in use: {text}") from e
            raise PortError(f"cannot open {port}: {text}") from e
        self.port = port
        self._deframer = framing.Deframer()
        self.logs: list[str] = []
        self.frames: list[bytes] = []

    def send(self, ptype: int, records: dict[int, Any] | None = None) -> None:
        self._ser.write(b"\x00" + framing.encode(pv.encode(ptype, records or {})))
        self._ser.flush()

    def _payloads(self, deadline: float) -> list[bytes]:
        data = self._ser.read(256)
        if not data and time.monotonic() > deadline:
            return []
        payloads: list[bytes] = self._deframer.feed(data)
        return payloads

    def request(
        self,
        ptype: int,
        records: dict[int, Any] | None,
        expect: int,
        timeout: float = REPLY_TIMEOUT_S,
    ) -> dict[int, Any]:
        self.send(ptype, records)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for payload in self._payloads(deadline):
                kind = self._classify(payload)
                if kind is None:
                    continue
                got, rec = kind
                if got == expect or (got == ft.PROV_RESULT and expect != ft.PROV_RESULT):
                    if got != expect:
                        raise ToolingError(
                            f"the fob refused: {rec.get(pv.T_MESSAGE, 'no reason given')}",
                            "See `vigil fob logs` for what the fob said.",
                        )
                    return rec
        raise FobNotAnswering(f"no reply from a fob on {self.port} within {timeout:.0f} s")

    def _classify(self, payload: bytes) -> tuple[int, dict[int, Any]] | None:
        if not payload:
            return None
        if ft.direction(payload[0] & 0x1F) != ft.PROVISIONING:
            self.frames.append(payload)  # a signed frame passing by: the caller may show it
            return None
        try:
            ptype, rec = pv.decode(payload)
        except ProtocolError:
            return None
        if ptype == ft.PROV_LOG:
            self.logs.append(str(rec.get(pv.T_MESSAGE, "")))
            return None
        return ptype, rec

    def listen(self, seconds: float) -> None:
        """Collect log lines and frames for `seconds` (for `vigil fob logs`)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for payload in self._payloads(deadline):
                self._classify(payload)

    def close(self) -> None:
        self._ser.close()

    def __enter__(self) -> FobSerial:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
