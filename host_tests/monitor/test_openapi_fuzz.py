"""Schemathesis against the served OpenAPI: no generated request gets a 500.

Schemathesis's pytest plugin does not load under this pytest version, so the test walks the
schema's operations itself and drives each operation's Hypothesis strategy directly.
"""

from __future__ import annotations

import json
import math
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from host_tests.support.monitor import Env

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
            # The CSV exports answer in CSV; everything else in JSON.
            want = (
                "text/csv"
                if op.path.endswith(".csv") and r.status_code < 300
                else "application/json"
            )
            assert ct.startswith(want), r.headers

    run()


# What JSON lets a client send that no route can use: non-finite numbers and lone surrogates
# (json.dumps writes them as NaN / Infinity and \udXXX escapes), alone or inside containers.
_hostile_scalar = st.one_of(
    st.sampled_from([math.nan, math.inf, -math.inf]),
    st.builds(
        lambda a, s, b: a + s + b,
        st.text(max_size=5),
        st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF).map(str),
        st.text(max_size=5),
    ),
)
_hostile = st.one_of(
    _hostile_scalar,
    st.lists(_hostile_scalar, min_size=1, max_size=3),
    st.dictionaries(st.sampled_from(["name", "lat", "x"]), _hostile_scalar, min_size=1),
)


def _json_body_fields(schema: dict[str, Any], op: dict[str, Any]) -> list[str] | None:
    content = op.get("requestBody", {}).get("content", {}).get("application/json")
    if content is None:
        return None
    ref = content["schema"].get("$ref", "")
    target = schema["components"]["schemas"].get(ref.rsplit("/", 1)[-1], {}) if ref else {}
    return list(target.get("properties", {})) or [""]


def test_finding_6_no_route_500s_on_non_finite_numbers_or_lone_surrogates(sqlite_env: Env) -> None:
    env = sqlite_env
    admin = env.token("admin")["Authorization"]
    schema = env.client.get("/openapi.json").json()
    checked = 0
    for path, ops in schema["paths"].items():
        for method, op in ops.items():
            fields = _json_body_fields(schema, op)
            if fields is None:
                continue
            url = path.replace("{device_id}", "7")
            url = url.replace("{worker_id}", str(env.seeded.worker_id))
            url = url.replace("{user_id}", str(env.seeded.operator_id))
            url = url.replace("{alarm_id}", "1").replace("{gateway_id}", "1")
            auth = env.gw["Authorization"] if path in GATEWAY_PATHS else admin
            _hostile_bodies(env, method.upper(), url, fields, auth)
            checked += 1
    assert checked >= 15  # every route that takes a JSON body


def _hostile_bodies(env: Env, method: str, url: str, fields: list[str], auth: str) -> None:
    @settings(
        max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(
        st.one_of(
            st.fixed_dictionaries({f: _hostile for f in fields}),  # every field hostile
            st.sampled_from(fields).flatmap(lambda f: st.fixed_dictionaries({f: _hostile})),
            st.lists(st.fixed_dictionaries({f: _hostile for f in fields}), max_size=2),
            _hostile,
        )
    )
    def run(body: Any) -> None:
        r = env.client.request(
            method,
            url,
            content=json.dumps(body).encode(),
            headers={"Authorization": auth, "content-type": "application/json"},
        )
        assert r.status_code < 500, f"{method} {url} {body!r}: {r.status_code} {r.text}"
        assert r.headers["content-type"].startswith("application/json"), r.headers

    run()
