"""Every console page the docs name exists: each `/path` in backticks in README.md and docs/
that is not a file, a device or the JSON API is fetched as an admin and must be a page (or,
for /openapi.json, the schema).

Docs once described console pages (API tokens, gateway tokens, device settings) that did not
exist; this keeps the two in step. The pages' behaviour is tested by the browser tests.
"""

from __future__ import annotations

import re
from pathlib import Path

from host_tests.support.monitor import DEVICE_ID, Env, sos

ROOT = Path(__file__).resolve().parents[2]
QUOTED_PATH = re.compile(r"`(/[^`\s]*)`")
# Backticked paths that are not the monitor's: the host's files and devices, the source tree.
NOT_PAGES = ("/dev/", "/etc/", "/proc/", "/work/", "/opt/", "/usr/", "/tmp/", "/var/")


def documented_pages() -> dict[str, set[str]]:
    """Page -> the docs naming it."""
    found: dict[str, set[str]] = {}
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for path in QUOTED_PATH.findall(doc.read_text(encoding="utf-8")):
            if path.startswith(NOT_PAGES) or path.startswith("/v1/") or path.endswith(".py"):
                continue
            found.setdefault(path, set()).add(doc.name)
    return found


def test_the_docs_name_the_main_admin_pages() -> None:
    """The finder itself finds what it should (else the test below would pass on nothing)."""
    pages = documented_pages()
    for page in ("/users", "/teams", "/gateways", "/account", "/devices/{id}", "/workers"):
        assert page in pages, page


def test_every_console_page_in_the_docs_is_served(env: Env) -> None:
    [res] = env.post_frames(sos(1))
    assert res["status"] == "accepted"
    csrf = env.login("admin")
    alarm = env.client.get("/v1/alarms").json()[0]["id"]
    env.client.post(f"/v1/alarms/{alarm}/acknowledge", headers=csrf).raise_for_status()
    env.client.post(
        f"/v1/alarms/{alarm}/resolve", headers=csrf, json={"outcome": "test"}
    ).raise_for_status()
    r = env.client.post("/v1/incidents", headers=csrf, json={"type": "other", "alarm_id": alarm})
    r.raise_for_status()
    ids = {
        "/alarms/": alarm,
        "/incidents/": r.json()["id"],
        "/workers/": env.seeded.worker_id,
        "/devices/": DEVICE_ID,
    }
    missing = {}
    for path, docs in documented_pages().items():
        url = path.split("#")[0].replace("alarm_id=N", f"alarm_id={alarm}")
        for prefix, value in ids.items():
            url = url.replace(prefix + "{id}", f"{prefix}{value}")
        got = env.client.get(url)
        kind = "json" if path.endswith(".json") else "html"  # /openapi.json: the API's schema
        if got.status_code != 200 or kind not in got.headers.get("content-type", ""):
            missing[path] = (got.status_code, sorted(docs))
    assert not missing, missing
