"""Demo and test data: an admin, an operator, a supervisor of the worker's team, a worker with
escalation, a provisioned fob."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from monitor.core.crypto import KeyBox
from monitor.core.db import Database
from monitor.models import Contact, Device, Gateway, Team, User, Worker
from monitor.services import auth, provisioning, scope

SEED_TEAM = "Housing visits"


@dataclass
class Seeded:
    admin_id: int
    operator_id: int
    supervisor_id: int
    team_id: int
    worker_id: int
    device_id: int
    gateway_id: int


def seed(
    db: Database,
    keybox: KeyBox,
    *,
    admin_password: str,
    operator_password: str,
    device_id: int,
    device_key: bytes,
    gateway_token: str,
    escalation_webhook: str | None = None,
) -> Seeded:
    """Idempotent: running it twice leaves one of each."""
    with db.session() as s:
        admin = s.scalar(select(User).where(User.username == "admin")) or auth.create_user(
            s, "system", "admin", "Avery Admin", "admin", admin_password
        )
        op = s.scalar(select(User).where(User.username == "operator")) or auth.create_user(
            s, "system", "operator", "Olu Operator", "operator", operator_password
        )
        team = s.scalar(select(Team).where(Team.name == SEED_TEAM))
        if team is None:
            team = Team(name=SEED_TEAM, office="Civic Centre, floor 2")
            s.add(team)
            s.flush()
        sup = s.scalar(select(User).where(User.username == "supervisor"))
        if sup is None:
            # The operator's password: tests and the demo log in as either the same way.
            sup = auth.create_user(
                s, "system", "supervisor", "Sasha Supervisor", "supervisor", operator_password
            )
            scope.set_teams(s, sup, [team.id])
        worker = s.scalar(select(Worker).where(Worker.name == "Sam Rivera"))
        if worker is None:
            worker = Worker(
                name="Sam Rivera",
                phone="+44 7700 900123",
                team=SEED_TEAM,
                risk_notes="Visits tenants alone in the evenings. Asthma: inhaler in left "
                "jacket pocket. Two properties on Elm Road flagged for verbal abuse.",
            )
            s.add(worker)
            s.flush()
            if escalation_webhook:
                s.add(
                    Contact(
                        worker_id=worker.id,
                        position=0,
                        name="Team leader",
                        channel="webhook",
                        address=escalation_webhook,
                        webhook_url=escalation_webhook,
                        delay_s=60,
                    )
                )
        if s.get(Device, device_id) is None:
            provisioning.provision_device(
                s,
                keybox,
                "system",
                board="m5stickc-plus2",
                device_id=device_id,
                firmware_version="0.1.0",
                worker_id=worker.id,
                key=device_key,
            )
        gw = s.scalar(select(Gateway).where(Gateway.name == "demo-gateway"))
        if gw is None:
            gw, _ = provisioning.create_gateway(s, "system", "demo-gateway", token=gateway_token)
        return Seeded(admin.id, op.id, sup.id, team.id, worker.id, device_id, gw.id)
