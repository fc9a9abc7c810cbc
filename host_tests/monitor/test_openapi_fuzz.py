"""Schemathesis against the served OpenAPI: no generated request gets a 500.

Schemathesis's pytest plugin does not load under this pytest version, so the test walks the
schema's operations itself and drives each operation's Hypothesis strategy directly.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings

from host_tests.monitor.conftest import Env

GATEWAY_PATHS = ("/v1/frames", "/v1/downlink", "/v1/gateways/health")
# The stream never ends by design and the long poll waits up to 25 s: both have their own
# tests against uvicorn.
SKIP = ("/v1/alarms/stream", "/v1/downlink")
EXAMPLES = 20


def test_no_generated_request_gets_a_server_error(sqlite_env: Env) -> None:
    env = sqlite_env
    admin = env.token("admin")["Authorization"]
    schema = schemathesis.openapi.from_asgi("/openapi.json", env.app)
    operations = [r.ok() for r in schema.get_all_operations()]
    checked = 0
    for op in operations:
        if op.path in SKIP:
            continue
        _fuzz(op, env.gw["Authorization"] if op.path in GATEWAY_PATHS else admin)
        checked += 1
    assert checked >= 25  # every route in the API, so a renamed path cannot slip out silently


def _fuzz(op: Any, auth: str) -> None:
    @settings(
        max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(case=op.as_strategy())
    def run(case: Any) -> None:
        r = case.call(headers={"Authorization": auth})
        assert r.status_code < 500, f"{case.method} {case.formatted_path}: {r.status_code} {r.text}"
        if r.status_code != 204:
            ct = r.headers.get("content-type") or [""]
            ct = ct[0] if isinstance(ct, list) else ct
            assert ct.startswith("application/json"), r.headers

    run()
