"""E-mail over SMTP (stdlib smtplib): STARTTLS or implicit TLS when configured, AUTH when given.

SMTP replies classify the failure: 5xx (unknown mailbox, bad credentials, message refused) is
permanent; 4xx (greylisting, mailbox busy) and any network fault is retried by escalation.py.
"""

from __future__ import annotations

import dataclasses
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Literal

from monitor.channels import text
from monitor.channels.base import Notifier
from monitor.errors import NotifyFailed
from monitor.models import Contact

Security = Literal["starttls", "tls", "none"]


@dataclasses.dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int = 587
    security: Security = "starttls"
    username: str | None = None
    password: str | None = None
    sender: str = "vigil@localhost"
    # A CA bundle to trust instead of the system's (a private relay's own certificate).
    ca_file: str | None = None
    timeout_s: float = 10.0  # one dead relay must not hold the next contact's delivery for long

    def tls_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file)


def valid_email(address: str) -> bool:
    """A plain addr-spec: one @, a dotted domain, no spaces, control characters or the
    punctuation that would let an address smuggle a second recipient or header."""
    local, at, domain = address.partition("@")
    if not (at and local and "." in domain.strip(".")) or "@" in domain:
        return False
    return not any(ord(c) < 33 or ord(c) == 127 or c in '<>,;:()[]\\"' for c in address)


def build(config: SmtpConfig, to: str, message: dict[str, Any]) -> EmailMessage:
    m = EmailMessage()
    m["From"] = config.sender
    m["To"] = to
    m["Subject"] = text.subject(message)
    m["Date"] = formatdate(localtime=False, usegmt=True)
    m["Message-ID"] = make_msgid(domain=config.sender.partition("@")[2] or "vigil.local")
    alarm = message.get("alarm") or {}
    # Lets a receiver (or the bench) match the message to its alarm without parsing the body.
    m["X-Vigil-Alarm"] = str(alarm.get("id"))
    m.set_content(text.body(message))
    return m


def _smtp_failure(e: smtplib.SMTPException) -> NotifyFailed:
    if isinstance(e, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in e.recipients.values()]
        detail = "; ".join(f"{r}: {c} {m!r}" for r, (c, m) in e.recipients.items())
        return NotifyFailed(
            f"SMTP recipient refused: {detail}"[:500], permanent=all(c >= 500 for c in codes)
        )
    if isinstance(e, smtplib.SMTPResponseException):
        msg = (
            e.smtp_error.decode(errors="replace")
            if isinstance(e.smtp_error, bytes)
            else e.smtp_error
        )
        return NotifyFailed(f"SMTP {e.smtp_code} {msg}"[:500], permanent=e.smtp_code >= 500)
    if isinstance(e, smtplib.SMTPNotSupportedError):
        # The relay does not offer STARTTLS or AUTH we were told to use: a configuration fault.
        return NotifyFailed(f"SMTP: {e}", permanent=True)
    return NotifyFailed(f"SMTP {type(e).__name__}: {e}")  # disconnects: retry


class EmailChannel(Notifier):
    channel = "email"

    def __init__(self, config: SmtpConfig) -> None:
        self._config = config

    def send(self, contact: Contact, message: dict[str, Any]) -> None:
        to = contact.target
        if not valid_email(to):
            raise NotifyFailed(f"not an e-mail address: {to!r}", permanent=True)
        try:
            mail = build(self._config, to, message)
        except (ValueError, TypeError) as e:
            # A From address or text the e-mail library refuses will be refused every time.
            raise NotifyFailed(f"e-mail not built: {type(e).__name__}: {e}", permanent=True) from e
        c = self._config
        try:
            smtp: smtplib.SMTP
            if c.security == "tls":
                smtp = smtplib.SMTP_SSL(
                    c.host, c.port, timeout=c.timeout_s, context=c.tls_context()
                )
            else:
                smtp = smtplib.SMTP(c.host, c.port, timeout=c.timeout_s)
            with smtp:
                if c.security == "starttls":
                    smtp.starttls(context=c.tls_context())
                if c.username:
                    smtp.login(c.username, c.password or "")
                smtp.send_message(mail)
        except smtplib.SMTPException as e:
            raise _smtp_failure(e) from e
        except ssl.SSLCertVerificationError as e:
            raise NotifyFailed(f"SMTP TLS certificate refused: {e}", permanent=True) from e
        except UnicodeError as e:
            # A non-ASCII address to a relay without SMTPUTF8: the same next time.
            raise NotifyFailed(f"SMTP {type(e).__name__}: {e}", permanent=True) from e
        except OSError as e:
            # Connection refused, timeout, DNS: the relay may be back on the next attempt.
            raise NotifyFailed(f"SMTP {type(e).__name__}: {e}") from e
