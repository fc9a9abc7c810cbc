"""`python -m monitor` administration commands."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from monitor import __main__ as cli
from monitor.core.config import get_settings
from monitor.core.crypto import token_hash, verify_password
from monitor.core.db import Database
from monitor.models import Gateway, User


@pytest.fixture
def db_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path}/cli.db"
    monkeypatch.setenv("VIGIL_DATABASE_URL", url)
    monkeypatch.setenv("VIGIL_ENVIRONMENT", "development")  # no environment: refused
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def test_create_user_and_gateway(
    db_env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli.getpass, "getpass", lambda prompt="": "correct horse battery")
    cli.main(["create-user", "--username", "alice", "--name", "Alice", "--role", "admin"])
    cli.main(["create-gateway", "--name", "van 1"])
    token = capsys.readouterr().out.rsplit(": ", 1)[1].strip()
    db = Database(db_env)
    with db.session() as s:
        user = s.scalar(select(User).where(User.username == "alice"))
        assert user is not None and user.role == "admin"
        assert verify_password(user.password_hash, "correct horse battery")
        assert s.scalar(select(Gateway.name).where(Gateway.token_hash == token_hash(token)))
    with pytest.raises(SystemExit, match="already exists"):
        cli.main(["create-user", "--username", "alice", "--name", "A", "--role", "admin"])
    db.engine.dispose()


def test_short_password_is_refused(db_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli.getpass, "getpass", lambda prompt="": "short")
    with pytest.raises(SystemExit, match="at least 10"):
        cli.main(["create-user", "--username", "bob", "--name", "Bob", "--role", "operator"])
