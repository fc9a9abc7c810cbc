"""Response models: what each API route returns, as the OpenAPI schema at /openapi.json says.

The dicts these validate are built in monitor/serialise.py (and services/alarms.py `payload`,
which the live stream and webhooks send too). The models only describe and check them; they
must not change a byte of what clients (console JS, phone JS, gateways, scripts) read:

- Times are `Time`, the string the serialiser built with `isoformat()` ("+00:00", microseconds
  as stored). Pydantic's own datetime output differs ("Z"), so no field here is a datetime.
- No constraints on output numbers: a stored row outside today's input rules (a battery of
  -5 %, a NaN written before ingest checked positions) is still shown, never a 500. Floats
  accept NaN and infinity; FiniteJSONResponse (core/jsonsafe.py) then sends them as null.
- Fields are declared in the order the serialisers write them, and None is kept.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

Time = Annotated[str, Field(description="ISO 8601 with offset, e.g. 2026-11-23T14:02:11+00:00")]


# --- shared ------------------------------------------------------------------------------


class WorkerRef(BaseModel):
    id: int
    name: str


class Position(BaseModel):
    lat: float
    lon: float
    accuracy_m: float | None = Field(description="metres; null when unknown")


# --- alarms ------------------------------------------------------------------------------


class AlarmWorker(WorkerRef):
    phone: str | None
    team: str | None


class Visit(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    where: str
    with_: str | None = Field(alias="with")


class ArcState(BaseModel):
    """An alarm's SIA DC-09 forward; with several receivers, the least advanced one."""

    state: str = Field(description="pending, sent, acked or failing")
    sent_at: Time | None
    acked_at: Time | None
    failing_since: Time | None
    attempts: int
    last_error: str | None
    receivers: int


class AlarmOut(BaseModel):
    """An alarm in the queue; also the `data` of the stream's `event: alarm`."""

    id: int
    device_id: int | None
    worker: AlarmWorker | None
    kind: str
    priority: int = Field(description="lower is more urgent: SOS 0")
    status: str = Field(description="open, acknowledged or resolved")
    raised_at: Time
    received_at: Time = Field(description="the gateway's clock (unsigned)")
    received_at_clamped: bool = Field(description="the gateway's time was not believed")
    stored_at: Time = Field(description="the monitor's clock")
    age_lower_bound: bool
    battery_pct: int | None
    location: Position | None
    location_source: str | None = Field(description="phone_gps, gateway_site or gateway")
    location_fix_age_s: int | None
    visit: Visit | None
    gateway_id: int | None
    link: str | None
    acknowledged_at: Time | None
    time_to_ack_s: float | None
    resolved_at: Time | None
    outcome: str | None
    notes: str | None
    cancelled_at: Time | None
    arc: ArcState | None = Field(description="forwarding to the alarm receiving centre")


class WorkerProfile(AlarmWorker):
    risk_notes: str | None
    risk_assessment: RiskAssessmentOut | None = None  # the current version, for whoever answers


class LastLocation(BaseModel):
    lat: float | None
    lon: float | None
    accuracy_m: float | None
    at: Time | None


class AlarmDevice(BaseModel):
    id: int
    board: str
    battery_pct: int | None
    last_seen_at: Time | None
    last_location: LastLocation | None


class TimelineEntry(BaseModel):
    at: Time
    actor: str = Field(description="user:NAME, device:ID or system")
    action: str
    details: Any


class AlarmDetail(AlarmOut):
    worker_profile: WorkerProfile | None
    device: AlarmDevice | None
    timeline: list[TimelineEntry]


class IncidentOut(BaseModel):
    id: int
    alarm_id: int | None
    type: str
    summary: str | None


class IncidentDetail(IncidentOut):
    alarm_kind: str | None
    type_label: str
    occurred_at: Time
    location: str | None
    reported_by: str | None
    worker: WorkerRef | None
    team: str | None = Field(description="the worker's team when it was recorded")
    people_involved: str | None
    police_reference: str | None
    actions_taken: str | None
    lessons_learnt: str | None
    created_at: Time
    created_by: str | None = Field(description="the username who recorded it")


# --- devices -----------------------------------------------------------------------------


