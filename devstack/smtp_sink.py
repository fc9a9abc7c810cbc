"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, for tests and benches.

Optional STARTTLS or implicit TLS with a self-signed certificate made on the spot (cryptography),
and optional AUTH with one username and password. Each message is kept with the time it
arrived, so a bench can measure alarm committed -> message received.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email
import email.policy
import socket
import ssl
import threading
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session


@dataclasses.dataclass
class Received:
    envelope_from: str
    envelope_to: list[str]
    message: EmailMessage
    at: float  # time.time() when the DATA command completed


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self._sink = sink

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook names
        self, server: Any, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address in self._sink.refuse:
            return "550 5.1.1 mailbox unavailable"
        if address in self._sink.defer:
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook names
        self, server: Any, session: Session, envelope: Envelope
    ) -> str:
        raw = envelope.original_content or b""
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        with self._sink.arrived:
            self._sink.received.append(
                Received(str(envelope.mail_from), list(envelope.rcpt_tos), parsed, time.time())
            )
            self._sink.arrived.notify_all()
        return "250 OK"


def free_port() -> int:
    # aiosmtpd's Controller connects to its own port to know it is up, so it needs a number.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def self_signed(directory: Path, host: str = "localhost") -> tuple[Path, Path]:
    """(certificate, key) PEM files for host and 127.0.0.1, valid for a day."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(host), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class SmtpSink:
    def __init__(
        self,
        *,
        tls_cert: tuple[Path, Path] | None = None,
        credentials: tuple[str, str] | None = None,
        implicit_tls: bool = False,
    ) -> None:
        self.received: list[Received] = []
        self.arrived = threading.Condition()
        self.refuse: set[str] = set()  # RCPT answered 550: a permanent failure
        self.defer: set[str] = set()  # RCPT answered 451: a transient one
        self.host = "127.0.0.1"
        self.port = free_port()
        self._credentials = credentials
        kwargs: dict[str, Any] = {}
        if tls_cert is not None:
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(str(tls_cert[0]), str(tls_cert[1]))
            if implicit_tls:  # TLS from the first byte, as on port 465
                kwargs.update(ssl_context=ctx)
            else:
                kwargs.update(tls_context=ctx, require_starttls=True)
        if credentials is not None:
            kwargs.update(authenticator=self._authenticate, auth_require_tls=tls_cert is not None)
        self._controller = Controller(_Handler(self), hostname=self.host, port=self.port, **kwargs)

    def _authenticate(
        self, server: Any, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and self._credentials is not None
            and (data.login.decode(), data.password.decode()) == self._credentials
        )
        # handled=False: aiosmtpd then answers a refusal with 535 itself (its default, True,
        # means "already answered" and leaves the client waiting).
        return AuthResult(success=ok, handled=False)

    def start(self) -> SmtpSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def wait_for(self, count: int, timeout_s: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout_s
        with self.arrived:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(self.received)} of {count} messages arrived")
                self.arrived.wait(left)
            return list(self.received)
