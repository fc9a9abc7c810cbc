"""Database tables (SQLAlchemy 2 typed declarative). Alembic migrations mirror these."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

_U64 = 1 << 64


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Always timezone-aware UTC out, whatever the engine stores (SQLite keeps naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: the monitor stores UTC only")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class U64(TypeDecorator[int]):
    """An unsigned 64-bit bitmap in a signed BIGINT column (two's complement)."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: int | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        return value - _U64 if value >= 1 << 63 else value

    def process_result_value(self, value: Any, dialect: Dialect) -> int | None:
        if value is None:
            return None
        v = int(value)
        return v + _U64 if v < 0 else v


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(16))  # operator | supervisor | admin
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set by an admin (a new account, a reset): the console sends them to change it first.
    must_change_password: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )


class Team(Base):
    """A team or office. Workers name theirs in `Worker.team`; a supervisor handles only the
    workers, alarms and incidents of the teams in `user_teams`."""

    __tablename__ = "teams"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    office: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class UserTeam(Base):
    __tablename__ = "user_teams"
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    team_id: Mapped[int] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True
    )


class AuthToken(Base):
    """Console sessions, operator API tokens and password reset tokens; only the SHA-256 of the
    token is stored. An API token records the session that minted it (`session_id`), so logging
    out of that session can revoke it."""

    __tablename__ = "auth_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(16))  # session | api | reset
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str | None] = mapped_column(String(64))
    label: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # No foreign key: sessions are deleted at logout, and the code clears or revokes the tokens
    # that name one in the same transaction (services/auth.py end_session).
    session_id: Mapped[int | None] = mapped_column(Integer, index=True)
    # API tokens: when one last authenticated a call, to the minute (auth.note_use), so a
    # security manager can tell a token still in use from one to revoke.
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Gateway(Base):
    __tablename__ = "gateways"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[str | None] = mapped_column(String(64))
    queue_depth: Mapped[int | None] = mapped_column(Integer)
    links_json: Mapped[str | None] = mapped_column(Text)
    # A relay (a Pi or laptop) serves whichever fobs it hears. A phone is enrolled for one
    # worker (services/phones.py): it may relay only that worker's devices' frames and collect
    # only their downlinks, and it has a device identity of its own (`device_id`, board "phone").
    kind: Mapped[str] = mapped_column(String(8), default="relay", server_default="relay")
    worker_id: Mapped[int | None] = mapped_column(
        ForeignKey("workers.id", ondelete="SET NULL"), index=True
    )
    device_id: Mapped[int | None] = mapped_column(Integer)
    battery_pct: Mapped[int | None] = mapped_column(Integer)  # the phone's own battery, %
    # A revoked credential that keeps calling may be holding frames (an alarm among them) that
    # it may no longer deliver: the console says so (services/refused.py).
    refused_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    refused_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Worker(Base):
    __tablename__ = "workers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    phone: Mapped[str | None] = mapped_column(String(40))
    team: Mapped[str | None] = mapped_column(String(80))
    risk_notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    email: Mapped[str | None] = mapped_column(String(200))
    job_title: Mapped[str | None] = mapped_column(String(120))


