"""ANSI/SIA DC-09 framing: what a Vigil monitor sends to an alarm receiving centre (ARC), and the
receiver's answers it reads back. Pure functions, no sockets (monitor/arc/transport.py sends).

A message on the wire (DC-09 2013, section 5.5):

    <LF> CRC(4 hex) LLLL(4 hex) "id" seq(4 digits) R<rcvr> L<line> #<acct> [data] _timestamp <CR>

- CRC-16/ARC (polynomial 0xA001 reflected, initial 0) over everything from the first `"` up to
  the `<CR>`; LLLL is the length of that same span, in hex as DC-09 says.
- `id` is SIA-DCS (an event), NULL (supervision), or the answers ACK, NAK, DUH; a leading `*`
  means the part after `[` is AES-CBC (zero IV) over hex, of pad + `|` + data + `]` + timestamp.
- The data of an SIA-DCS event is SIA DC-04: `#acct|Nid<user>/ri<area>/<CODE><zone>]`, then
  extended data blocks `[X...][Y...]`, each a letter and a value (DC-09 section 7).

pysiaalarm (the independent receiver in the tests) reads exactly this; its parser is where the
details (which characters a pad may use, the NAK's `0000` sequence) were checked against.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import string
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from monitor.errors import DC09Error

SEQUENCE_MAX = 9999  # four digits, 0001..9999 then back to 0001 (0000 is the NAK's)
AES_KEY_LENGTHS = (16, 24, 32)  # AES-128, -192, -256
_ZERO_IV = bytes(16)  # DC-09 fixes the IV at zero; the random pad makes each message differ
# Pad characters: DC-09 excludes `|`, `[` and `]` (they delimit the data); letters and digits
# are a safe subset every receiver parses.
_PAD_ALPHABET = string.ascii_letters + string.digits
# Extended data values are free text from the database (a visit's "where", a worker's name):
# anything that could end a block or the message is replaced, and the length kept short so the
# whole message stays well under the 1024 bytes a receiver reads at once.
_XDATA_FORBIDDEN = re.compile(r"[^\x20-\x7e]|[\[\]|]")  # printable ASCII only
XDATA_MAX = 64


def crc16(data: bytes) -> int:
    """CRC-16/ARC, the CRC DC-09 specifies (check value of b"123456789": 0xBB3D)."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def timestamp(at: dt.datetime) -> str:
    """`_HH:MM:SS,MM-DD-YYYY` in UTC, as DC-09 section 5.5.1.9 writes it."""
    return at.astimezone(dt.UTC).strftime("_%H:%M:%S,%m-%d-%Y")


def parse_timestamp(text: str) -> dt.datetime:
    try:
        return dt.datetime.strptime(text.lstrip("_"), "%H:%M:%S,%m-%d-%Y").replace(tzinfo=dt.UTC)
    except ValueError as e:
        raise DC09Error(f"timestamp {text!r} is not _HH:MM:SS,MM-DD-YYYY") from e


def next_sequence(seq: int) -> int:
    return 1 if seq >= SEQUENCE_MAX else seq + 1


def check_key(key: bytes | None) -> None:
    if key is not None and len(key) not in AES_KEY_LENGTHS:
        raise DC09Error(f"an AES key is 16, 24 or 32 bytes, not {len(key)}")


def clean_xdata(value: str) -> str:
    return _XDATA_FORBIDDEN.sub("?", value)[:XDATA_MAX]


@dataclass(frozen=True)
class Prefix:
    """Who the message is from and for: receiver and line numbers and the account (all hex)."""

    account: str
    receiver: str = "0"
    line: str = "0"

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[0-9A-Fa-f]{3,16}", self.account):
            raise DC09Error(f"account {self.account!r} must be 3-16 hex digits")
        for name, value in (("receiver", self.receiver), ("line", self.line)):
            if not re.fullmatch(r"[0-9A-Fa-f]{1,6}", value):
                raise DC09Error(f"{name} number {value!r} must be 1-6 hex digits")

    def render(self, seq: int) -> str:
        if not 0 <= seq <= SEQUENCE_MAX:
            raise DC09Error(f"sequence {seq} is outside 0000-9999")
        return f"{seq:04d}R{self.receiver.upper()}L{self.line.upper()}#{self.account.upper()}"


@dataclass(frozen=True)
class Event:
    """One SIA DC-04 event: the code an ARC's automation acts on, and where and who."""

    code: str  # two letters, e.g. PA
    zone: int = 0  # the point number after the code: Vigil sends the device id
    user: int | None = None  # `id` field: Vigil sends the worker id
    area: int = 1  # `ri` field
    xdata: tuple[tuple[str, str], ...] = ()  # (letter, value) extended data blocks

    def render(self) -> str:
        if not re.fullmatch(r"[A-Z]{2}", self.code):
            raise DC09Error(f"SIA code {self.code!r} must be two capital letters")
        user = f"id{self.user}/" if self.user is not None else ""
        body = f"N{user}ri{self.area}/{self.code}{self.zone}]"
        for letter, value in self.xdata:
            if not re.fullmatch(r"[A-Z]", letter):
                raise DC09Error(f"extended data id {letter!r} must be one capital letter")
            body += f"[{letter}{clean_xdata(value)}]"
        return body


