"""Reading InfluxDB's answers into the store's types: typed field values, the points of a
``SELECT * ... GROUP BY *``, and the latest values and gateways seen of the whole district
(:meth:`store.influx.InfluxStore.latest` and ``gateways``, through :mod:`store.influx_latest`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from store.base import GatewaySeen, LatestValue
from store.influx_latest import newest_values
from telemetry.mapping import BATCH_MEASUREMENT, META_MEASUREMENTS, STATUS_MEASUREMENT, Point

if TYPE_CHECKING:
    from store.influx import InfluxStore


def convert(value: Any, kind: str) -> float | int | str | bool:
    # InfluxDB's JSON writes the float 20.0 as 20, so the declared type decides.
    if kind == "float":
        return float(value)
    if kind == "integer":
        return int(value)
    if kind == "boolean":
        return bool(value)
    return str(value)


def points_of(measurement: str, result: dict[str, Any], kinds: dict[str, str]) -> list[Point]:
    """The points of one ``SELECT * ... GROUP BY *`` result, fields typed by *kinds*."""
    out: list[Point] = []
    for series in result.get("series", []):
        tags = {k: v for k, v in series.get("tags", {}).items() if v}
        columns = series["columns"]
        for row in series.get("values", []):
            fields = {
                name: convert(value, kinds.get(name, "float"))
                for name, value in zip(columns[1:], row[1:], strict=True)
                if value is not None
            }
            out.append(Point(measurement, dict(tags), fields, int(row[0])))
    return out


def latest(
    store: InfluxStore, gateway: str | None = None, measurement: str | None = None
) -> list[LatestValue]:
    kinds = {
        m: keys
        for m, keys in store._field_keys(measurement).items()
        if m not in META_MEASUREMENTS and keys
    }
    if not kinds:
        return []
    out: list[LatestValue] = []
    for (meas, key, field), (time_ms, value) in newest_values(store, kinds, gateway).items():
        tags = dict(key)
        out.append(
            LatestValue(
                gateway=tags.pop("gateway", ""),
                sensor=tags.pop("sensor", ""),
                measurement=meas,
                tags=tags,
                field=field,
                value=convert(value, kinds[meas][field]),
                time_ms=time_ms,
            )
        )
    out.sort(key=lambda v: (v.gateway, v.sensor, v.measurement, sorted(v.tags.items()), v.field))
    return out


def gateways(store: InfluxStore) -> list[GatewaySeen]:
    wanted = {BATCH_MEASUREMENT: ["seq"], STATUS_MEASUREMENT: ["state"]}
    seen: dict[str, dict[str, Any]] = {}
    for (meas, key, _), (time_ms, value) in newest_values(store, wanted).items():
        gateway = dict(key).get("gateway", "")
        if meas == BATCH_MEASUREMENT:
            seen.setdefault(gateway, {}).update(last_seen_ms=time_ms, last_seq=int(value))
        else:
            seen.setdefault(gateway, {}).update(state=str(value), state_time_ms=time_ms)
    return [
        GatewaySeen(
            gateway=gateway,
            last_seen_ms=info.get("last_seen_ms"),
            last_seq=info.get("last_seq"),
            state=info.get("state"),
            state_time_ms=info.get("state_time_ms"),
        )
        for gateway, info in sorted(seen.items())
    ]
