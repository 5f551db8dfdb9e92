"""The traffic counter's config keys for edge aggregation, loaded from real gateway TOML files
(gateway/devices/traffic_counter/driver.py): defaults, the emp merge, and errors that point."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import load_gateway_config
from gateway.devices.traffic_counter.driver import TrafficCounterConfig
from kernel.config import ConfigError

HEAD = """
[gateway]
id = "srl-pauh-01"

[mqtt]
url = "mqtt://127.0.0.1:1883"

[spool]
path = "spool.sqlite"

[[devices]]
id = "cnt1"
driver = "traffic_counter"
serial = { port = "/dev/ttyUSB1" }
"""


def load(tmp_path: Path, device_keys: str) -> TrafficCounterConfig:
    path = tmp_path / "gateway.toml"
    path.write_text(HEAD + device_keys)
    (device,) = load_gateway_config(path).devices
    assert isinstance(device, TrafficCounterConfig)
    return device


def problems(tmp_path: Path, device_keys: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, device_keys)
    lines = info.value.render().splitlines()[1:]
    prefix = f"{tmp_path / 'gateway.toml'}: devices[0]."
    assert all(line.strip().startswith(prefix) for line in lines), lines
    return [line.strip()[len(prefix) :] for line in lines]


def test_defaults_keep_the_existing_keys_and_behaviour(tmp_path: Path) -> None:
    cfg = load(tmp_path, "")
    assert (cfg.interval, cfg.lanes, cfg.grace) == (60, [1, 2], 2.0)
    assert cfg.classes == ["SM", "KR", "KS", "BB", "TB"]
    assert cfg.forward_records is False
    assert cfg.directions == {} and cfg.capacity == {} and cfg.segment_capacity is None
    summary = cfg.summary()
    assert summary.emp == {"SM": 0.25, "KR": 1.0, "KS": 1.3, "BB": 1.3, "TB": 1.3}
    assert summary.detection_zone_m == 2.0


def test_every_new_key(tmp_path: Path) -> None:
    cfg = load(
        tmp_path,
        """
lanes = [1, 2]
classes = ["SM", "KR", "KS", "BB", "TB", "UM"]  # UM: unmotorised (becak, bicycles)
road_type = "2/2UD"
emp = { TB = 1.5, UM = 0.8 }
detection_zone = 4.5
directions = { 1 = "E", 2 = "W" }
capacity = { 1 = 1450, 2 = 1450.5 }
segment_capacity = 2900
forward_records = true
""",
    )
    assert cfg.directions == {1: "E", 2: "W"}
    assert cfg.forward_records is True
    summary = cfg.summary()
    assert summary.emp == {"SM": 0.4, "KR": 1.0, "KS": 1.3, "BB": 1.3, "TB": 1.5, "UM": 0.8}
    assert summary.classes[-1] == "UM"
    assert summary.capacity == {1: 1450.0, 2: 1450.5}
    assert (summary.segment_capacity, summary.detection_zone_m) == (2900.0, 4.5)


def test_bad_values_name_key_and_value(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """
lanes = [1, 12]
road_type = "2/2"
emp = { SM = 0 }
detection_zone = -1
directions = { 1 = "NE" }
capacity = { 2 = 0 }
forward_records = "yes please"
""",
    )
    expected = [
        "lanes[1] = 12: Input should be less than or equal to 9",
        "road_type = '2/2': Input should be '2/2UD', '4/2UD', '4/2D' or '6/2D'",
        "emp.SM = 0: Input should be greater than 0",
        "detection_zone = -1: Input should be greater than or equal to 0",
        "directions.1 = 'NE': Input should be 'N', 'E', 'S' or 'W'",
        "capacity.2 = 0: Input should be greater than 0",
        "forward_records = 'yes please': Input should be a valid boolean",
    ]
    for line in expected:
        assert any(p.startswith(line) for p in found), (line, found)
    assert len(found) == len(expected), found


def test_inconsistent_keys_are_explained(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """
lanes = [1, 2, 2]
classes = ["SM", "KR", "SM", "becak"]
""",
    )
    assert found == [
        "lanes = [1, 2, 2]: listed more than once: 2",
        "classes[3] = 'becak': String should match pattern '^[A-Z][A-Z0-9]{0,7}$'",
    ]
    found = problems(
        tmp_path,
        """
classes = ["SM", "KR", "UM"]
emp = { TB = 1.3 }
directions = { 3 = "N" }
capacity = { 4 = 1200 }
""",
    )
    assert found == [
        "emp = {'TB': 1.3}: class(es) TB not in classes ['SM', 'KR', 'UM']",
        "directions = {'3': 'N'}: lane(s) [3] not in lanes [1, 2]",
        "capacity = {'4': 1200}: lane(s) [4] not in lanes [1, 2]",
    ]
    found = problems(tmp_path, 'classes = ["SM", "UM"]\n')
    assert found == ["emp = None: no emp factor for vehicle class 'UM'; give emp.UM"]
