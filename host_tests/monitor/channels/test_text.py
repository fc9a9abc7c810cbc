"""What a person reads: the plain text every e-mail and SMS is built from."""

from __future__ import annotations

import datetime as dt
from typing import Any

from monitor.channels import text

NOW = dt.datetime(2026, 12, 3, 7, 30, tzinfo=dt.UTC)


def _message(**alarm: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": 42,
        "kind": "fall",
        "raised_at": (NOW - dt.timedelta(seconds=20)).isoformat(),
        "worker": {"name": "Sam Rivera", "phone": "+44 7700 900123", "team": "Housing"},
        "location": {"lat": 51.5, "lon": -0.12, "accuracy_m": None},
        "location_fix_age_s": None,
        "visit": {"where": "12 Elm Road", "with": "Mr Khan"},
        "battery_pct": 15,
    }
    return {"contact": "Team leader", "alarm": {**base, **alarm}}


def test_body_names_everything_a_contact_needs_and_the_answer_link() -> None:
    m = _message()
    m["respond_url"] = "https://vigil.example/respond/abc"
    body = text.body(m, now=NOW)
    assert "Alarm: FALL detected" in body and "Worker: Sam Rivera (Housing)" in body
    assert "(accuracy unknown)" in body and "Visit: 12 Elm Road with Mr Khan" in body
    assert "Fob battery: 15%" in body and "LATE" not in body
    assert "Answer (I'm on it / can't help): https://vigil.example/respond/abc" in body
    assert text.sms(m, now=NOW).endswith("Answer: https://vigil.example/respond/abc")


def test_a_late_message_says_how_late_and_an_unknown_alarm_still_renders() -> None:
    late = _message(raised_at=(NOW - dt.timedelta(hours=1, minutes=5)).isoformat())
    assert "LATE: this message is 1 h 5 min after" in text.body(late, now=NOW)
    assert "(1 h 5 min ago)" in text.sms(late, now=NOW)
    bare: dict[str, Any] = {"alarm": {"kind": "something_new", "raised_at": "not a time"}}
    assert "SOMETHING NEW" in text.body(bare, now=NOW)
    assert "an unassigned fob" in text.sms(bare, now=NOW)