class RiskAssessment(Base):
    """One saved version of a worker's risk assessment. Rows are only added, never changed:
    the newest version is the assessment, and the older ones are its history (who changed
    what, when)."""

    __tablename__ = "risk_assessments"
    __table_args__ = (UniqueConstraint("worker_id", "version", name="uq_risk_worker_version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("workers.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    hazards: Mapped[str] = mapped_column(Text)
    controls: Mapped[str] = mapped_column(Text)
    level: Mapped[str] = mapped_column(String(8))  # low | medium | high
    owner: Mapped[str] = mapped_column(String(120))
    review_due: Mapped[dt.date] = mapped_column(Date)
    reason: Mapped[str | None] = mapped_column(String(200))  # e.g. "follow-up to incident 4"
    changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    changed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Contact(Base):
    """One step of a worker's escalation ladder: notify this contact delay_s after raising."""

    __tablename__ = "contacts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("workers.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(120))
    # How this contact is reached: webhook | email | sms_modem | sms_http (monitor/channels/),
    # and where: a URL, an e-mail address or an E.164 number.
    channel: Mapped[str] = mapped_column(String(16), default="webhook", server_default="webhook")
    address: Mapped[str | None] = mapped_column(String(500))
    # Before channels every contact was a webhook. Kept so old API clients and rows work: a
    # webhook contact without an address is reached at webhook_url (see target).
    webhook_url: Mapped[str | None] = mapped_column(String(500))
    delay_s: Mapped[int] = mapped_column(Integer)

    @property
    def target(self) -> str:
        """Where this contact's channel sends: the address, or the legacy webhook_url."""
        return self.target_of(self.address, self.webhook_url)

    @staticmethod
    def target_of(address: str | None, webhook_url: str | None) -> str:
        return address or webhook_url or ""


class Device(Base):
    __tablename__ = "devices"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    board: Mapped[str] = mapped_column(String(40))
    firmware_version: Mapped[str | None] = mapped_column(String(40))
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("workers.id", ondelete="SET NULL"))
    key_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    replay_highest: Mapped[int] = mapped_column(BigInteger, default=-1)
    replay_bitmap: Mapped[int] = mapped_column(U64, default=0)
    downlink_counter: Mapped[int] = mapped_column(BigInteger, default=0)
    # The interval supervision judges silence by. A shorter one sent from the console waits in
    # `heartbeat_pending_s` until the fob's heartbeats show it applied it (ingest/device_state.py):
    # until then the fob still beats at the old pace, and judging it by the new one would raise
    # false "device offline" alarms.
    heartbeat_interval_s: Mapped[int | None] = mapped_column(Integer)
    heartbeat_pending_s: Mapped[int | None] = mapped_column(Integer)
    heartbeat_pending_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_heartbeat_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # The settings last sent from the console (services/fob_settings.py), shown on its form.
    settings_json: Mapped[str | None] = mapped_column(Text)
    battery_pct: Mapped[int | None] = mapped_column(Integer)
    last_flags: Mapped[int | None] = mapped_column(Integer)
    outbox_depth: Mapped[int | None] = mapped_column(Integer)
    last_seen_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_gateway_id: Mapped[int | None] = mapped_column(Integer)
    last_link: Mapped[str | None] = mapped_column(String(8))
    checkin_due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    test_ok_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_lat: Mapped[float | None] = mapped_column(Float)
    last_lon: Mapped[float | None] = mapped_column(Float)
    last_accuracy_m: Mapped[float | None] = mapped_column(Float)
    last_location_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_location_source: Mapped[str | None] = mapped_column(String(16))
    # The memo of the visit under way (POST /v1/phones/visit): copied to its checkin_overdue
    # alarm, cleared when the check-in stops or goes overdue.
    visit_where: Mapped[str | None] = mapped_column(String(120))
    visit_with: Mapped[str | None] = mapped_column(String(120))
    # The checkin_due_at the fobs were last reminded of: one reminder per check-in.
    reminded_due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class PhoneEnrolment(Base):
    """A one-time code an operator hands a worker to enrol their phone. Only the SHA-256 of the
    code is stored; redeeming it sets used_at and gateway_id in the same transaction that
    creates the phone's gateway credential and device."""

    __tablename__ = "phone_enrolments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("workers.id", ondelete="CASCADE"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    gateway_id: Mapped[int | None] = mapped_column(ForeignKey("gateways.id", ondelete="SET NULL"))


