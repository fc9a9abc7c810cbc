from pathlib import Path

import pytest
from bleak.exc import BleakError

from gateway import config
from gateway.ble_transport import (
    RETRY_BLEAK_S,
    RETRY_CAP_S,
    RETRY_PAIRING_S,
    RETRY_TIMEOUT_S,
    retry_delay,
)
from gateway.errors import ConfigError


def test_flags_override_the_toml_file(tmp_path: Path) -> None:
    f = tmp_path / "gw.toml"
    f.write_text(
        'monitor_url = "https://m.example"\ntoken = "from-file"\nserial_ports = ["/dev/ttyACM0"]\n'
        "[location]\nlat = 51.5\nlon = -0.1\naccuracy_m = 30\n"
    )
    cfg = config.load(f, {"token": "from-flag", "serial_ports": None, "queue": "/tmp/q.db"})
    assert cfg.token == "from-flag" and cfg.monitor_url == "https://m.example"
    assert cfg.serial_ports == ["/dev/ttyACM0"] and cfg.queue == Path("/tmp/q.db")
    assert cfg.location == {"lat": 51.5, "lon": -0.1, "accuracy_m": 30.0}


@pytest.mark.parametrize(
    ("overrides", "setting"),
    [
        ({"serial_ports": ["/dev/x"]}, "token"),
        ({"token": "t", "serial_ports": ["/dev/x"], "monitor_url": "ftp://x"}, "monitor_url"),
        ({"token": "t"}, "links"),
        ({"token": "t", "ble": True, "bogus": 1}, "bogus"),
        ({"token": "t", "ble": True, "location": {"lat": 1.0}}, "location"),
    ],
)
def test_unusable_settings_name_what_to_fix(overrides: dict[str, object], setting: str) -> None:
    with pytest.raises(ConfigError) as e:
        config.load(None, overrides)
    assert e.value.setting == setting


def test_ble_retry_backs_off_by_kind_of_failure() -> None:
    assert retry_delay(TimeoutError(), 1) == RETRY_TIMEOUT_S
    assert retry_delay(BleakError("GATT busy"), 1) == RETRY_BLEAK_S
    assert retry_delay(BleakError("pairing with X failed"), 1) == RETRY_PAIRING_S
    assert retry_delay(TimeoutError(), 3) == 4 * RETRY_TIMEOUT_S
    assert retry_delay(BleakError("pairing"), 50) == RETRY_CAP_S
