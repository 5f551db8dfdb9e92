"""Stuck (frozen) sensor values: the pure watch, and the gateway reporting an injected
`stuck` fault from a real emulated Modbus sensor over a pseudo-terminal."""

from __future__ import annotations

import time
from pathlib import Path

from gateway.devices.flatline import FlatlineWatch
from gateway.runtime.health import DeviceSnapshot, status_details
from simulators.devices.faults import Fault
from telemetry.models import Reading
from testkit.cabinet import Cabinet, wait_for

T0 = 1_764_489_600_000


def _r(t_s: float, **fields: float) -> Reading:
    return Reading(
        sensor="env1", measurement="air_quality", time=T0 + int(t_s * 1000), fields=fields
    )


def test_a_field_frozen_long_enough_is_stuck_and_recovers_when_it_moves() -> None:
    watch = FlatlineWatch(after_s=10, min_readings=3)
    assert watch.observe(_r(0, pm25=12.5, humidity=80.0)) == ([], [])
    assert watch.observe(_r(5, pm25=12.5, humidity=81.0)) == ([], [])
    assert watch.observe(_r(10, pm25=12.5, humidity=80.5)) == (["pm25"], [])
    assert watch.stuck() == ["pm25"]
    assert watch.observe(_r(15, pm25=12.5, humidity=80.1)) == ([], [])  # reported once
    assert watch.observe(_r(20, pm25=12.6, humidity=80.1)) == ([], ["pm25"])
    assert watch.stuck() == []


def test_two_equal_readings_are_not_enough_however_far_apart() -> None:
    watch = FlatlineWatch(after_s=10, min_readings=3)
    watch.observe(_r(0, pm25=1.0))
    assert watch.observe(_r(60, pm25=1.0)) == ([], [])
    assert watch.stuck() == []


def test_series_are_watched_apart_by_tags() -> None:
    watch = FlatlineWatch(after_s=1, min_readings=2)
    lane1 = Reading(
        sensor="c", measurement="traffic_flow", time=T0, fields={"count": 3}, tags={"lane": "1"}
    )
    lane2 = Reading(
        sensor="c",
        measurement="traffic_flow",
        time=T0 + 2000,
        fields={"count": 3},
        tags={"lane": "2"},
    )
    watch.observe(lane1)
    assert watch.observe(lane2) == ([], [])  # same value, other lane: no run


def test_gateway_reports_an_injected_stuck_value_and_clears_it(tmp_path: Path) -> None:
    start, duration = 2.0, 4.0
    fault = Fault("env1", "stuck", start, duration)
    with Cabinet(
        tmp_path, faults=[fault], only=["env1"], settings={"env1": {"stuck_after": 1.5}}
    ) as cab:
        driver = cab.drivers["env1"]
        assert wait_for(lambda: driver.state == "ok", 8)
        assert driver.stuck_fields() == []
        assert wait_for(lambda: driver.stuck_fields() != [], start + duration + 3), driver.errors
        details = status_details([DeviceSnapshot.of(driver)])
        assert details["info"]["env1"]["stuck"] == driver.stuck_fields()
        assert "pm25" in driver.stuck_fields()
        assert driver.errors.get("stuck", 0) >= 1
        assert driver.state == "ok"  # it still answers: stuck is a fact, not a link state
        assert wait_for(lambda: driver.stuck_fields() == [], 10), driver.stuck_fields()
        end_ms = (cab.origin + start + duration) * 1000
        assert wait_for(lambda: any(r.time > end_ms + 500 for r in cab.readings["env1"]), 10)
    assert time.time() > cab.origin + start + duration
