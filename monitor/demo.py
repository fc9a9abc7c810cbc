"""`make run`: a monitor seeded with demo accounts, a worker and a fob with a known key.

The known key and tokens are development values: the settings refuse them outside development.
"""

from __future__ import annotations

import argparse
import os

import uvicorn

from monitor.api.main import create_app
from monitor.core.config import get_settings
from monitor.seed import seed

DEMO_DEVICE_ID = 1
DEMO_DEVICE_KEY = bytes(range(16))  # 000102...0f: the simulated fob's default key
DEMO_GATEWAY_TOKEN = "vgw_demo_gateway_token"
DEMO_ADMIN_PASSWORD = "admin-password"
DEMO_OPERATOR_PASSWORD = "operator-password"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m monitor.demo", description=__doc__)
    parser.add_argument("--host", default=os.environ.get("VIGIL_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("VIGIL_PORT", "8000")))
    args = parser.parse_args(argv)
    settings = get_settings()
    if settings.environment != "development":
        raise SystemExit("the demo seeds known secrets: run it with VIGIL_ENVIRONMENT=development")
    app = create_app(settings)
    seed(
        app.state.db,
        app.state.keybox,
        admin_password=DEMO_ADMIN_PASSWORD,
        operator_password=DEMO_OPERATOR_PASSWORD,
        device_id=DEMO_DEVICE_ID,
        device_key=DEMO_DEVICE_KEY,
        gateway_token=DEMO_GATEWAY_TOKEN,
    )
    print(
        f"Vigil monitor on http://{args.host}:{args.port}/  (admin / {DEMO_ADMIN_PASSWORD}, "
        f"operator / {DEMO_OPERATOR_PASSWORD}; gateway token {DEMO_GATEWAY_TOKEN}; "
        f"device {DEMO_DEVICE_ID} key {DEMO_DEVICE_KEY.hex()})"
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
