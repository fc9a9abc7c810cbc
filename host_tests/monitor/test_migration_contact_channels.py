"""Migration 0008: contacts made before channels become webhook contacts at their URL."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import select, text

from monitor.core.db import Database
from monitor.migrate import config, upgrade
from monitor.models import Contact


def test_existing_contacts_become_webhooks_at_their_url_and_downgrade_restores_them(
    tmp_path: Path,
) -> None:
    db = Database(f"sqlite:///{tmp_path}/legacy.db")
    upgrade(db.engine, "0006_refused_credentials")
    with db.engine.begin() as conn:
        conn.execute(
            text("INSERT INTO workers (id, name, created_at) VALUES (1, 'Sam', '2026-01-01')")
        )
        conn.execute(
            text(
                "INSERT INTO contacts (worker_id, position, name, webhook_url, delay_s)"
                " VALUES (1, 0, 'Lead', 'https://hooks.example/lead', 30)"
            )
        )
    upgrade(db.engine, "0008_contact_channels")
    with db.session() as s:
        [c] = s.scalars(select(Contact)).all()
        assert (c.channel, c.address, c.target) == (
            "webhook",
            "https://hooks.example/lead",
            "https://hooks.example/lead",
        )
        s.add(
            Contact(
                worker_id=1,
                position=1,
                name="Mail",
                channel="email",
                address="m@example.org",
                delay_s=60,
            )
        )
    command.downgrade(config(db.engine), "0006_refused_credentials")
    with db.engine.connect() as conn:
        rows = conn.execute(text("SELECT name, webhook_url FROM contacts")).all()
    db.engine.dispose()
    assert [tuple(r) for r in rows] == [("Lead", "https://hooks.example/lead")]
