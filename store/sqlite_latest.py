"""The SQLite store's latest values and gateways seen (:meth:`store.sqlite.SQLiteStore.latest`
and ``gateways``): a few rows per sensor from the ``latest`` table, kept on write, whatever
the number of points."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from store.base import GatewaySeen, LatestValue
from telemetry.mapping import BATCH_MEASUREMENT, META_MEASUREMENTS, STATUS_MEASUREMENT

if TYPE_CHECKING:
    from store.sqlite import SQLiteStore


def latest(
    store: SQLiteStore, gateway: str | None = None, measurement: str | None = None
) -> list[LatestValue]:
    meta = sorted(META_MEASUREMENTS)
    sql = (
        "SELECT s.measurement, s.tags, l.field, l.value, l.time_ms "
        "FROM series s JOIN latest l ON l.series_id = s.id "
        f"WHERE s.measurement NOT IN ({','.join('?' * len(meta))})"
    )
    params: list[Any] = list(meta)
    if gateway is not None:
        sql += " AND s.gateway = ?"
        params.append(gateway)
    if measurement is not None:
        sql += " AND s.measurement = ?"
        params.append(measurement)
    sql += " ORDER BY s.gateway, s.sensor, s.measurement, s.tagkey, l.field"
    rows = store._read(sql, params)
    types = store._types(row[0] for row in rows)
    result = []
    for meas, tags_json, field, value, time_ms in rows:
        tags = json.loads(tags_json)
        gw, sensor = tags.pop("gateway", ""), tags.pop("sensor", "")
        result.append(
            LatestValue(
                gateway=gw,
                sensor=sensor,
                measurement=meas,
                tags=tags,
                field=field,
                value=store._typed(value, types.get((meas, field))),
                time_ms=time_ms,
            )
        )
    return result


def gateways(store: SQLiteStore) -> list[GatewaySeen]:
    rows = store._read(
        "SELECT s.measurement, s.gateway, l.field, l.value, l.time_ms "
        "FROM series s JOIN latest l ON l.series_id = s.id "
        "WHERE s.gateway IS NOT NULL AND ("
        "(s.measurement = ? AND l.field = 'seq') OR (s.measurement = ? AND l.field = 'state'))",
        (BATCH_MEASUREMENT, STATUS_MEASUREMENT),
    )
    batches: dict[str, tuple[int, int]] = {}  # gateway -> (time, seq)
    states: dict[str, tuple[int, str]] = {}  # gateway -> (time, state)
    for meas, gw, _field, value, time_ms in rows:
        target: dict[str, Any] = batches if meas == BATCH_MEASUREMENT else states
        if gw not in target or time_ms > target[gw][0]:
            target[gw] = (time_ms, value)
    return [
        GatewaySeen(
            gateway=gw,
            last_seen_ms=batches[gw][0] if gw in batches else None,
            last_seq=int(batches[gw][1]) if gw in batches else None,
            state=str(states[gw][1]) if gw in states else None,
            state_time_ms=states[gw][0] if gw in states else None,
        )
        for gw in sorted(batches.keys() | states.keys())
    ]
