"""The transmitter side of DC-09 to one alarm receiving centre, over TCP or UDP.

One `Link` per receiver: it keeps its TCP connection open between messages (a connect per alarm
would add a round trip to every SOS), sends one message, waits for the receiver's answer and
reads it:

- ACK (with our sequence number): delivered.
- NAK: the receiver refused the message's timestamp (DC-09 section 5.5.2.3). Its NAK carries its
  own clock; the link remembers the offset and resends the same message, same sequence number,
  with a timestamp the receiver accepts. A second NAK is a failure.
- DUH: the receiver did not understand the message. DC-09 says not to repeat it at once; the
  caller records the failure and tries again later (an ARC that fixes its account set-up then
  gets the alarm).

Every failure is an ArcUnreachable or DC09Error for the caller to record; none escapes as a
crash, and a link whose socket broke reconnects on the next message.
"""

from __future__ import annotations

import datetime as dt
import socket
from collections.abc import Callable
from dataclasses import dataclass

from monitor.arc import dc09
from monitor.errors import ArcUnreachable, DC09Error

ACK_TIMEOUT_S = 5.0  # DC-09 leaves it to the installation; a live ARC answers in milliseconds
CONNECT_TIMEOUT_S = 5.0
MAX_ANSWER = 4096  # an answer is under 200 bytes: more without a CR is not DC-09


@dataclass(frozen=True)
class ReceiverConfig:
    host: str
    port: int
    protocol: str  # tcp | udp
    prefix: dc09.Prefix
    key: bytes | None = None

    def __post_init__(self) -> None:
        if self.protocol not in ("tcp", "udp"):
            raise DC09Error(f"protocol must be tcp or udp, not {self.protocol!r}")
        dc09.check_key(self.key)


class Link:
    def __init__(
        self,
        config: ReceiverConfig,
        timeout_s: float = ACK_TIMEOUT_S,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.config = config
        self.timeout_s = timeout_s
        self._clock = clock  # tests give a skewed clock to make a real receiver NAK
        self.offset = dt.timedelta(0)  # receiver's clock minus ours, learnt from a NAK
        self._sock: socket.socket | None = None

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()

    def send(self, seq: int, event: dc09.Event | None) -> dc09.Message:
        """Deliver one message (event None: a NULL supervision message); returns the ACK."""
        for attempt in range(2):
            frame = dc09.encode(
                self.config.prefix, seq, event, self._clock() + self.offset, self.config.key
            )
            answer = self._roundtrip(frame)
            try:
                msg = dc09.decode(answer, self.config.key)
            except DC09Error:
                self.close()  # whatever is on this connection now is out of step
                raise
            if msg.id == "ACK":
                if msg.seq != seq:
                    self.close()
                    raise ArcUnreachable(f"ACK for sequence {msg.seq:04d}, sent {seq:04d}")
                return msg
            if msg.id == "NAK":
                if attempt > 0:
                    break
                if msg.timestamp is not None:
                    self.offset = msg.timestamp - self._clock()
                continue
            if msg.id == "DUH":
                raise ArcUnreachable("receiver answered DUH (did not understand the message)")
            raise ArcUnreachable(f"receiver answered {msg.id}")
        raise ArcUnreachable("receiver answered NAK again after the timestamp resync")

    def _roundtrip(self, frame: bytes) -> bytes:
        if self.config.protocol == "udp":
            return self._udp(frame)
        reused = self._sock is not None
        try:
            return self._tcp(frame)
        except (OSError, ArcUnreachable):
            self.close()
            if not reused:
                raise
        # The kept connection had died (the receiver restarted or dropped an idle link): once
        # more on a fresh one. A receiver that did see the first copy sees a repeat of the
        # same sequence number, which DC-09 allows.
        try:
            return self._tcp(frame)
        except OSError:
            self.close()
            raise

    def _tcp(self, frame: bytes) -> bytes:
        if self._sock is None:
            try:
                self._sock = socket.create_connection(
                    (self.config.host, self.config.port), timeout=CONNECT_TIMEOUT_S
                )
            except OSError as e:
                raise ArcUnreachable(f"cannot connect to {self._where()}: {e}") from e
            self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock = self._sock
        sock.settimeout(self.timeout_s)
        try:
            sock.sendall(frame)
            return self._read_answer(sock)
        except TimeoutError as e:
            raise ArcUnreachable(f"no answer from {self._where()} in {self.timeout_s} s") from e

    def _read_answer(self, sock: socket.socket) -> bytes:
        buf = b""
        while True:
            chunk = sock.recv(1024)
            if not chunk:
                raise ArcUnreachable(f"{self._where()} closed the connection before answering")
            buf += chunk
            end = buf.find(b"\r")
            if end >= 0:
                # A message starts after its LF; anything before it (a stray CR/LF) is noise.
                return buf[: end + 1]
            if len(buf) > MAX_ANSWER:
                raise DC09Error(f"{len(buf)} bytes from {self._where()} without a CR")

    def _udp(self, frame: bytes) -> bytes:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(self.timeout_s)
            try:
                sock.sendto(frame, (self.config.host, self.config.port))
                answer, _ = sock.recvfrom(MAX_ANSWER)
            except TimeoutError as e:
                raise ArcUnreachable(f"no answer from {self._where()} in {self.timeout_s} s") from e
            except OSError as e:
                raise ArcUnreachable(f"UDP to {self._where()} failed: {e}") from e
            return answer

    def _where(self) -> str:
        return f"{self.config.protocol}://{self.config.host}:{self.config.port}"
