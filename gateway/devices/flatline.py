"""Flatline detection: a field that keeps exactly the same value for too long.

A frozen sensor (a hung measuring element, a stuck register, firmware that stopped updating)
still answers every poll with a valid CRC, so no frame check finds it. Real gauges are noisy:
a PM2.5 or temperature reading that stays bit-identical for many minutes is a fault. Pure:
readings in, field names out; time is the readings' own time.

Enable it per device with ``stuck_after`` (seconds) only on gauges: a rain gauge legitimately
reads 0 for days and a traffic lane at night counts 0.
"""

from __future__ import annotations

from dataclasses import dataclass

from telemetry.models import Reading

Key = tuple[str, tuple[tuple[str, str], ...], str]  # measurement, tags, field


@dataclass
class _Run:
    value: float | int
    since_ms: int
    count: int = 1


class FlatlineWatch:
    def __init__(self, after_s: float, min_readings: int = 3) -> None:
        self.after_ms = int(after_s * 1000)
        self.min_readings = min_readings
        self._runs: dict[Key, _Run] = {}
        self._stuck: set[Key] = set()

    def observe(self, reading: Reading) -> tuple[list[str], list[str]]:
        """Feed one reading; return (fields that just became stuck, fields that recovered)."""
        tags = tuple(sorted(reading.tags.items()))
        became, recovered = [], []
        for name, value in reading.fields.items():
            key = (reading.measurement, tags, name)
            run = self._runs.get(key)
            if run is None or run.value != value or reading.time < run.since_ms:
                self._runs[key] = _Run(value, reading.time)
                if key in self._stuck:
                    self._stuck.discard(key)
                    recovered.append(name)
                continue
            run.count += 1
            long_enough = reading.time - run.since_ms >= self.after_ms
            if long_enough and run.count >= self.min_readings and key not in self._stuck:
                self._stuck.add(key)
                became.append(name)
        return became, recovered

    def stuck(self) -> list[str]:
        """Names of the fields currently stuck, sorted."""
        return sorted({key[2] for key in self._stuck})
