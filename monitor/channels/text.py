"""Plain text for people: what an e-mail or SMS to a contact says about an alarm.

Built from the alarm payload escalation.py sends every channel, so every channel says the same
thing. Written for someone reading on a phone who must decide in seconds what to do.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from monitor.models import utcnow

_KINDS = {
    "sos": "SOS (panic button pressed)",
    "fall": "FALL detected",
    "no_motion": "NO MOVEMENT detected",
    "checkin_overdue": "CHECK-IN OVERDUE",
    "low_battery": "LOW BATTERY on the fob",
    "device_offline": "FOB OFFLINE (no contact from the fob)",
}
# A message arriving this long after the alarm was raised says so at the top: the reader must
# know the situation may have moved on.
LATE_AFTER = dt.timedelta(seconds=60)


def kind_label(kind: str) -> str:
    return _KINDS.get(kind, kind.replace("_", " ").upper())


def _when(iso: str | None) -> dt.datetime | None:
    if not iso:
        return None
    try:
        t = dt.datetime.fromisoformat(iso)
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def _duration(d: dt.timedelta) -> str:
    s = max(0, int(d.total_seconds()))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s"
    return f"{s // 3600} h {s % 3600 // 60} min"


def _worker(alarm: dict[str, Any]) -> tuple[str, str | None]:
    w = alarm.get("worker") or {}
    return str(w.get("name") or "an unassigned fob"), w.get("phone")


def _position(alarm: dict[str, Any]) -> str:
    loc = alarm.get("location")
    if not loc:
        return "Position: not known. Ask the operator or call the worker."
    lat, lon, acc = loc.get("lat"), loc.get("lon"), loc.get("accuracy_m")
    out = f"Position: {lat:.5f}, {lon:.5f}"
    out += f" (within {acc:.0f} m)" if isinstance(acc, int | float) else " (accuracy unknown)"
    age = alarm.get("location_fix_age_s")
    if isinstance(age, int | float):
        out += f", fix {_duration(dt.timedelta(seconds=age))} old"
    out += f"\nMap: https://www.openstreetmap.org/?mlat={lat:.5f}&mlon={lon:.5f}#map=18/{lat:.5f}/{lon:.5f}"
    return out


def subject(message: dict[str, Any]) -> str:
    alarm = message.get("alarm") or {}
    name, _ = _worker(alarm)
    return f"[Vigil] {kind_label(str(alarm.get('kind')))}: {name}"


def body(message: dict[str, Any], now: dt.datetime | None = None) -> str:
    """The e-mail body: who, what, when (and how late), where, what to do."""
    now = now or utcnow()
    alarm = message.get("alarm") or {}
    name, phone = _worker(alarm)
    team = (alarm.get("worker") or {}).get("team")
    raised = _when(alarm.get("raised_at"))
    lines = [f"Vigil alarm for {message.get('contact', 'you')}."]
    if raised is not None and now - raised > LATE_AFTER:
        lines.append(f"LATE: this message is {_duration(now - raised)} after the alarm was raised.")
    lines += [
        "",
        f"Worker: {name}" + (f" ({team})" if team else ""),
        f"Alarm: {kind_label(str(alarm.get('kind')))}",
        f"Raised: {raised:%Y-%m-%d %H:%M:%S} UTC" if raised else "Raised: time not known",
        f"Alarm number: {alarm.get('id')}",
        _position(alarm),
    ]
    visit = alarm.get("visit")
    if visit:
        lines.append(
            f"Visit: {visit.get('where')}" + (f" with {visit['with']}" if visit.get("with") else "")
        )
    if alarm.get("battery_pct") is not None:
        lines.append(f"Fob battery: {alarm['battery_pct']}%")
    lines += [
        "",
        "What to do:",
        f"1. Call {name}" + (f" on {phone}" if phone else "") + " now.",
        "2. No answer, or you hear danger: call 999 (112) and give the position above.",
        "3. Tell the Vigil operator what you are doing: nobody has acknowledged it yet.",
    ]
    if message.get("respond_url"):
        # The one-time answer link (services/responder_links.py, where present): "I'm on it"
        # stops the next contact being called.
        lines += ["", f"Answer (I'm on it / can't help): {message['respond_url']}"]
    return "\n".join(lines) + "\n"


def sms(message: dict[str, Any], now: dt.datetime | None = None) -> str:
    """One SMS (kept near 160 characters, GSM-7 friendly): what, who, when, where, what to do."""
    now = now or utcnow()
    alarm = message.get("alarm") or {}
    name, phone = _worker(alarm)
    raised = _when(alarm.get("raised_at"))
    parts = [f"VIGIL {kind_label(str(alarm.get('kind')))}: {name}"]
    if raised is not None:
        parts.append(
            f"at {raised:%H:%M} UTC"
            + (f" ({_duration(now - raised)} ago)" if now - raised > LATE_AFTER else "")
        )
    loc = alarm.get("location")
    if loc:
        acc = loc.get("accuracy_m")
        parts.append(
            f"at {loc['lat']:.5f},{loc['lon']:.5f}"
            + (f" +-{acc:.0f}m" if isinstance(acc, int | float) else "")
        )
    parts.append(f"Call {phone}" if phone else "Call the worker")
    parts.append("no answer: 999")
    if message.get("respond_url"):
        parts.append(f"Answer: {message['respond_url']}")
    return ". ".join(parts)
