"""The device table (``DRIVERS`` in gateway/devices/__init__.py), walked: every device type is
one folder holding its driver, its pure protocol module, a sample config that validates, and
its golden cases; and every driver opens its serial port exclusively, so a second program on
the same port (another gateway process, a terminal, a flashing tool) cannot steal its bytes.
"""

from __future__ import annotations

import importlib
import tomllib
from pathlib import Path

import pytest
import serial

from gateway.devices import DRIVERS
from gateway.devices.modbus.bus import BusPool
from gateway.devices.modbus.driver import ModbusDriver
from simulators.devices.serial_link import SerialLink
from testkit import REPO
from testkit.drivers import Collector, in_thread, wait_for

DEVICES = REPO / "gateway" / "devices"
#: The pure protocol module of each device type (bytes in, values or a named error out).
PROTOCOL = {"modbus": "frames"}


def sample(key: str) -> dict:
    devices = tomllib.loads((DEVICES / key / "sample.toml").read_text())["devices"]
    assert devices, f"gateway/devices/{key}/sample.toml has no [[devices]]"
    return devices[0]


@pytest.mark.parametrize("key", sorted(DRIVERS))
def test_every_device_type_is_one_folder(key: str) -> None:
    folder = DEVICES / key
    config_cls, driver_cls = DRIVERS[key]
    assert driver_cls.__module__ == f"gateway.devices.{key}.driver"
    assert config_cls.__module__ == f"gateway.devices.{key}.driver"
    importlib.import_module(f"gateway.devices.{key}.{PROTOCOL.get(key, 'protocol')}")
    cases = [p for p in (folder / "cases").iterdir() if p.is_dir()]
    assert len(cases) >= 5, f"{folder}/cases holds {len(cases)} golden cases"


@pytest.mark.parametrize("key", sorted(DRIVERS))
def test_the_sample_config_validates(key: str) -> None:
    config_cls, _ = DRIVERS[key]
    for device in tomllib.loads((DEVICES / key / "sample.toml").read_text())["devices"]:
        assert config_cls.model_validate(device).driver == key


@pytest.mark.parametrize("key", sorted(DRIVERS))
def test_a_port_held_by_another_program_is_not_shared(key: str, tmp_path: Path) -> None:
    """Another program holds the port (with an exclusive lock, as every gateway driver and
    ``gateway scan`` take it): the driver must not open it too, and says so in its state."""
    config_cls, driver_cls = DRIVERS[key]
    with SerialLink(tmp_path / "tty") as link:
        device = sample(key)
        device["serial"] = {**device["serial"], "port": link.path, "timeout": 0.2}
        device["reopen_interval"] = 0.2
        config = config_cls.model_validate(device)
        holder = serial.Serial(link.path, exclusive=True)
        try:
            extra = {"pool": BusPool()} if driver_cls is ModbusDriver else {}
            driver = driver_cls(config, Collector(), **extra)
            with in_thread(driver):
                assert wait_for(lambda: driver.state == "error", 5), driver.state
                assert "in use" in (driver.last_error or ""), driver.last_error
        finally:
            holder.close()
        # Once the other program lets go, the driver takes the port.
        with in_thread(driver_cls(config, Collector(), **extra)) as again:
            assert wait_for(lambda: again.state not in ("starting", "error"), 5), (
                again.state,
                again.last_error,
            )
