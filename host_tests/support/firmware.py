"""The firmware tests' provisioned identity and filters over a scenario's log."""

from __future__ import annotations

from typing import Any

from protocol import frames

KEY = bytes(range(16))
DEVICE_ID = 4242


def of_type(log: dict[str, Any], ftype: int) -> list[tuple[int, frames.Frame]]:
    return [(t, f) for t, f in log["frames"] if f.ftype == ftype]


def raised(log: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [e for e in log["events"] if e["event"] == "raised" and e["type"] == name]
