"""Finding 7 (issue 11): the login throttle counts the real client, per account as well.

Each test serves a copy of the seeded database with `python -m monitor serve` in a child
process, as production does, and logs in over real TCP. Loopback has a whole /8 of addresses,
so clients bind to 127.0.0.2, 127.0.0.3, ... to be distinct addresses without any proxy header.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx

from devstack.localstack import Proc, child_env, free_port, wait_http
from host_tests.support.monitor import ADMIN_PASSWORD
from host_tests.support.security import Template

MASTER_KEY = "test-master-key-" + "x" * 32  # the key the template's device keys are sealed under
WRONG = {"username": "admin", "password": "not-the-admin-password"}
RIGHT = {"username": "admin", "password": ADMIN_PASSWORD}
PER_ADDRESS_AND_ACCOUNT = 5  # Settings.login_max_failures
PER_ACCOUNT = 10  # Settings.login_max_failures_per_account


@contextlib.contextmanager
def serve(template: Template, tmp_path: Path, **env: str) -> Iterator[str]:
    shutil.copy(template.path, tmp_path / "vigil.db")
    port = free_port()
    e = child_env(
        {
            "VIGIL_ENVIRONMENT": "test",
            "VIGIL_MASTER_KEY": MASTER_KEY,
            "VIGIL_DATABASE_URL": f"sqlite:///{tmp_path}/vigil.db",
            "VIGIL_RUN_SCHEDULER": "false",
            **env,
        }
    )
    e.pop("FORWARDED_ALLOW_IPS", None)  # uvicorn's own variable: what we test is our setting
    argv = [sys.executable, "-m", "monitor", "serve", "--port", str(port)]
    proc = Proc("monitor", argv, e, tmp_path / "monitor.log")
    try:
        wait_http(f"http://127.0.0.1:{port}/v1/auth/me", proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.stop()


def client(url: str, address: str = "127.0.0.1") -> httpx.Client:
    return httpx.Client(
        base_url=url, timeout=15, transport=httpx.HTTPTransport(local_address=address)
    )


def login(c: httpx.Client, body: dict[str, str], forwarded_for: str | None = None) -> int:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return c.post("/v1/auth/login", json=body, headers=headers).status_code


def test_finding_7_rotating_x_forwarded_for_does_not_escape_the_throttle(
    security_template: Template, tmp_path: Path
) -> None:
    with serve(security_template, tmp_path) as url, client(url) as c:
        codes = [login(c, WRONG, f"198.51.100.{i}") for i in range(30)]
        assert codes == [401] * PER_ADDRESS_AND_ACCOUNT + [429] * 25, codes
        assert login(c, RIGHT, "203.0.113.77") == 429  # a fresh header is still this client


def test_finding_7_sprayed_address_does_not_lock_out_the_real_admin(
    security_template: Template, tmp_path: Path
) -> None:
    admin_at = "127.0.0.3"
    with serve(security_template, tmp_path) as url:
        with client(url, "127.0.0.1") as attacker:
            # Claims to be the admin's address (from loopback, which uvicorn's default would
            # have believed); locks out only itself.
            codes = [login(attacker, WRONG, admin_at) for _ in range(8)]
            assert codes == [401] * PER_ADDRESS_AND_ACCOUNT + [429] * 3
        for i in range(4, 4 + PER_ACCOUNT):  # and sprays from ten more addresses
            with client(url, f"127.0.0.{i}") as other:
                assert login(other, WRONG, admin_at) == 401
        with client(url, admin_at) as admin:
            assert login(admin, RIGHT) == 200


def test_finding_7_per_account_cap_holds_across_addresses(
    security_template: Template, tmp_path: Path
) -> None:
    with serve(security_template, tmp_path) as url:
        for i in range(2, 2 + PER_ACCOUNT):  # one guess each: under every per-address limit
            with client(url, f"127.0.0.{i}") as c:
                assert login(c, WRONG) == 401
        with client(url, "127.0.0.2") as c:
            # Second guess from an address that has failed: over the account's cap.
            r = c.post("/v1/auth/login", json=WRONG)
            assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
            assert login(c, RIGHT) == 429
        with client(url, "127.0.0.40") as fresh:
            assert login(fresh, WRONG) == 401  # a fresh address gets one try, not five
            assert login(fresh, WRONG) == 429
        with client(url, "127.0.0.41") as real_admin:
            assert login(real_admin, RIGHT) == 200
        with client(url, "127.0.0.42") as c:  # other accounts are not affected
            assert login(c, {"username": "operator", "password": "wrong-password"}) == 401


def test_forwarded_for_is_believed_from_a_configured_proxy_only(
    security_template: Template, tmp_path: Path
) -> None:
    with serve(security_template, tmp_path, VIGIL_FORWARDED_ALLOW_IPS="127.0.0.1") as url:
        with client(url) as proxy:  # the reverse proxy on this host, forwarding two clients
            codes = [login(proxy, WRONG, "198.51.100.1") for _ in range(6)]
            assert codes == [401] * PER_ADDRESS_AND_ACCOUNT + [429]
            assert login(proxy, RIGHT, "198.51.100.2") == 200
        with client(url, "127.0.0.9") as not_the_proxy:
            codes = [login(not_the_proxy, WRONG, f"198.51.100.{i}") for i in range(10, 16)]
            assert codes == [401] * PER_ADDRESS_AND_ACCOUNT + [429]
