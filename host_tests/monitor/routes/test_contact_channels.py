"""The contacts API with channels: each channel's address is checked where it enters, and
clients written before channels (webhook_url only) keep working."""

from __future__ import annotations

from typing import Any

from host_tests.support.monitor import Env


def _put(env: Env, contacts: list[dict[str, Any]]) -> Any:
    admin = env.token("admin")
    return env.client.put(
        f"/v1/workers/{env.seeded.worker_id}/contacts", headers=admin, json=contacts
    )


def test_contacts_on_every_channel_are_stored_and_shown_in_order(sqlite_env: Env) -> None:
    r = _put(
        sqlite_env,
        [
            {"name": "Lead", "channel": "email", "address": "lead@example.org", "delay_s": 0},
            {"name": "Duty", "channel": "sms_modem", "address": "+44 7700 900456", "delay_s": 30},
            {"name": "Out", "channel": "sms_http", "address": "+447700900457", "delay_s": 60},
            {"name": "Hook", "channel": "webhook", "address": "https://x.example/h", "delay_s": 90},
        ],
    )
    assert r.status_code == 200, r.text
    got = [(c["channel"], c["address"], c["webhook_url"]) for c in r.json()["contacts"]]
    assert got == [
        ("email", "lead@example.org", None),
        ("sms_modem", "+447700900456", None),
        ("sms_http", "+447700900457", None),
        ("webhook", "https://x.example/h", "https://x.example/h"),
    ]


def test_an_old_client_sending_only_webhook_url_still_gets_a_webhook_contact(
    sqlite_env: Env,
) -> None:
    r = _put(sqlite_env, [{"name": "Old", "webhook_url": "http://127.0.0.1:9/hook", "delay_s": 5}])
    assert r.status_code == 200, r.text
    [c] = r.json()["contacts"]
    assert (c["channel"], c["address"], c["webhook_url"]) == (
        "webhook",
        "http://127.0.0.1:9/hook",
        "http://127.0.0.1:9/hook",
    )


def test_an_address_that_does_not_fit_its_channel_is_refused_with_a_clear_error(
    sqlite_env: Env,
) -> None:
    bad = [
        {"name": "A", "channel": "email", "address": "not-an-address", "delay_s": 0},
        {"name": "B", "channel": "sms_http", "address": "07700 900456", "delay_s": 0},
        {"name": "C", "channel": "webhook", "address": "mailto:x@example.org", "delay_s": 0},
        {"name": "D", "channel": "email", "delay_s": 0},
        {"name": "E", "channel": "pigeon", "address": "loft 3", "delay_s": 0},
        {
            "name": "F",
            "channel": "email",
            "address": "a@b.org",
            "webhook_url": "http://x/",
            "delay_s": 0,
        },
    ]
    for contact in bad:
        r = _put(sqlite_env, [contact])
        assert r.status_code == 422, (contact, r.text)
        assert "error" in r.json()


def test_hostile_text_in_an_address_is_a_clean_422_not_a_crash(sqlite_env: Env) -> None:
    import json

    admin = sqlite_env.token("admin")
    for address in ("lead\ud800@example.org", "+44\udfff7700900456", "a@b.org\x00"):
        for channel in ("email", "sms_modem"):
            body = [{"name": "X", "channel": channel, "address": address, "delay_s": 0}]
            r = sqlite_env.client.put(
                f"/v1/workers/{sqlite_env.seeded.worker_id}/contacts",
                content=json.dumps(body).encode(),
                headers={**admin, "content-type": "application/json"},
            )
            assert r.status_code == 422, (address, channel, r.text)