def _frame(body: str) -> bytes:
    try:
        raw = body.encode("ascii")
    except UnicodeEncodeError as e:  # only free text can carry it, and clean_xdata removes it
        raise DC09Error(f"a DC-09 message is ASCII: {e}") from e
    return b"\n" + f"{crc16(raw):04X}{len(raw):04X}".encode("ascii") + raw + b"\r"


def _encrypt(key: bytes, plain: str) -> str:
    # DC-09 section 5.5.1.10: pad at the front with 1-16 characters to a multiple of 16.
    pad_len = 16 - len(plain) % 16
    padded = "".join(secrets.choice(_PAD_ALPHABET) for _ in range(pad_len)) + plain
    enc = Cipher(algorithms.AES(key), modes.CBC(_ZERO_IV)).encryptor()
    return (enc.update(padded.encode("ascii")) + enc.finalize()).hex().upper()


def _decrypt(key: bytes, hex_text: str) -> str:
    try:
        data = bytes.fromhex(hex_text)
    except ValueError as e:
        raise DC09Error("encrypted part is not hex") from e
    if not data or len(data) % 16:
        raise DC09Error(f"encrypted part is {len(data)} bytes, not a multiple of 16")
    dec = Cipher(algorithms.AES(key), modes.CBC(_ZERO_IV)).decryptor()
    return (dec.update(data) + dec.finalize()).decode("ascii", errors="replace")


def encode(
    prefix: Prefix, seq: int, event: Event | None, at: dt.datetime, key: bytes | None = None
) -> bytes:
    """An SIA-DCS message for `event`, or a NULL supervision message when event is None."""
    check_key(key)
    kind = "NULL" if event is None else "SIA-DCS"
    data = "]" if event is None else f"|{event.render()}"
    head = prefix.render(seq)
    if key is None:
        # In clear the data repeats the account (`#acct|...`), as DC-04 writes it.
        inner = "" if event is None else f"#{prefix.account.upper()}"
        return _frame(f'"{kind}"{head}[{inner}{data}{timestamp(at)}')
    return _frame(f'"*{kind}"{head}[{_encrypt(key, data + timestamp(at))}')


# A receiver's answer, or (for tests and the scripted receiver) any message.
_MESSAGE = re.compile(
    r"(?P<crc>[0-9A-F]{4})(?P<length>[0-9A-F]{4})"
    r'(?P<body>"(?P<star>\*)?(?P<id>ACK|NAK|DUH|RSP|NULL|SIA-DCS)"'
    r"(?P<seq>\d{4})(?:R(?P<receiver>[0-9A-F]{1,6}))?(?:L(?P<line>[0-9A-F]{1,6}?))?"
    r"(?:#(?P<account>[0-9A-F]{3,16}))?(?:A0)?\[(?P<rest>.*))",
    re.S,
)
_TS = re.compile(r"_(\d\d:\d\d:\d\d,\d\d-\d\d-\d{4})")


@dataclass(frozen=True)
class Message:
    id: str  # ACK, NAK, DUH, RSP, NULL or SIA-DCS
    seq: int
    encrypted: bool
    receiver: str | None
    line: str | None
    account: str | None
    content: str  # after `[`, decrypted when a key was given
    timestamp: dt.datetime | None


def decode(frame: bytes, key: bytes | None = None) -> Message:
    """Read one DC-09 message (LF/CR optional). Raises DC09Error saying what is wrong."""
    check_key(key)
    try:
        text = frame.strip(b"\n\r\x00 ").decode("ascii")
    except UnicodeDecodeError as e:
        raise DC09Error("a DC-09 message is ASCII") from e
    m = _MESSAGE.fullmatch(text)
    if m is None:
        raise DC09Error(f"not a DC-09 message: {text[:80]!r}")
    body = m["body"]
    if int(m["crc"], 16) != crc16(body.encode("ascii")):
        raise DC09Error(f"CRC mismatch: says {m['crc']}, is {crc16(body.encode()):04X}")
    if int(m["length"], 16) != len(body):
        raise DC09Error(f"length mismatch: says {int(m['length'], 16)}, is {len(body)}")
    content = m["rest"]
    encrypted = m["star"] is not None
    if encrypted:
        if key is None:
            raise DC09Error("encrypted message but no key for this receiver")
        content = _decrypt(key, content)
    ts = _TS.search(content)
    return Message(
        id=m["id"],
        seq=int(m["seq"]),
        encrypted=encrypted,
        receiver=m["receiver"],
        line=m["line"],
        account=m["account"],
        content=content,
        timestamp=parse_timestamp(ts[1]) if ts else None,
    )


def response(
    kind: str, prefix: Prefix, seq: int, at: dt.datetime, key: bytes | None = None
) -> bytes:
    """A receiver's answer (ACK, NAK or DUH): for the scripted receiver in tests."""
    if kind == "NAK":
        return _frame(f'"NAK"0000R{prefix.receiver}L{prefix.line}A0[]{timestamp(at)}')
    head = prefix.render(seq)
    if key is None or kind == "DUH":
        return _frame(f'"{kind}"{head}[]')
    return _frame(f'"*{kind}"{head}[{_encrypt(key, "]" + timestamp(at))}')
