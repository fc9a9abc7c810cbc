"""`make run`: a monitor seeded with demo accounts, a worker and a fob with a known key.

The known key and tokens are development values: the settings refuse them outside development,
so the demo runs only with `--dev` (or VIGIL_ENVIRONMENT=development).
"""

from __future__ import annotations

import argparse
import os

import uvicorn
from fastapi import FastAPI

from monitor.api.main import create_app, freeze_startup_heap, uvicorn_config
from monitor.core.config import settings_for
from monitor.errors import MonitorError
from monitor.seed import Seeded, seed

DEMO_DEVICE_ID = 1
DEMO_DEVICE_KEY = bytes(range(16))  # 000102...0f: the simulated fob's default key
DEMO_GATEWAY_TOKEN = "vgw_demo_gateway_token"
DEMO_ADMIN_PASSWORD = "admin-password"
DEMO_OPERATOR_PASSWORD = "operator-password"


def seed_demo(app: FastAPI) -> Seeded:
    """The demo's accounts, worker, fob and gateway, with the known development secrets."""
    return seed(
        app.state.db,
        app.state.keybox,
        admin_password=DEMO_ADMIN_PASSWORD,
        operator_password=DEMO_OPERATOR_PASSWORD,
        device_id=DEMO_DEVICE_ID,
        device_key=DEMO_DEVICE_KEY,
        gateway_token=DEMO_GATEWAY_TOKEN,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m monitor.demo", description=__doc__)
    parser.add_argument("--host", default=os.environ.get("VIGIL_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("VIGIL_PORT", "8000")))
    parser.add_argument("--dev", action="store_true", help="development mode (required)")
    args = parser.parse_args(argv)
    try:
        settings = settings_for(args.dev)
    except MonitorError as e:
        raise SystemExit(f"error: {e.message}") from e
    if settings.environment != "development":
        raise SystemExit("the demo seeds known secrets: run it with --dev")
    app = create_app(settings)
    seed_demo(app)
    print(
        f"Vigil monitor on http://{args.host}:{args.port}/  (admin / {DEMO_ADMIN_PASSWORD}, "
        f"operator / {DEMO_OPERATOR_PASSWORD}; gateway token {DEMO_GATEWAY_TOKEN}; "
        f"device {DEMO_DEVICE_ID} key {DEMO_DEVICE_KEY.hex()})"
    )
    freeze_startup_heap()
    uvicorn.Server(uvicorn_config(app, settings, args.host, args.port)).run()


if __name__ == "__main__":
    main()
