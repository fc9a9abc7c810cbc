"""All settings in one place, from VIGIL_* environment variables."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from monitor.errors import UnsafeSettings

# Development-only values: refused anywhere else so a forgotten variable cannot ship a known key.
DEV_MASTER_KEY = "dev-only-master-key-change-me-0000"
DEV_SECRET_KEY = "dev-only-session-secret-change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VIGIL_", env_file=None, extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite:///./var/vigil.db"
    # Encrypts device keys at rest (HKDF-derived AES-GCM key). Losing it loses every device key.
    master_key: str = DEV_MASTER_KEY
    secret_key: str = DEV_SECRET_KEY
    session_hours: int = 12  # one operator shift
    cookie_secure: bool = False
    # Supervision defaults for devices that have not told us otherwise.
    heartbeat_interval_s: int = 60
    heartbeat_grace_beats: int = 3  # missed beats before "device offline": one lost beat is noise
    scheduler_tick_s: float = 2.0  # supervision/escalation granularity; well under BS 8484's 30 s
    run_scheduler: bool = True
    login_max_failures: int = 5
    login_window_s: int = 300  # failures counted over 5 minutes per address+user
    # Per address over all usernames (password spraying). Behind a reverse proxy, run uvicorn
    # with --proxy-headers or every client shares the proxy's address and this limit.
    login_max_failures_per_address: int = 20

    @model_validator(mode="after")
    def _refuse_unsafe_defaults(self) -> Settings:
        if self.environment == "development":
            return self
        if self.master_key == DEV_MASTER_KEY or len(self.master_key) < 32:
            raise UnsafeSettings("set VIGIL_MASTER_KEY to a random secret of 32+ characters")
        if self.secret_key == DEV_SECRET_KEY or len(self.secret_key) < 32:
            raise UnsafeSettings("set VIGIL_SECRET_KEY to a random secret of 32+ characters")
        if self.environment == "production" and not self.cookie_secure:
            raise UnsafeSettings("set VIGIL_COOKIE_SECURE=true behind TLS in production")
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