class FrameRecord(Base):
    """Every accepted uplink frame: the dedupe record across gateways and the raw evidence."""

    __tablename__ = "frames"
    __table_args__ = (UniqueConstraint("device_id", "counter", name="uq_frames_device_counter"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    counter: Mapped[int] = mapped_column(BigInteger)
    ftype: Mapped[int] = mapped_column(Integer)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    gateway_id: Mapped[int | None] = mapped_column(Integer)
    link: Mapped[str | None] = mapped_column(String(8))
    rssi: Mapped[int | None] = mapped_column(Integer)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    stored_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Alarm(Base):
    __tablename__ = "alarms"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id", ondelete="SET NULL"))
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("workers.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(24))
    priority: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    source_counter: Mapped[int | None] = mapped_column(BigInteger)
    raised_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # As the gateway says (unsigned), within MAX_RELAY_DELAY of stored_at or clamped to it.
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    received_at_clamped: Mapped[bool] = mapped_column(Boolean, default=False)
    # The monitor's own clock when ingest stored it: what time-to-acknowledge and escalation
    # delays are measured from, so no gateway can stretch or shrink them.
    stored_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    age_lower_bound: Mapped[bool] = mapped_column(Boolean, default=False)
    detail: Mapped[int | None] = mapped_column(Integer)
    battery_pct: Mapped[int | None] = mapped_column(Integer)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    # Where the position came from, as the gateway said (phone_gps | gateway_site; NULL: it
    # did not say), and how old the fix was when relayed.
    location_source: Mapped[str | None] = mapped_column(String(16))
    location_fix_age_s: Mapped[int | None] = mapped_column(Integer)
    visit_where: Mapped[str | None] = mapped_column(String(120))
    visit_with: Mapped[str | None] = mapped_column(String(120))
    gateway_id: Mapped[int | None] = mapped_column(Integer)
    link: Mapped[str | None] = mapped_column(String(8))
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    time_to_ack_s: Mapped[float | None] = mapped_column(Float)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    outcome: Mapped[str | None] = mapped_column(String(32))
    notes: Mapped[str | None] = mapped_column(Text)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class AuditEntry(Base):
    """Append-only: the service never updates or deletes these rows."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(80))  # user:alice | device:42 | gateway:3 | system
    action: Mapped[str] = mapped_column(String(40))
    alarm_id: Mapped[int | None] = mapped_column(ForeignKey("alarms.id"), index=True)
    # "device:42", "worker:7", "user:alice": indexed for one thing's history (a fob's page).
    subject: Mapped[str | None] = mapped_column(String(80), index=True)
    details: Mapped[str | None] = mapped_column(Text)


class Downlink(Base):
    """Signed frames waiting for a gateway; the id is the long-poll cursor."""

    __tablename__ = "downlinks"
    # A fob heard through another gateway brings its recent downlinks along
    # (services/downlinks.follow): found by device and age, not by scanning the whole history.
    __table_args__ = (Index("ix_downlinks_device_created", "device_id", "created_at"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    ftype: Mapped[int] = mapped_column(Integer)
    frame: Mapped[bytes] = mapped_column(LargeBinary)
    alarm_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Delivery(Base):
    """One escalation notification to one contact, with its retry state."""

    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("alarm_id", "contact_id", name="uq_delivery_alarm_contact"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alarm_id: Mapped[int] = mapped_column(ForeignKey("alarms.id"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|sent|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class RejectionCount(Base):
    __tablename__ = "rejection_counts"
    reason: Mapped[str] = mapped_column(String(24), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, default=0)
    last_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_device_id: Mapped[int | None] = mapped_column(Integer)
    last_gateway_id: Mapped[int | None] = mapped_column(Integer)


class Incident(Base):
    __tablename__ = "incidents"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Most incidents a council records (online or phone abuse) had no alarm at all.
    alarm_id: Mapped[int | None] = mapped_column(ForeignKey("alarms.id"), unique=True)
    type: Mapped[str] = mapped_column(String(32))
    summary: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    worker_id: Mapped[int | None] = mapped_column(
        ForeignKey("workers.id", ondelete="SET NULL", name="fk_incidents_worker")
    )
    # The worker's team when it was recorded: reports by team keep their history when a worker
    # moves, and a supervisor's scope is decided by it.
    team: Mapped[str | None] = mapped_column(String(80))
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    location: Mapped[str | None] = mapped_column(String(200))
    reported_by: Mapped[str | None] = mapped_column(String(120))
    people_involved: Mapped[str | None] = mapped_column(Text)
    police_reference: Mapped[str | None] = mapped_column(String(60))
    actions_taken: Mapped[str | None] = mapped_column(Text)
    lessons_learnt: Mapped[str | None] = mapped_column(Text)


class ArcReceiver(Base):
    """An alarm receiving centre the organisation contracts: where its alarms are forwarded with
    SIA DC-09 (services/arc_forwarding.py). There is no organisation table yet: every enabled
    receiver gets every alarm."""

    __tablename__ = "arc_receivers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    host: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(Integer)
    protocol: Mapped[str] = mapped_column(String(3), default="tcp", server_default="tcp")
    account: Mapped[str] = mapped_column(String(16))  # 3-16 hex digits, as the ARC issued it
    receiver_number: Mapped[str] = mapped_column(String(6), default="0", server_default="0")
    line_number: Mapped[str] = mapped_column(String(6), default="0", server_default="0")
    # AES-128/192/256 key as hex (32/48/64 digits); NULL: messages go in clear.
    aes_key_hex: Mapped[str | None] = mapped_column(String(64))
    # A NULL message when nothing has been acknowledged for this long, so the ARC notices a
    # silent link; 0 turns supervision off.
    null_interval_s: Mapped[int] = mapped_column(Integer, default=60, server_default="60")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # The next DC-09 sequence number (0001-9999, wrapping), taken in the transaction that
    # creates the forward, so a resend after a crash reuses the number.
    next_sequence: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    last_ack_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    failing_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ArcForward(Base):
    """One alarm to one receiving centre: pending -> sent -> acked, or failing (retried)."""

    __tablename__ = "arc_forwards"
    __table_args__ = (
        UniqueConstraint("alarm_id", "receiver_id", name="uq_arc_forward_alarm_receiver"),
        Index("ix_arc_forwards_state_next", "state", "next_attempt_at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alarm_id: Mapped[int] = mapped_column(ForeignKey("alarms.id"), index=True)
    receiver_id: Mapped[int] = mapped_column(ForeignKey("arc_receivers.id", ondelete="CASCADE"))
    sequence: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(8), default="pending")  # pending|sent|acked|failing
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    acked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    failing_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
