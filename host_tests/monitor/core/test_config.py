"""Settings refuse development secrets anywhere but development."""

from __future__ import annotations

import pytest

from monitor.core.config import Settings
from monitor.errors import UnsafeSettings

GOOD = "k" * 40


def test_development_defaults_are_accepted_in_development() -> None:
    assert Settings(environment="development").master_key


@pytest.mark.parametrize("field", ["master_key", "secret_key"])
def test_production_refuses_default_or_short_secrets(field: str) -> None:
    with pytest.raises(UnsafeSettings, match=field.upper()):
        Settings(
            environment="production",
            cookie_secure=True,
            **{"master_key": GOOD, "secret_key": GOOD, field: "short"},
        )
    with pytest.raises(UnsafeSettings):
        Settings(
            environment="production",
            cookie_secure=True,
            **({"secret_key": GOOD} if field == "master_key" else {"master_key": GOOD}),
        )


def test_production_requires_secure_cookies() -> None:
    with pytest.raises(UnsafeSettings, match="COOKIE_SECURE"):
        Settings(environment="production", master_key=GOOD, secret_key=GOOD)
    assert Settings(
        environment="production", master_key=GOOD, secret_key=GOOD, cookie_secure=True
    ).cookie_secure
