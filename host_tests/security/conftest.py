"""Security fixtures: a seeded database with every kind of credential already issued.

The template is built once (argon2 hashing and migrations are the slow part) and copied per
test, so each attack starts from the same known state and no attack can leak into the next.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from devstack.pg import Cluster
from host_tests.support.monitor import frame_item, make_settings
from host_tests.support.security import (
    OTHER_GATEWAY_TOKEN,
    REVOKED_DEVICE_ID,
    REVOKED_DEVICE_KEY,
    REVOKED_GATEWAY_TOKEN,
    SPARE_DEVICE_ID,
    Creds,
    PgTemplate,
    SecEnv,
    Template,
    open_env,
)
from monitor.api.main import create_app
from monitor.models import Alarm, PhoneEnrolment, User
from monitor.seed import Seeded
from monitor.services import alarms, auth, incidents, ingest, phones, provisioning, scope
from protocol import frame_types as ft

# The migrated, seeded templates and the PostgreSQL cluster are host_tests/conftest.py's,
# shared with the monitor suite, not rebuilt. Helpers are in host_tests/support/security.py.


def _populate(url: str, seeded: Seeded) -> Creds:
    """Issue every kind of credential and two alarms into a seeded database."""
    app = create_app(make_settings(url), migrate=False)
    db, keybox = app.state.db, app.state.keybox
    with db.session() as s:
        op = s.scalars(select(User).where(User.username == "operator")).one()
        admin = s.scalars(select(User).where(User.username == "admin")).one()
        op_api = auth.create_api_token(s, op, "security tests")
        admin_api = auth.create_api_token(s, admin, "security tests")
        op_sess, op_csrf = auth.start_session(s, op, 12)
        admin_sess, admin_csrf = auth.start_session(s, admin, 12)
        sup = s.scalars(select(User).where(User.username == "supervisor")).one()
        sup_api = auth.create_api_token(s, sup, "security tests")
        sup_sess, sup_csrf = auth.start_session(s, sup, 12)
        reset, _ = auth.issue_reset(s, "user:admin", op, 60)
        _, used = phones.create_enrolment(s, "user:admin", admin.id, seeded.worker_id)
        phone = phones.redeem(s, keybox, used, "phone-test", None)
        fresh_row, fresh = phones.create_enrolment(s, "user:admin", admin.id, seeded.worker_id)
        # Valid for the whole session's tests, not ENROLMENT_TTL: the template outlives it.
        fresh_row.expires_at = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
        assert isinstance(fresh_row, PhoneEnrolment)
        other_gw, _ = provisioning.create_gateway(
            s, "system", "second-gateway", token=OTHER_GATEWAY_TOKEN
        )
        revoked_gw, _ = provisioning.create_gateway(
            s, "system", "revoked-gateway", token=REVOKED_GATEWAY_TOKEN
        )
        revoked_gw.revoked_at = dt.datetime.now(dt.UTC)
        provisioning.provision_device(
            s, keybox, "system", board="m5stickc-plus2", device_id=REVOKED_DEVICE_ID,
            key=REVOKED_DEVICE_KEY,
        )  # fmt: skip
        s.commit()
        provisioning.revoke_device(s, "system", REVOKED_DEVICE_ID)
        provisioning.provision_device(s, keybox, "system", board="m5stickc-plus2",
                                      device_id=SPARE_DEVICE_ID)  # fmt: skip
        s.commit()
        other_gw_id = other_gw.id
    # Two alarms through the real ingest: one open (acknowledge/resolve), one resolved (incident).
    with db.session() as s:
        results = ingest.ingest(
            s,
            keybox,
            [frame_item(ft.SOS, 1, (80, 0, 0)), frame_item(ft.FALL, 2, (80, 0, 0))],
            seeded.gateway_id,
        )
        assert [r["status"] for r in results] == ["accepted", "accepted"], results
    with db.session() as s:
        ids = sorted(a.id for a in s.scalars(select(Alarm)))
        alarms.resolve(s, keybox, ids[1], "system", "test", None)
        s.commit()
    with db.session() as s:
        recorder = s.scalars(select(User).where(User.username == "admin")).one()
        incident = incidents.record(
            s,
            scope.EVERYTHING,
            recorder,
            incidents.Details(type="phone_abuse", worker_id=seeded.worker_id,
                              occurred_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)),
        )  # fmt: skip
        s.commit()
        incident_id = incident.id
    db.engine.dispose()
    return Creds(
        op_api,
        admin_api,
        op_sess,
        op_csrf,
        admin_sess,
        admin_csrf,
        ids[0],
        ids[1],
        other_gw_id,
        reset,
        phone.token,
        fresh,
        sup_api,
        sup_sess,
        sup_csrf,
        incident_id=incident_id,
    )


@pytest.fixture(scope="session")
def security_template(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: tuple[Path, Seeded]
) -> Template:
    src, seeded = sqlite_template
    path = tmp_path_factory.mktemp("security") / "vigil.db"
    shutil.copy(src, path)
    return Template(path, seeded, _populate(f"sqlite:///{path}", seeded))


@pytest.fixture(scope="session")
def security_pg_template(pg_cluster: Cluster, pg_template: tuple[str, Seeded]) -> PgTemplate:
    name, seeded = pg_template
    url = pg_cluster.new_database(template=name)
    creds = _populate(url, seeded)
    return PgTemplate(url.split("@/", 1)[1].split("?")[0], seeded, creds)


@pytest.fixture
def sec(security_template: Template, tmp_path: Path) -> Iterator[SecEnv]:
    with open_env(security_template, tmp_path) as env:
        yield env


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def sec_any_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SecEnv]:
    """`sec` on each engine: ingest takes row locks and upserts differently on PostgreSQL."""
    if request.param == "sqlite":
        with open_env(request.getfixturevalue("security_template"), tmp_path) as env:
            yield env
        return
    cluster: Cluster = request.getfixturevalue("pg_cluster")
    t: PgTemplate = request.getfixturevalue("security_pg_template")
    app = create_app(make_settings(cluster.new_database(template=t.name)), migrate=False)
    with TestClient(app) as client:
        yield SecEnv(app, client, t.seeded, t.creds)
    app.state.db.engine.dispose()
