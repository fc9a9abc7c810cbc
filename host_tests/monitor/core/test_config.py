"""Settings refuse development secrets anywhere but development, and refuse to guess the
environment."""

from __future__ import annotations

import pytest

from monitor.core.config import Settings, settings_for
from monitor.errors import UnsafeSettings

GOOD = "k" * 40


def test_development_defaults_are_accepted_in_development() -> None:
    assert Settings(environment="development").master_key


def test_no_environment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VIGIL_ENVIRONMENT", raising=False)
    with pytest.raises(UnsafeSettings, match="VIGIL_ENVIRONMENT is not set"):
        Settings()
    assert settings_for(dev=True).environment == "development"


def test_dev_flag_does_not_override_a_named_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_ENVIRONMENT", "production")
    with pytest.raises(UnsafeSettings, match="contradicts"):
        settings_for(dev=True)


def test_production_refuses_default_or_short_master_key() -> None:
    with pytest.raises(UnsafeSettings, match="MASTER_KEY"):
        Settings(environment="production", cookie_secure=True, master_key="short")
    with pytest.raises(UnsafeSettings, match="MASTER_KEY"):
        Settings(environment="production", cookie_secure=True)


def test_secret_key_is_gone_and_an_old_env_file_still_loads() -> None:
    s = Settings(
        environment="production",
        master_key=GOOD,
        cookie_secure=True,
        webhook_secret=GOOD,
        secret_key="x",
    )
    assert not hasattr(s, "secret_key")


def test_production_requires_secure_cookies() -> None:
    with pytest.raises(UnsafeSettings, match="COOKIE_SECURE"):
        Settings(environment="production", master_key=GOOD)
    assert Settings(
        environment="production", master_key=GOOD, cookie_secure=True, webhook_secret=GOOD
    ).cookie_secure


def test_production_refuses_unsigned_or_weakly_signed_webhooks() -> None:
    for secret in (None, "", "short"):
        with pytest.raises(UnsafeSettings, match="WEBHOOK_SECRET"):
            Settings(
                environment="production",
                master_key=GOOD,
                cookie_secure=True,
                webhook_secret=secret,
            )