class DeviceOut(BaseModel):
    id: int
    board: str
    firmware_version: str | None
    worker: WorkerRef | None
    allocated: bool
    revoked: bool
    battery_pct: int | None
    last_seen_at: Time | None
    last_seen_age_s: int | None
    heartbeat_interval_s: int | None
    outbox_depth: int | None
    checkin_due_at: Time | None
    test_ok_at: Time | None
    last_link: str | None
    # From the last heartbeat's flags: a fob whose accelerometer failed its self-test cannot
    # detect falls or stillness, although it looks healthy otherwise.
    sensor_fault: bool
    charging: bool
    supervised_interval_s: int = Field(description="the heartbeat interval supervision judges by")
    pending_interval_s: int | None = Field(
        description="a shorter interval sent, taken up once the fob's heartbeats show it"
    )


class DeviceProvisioned(BaseModel):
    device: DeviceOut
    key: str = Field(description="32 hex digits: the only response that ever carries a key")


class CommandQueued(BaseModel):
    downlink_id: int


class FrameResult(BaseModel):
    status: str = Field(description="accepted, duplicate or rejected")
    reason: str | None
    device_id: int | None
    counter: int | None
    ack: str | None = Field(description="the signed ACK frame, hex")
    flags: list[str] = Field(
        default_factory=list, description="unsigned fields the monitor did not believe"
    )


class FramesOut(BaseModel):
    results: list[FrameResult]


class DownlinkItem(BaseModel):
    id: int
    device_id: int
    frame: str
    age_s: int  # since it was queued: a gateway holding it for an absent fob ages it from then


class DownlinkOut(BaseModel):
    items: list[DownlinkItem]
    cursor: int


# --- workers -----------------------------------------------------------------------------


class ContactOut(BaseModel):
    position: int
    name: str
    channel: str
    address: str
    webhook_url: str | None  # webhook contacts only; kept for clients written before channels
    delay_s: int


class RiskChange(BaseModel):
    field: str
    # "from" is a Python keyword: the JSON key is still "from".
    from_: str | None = Field(alias="from", serialization_alias="from")
    to: str


class RiskAssessmentOut(BaseModel):
    version: int
    hazards: str
    controls: str
    level: str
    owner: str
    review_due: str
    reason: str | None
    changed_at: Time
    changed_by: str | None


class RiskVersionOut(RiskAssessmentOut):
    changes: list[RiskChange]


class RiskOut(BaseModel):
    current: RiskAssessmentOut | None
    history: list[RiskVersionOut]
    incidents_since: list[int] = Field(
        description="incidents recorded for the worker after the current assessment"
    )


class ReviewDueOut(BaseModel):
    worker: WorkerRef
    level: str | None
    owner: str | None
    review_due: str | None
    why: str
    incidents_since: int


class WorkerOut(BaseModel):
    id: int
    name: str
    phone: str | None
    team: str | None
    email: str | None
    job_title: str | None
    # Risk notes and the assessment go to supervisors (their teams) and admins; an operator
    # reads them on the alarm page of that worker's alarm, when they need them.
    risk_notes: str | None
    risk_level: str | None
    review_due: str | None
    devices: list[int]
    contacts: list[ContactOut]


# --- users and sessions ------------------------------------------------------------------


class UserOut(BaseModel):
    id: int
    username: str
    name: str
    role: str
    active: bool
    must_change_password: bool = Field(
        default=False, description="while true, the user may only change their password"
    )
    teams: list[str] = Field(default_factory=list, description="a supervisor's teams")
    last_login_at: Time | None = None


class ResetIssued(BaseModel):
    user: UserOut
    reset_token: str = Field(description="Shown once; only its hash is stored.")
    expires_at: Time


class LoginOut(BaseModel):
    username: str
    name: str
    role: str
    csrf_token: str = Field(description="send it in X-CSRF-Token on every change")


class MeOut(BaseModel):
    role: str
    username: str | None
    name: str | None = Field(default=None, description="absent when not logged in")


class TokenOut(BaseModel):
    token: str = Field(description="Shown once; only its hash is stored.")
    label: str
    expires_in_days: int
    id: int | None = None
    expires_at: Time | None = None


