"""Gateway settings: command-line flags over `VIGIL_GATEWAY_*` environment over a TOML file.

Example `gateway.toml`:

    monitor_url = "https://monitor.example.org"
    token = "gw_..."
    serial_ports = ["/dev/ttyACM0"]   # or auto_detect = true
    ble = true
    queue = "/var/lib/vigil/gateway-queue.sqlite3"
    [location]                         # a fixed gateway site, sent with alarms only
    lat = 51.5
    lon = -0.12
    accuracy_m = 30
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from gateway.errors import ConfigError

DEFAULT_QUEUE = Path("var/gateway/queue.sqlite3")
DEFAULT_ALLOWLIST = Path("var/gateway/paired-fobs.json")


@dataclass
class GatewayConfig:
    monitor_url: str = "http://127.0.0.1:8000"
    token: str = ""
    serial_ports: list[str] = field(default_factory=list)
    auto_detect: bool = False
    ble: bool = False
    queue: Path = DEFAULT_QUEUE
    allowlist: Path = DEFAULT_ALLOWLIST
    location: dict[str, float] | None = None
    # bumble instead of the OS stack: an HCI transport such as "usb:0" (a dongle without
    # BlueZ) or "tcp-client:127.0.0.1:9301" (the simulated air of `make run`).
    ble_hci: str | None = None
    ble_address: str = "C0:FF:EE:00:00:01"  # static random address used with ble_hci

    @property
    def bonds(self) -> Path:
        return self.allowlist.with_suffix(".bonds.json")

    def check(self) -> GatewayConfig:
        if not self.token:
            raise ConfigError(
                "token",
                "set --token or VIGIL_GATEWAY_TOKEN (from the monitor's "
                "admin page: Gateways > New)",
            )
        if not self.monitor_url.startswith(("http://", "https://")):
            raise ConfigError("monitor_url", f"{self.monitor_url!r} is not an http(s) URL")
        if not (self.serial_ports or self.auto_detect or self.ble):
            raise ConfigError("links", "no fob links: give --serial, --auto-detect or --ble")
        if self.location is not None:
            for k in ("lat", "lon", "accuracy_m"):
                if not isinstance(self.location.get(k), int | float):
                    raise ConfigError("location", f"needs a number for {k}")
            self.location = {k: float(self.location[k]) for k in ("lat", "lon", "accuracy_m")}
        return self


def load(path: Path | None, overrides: dict[str, Any]) -> GatewayConfig:
    """Settings from the TOML file at `path` (if any), then the non-None `overrides`."""
    values: dict[str, Any] = {}
    if path is not None:
        try:
            values.update(tomllib.loads(path.read_text()))
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise ConfigError(str(path), f"cannot read the config file: {e}") from e
    values.update({k: v for k, v in overrides.items() if v is not None and v != []})
    known = {f.name for f in fields(GatewayConfig)}
    unknown = set(values) - known
    if unknown:
        raise ConfigError(", ".join(sorted(unknown)), "unknown setting")
    for k in ("queue", "allowlist"):
        if k in values:
            values[k] = Path(values[k])
    return GatewayConfig(**values).check()
