"""Every route of the monitor × every kind of caller: only the intended combinations succeed.

The intended policy is the table POLICY below. The route list is read from the app itself
(`app.routes`, which holds the console pages the OpenAPI schema leaves out), and a route that
is not in the table fails `test_every_route_is_in_the_policy_table`: a new endpoint cannot ship
without someone deciding who may call it.

Each case runs on a fresh copy of a seeded database, so a call that succeeds (revoking a
gateway, resolving an alarm) cannot change what the next case sees.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from starlette.routing import Mount, Route

from devstack.localstack import uvicorn_in_thread
from host_tests.support.monitor import (
    ADMIN_PASSWORD,
    GATEWAY_TOKEN,
    OPERATOR_PASSWORD,
    frame_item,
    make_settings,
)
from host_tests.support.security import (
    REVOKED_GATEWAY_TOKEN,
    SPARE_DEVICE_ID,
    Creds,
    SecEnv,
    Template,
    open_env,
)
from monitor.api.deps import SESSION_COOKIE
from monitor.api.main import create_app
from monitor.seed import SEED_TEAM
from protocol import frame_types as ft
from protocol import relay_batch

# Callers. "*_no_csrf" hold a valid session cookie but cannot read the page's CSRF token: what a
# cross-site form or fetch from another origin looks like to the monitor.
ANON = "anonymous"
GW = "gateway"
GW_REVOKED = "revoked_gateway"
PHONE = "phone"  # a phone's gateway token: scoped to one worker (issue 12)
FORGED = "made_up_bearer_token"
OP_BEARER = "operator_bearer"
OP_SESSION = "operator_session"
OP_NO_CSRF = "operator_session_no_csrf"
SUP_BEARER = "supervisor_bearer"  # a supervisor of the seeded worker's team (issue 16)
SUP_SESSION = "supervisor_session"
SUP_NO_CSRF = "supervisor_session_no_csrf"
AD_BEARER = "admin_bearer"
AD_SESSION = "admin_session"
AD_NO_CSRF = "admin_session_no_csrf"
ROLES = (
    ANON,
    GW,
    GW_REVOKED,
    PHONE,
    FORGED,
    OP_BEARER,
    OP_SESSION,
    OP_NO_CSRF,
    SUP_BEARER,
    SUP_SESSION,
    SUP_NO_CSRF,
    AD_BEARER,
    AD_SESSION,
    AD_NO_CSRF,
)
SAFE = {"GET", "HEAD", "OPTIONS"}

# Who may call. The no-CSRF variants are added for safe methods only (see allowed()).
EVERYONE = frozenset(ROLES)
# /v1/auth/me identifies the caller: a revoked or made-up token is a 401 there.
PUBLIC_NO_BAD_TOKEN = EVERYONE - {GW_REVOKED, FORGED}
GATEWAY = frozenset({GW, PHONE})  # a phone relays, polls and reports health like a gateway
PHONES = frozenset({PHONE})
# Everyone who handles alarms. The supervisor's team holds every seeded alarm and worker, so
# they succeed here; another team's supervisor is refused in host_tests/monitor (scoping tests).
OPERATOR = frozenset({OP_BEARER, OP_SESSION, SUP_BEARER, SUP_SESSION, AD_BEARER, AD_SESSION})
OPERATOR_ONLY = frozenset({OP_BEARER, OP_SESSION, AD_BEARER, AD_SESSION})  # not supervisors
MANAGER = frozenset({SUP_BEARER, SUP_SESSION, AD_BEARER, AD_SESSION})  # keeps workers' records
ADMIN = frozenset({AD_BEARER, AD_SESSION})
SESSION_USERS = frozenset({OP_SESSION, SUP_SESSION, AD_SESSION})


@dataclass
class Rule:
    who: frozenset[str]
    request: Callable[[Creds, Any], dict[str, Any]] = lambda c, s: {}
    # What "it worked" looks like; default any 2xx.
    succeeded: Callable[[httpx.Response], bool] = field(
        default=lambda r: 200 <= r.status_code < 300
    )
    console: bool = False  # refused callers are sent to /login instead of getting 401/403
    # Extra request parts that depend on who calls (e.g. their own current password).
    by_role: Callable[[str], dict[str, Any]] = lambda role: {}


def _frames(c: Creds, s: Any) -> dict[str, Any]:
    return {"json": {"frames": [frame_item(ft.HEARTBEAT, 100, (90, 0, 0, 1))]}}


def _packed_frames(c: Creds, s: Any) -> dict[str, Any]:
    item = frame_item(ft.HEARTBEAT, 102, (90, 0, 0, 1))
    body = relay_batch.encode_request([(bytes.fromhex(item["frame"]), 0, "ble", -70, None)], 0)
    return {"content": body, "headers": {"Content-Type": "application/octet-stream"}}


def _test_frame(c: Creds, s: Any) -> dict[str, Any]:
    return {"json": {"frame": frame_item(ft.TEST, 101, (90, 0, 0))["frame"]}}


def _login_json(c: Creds, s: Any) -> dict[str, Any]:
    return {"json": {"username": "operator", "password": OPERATOR_PASSWORD}}


def _own_password_change(role: str) -> dict[str, Any]:
    # The seeded supervisor shares the operator's password (monitor/seed.py).
    current = ADMIN_PASSWORD if role.startswith("admin") else OPERATOR_PASSWORD
    return {"json": {"current_password": current, "new_password": "a-brand-new-password"}}


def _redirect_to(target: str) -> Callable[[httpx.Response], bool]:
    return lambda r: r.status_code == 303 and r.headers.get("location") == target


def _refused_link(r: httpx.Response) -> bool:
    return r.status_code == 400 and "Nothing has been changed" in r.text


def _logged_out(r: httpx.Response) -> bool:
    # Success and refusal both redirect to /login; only success clears the cookie.
    return r.status_code == 303 and f"{SESSION_COOKIE}=" in r.headers.get("set-cookie", "")


def _risk_assessment(c: Creds, s: Any) -> dict[str, Any]:
    review = (dt.date.today() + dt.timedelta(days=90)).isoformat()
    body = {"hazards": "Lone home visits", "controls": "Check-in per visit", "level": "medium",
            "owner": "Security office", "review_due": review}  # fmt: skip
    return {"path": {"worker_id": s.worker_id}, "json": body}


def _no_such_token(r: httpx.Response) -> bool:
    return r.status_code == 404 and "has no API token" in r.text


def _new_incident(c: Creds, s: Any) -> dict[str, Any]:
    an_hour_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    return {
        "json": {
            "type": "online_abuse",
            "occurred_at": an_hour_ago.isoformat(),
            "worker_id": s.worker_id,
        }
    }


POLICY: dict[tuple[str, str], Rule] = {
    # Gateways: relay frames, collect downlinks, report health. Nothing else.
    ("POST", "/v1/frames"): Rule(GATEWAY, _frames),
    ("POST", "/v1/frames/binary"): Rule(GATEWAY, _packed_frames),
    ("GET", "/v1/downlink"): Rule(GATEWAY, lambda c, s: {"params": {"after": 0, "wait": 0}}),
    ("POST", "/v1/gateways/health"): Rule(
        GATEWAY, lambda c, s: {"json": {"links": [], "queue_depth": 0, "version": "t"}}
    ),
    # Phones: operators enrol them for a worker; anyone holding a code may redeem it (throttled
    # per address); only a phone's token posts a visit memo, for its own worker's devices.
    ("POST", "/v1/phones/enrolments"): Rule(
        OPERATOR, lambda c, s: {"json": {"worker_id": s.worker_id}}
    ),
    ("POST", "/v1/phones/redeem"): Rule(
        EVERYONE,
        lambda c, s: {"json": {"code": c.enrolment_code, "app_version": "t", "name": None}},
    ),
    ("POST", "/v1/phones/visit"): Rule(
        PHONES, lambda c, s: {"json": {"device_id": 7, "where": "matrix", "with": None}}
    ),
    # Gateway management is an admin job; a gateway cannot mint or revoke gateways.
    ("GET", "/v1/gateways"): Rule(ADMIN),
    ("POST", "/v1/gateways"): Rule(ADMIN, lambda c, s: {"json": {"name": "gw-new"}}),
    ("POST", "/v1/gateways/{gateway_id}/revoke"): Rule(
        ADMIN, lambda c, s: {"path": {"gateway_id": c.other_gateway_id}}
    ),
    # Alarm handling: every operator.
    ("GET", "/v1/alarms"): Rule(OPERATOR),
    ("GET", "/v1/alarms/stream"): Rule(OPERATOR),
    ("GET", "/v1/alarms/{alarm_id}"): Rule(
        OPERATOR, lambda c, s: {"path": {"alarm_id": c.open_alarm_id}}
    ),
    ("POST", "/v1/alarms/{alarm_id}/acknowledge"): Rule(
        OPERATOR, lambda c, s: {"path": {"alarm_id": c.open_alarm_id}}
    ),
    ("POST", "/v1/alarms/{alarm_id}/resolve"): Rule(
        OPERATOR,
        lambda c, s: {"path": {"alarm_id": c.open_alarm_id}, "json": {"outcome": "worker_safe"}},
    ),
    ("POST", "/v1/alarms/{alarm_id}/incident"): Rule(
        OPERATOR,
        lambda c, s: {"path": {"alarm_id": c.resolved_alarm_id}, "json": {"type": "other"}},
    ),
    # Devices: operators read, admins provision, re-assign, revoke, command and self-test.
    ("GET", "/v1/devices"): Rule(OPERATOR),
    ("GET", "/v1/devices/{device_id}"): Rule(OPERATOR, lambda c, s: {"path": {"device_id": 7}}),
    ("POST", "/v1/devices"): Rule(ADMIN, lambda c, s: {"json": {"board": "m5stickc-plus2"}}),
    ("PATCH", "/v1/devices/{device_id}"): Rule(
        ADMIN, lambda c, s: {"path": {"device_id": 7}, "json": {"firmware_version": "9.9"}}
    ),
    ("POST", "/v1/devices/{device_id}/revoke"): Rule(
        ADMIN, lambda c, s: {"path": {"device_id": 7}}
    ),
    ("POST", "/v1/devices/{device_id}/commands"): Rule(
        ADMIN, lambda c, s: {"path": {"device_id": 7}, "json": {"command": 1}}
    ),
    ("POST", "/v1/devices/{device_id}/test"): Rule(
        ADMIN, lambda c, s: {"path": {"device_id": 7}, **_test_frame(c, s)}
    ),
    # Workers: everyone who handles alarms reads (an operator sees risk notes only on an alarm);
    # supervisors and admins keep the records, a supervisor only in their own teams.
    ("GET", "/v1/workers"): Rule(OPERATOR),
    ("GET", "/v1/workers/{worker_id}"): Rule(
        OPERATOR, lambda c, s: {"path": {"worker_id": s.worker_id}}
    ),
    ("POST", "/v1/workers"): Rule(
        MANAGER, lambda c, s: {"json": {"name": "New Worker", "team": SEED_TEAM}}
    ),
    ("PUT", "/v1/workers/{worker_id}"): Rule(
        MANAGER,
        lambda c, s: {
            "path": {"worker_id": s.worker_id},
            "json": {"name": "Renamed", "team": SEED_TEAM},
        },
    ),
    ("PUT", "/v1/workers/{worker_id}/contacts"): Rule(
        MANAGER, lambda c, s: {"path": {"worker_id": s.worker_id}, "json": []}
    ),
    # Accounts: admins only.
    ("GET", "/v1/users"): Rule(ADMIN),
    ("POST", "/v1/users"): Rule(
        ADMIN,
        lambda c, s: {
            "json": {
                "username": "new.operator",
                "name": "New Operator",
                "role": "operator",
                "password": "a-long-enough-password",
            }
        },
    ),
    # Auth: anyone may try to log in (rate limited); tokens and logout need a user.
    ("POST", "/v1/auth/login"): Rule(EVERYONE, _login_json),
    ("GET", "/v1/auth/me"): Rule(PUBLIC_NO_BAD_TOKEN),
    ("POST", "/v1/auth/logout"): Rule(OPERATOR),
    # Only a console session mints API tokens or changes its password: a leaked API token can
    # neither multiply itself nor take the account (finding 9).
    ("POST", "/v1/auth/tokens"): Rule(SESSION_USERS, lambda c, s: {"json": {"label": "matrix"}}),
    ("POST", "/v1/auth/password"): Rule(SESSION_USERS, by_role=_own_password_change),
    # Redeeming a reset token needs only the token (the holder cannot log in: that is the
    # point); issuing one is an admin job.
    ("POST", "/v1/auth/reset"): Rule(
        EVERYONE,
        lambda c, s: {"json": {"token": c.reset_token, "new_password": "a-brand-new-password"}},
    ),
    ("POST", "/v1/users/{user_id}/reset"): Rule(
        ADMIN, lambda c, s: {"path": {"user_id": s.operator_id}}
    ),
    # Reports: incident trends for operators, rejected-frame counters for admins.
    ("GET", "/v1/reports/incidents"): Rule(OPERATOR),
    ("GET", "/v1/reports/rejections"): Rule(ADMIN),
    ("GET", "/v1/reports/arc"): Rule(OPERATOR),
    # Console pages: operators and admins; everyone else is sent to the login page.
    ("GET", "/login"): Rule(EVERYONE),
    ("POST", "/login"): Rule(
        EVERYONE,
        lambda c, s: {"data": {"username": "admin", "password": ADMIN_PASSWORD}},
        _redirect_to("/"),
    ),
    ("POST", "/logout"): Rule(SESSION_USERS, succeeded=_logged_out, console=True),
    ("GET", "/"): Rule(OPERATOR, console=True),
    ("GET", "/alarms/{alarm_id}"): Rule(
        OPERATOR, lambda c, s: {"path": {"alarm_id": c.open_alarm_id}}, console=True
    ),
    ("GET", "/devices"): Rule(OPERATOR, console=True),
    ("GET", "/workers"): Rule(OPERATOR, console=True),
    ("GET", "/reports"): Rule(OPERATOR, console=True),
    # An escalation contact's answer page: the signed token in the path is the only credential,
    # so every caller, with any credential or none, gets the same clear refusal for a forged one.
    ("GET", "/respond/{token}"): Rule(
        EVERYONE, lambda c, s: {"path": {"token": "forged"}}, _refused_link
    ),
    ("POST", "/respond/{token}"): Rule(
        EVERYONE,
        lambda c, s: {"path": {"token": "forged"}, "data": {"answer": "on_it"}},
        _refused_link,
    ),
    # The API description and static assets are not secret (the source is open).
    ("GET", "/openapi.json"): Rule(EVERYONE),
    ("GET", "/docs"): Rule(EVERYONE),
    ("GET", "/docs/oauth2-redirect"): Rule(EVERYONE),
    ("GET", "/redoc"): Rule(EVERYONE),
    ("GET", "/static/{path:path}"): Rule(
        EVERYONE, lambda c, s: {"path": {"path:path": "console.css"}}
    ),
    # The phone app's shell: public like the console's assets; everything it does goes through
    # the phone's own credential on /v1/.
    ("GET", "/phone/{path:path}"): Rule(
        EVERYONE, lambda c, s: {"path": {"path:path": "index.html"}}
    ),
    # --- issue 16: incidents and reports ---
    # Everyone who handles alarms records and reads incidents; a supervisor only their teams'
    # (another team's supervisor is refused in host_tests/monitor/routes/test_incidents.py).
    ("POST", "/v1/incidents"): Rule(OPERATOR, _new_incident),
    ("GET", "/v1/incidents"): Rule(OPERATOR, lambda c, s: {"params": {"type": "phone_abuse"}}),
    ("GET", "/v1/incidents.csv"): Rule(OPERATOR),
    ("GET", "/v1/incidents/{incident_id}"): Rule(
        OPERATOR, lambda c, s: {"path": {"incident_id": c.incident_id}}
    ),
    ("PATCH", "/v1/incidents/{incident_id}"): Rule(
        OPERATOR,
        lambda c, s: {"path": {"incident_id": c.incident_id}, "json": {"police_reference": "X1"}},
    ),
    ("GET", "/v1/reports/answer-times"): Rule(OPERATOR),
    ("GET", "/v1/reports/alarms.csv"): Rule(
        OPERATOR, lambda c, s: {"params": {"from": "2020-01-01", "to": "2099-12-31"}}
    ),
    ("GET", "/incidents"): Rule(OPERATOR, console=True),
    ("GET", "/incidents/new"): Rule(
        OPERATOR, lambda c, s: {"params": {"alarm_id": c.resolved_alarm_id}}, console=True
    ),
    ("GET", "/incidents/{incident_id}"): Rule(
        OPERATOR, lambda c, s: {"path": {"incident_id": c.incident_id}}, console=True
    ),
    # --- issue 16: workers, risk assessments and the fob fleet ---
    ("GET", "/v1/workers/reviews-due"): Rule(MANAGER),
    ("GET", "/v1/workers/{worker_id}/risk"): Rule(
        MANAGER, lambda c, s: {"path": {"worker_id": s.worker_id}}
    ),
    ("POST", "/v1/workers/{worker_id}/risk"): Rule(MANAGER, _risk_assessment),
    # Allocation and fob settings are the security office's job: admins only.
    ("POST", "/v1/devices/{device_id}/assign"): Rule(
        ADMIN,
        lambda c, s: {"path": {"device_id": SPARE_DEVICE_ID}, "json": {"worker_id": s.worker_id}},
    ),
    ("POST", "/v1/devices/{device_id}/swap"): Rule(
        ADMIN,
        lambda c, s: {"path": {"device_id": s.device_id}, "json": {"spare_id": SPARE_DEVICE_ID}},
    ),
    ("POST", "/v1/devices/{device_id}/return"): Rule(
        ADMIN, lambda c, s: {"path": {"device_id": s.device_id}}
    ),
    ("POST", "/v1/devices/{device_id}/settings"): Rule(
        ADMIN, lambda c, s: {"path": {"device_id": s.device_id}, "json": {"heartbeat_s": 120}}
    ),
    ("GET", "/workers/reviews"): Rule(MANAGER, console=True),
    ("GET", "/workers/{worker_id}"): Rule(
        OPERATOR, lambda c, s: {"path": {"worker_id": s.worker_id}}, console=True
    ),
    ("GET", "/devices/{device_id}"): Rule(
        OPERATOR, lambda c, s: {"path": {"device_id": s.device_id}}, console=True
    ),
    # --- issue 16: users, teams, tokens, gateways and phones ---
    # Everyone lists and revokes their own API tokens; admins anyone's. The template holds no
    # token id per caller, so the revoke rows ask for an id nobody holds: an admitted caller
    # gets the route's own 404 ("has no API token"), a refused one the 401/403 (the revoke
    # itself is tested in host_tests/monitor/routes/test_tokens.py).
    ("GET", "/v1/auth/tokens"): Rule(OPERATOR),
    ("POST", "/v1/auth/tokens/{token_id}/revoke"): Rule(
        OPERATOR, lambda c, s: {"path": {"token_id": 999999}}, _no_such_token
    ),
    ("GET", "/v1/users/{user_id}/tokens"): Rule(
        ADMIN, lambda c, s: {"path": {"user_id": s.operator_id}}
    ),
    ("POST", "/v1/users/{user_id}/tokens/{token_id}/revoke"): Rule(
        ADMIN,
        lambda c, s: {"path": {"user_id": s.operator_id, "token_id": 999999}},
        _no_such_token,
    ),
    ("PATCH", "/v1/users/{user_id}"): Rule(
        ADMIN, lambda c, s: {"path": {"user_id": s.operator_id}, "json": {"name": "Renamed"}}
    ),
    ("POST", "/v1/users/{user_id}/disable"): Rule(
        ADMIN, lambda c, s: {"path": {"user_id": s.operator_id}}
    ),
    ("POST", "/v1/users/{user_id}/enable"): Rule(
        ADMIN, lambda c, s: {"path": {"user_id": s.operator_id}}
    ),
    ("POST", "/v1/users/{user_id}/password"): Rule(
        ADMIN,
        lambda c, s: {"path": {"user_id": s.operator_id}, "json": {"password": "temporary-pass-1"}},
    ),
    ("GET", "/v1/teams"): Rule(ADMIN),
    ("POST", "/v1/teams"): Rule(ADMIN, lambda c, s: {"json": {"name": "Matrix team"}}),
    ("PATCH", "/v1/teams/{team_id}"): Rule(
        ADMIN, lambda c, s: {"path": {"team_id": s.team_id}, "json": {"office": "Annexe"}}
    ),
    ("GET", "/users"): Rule(ADMIN, console=True),
    ("GET", "/teams"): Rule(ADMIN, console=True),
    ("GET", "/gateways"): Rule(ADMIN, console=True),
    ("GET", "/account"): Rule(OPERATOR, console=True),
    ("GET", "/account/password"): Rule(OPERATOR, console=True),
}


def app_routes(app: Any) -> set[tuple[str, str]]:
    """(method, path) of everything the app serves. HEAD is answered by the GET handler with
    the same dependencies, so it is covered by the GET row."""
    found: set[tuple[str, str]] = set()
    _collect(app.routes, "", found)
    return found


def _collect(routes: Any, prefix: str, found: set[tuple[str, str]]) -> None:
    for r in routes:
        if hasattr(r, "original_router"):
            # FastAPI 0.16x keeps an included router as one lazy entry: walk into it.
            _collect(r.original_router.routes, prefix + r.include_context.prefix, found)
        elif isinstance(r, Mount):
            found.add(("GET", prefix + r.path + "/{path:path}"))
        elif isinstance(r, APIRoute | Route):
            for m in r.methods or {"GET"}:
                if m != "HEAD":
                    found.add((m, prefix + r.path))
        else:  # a websocket or a new kind of route: the table must learn about it
            found.add(("?", prefix + getattr(r, "path", repr(r))))


def allowed(method: str, rule: Rule, role: str) -> bool:
    if role in rule.who:
        return True
    # A cookie without the CSRF token is still a logged-in user for reads.
    base = {OP_NO_CSRF: OP_SESSION, SUP_NO_CSRF: SUP_SESSION, AD_NO_CSRF: AD_SESSION}.get(role)
    return base is not None and method in SAFE and base in rule.who


def credentials(role: str, c: Creds) -> tuple[dict[str, str], dict[str, str], str | None]:
    """(headers, cookies, csrf token the caller can put in forms/headers) for a role."""
    bearer = {
        GW: GATEWAY_TOKEN,
        GW_REVOKED: REVOKED_GATEWAY_TOKEN,
        PHONE: c.phone_token,
        FORGED: "vgw_" + "A" * 43,
        OP_BEARER: c.operator_api,
        SUP_BEARER: c.supervisor_api,
        AD_BEARER: c.admin_api,
    }.get(role)
    if bearer:
        return {"Authorization": f"Bearer {bearer}"}, {}, None
    session = {
        OP_SESSION: (c.operator_session, c.operator_csrf),
        OP_NO_CSRF: (c.operator_session, None),
        SUP_SESSION: (c.supervisor_session, c.supervisor_csrf),
        SUP_NO_CSRF: (c.supervisor_session, None),
        AD_SESSION: (c.admin_session, c.admin_csrf),
        AD_NO_CSRF: (c.admin_session, None),
    }.get(role)
    if session:
        return {}, {SESSION_COOKIE: session[0]}, session[1]
    return {}, {}, None


def build(
    method: str, path: str, rule: Rule, role: str, c: Creds, seeded: Any
) -> tuple[str, dict[str, Any], dict[str, str]]:
    spec = {**rule.request(c, seeded), **rule.by_role(role)}
    url = path
    for name, value in spec.pop("path", {}).items():
        url = url.replace("{" + name + "}", str(value))
    headers, cookies, csrf = credentials(role, c)
    if method not in SAFE:
        if not path.startswith("/v1/") and path != "/login":
            # Console forms carry the token as a field; a cross-site form can only guess it.
            spec["data"] = {**spec.get("data", {}), "csrf_token": csrf or "guessed"}
        elif csrf:
            headers["X-CSRF-Token"] = csrf
    return url, {**spec, "headers": {**spec.get("headers", {}), **headers}}, cookies


CASES = [
    (m, p, role) for (m, p) in POLICY for role in ROLES if (m, p) != ("GET", "/v1/alarms/stream")
]


def test_every_route_is_in_the_policy_table(sec: SecEnv) -> None:
    served = app_routes(sec.app)
    missing = served - set(POLICY)
    stale = set(POLICY) - served
    assert not missing, f"routes with no authorisation policy (add them to POLICY): {missing}"
    assert not stale, f"POLICY rows for routes that no longer exist: {stale}"


def test_openapi_schema_lists_no_route_the_matrix_misses(sec: SecEnv) -> None:
    schema = sec.client.get("/openapi.json").json()
    documented = {(m.upper(), p) for p, ops in schema["paths"].items() for m in ops}
    assert documented <= set(POLICY)


@pytest.fixture(scope="module")
def shared(
    security_template: Template, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SecEnv]:
    """For cases that cannot change anything: reads, and calls that must be refused (a refused
    call that wrongly succeeded fails its own case whatever it changed)."""
    with open_env(security_template, tmp_path_factory.mktemp("shared")) as env:
        yield env


@pytest.mark.parametrize(("method", "path", "role"), CASES, ids=[" ".join(c) for c in CASES])
def test_only_intended_callers_succeed(
    request: pytest.FixtureRequest, method: str, path: str, role: str
) -> None:
    rule = POLICY[(method, path)]
    ok = allowed(method, rule, role)
    if ok and method not in SAFE:
        template: Template = request.getfixturevalue("security_template")
        with open_env(template, request.getfixturevalue("tmp_path")) as env:
            check(env, method, path, rule, role, ok)
    else:
        check(request.getfixturevalue("shared"), method, path, rule, role, ok)


def check(env: SecEnv, method: str, path: str, rule: Rule, role: str, ok: bool) -> None:
    url, kwargs, cookies = build(method, path, rule, role, env.creds, env.seeded)
    env.client.cookies.clear()
    for k, v in cookies.items():
        env.client.cookies.set(k, v)
    r = env.client.request(method, url, follow_redirects=False, **kwargs)
    if ok:
        assert rule.succeeded(r), f"{role} should succeed: {r.status_code} {r.text[:300]}"
    else:
        refused(r, path, rule, role)


def refused(r: httpx.Response, path: str, rule: Rule, role: str) -> None:
    assert not rule.succeeded(r), f"{role} must be refused: {r.status_code} {r.text[:300]}"
    if rule.console and role in (ANON, GW, GW_REVOKED, PHONE, FORGED):
        # Console pages send non-users to the login page, never a byte of the page itself.
        assert r.status_code == 303 and r.headers["location"] == "/login", r.status_code
        assert "<html" not in r.text.lower()
    else:
        expected = 401 if role in (ANON, GW_REVOKED, FORGED) else 403
        assert r.status_code == expected, (role, r.status_code, r.text[:300])


# The live stream never ends, so its allowed cases need a real server to read the first event.
@pytest.fixture(scope="module")
def live_url(
    security_template: Template, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Template]]:
    path = tmp_path_factory.mktemp("stream") / "vigil.db"
    path.write_bytes(security_template.path.read_bytes())
    app = create_app(make_settings(f"sqlite:///{path}"), migrate=False)
    with uvicorn_in_thread(app) as url:
        yield url, security_template
    app.state.db.engine.dispose()


@pytest.mark.parametrize("role", ROLES)
def test_only_operators_can_open_the_live_alarm_stream(
    live_url: tuple[str, Template], role: str
) -> None:
    url, template = live_url
    rule = POLICY[("GET", "/v1/alarms/stream")]
    headers, cookies, _ = credentials(role, template.creds)
    with (
        httpx.Client(base_url=url, cookies=cookies, timeout=10) as client,
        client.stream("GET", "/v1/alarms/stream", headers=headers) as r,
    ):
        if allowed("GET", rule, role):
            assert r.status_code == 200
            first = next(r.iter_lines())
            assert first == "event: hello"
        else:
            r.read()
            assert r.status_code == (401 if role in (ANON, GW_REVOKED, FORGED) else 403)
