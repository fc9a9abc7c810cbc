"""All settings in one place, from VIGIL_* environment variables.

Fail closed: with no VIGIL_ENVIRONMENT the settings refuse to load. A forgotten variable must not
start a monitor that seals device keys under the public development key and sends cookies
without `Secure`; development has to be asked for, with VIGIL_ENVIRONMENT=development or
`python -m monitor serve --dev`.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from monitor.errors import UnsafeSettings

# Development-only values: refused anywhere else so a forgotten variable cannot ship a known key.
DEV_MASTER_KEY = "dev-only-master-key-change-me-0000"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VIGIL_", env_file=None, extra="ignore")

    environment: Literal["development", "test", "production"] | None = None
    database_url: str = "sqlite:///./var/vigil.db"
    # Encrypts device keys at rest (HKDF-derived AES-GCM key). Losing it loses every device key.
    master_key: str = DEV_MASTER_KEY
    # There is no VIGIL_SECRET_KEY: sessions, CSRF and API tokens are random values checked
    # against the database, so nothing is signed with a server secret. (Older env files that
    # still set it load fine: unknown variables are ignored.)
    session_hours: int = 12  # one operator shift
    # Operator API tokens (scripts, integrations) expire; minting needs a console session.
    api_token_days: int = Field(default=90, ge=1, le=366)
    # Admin-issued password reset tokens: long enough to pass on by phone, short enough to age out.
    reset_token_minutes: int = Field(default=60, ge=5, le=24 * 60)
    # Open alarm streams re-check their session or token this often and end once it is gone
    # (logout, expiry, user disabled, token revoked): how long a logged-out console can still
    # see alarms. One indexed lookup per stream per interval.
    stream_recheck_s: float = Field(default=5.0, gt=0, le=60)
    # Open alarm streams one user may hold on one instance: a console per screen and tab is a
    # handful; thousands left unread (a script, a leak) slowed every other request to seconds.
    max_streams_per_user: int = Field(default=20, ge=1, le=1000)
    # Downlink long polls one gateway (relay or phone) may hold open on one instance: a relay
    # holds one, a phone one per open tab. Generous because a poll whose client died (a gateway
    # killed and restarted) keeps its place until its wait ends, up to 25 s.
    max_long_polls_per_gateway: int = Field(default=32, ge=1, le=1000)
    # Heartbeats one gateway may post per second on one instance, saving up to the burst; 0 is
    # no cap. Alarms are never capped. A site's relay sends a few a second; one back from a
    # day offline drains ~300k in a few minutes at this rate, and cannot crowd out the others.
    bulk_frames_per_s_per_gateway: float = Field(default=2000.0, ge=0)
    bulk_burst_frames: float = Field(default=20000.0, gt=0)
    cookie_secure: bool = False
    # Supervision defaults for devices that have not told us otherwise.
    heartbeat_interval_s: int = 60
    heartbeat_grace_beats: int = 3  # missed beats before "device offline": one lost beat is noise
    scheduler_tick_s: float = 2.0  # supervision/escalation granularity; well under BS 8484's 30 s
    # Escalation covers the alarms a person must act on. A flat battery is the worker's own
    # errand unless the organisation wants contacts told; a fob gone silent escalates only after
    # this much longer (a tunnel or a flat phone is common, a worker down behind it is not).
    escalate_low_battery: bool = False
    # Where contacts' phones reach this monitor: the base of the answer links in escalation
    # messages (/respond/<token>). Behind a proxy, the proxy's public address.
    public_url: str = "http://127.0.0.1:8000"
    offline_escalation_delay_s: int = Field(default=900, ge=0, le=24 * 3600)
    run_scheduler: bool = True
    login_max_failures: int = 5
    login_window_s: int = 300  # failures counted over 5 minutes per address+user
    # Per address over all usernames (password spraying). Behind a reverse proxy, set
    # forwarded_allow_ips to the proxy, or every client shares the proxy's address and limits.
    login_max_failures_per_address: int = 20
    # Per account over all addresses (guessing from many addresses). Once reached, an address
    # that has already failed for the account is refused; one that has not still gets to try,
    # so an attacker cannot lock the real user out from their own address (services/auth.py).
    login_max_failures_per_account: int = 10
    # Addresses whose X-Forwarded-For / X-Forwarded-Proto are believed (uvicorn's
    # forwarded_allow_ips: comma-separated IPs or networks, "*" for all). Empty: none, so a
    # client cannot pick its own address for the login throttle. Behind nginx on this host:
    # 127.0.0.1.
    forwarded_allow_ips: str = ""
    # --- escalation channels (monitor/channels/; docs/escalation.md). A channel left
    # unconfigured fails its deliveries at once with "not configured", visible on the alarm.
    # Webhooks: HMAC-SHA256 signing secret for the Vigil-Signature header. Unset: unsigned.
    webhook_secret: str | None = None
    # E-mail: an SMTP relay. security: starttls (port 587), tls (implicit, port 465) or none.
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "vigil@localhost"
    smtp_ca_file: str | None = None  # trust this CA bundle instead of the system's
    # SMS through an HTTP provider: {to} and {text} are filled in the URL and body.
    sms_http_url: str | None = None
    sms_http_method: Literal["POST", "GET"] = "POST"
    sms_http_body: str = '{"to": "{to}", "text": "{text}"}'
    sms_http_body_format: Literal["json", "form"] = "json"
    sms_http_authorization: str | None = None  # the Authorization header's whole value
    # SMS through a GSM modem on this serial port (e.g. /dev/ttyUSB2).
    sms_modem_port: str | None = None
    sms_modem_baudrate: int = 115200
    # The alarm page's map (Leaflet). Tiles are fetched by the operator's browser from this
    # template ({z}/{x}/{y}, optional {s}); the default is OpenStreetMap's public server, which an
    # offline control room cannot reach: point it at your own tile server, or set it empty to
    # show no map. The coordinates, accuracy, source and age are always shown as text as well.
    map_tile_url: str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    # Shown on the map as the tiles' licence requires; HTML is not interpreted.
    map_attribution: str = "© OpenStreetMap contributors"

    @model_validator(mode="after")
    def _refuse_unsafe_defaults(self) -> Settings:
        if self.environment is None:
            raise UnsafeSettings(
                "VIGIL_ENVIRONMENT is not set: set it to production (or test), or start a "
                "development monitor with `python -m monitor serve --dev`"
            )
        if self.environment == "development":
            return self
        if self.master_key == DEV_MASTER_KEY or len(self.master_key) < 32:
            raise UnsafeSettings("set VIGIL_MASTER_KEY to a random secret of 32+ characters")
        if self.environment == "production" and not self.cookie_secure:
            raise UnsafeSettings("set VIGIL_COOKIE_SECURE=true behind TLS in production")
        if self.environment == "production" and len(self.webhook_secret or "") < 32:
            # An unsigned escalation webhook can be forged or replayed by anyone who learns a
            # receiver's address; receivers verify Vigil-Signature with this secret.
            raise UnsafeSettings(
                "set VIGIL_WEBHOOK_SECRET to a random secret of 32+ characters in production, "
                "and give it to your webhook receivers (docs/escalation.md)"
            )
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()


def settings_for(dev: bool) -> Settings:
    """The settings for a command given `--dev` or not. `--dev` stands for
    VIGIL_ENVIRONMENT=development and refuses to contradict a VIGIL_ENVIRONMENT saying otherwise."""
    if not dev:
        return get_settings()
    named = os.environ.get("VIGIL_ENVIRONMENT", "").strip().lower()
    if named not in ("", "development"):
        raise UnsafeSettings(f"--dev contradicts VIGIL_ENVIRONMENT={named}; drop one of them")
    return Settings(environment="development")
