"""Finding 6 (issue 11): values JSON allows but nothing can use are a clean 422, never a 500.

`NaN`, `Infinity`, `1e999` and lone surrogates (`"\\ud800"`, or the raw bytes ED A0 80) used to
reach argon2, SQLite or the JSON encoder of FastAPI's own 422 and come back as anonymous 500s
with tracebacks. One request-level check (monitor/api/validation.py) now refuses them, naming
the field; the route-by-route sweep is in host_tests/monitor/test_openapi_fuzz.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from host_tests.support.security import SecEnv
from monitor.models import Gateway, User, Worker

# Raw request bodies, because a JSON encoder would refuse to write most of these.
HOSTILE_PASSWORDS = {
    "nan": b'{"username": "admin", "password": NaN}',
    "infinity": b'{"username": "admin", "password": -Infinity}',
    "overflow": b'{"username": "admin", "password": 1e999}',
    "escaped_lone_surrogate": b'{"username": "admin", "password": "\\ud800"}',
    "raw_lone_surrogate": b'{"username": "admin", "password": "x\xed\xa0\x80"}',
    "surrogate_in_username": b'{"username": "\\udfffadmin", "password": "whatever-it-is"}',
    "surrogate_in_a_key": b'{"username": "admin", "password": "p", "\\ud800": 1}',
}


def _clean_422(r: Any, field: str) -> None:
    assert r.status_code == 422, (r.status_code, r.text)
    body = r.json()
    assert body["error"] == "invalid_input"
    assert field in body["message"]
    assert "Traceback" not in r.text


@pytest.mark.parametrize("body", HOSTILE_PASSWORDS.values(), ids=HOSTILE_PASSWORDS.keys())
def test_finding_6_nan_or_lone_surrogate_password_is_a_clean_422(sec: SecEnv, body: bytes) -> None:
    r = sec.client.post(
        "/v1/auth/login", content=body, headers={"content-type": "application/json"}
    )
    _clean_422(r, "body")
    # Refused before it was a login attempt: it neither logs in nor counts against the throttle.
    assert sec.app.state.throttle.tracked() == 0
    assert "set-cookie" not in r.headers


ADMIN_TEXT = [
    ("POST", "/v1/workers", {"name": "Sam\ud800"}, "body.name"),
    ("PUT", "/v1/workers/{worker}", {"name": "ok", "risk_notes": "\udc00"}, "body.risk_notes"),
    (
        "POST",
        "/v1/users",
        {
            "username": "new.one",
            "name": "\ud83d",
            "role": "operator",
            "password": "long-enough-password",
        },
        "body.name",
    ),  # fmt: skip
    ("POST", "/v1/gateways", {"name": "van\udfff"}, "body.name"),
    ("PATCH", "/v1/devices/7", {"firmware_version": "\ud800"}, "body.firmware_version"),
    (
        "POST",
        "/v1/alarms/{alarm}/resolve",
        {"outcome": "worker_safe", "notes": "\ud800"},
        "body.notes",
    ),  # fmt: skip
    ("PUT", "/v1/workers/{worker}/contacts", [{"name": "\ud800"}], "body[0].name"),
]


@pytest.mark.parametrize(("method", "path", "body", "field"), ADMIN_TEXT)
def test_finding_6_lone_surrogates_in_admin_text_fields_are_a_clean_422(
    sec: SecEnv, method: str, path: str, body: Any, field: str
) -> None:
    import json

    def counts() -> tuple[int, int, int]:
        with sec.app.state.db.session() as s:
            return (
                s.scalar(select(func.count()).select_from(Worker)) or 0,
                s.scalar(select(func.count()).select_from(User)) or 0,
                s.scalar(select(func.count()).select_from(Gateway)) or 0,
            )

    before = counts()
    url = path.format(worker=sec.seeded.worker_id, alarm=sec.creds.open_alarm_id)
    r = sec.client.request(
        method,
        url,
        content=json.dumps(body).encode(),  # ensure_ascii: surrogates go out as \\uXXXX escapes
        headers={
            "content-type": "application/json",
            "Authorization": f"Bearer {sec.creds.admin_api}",
        },
    )
    _clean_422(r, field)
    assert counts() == before


def test_query_strings_and_forms_cannot_carry_a_lone_surrogate(sec: SecEnv) -> None:
    # Percent-encoded surrogate bytes in a form: decoded as replacement characters by the
    # parser (a wrong password), never a lone surrogate that reaches argon2.
    r = sec.client.post(
        "/login",
        content=b"username=admin&password=%ED%A0%80",
        headers={"content-type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    assert r.status_code == 401, r.text
    r = sec.client.get(
        "/v1/alarms?status=%ED%A0%80",
        headers={"Authorization": f"Bearer {sec.creds.operator_api}"},
    )
    assert r.status_code == 422, r.text


def test_finding_6_a_validation_error_echoing_a_hostile_value_still_renders(sec: SecEnv) -> None:
    """The frame batch is left to ingest's per-frame checks (other findings), so FastAPI's own
    422 sees the hostile value and echoes it: that answer must still be JSON, not a 500."""
    for body in (b'{"frames": NaN}', b'{"frames": "\\ud800"}'):
        r = sec.client.post(
            "/v1/frames",
            content=body,
            headers={
                "content-type": "application/json",
                "Authorization": "Bearer vgw_test_gateway_token",
            },
        )
        assert r.status_code == 422, r.text
        assert r.json()["error"] == "invalid_request" and "frames" in r.json()["message"]
