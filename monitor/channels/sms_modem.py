"""SMS through a GSM modem (SIM800 / SIM7600 family) on a serial port, in text mode.

The exchange, as the SIM800 AT manual gives it:
    AT           -> OK                      is anyone there
    ATE0         -> OK                      no echo, so replies are only replies
    AT+CMGF=1    -> OK                      text mode
    AT+CMGS="+4477..."  -> "> "             the prompt can take seconds on a busy modem
    <text> Ctrl-Z -> +CMGS: <mr>  OK        or +CMS ERROR: <n> / ERROR
The port is opened per message: a modem unplugged and plugged back in works on the next attempt.
One lock serialises messages: a modem holds one AT conversation at a time.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import Any

import serial

from monitor.channels import text
from monitor.channels.base import Notifier
from monitor.channels.phone_numbers import e164
from monitor.errors import NotifyFailed
from monitor.models import Contact

CTRL_Z = b"\x1a"
ESC = b"\x1b"
# +CMS ERROR codes (3GPP TS 27.005 §3.2.5 and the SIM800 manual) that say this message to this
# number will never go: unassigned/unknown number, barring, rejected, invalid text parameters.
# Everything else (331 no network, 332 network timeout, 42 congestion, 300 ME failure, SIM
# trouble) may clear, so it is retried.
PERMANENT_CMS = frozenset((1, 8, 10, 21, 28, 29, 30, 50, 69, 96, 304, 305))


@dataclasses.dataclass(frozen=True)
class ModemConfig:
    port: str
    baudrate: int = 115200
    command_timeout_s: float = 5.0
    prompt_timeout_s: float = 15.0  # the "> " prompt is slow while the modem registers
    send_timeout_s: float = 60.0  # the SIM800 manual's maximum response time for AT+CMGS


def gsm_text(s: str) -> str:
    """Text a modem in text mode (GSM character set) passes through: printable ASCII only.

    Ctrl-Z or ESC inside the text would end or abort the message early; characters outside
    GSM-7 come out as garbage on the handset, so they become '?'.
    """
    return "".join(c if 32 <= ord(c) < 127 or c == "\n" else "?" for c in s)[:640]


class _Conversation:
    def __init__(self, port: serial.Serial) -> None:
        self._port = port
        self._buffer = b""

    def command(self, line: str, timeout_s: float) -> list[str]:
        self._port.write(line.encode() + b"\r")
        return self.replies(timeout_s)

    def replies(self, timeout_s: float) -> list[str]:
        """Lines until a final result code (OK, ERROR, +CMS/+CME ERROR)."""
        lines: list[str] = []
        deadline = time.monotonic() + timeout_s
        while True:
            while b"\n" in self._buffer:
                raw, _, self._buffer = self._buffer.partition(b"\n")
                line = raw.strip(b"\r ").decode(errors="replace")
                if not line:
                    continue
                lines.append(line)
                if line == "OK" or line == "ERROR" or "ERROR:" in line:
                    return lines
            self._read(deadline, "a reply")

    def prompt(self, timeout_s: float) -> list[str] | None:
        """Wait for "> "; None when it came, or the error lines the modem gave instead."""
        deadline = time.monotonic() + timeout_s
        while True:
            if b">" in self._buffer:
                self._buffer = self._buffer.partition(b">")[2].lstrip(b" ")
                return None
            if b"ERROR" in self._buffer and b"\n" in self._buffer.split(b"ERROR", 1)[1]:
                return self.replies(timeout_s)
            self._read(deadline, 'the ">" prompt')

    def write(self, data: bytes) -> None:
        self._port.write(data)

    def _read(self, deadline: float, waiting_for: str) -> None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise NotifyFailed(f"modem: no {waiting_for} in time")
        self._port.timeout = min(left, 0.5)
        self._buffer += self._port.read(self._port.in_waiting or 1)


def _failure(lines: list[str], step: str) -> NotifyFailed:
    last = lines[-1] if lines else "no reply"
    if last.startswith("+CMS ERROR:"):
        code = last.partition(":")[2].strip()
        permanent = code.isdigit() and int(code) in PERMANENT_CMS
        return NotifyFailed(f"modem {step}: {last}", permanent=permanent)
    return NotifyFailed(f"modem {step}: {last}")


class ModemSmsChannel(Notifier):
    channel = "sms_modem"

    def __init__(self, config: ModemConfig) -> None:
        self._config = config
        self._lock = threading.Lock()

    def send(self, contact: Contact, message: dict[str, Any]) -> None:
        number = e164(contact.target)
        body = gsm_text(text.sms(message))
        with self._lock:
            try:
                with serial.Serial(self._config.port, self._config.baudrate, timeout=0.5) as port:
                    # Replies left from an abandoned exchange would answer our first commands.
                    port.reset_input_buffer()
                    self._send(_Conversation(port), number, body)
            except serial.SerialException as e:
                # Unplugged, wrong port, busy: may be fixed by the next attempt.
                raise NotifyFailed(f"modem port {self._config.port}: {e}") from e

    def _send(self, conv: _Conversation, number: str, body: str) -> None:
        c = self._config
        for cmd in ("AT", "ATE0", "AT+CMGF=1"):
            lines = conv.command(cmd, c.command_timeout_s)
            if lines[-1] != "OK":
                raise _failure(lines, cmd)
        conv.write(f'AT+CMGS="{number}"\r'.encode())
        try:
            refused = conv.prompt(c.prompt_timeout_s)
        except NotifyFailed:
            conv.write(ESC)  # a prompt arriving late must not swallow the next command as text
            raise
        if refused is not None:
            raise _failure(refused, "AT+CMGS")
        conv.write(body.encode("ascii") + CTRL_Z)
        lines = conv.replies(c.send_timeout_s)
        if lines[-1] != "OK" or not any(x.startswith("+CMGS:") for x in lines):
            raise _failure(lines, "send")
