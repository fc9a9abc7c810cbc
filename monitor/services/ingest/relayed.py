"""The fields a gateway relays beside a frame, checked one by one. Pure: no database.

Only the frame is signed; `received_at`, `link`, `rssi` and `location` are the gateway's word.
A bad one costs that field, never the fob's alarm: it is replaced or dropped and named in
`Relayed.flags`, counted like a rejection reason (docs/monitor.md, "Ingest").
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from monitor.services.ingest import reasons

# A gateway clock ahead of ours by more than this is not believed: received_at is clamped to
# our time so an alarm can never appear to come from the future.
CLOCK_SKEW_TOLERANCE = dt.timedelta(seconds=5)
# How far back a gateway may say it heard a frame: a relay offline over a long weekend still
# delivers its backlog with its own times. Anything older is not believed either (a clock
# reset to 2001, a crafted year 1): clamped to our time and flagged, so it can neither sort an
# alarm out of sight nor stretch a time-to-acknowledge.
MAX_RELAY_DELAY = dt.timedelta(days=7)
# Accuracy beyond this is no position at all (a cell-tower fix is a few km).
MAX_ACCURACY_M = 100_000.0
# A fix older than a day says nothing about where the worker is now.
MAX_FIX_AGE_S = 86_400


class Location(BaseModel):
    """A position the gateway asserts (unsigned: the fob has no GPS). Finite and on Earth.
    `source`: the phone's own GPS fix, or a relay's configured site; not said by older
    gateways. `fix_age_s`: how old the fix was when the gateway relayed the frame."""

    model_config = ConfigDict(allow_inf_nan=False, extra="ignore")
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    accuracy_m: float | None = Field(None, ge=0, le=MAX_ACCURACY_M)
    source: Literal["phone_gps", "gateway_site"] | None = None
    fix_age_s: int | None = Field(None, ge=0, le=MAX_FIX_AGE_S, strict=True)


class FrameIn(BaseModel):
    """One relayed item. Only `frame` is signed; the rest is the gateway's word, checked field
    by field in `relayed` so a bad value costs that value, never the fob's alarm."""

    frame: str  # any length: the body limit bounds it, and peek names a wrong one bad_length
    received_at: Any = None
    link: Any = None
    rssi: Any = None
    location: Any = None


_LOCATION: TypeAdapter[Location] = TypeAdapter(Location)
_LINKS = frozenset(("serial", "ble"))
_RSSI_RANGE = range(-127, 21)  # dBm as BLE reports it; anything else is not a reading


@dataclass
class Relayed:
    """The gateway's unsigned fields after checking: each bad one replaced and named in
    `flags` (counted like a rejection reason; the frame itself is still verified and kept)."""

    received_at: dt.datetime
    received_at_clamped: bool = False
    link: str | None = None
    rssi: int | None = None
    location: Location | None = None
    flags: list[str] = field(default_factory=list)


def relayed(item: FrameIn, now: dt.datetime) -> Relayed:
    # Plain checks for the fields on every heartbeat (most of the traffic): this runs per frame.
    out = Relayed(received_at=now)
    try:
        at = dt.datetime.fromisoformat(item.received_at)
        if at.tzinfo is None:
            raise ValueError("no time zone: whose clock?")
    except (ValueError, TypeError, OverflowError):
        at = None
    _believe_time(out, at, now)
    _check_link(out, item.link)
    _check_rssi(out, item.rssi)
    _check_location(out, item.location)
    return out


def relayed_packed(
    at: dt.datetime | None, link: Any, rssi: int | None, location: Any, now: dt.datetime
) -> Relayed:
    """The same checks for a packed record (protocol/relay_batch.py): its codes already
    turned into the JSON values, an out-of-range code kept as it came so it is flagged."""
    out = Relayed(received_at=now)
    _believe_time(out, at, now)
    _check_link(out, link)
    _check_rssi(out, rssi)
    _check_location(out, location)
    return out


def _believe_time(out: Relayed, at: dt.datetime | None, now: dt.datetime) -> None:
    try:
        believable = at is not None and now - MAX_RELAY_DELAY <= at <= now + CLOCK_SKEW_TOLERANCE
    except OverflowError:  # an offset that takes year 1 out of range
        at, believable = None, False
    if at is None:
        # Missing or unreadable: our own clock stands in, flagged like a clamp.
        out.received_at_clamped = True
        out.flags.append(reasons.BAD_RECEIVED_AT)
    elif believable:
        out.received_at = at.astimezone(dt.UTC)
    else:
        out.received_at_clamped = True
        out.flags.append(reasons.CLAMPED_RECEIVED_AT)


def _check_link(out: Relayed, link: Any) -> None:
    if link is not None:
        if isinstance(link, str) and link in _LINKS:
            out.link = link
        else:
            out.flags.append(reasons.BAD_LINK)


def _check_rssi(out: Relayed, rssi: Any) -> None:
    if rssi is not None:
        if type(rssi) is int and rssi in _RSSI_RANGE:
            out.rssi = rssi
        else:
            out.flags.append(reasons.BAD_RSSI)


def _check_location(out: Relayed, location: Any) -> None:
    if location is not None:
        try:
            out.location = _LOCATION.validate_python(location)
        except ValidationError:
            out.flags.append(reasons.BAD_LOCATION)
