"""/openapi.json names a response schema for every resource route (monitor/schemas.py), so a
client can be generated from it instead of read from the serialisers."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from host_tests.support.monitor import make_settings
from monitor.api.main import create_app

# (method, path, schema the 2xx answer names): alarms, devices, workers, users, gateways, phones
EXPECTED = [
    ("get", "/v1/alarms", "AlarmOut"),
    ("get", "/v1/alarms/{alarm_id}", "AlarmDetail"),
    ("post", "/v1/alarms/{alarm_id}/acknowledge", "AlarmDetail"),
    ("post", "/v1/alarms/{alarm_id}/resolve", "AlarmDetail"),
    ("post", "/v1/alarms/{alarm_id}/incident", "IncidentOut"),
    ("get", "/v1/devices", "DeviceOut"),
    ("post", "/v1/devices", "DeviceProvisioned"),
    ("get", "/v1/devices/{device_id}", "DeviceOut"),
    ("patch", "/v1/devices/{device_id}", "DeviceOut"),
    ("post", "/v1/devices/{device_id}/revoke", "DeviceOut"),
    ("post", "/v1/devices/{device_id}/commands", "CommandQueued"),
    ("post", "/v1/devices/{device_id}/test", "FrameResult"),
    ("get", "/v1/workers", "WorkerOut"),
    ("post", "/v1/workers", "WorkerOut"),
    ("get", "/v1/workers/{worker_id}", "WorkerOut"),
    ("put", "/v1/workers/{worker_id}", "WorkerOut"),
    ("put", "/v1/workers/{worker_id}/contacts", "WorkerOut"),
    ("get", "/v1/users", "UserOut"),
    ("post", "/v1/users", "UserOut"),
    ("post", "/v1/users/{user_id}/reset", "ResetIssued"),
    ("get", "/v1/gateways", "GatewayOut"),
    ("post", "/v1/gateways", "GatewayCreated"),
    ("post", "/v1/gateways/{gateway_id}/revoke", "GatewayOut"),
    ("post", "/v1/phones/enrolments", "EnrolmentOut"),
    ("post", "/v1/phones/redeem", "Redeemed"),
    ("post", "/v1/phones/visit", "VisitOut"),
    ("post", "/v1/auth/login", "LoginOut"),
    ("get", "/v1/auth/me", "MeOut"),
    ("post", "/v1/auth/tokens", "TokenOut"),
    ("get", "/v1/reports/incidents", "IncidentReport"),
    ("get", "/v1/reports/answer-times", "AnswerTimes"),
    ("post", "/v1/incidents", "IncidentDetail"),
    ("get", "/v1/incidents", "IncidentDetail"),
    ("get", "/v1/incidents/{incident_id}", "IncidentDetail"),
    ("get", "/v1/reports/rejections", "RejectionOut"),
    ("get", "/v1/reports/arc", "ArcLinkOut"),
    ("post", "/v1/frames", "FramesOut"),
    ("get", "/v1/downlink", "DownlinkOut"),
]


def _named(schema: dict[str, Any]) -> str | None:
    """The component a response schema points at, directly or as the items of a list/map."""
    for part in (schema, schema.get("items") or {}, schema.get("additionalProperties") or {}):
        ref = part.get("$ref") if isinstance(part, dict) else None
        if ref:
            return str(ref).rsplit("/", 1)[-1]
    return None


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    path = tmp_path_factory.mktemp("openapi") / "vigil.db"
    app = create_app(make_settings(f"sqlite:///{path}"))
    with TestClient(app) as client:
        body: dict[str, Any] = client.get("/openapi.json").json()
    app.state.db.engine.dispose()
    return body


@pytest.mark.parametrize(
    ("method", "path", "model"), EXPECTED, ids=[f"{m} {p}" for m, p, _ in EXPECTED]
)
def test_route_names_its_response_schema(
    spec: dict[str, Any], method: str, path: str, model: str
) -> None:
    responses = spec["paths"][path][method]["responses"]
    [ok] = [code for code in responses if code.startswith("2")]
    schema = responses[ok]["content"]["application/json"]["schema"]
    assert _named(schema) == model
    assert spec["components"]["schemas"][model]["properties"]  # a described shape, not "object"


def test_every_json_route_names_a_response_schema(spec: dict[str, Any]) -> None:
    # Routes added later get a model too: none answers with an anonymous "object".
    anonymous = []
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            for code, response in op["responses"].items():
                schema = response.get("content", {}).get("application/json", {}).get("schema")
                if code.startswith("2") and schema and path != "/v1/alarms/stream":
                    if _named(schema) is None:
                        anonymous.append(f"{method.upper()} {path}")
    assert anonymous == []
