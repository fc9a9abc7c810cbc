"""One notifier per channel, chosen by each contact's channel; built from the settings."""

from __future__ import annotations

import logging
from typing import Any, Final

from monitor.channels.base import Notifier
from monitor.channels.email import EmailChannel, SmtpConfig
from monitor.channels.sms_http import SmsHttpChannel, SmsHttpConfig
from monitor.channels.sms_modem import ModemConfig, ModemSmsChannel
from monitor.channels.webhook import WebhookChannel
from monitor.core.config import Settings
from monitor.errors import NotifyFailed
from monitor.models import Contact

log = logging.getLogger("vigil.channels")

CHANNELS: Final[tuple[str, ...]] = ("webhook", "email", "sms_modem", "sms_http")


class ChannelRegistry(Notifier):
    """Dispatches each delivery to the notifier for its contact's channel."""

    def __init__(self, channels: dict[str, Notifier]) -> None:
        unknown = set(channels) - set(CHANNELS)
        if unknown:
            raise ValueError(f"unknown channels: {sorted(unknown)}")
        self._channels = channels

    @property
    def configured(self) -> frozenset[str]:
        return frozenset(self._channels)

    def channel_for(self, contact: Contact) -> str:
        return contact.channel or "webhook"

    def send(self, contact: Contact, message: dict[str, Any]) -> None:
        name = self.channel_for(contact)
        channel = self._channels.get(name)
        if channel is None:
            # Configuration, not the network: retrying in this process cannot help.
            raise NotifyFailed(
                f"channel {name!r} is not configured on this monitor", permanent=True
            )
        channel.send(contact, message)


def from_settings(settings: Settings) -> ChannelRegistry:
    # Production refuses to start without a webhook secret (core/config.py); development and
    # tests may send unsigned webhooks to receivers that do not verify.
    channels: dict[str, Notifier] = {"webhook": WebhookChannel(secret=settings.webhook_secret)}
    if settings.smtp_host:
        channels["email"] = EmailChannel(
            SmtpConfig(
                host=settings.smtp_host,
                port=settings.smtp_port,
                security=settings.smtp_security,
                username=settings.smtp_username,
                password=settings.smtp_password,
                sender=settings.smtp_from,
                ca_file=settings.smtp_ca_file,
            )
        )
    if settings.sms_http_url:
        try:
            channels["sms_http"] = SmsHttpChannel(
                SmsHttpConfig(
                    url=settings.sms_http_url,
                    method=settings.sms_http_method,
                    body_template=settings.sms_http_body,
                    body_format=settings.sms_http_body_format,
                    authorization=settings.sms_http_authorization,
                )
            )
        except ValueError as e:
            # The monitor still starts (alarms must still arrive); sms_http deliveries then
            # fail as "not configured" on each alarm, and this says why.
            log.error("VIGIL_SMS_HTTP_* refused, SMS by provider is off: %s", e)
    if settings.sms_modem_port:
        channels["sms_modem"] = ModemSmsChannel(
            ModemConfig(port=settings.sms_modem_port, baudrate=settings.sms_modem_baudrate)
        )
    return ChannelRegistry(channels)