class TokenInfo(BaseModel):
    """A personal API token as listed: never the token itself."""

    id: int
    user_id: int
    label: str | None
    created_at: Time
    expires_at: Time | None
    from_session: bool = Field(description="minted by a console session still logged in")
    last_used_at: Time | None = Field(
        description="when it last authenticated a call, to the minute; null if never"
    )


class TeamOut(BaseModel):
    id: int
    name: str
    office: str | None
    supervisors: list[str] = Field(default_factory=list, description="their usernames")
    workers: int = Field(default=0, description="workers who name this team")


class TeamEdited(TeamOut):
    renamed_workers: int = 0
    renamed_incidents: int = 0


# --- gateways and phones -----------------------------------------------------------------


class GatewayOut(BaseModel):
    id: int
    name: str
    created_at: Time
    revoked_at: Time | None
    last_seen_at: Time | None
    version: str | None
    queue_depth: int | None
    links: list[dict[str, Any]]
    kind: str = Field(description='"relay", or "phone" (scoped to worker_id)')
    worker_id: int | None
    device_id: int | None = Field(description="a phone's own device identity")
    battery_pct: int | None = Field(description="a phone's own battery, %")
    refused_at: Time | None = Field(
        description="last call refused after revocation: it may hold frames it cannot deliver"
    )
    refused_attempts: int = Field(
        description="calls refused after revocation, at most one counted per 5 s"
    )


class GatewayCreated(BaseModel):
    gateway: GatewayOut
    token: str = Field(description="Shown once; only its hash is stored.")


class EnrolmentOut(BaseModel):
    id: int
    code: str = Field(description="Shown once; only its SHA-256 is stored.")
    expires_at: Time
    url: str = Field(description="Path of the phone app with the code; the QR holds it absolute.")
    qr_svg: str


class PhoneDevice(BaseModel):
    id: int
    key: str = Field(description="the phone's own device key, 32 hex digits, shown once")


class Redeemed(BaseModel):
    gateway_token: str = Field(description="Shown once; scoped to the worker's devices.")
    gateway_id: int
    worker: WorkerRef
    device: PhoneDevice


class VisitOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    device_id: int
    where: str | None
    with_: str | None = Field(alias="with")


# --- reports -----------------------------------------------------------------------------


class IncidentReport(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    from_: str | None = Field(alias="from", description="first day included (UTC), or none")
    to: str | None = Field(description="last day included (UTC), or none")
    total: int
    by_type: dict[str, int]
    by_team: dict[str, int] = Field(description="the worker's team when it was recorded")
    by_month: dict[str, int] = Field(description="YYYY-MM")


class KindAnswerTimes(BaseModel):
    kind: str
    alarms: int = Field(description="counted: every alarm of the kind not cancelled at the fob")
    answered: int
    not_answered: int = Field(description="still open and unacknowledged")
    resolved_without_acknowledgement: int = Field(description="answered when resolved")
    cancelled_at_fob: int = Field(description="left out of every figure")
    median_s: float | None = Field(description="over answered alarms; mean of the middle two")
    within_10_s_pct: float | None = Field(description="share of counted alarms, answered or not")
    within_40_s_pct: float | None


class AnswerTimes(BaseModel):
    """Seconds from the monitor storing an alarm to its acknowledgement (or its resolution when
    it was never acknowledged): services/reports.py defines each figure."""

    model_config = ConfigDict(populate_by_name=True)
    from_: str | None = Field(alias="from")
    to: str | None
    as_of: Time
    by_kind: list[KindAnswerTimes]


class RejectionOut(BaseModel):
    count: int
    last_at: Time | None
    last_device_id: int | None
    last_gateway_id: int | None


Rejections = dict[str, RejectionOut]


class ArcLinkOut(BaseModel):
    """One alarm receiving centre's link (services/arc_forwarding.health)."""

    id: int
    name: str
    enabled: bool
    protocol: str = Field(description="tcp or udp")
    encrypted: bool = Field(description="AES-CBC per DC-09")
    last_ack_at: Time | None = Field(description="the ARC's last ACK, to an alarm or a NULL")
    failing_since: Time | None
    last_error: str | None
    unacknowledged: int = Field(description="forwards the ARC has not acknowledged yet")
