"""Field registry: the unit and the InfluxDB type of every documented field.

A field's InfluxDB type is decided by its *name*, never by how a JSON number happens to be
written (``20`` versus ``20.0``), so that a field's type never changes (InfluxDB refuses a
write whose field type differs from what the shard already holds). Counts are integers;
every other field is a float. Fields not listed here are stored as floats.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class FieldSpec:
    unit: str
    kind: Literal["float", "int"]
    description: str


FIELDS: dict[str, FieldSpec] = {
    # air_quality
    "pm25": FieldSpec("ug/m3", "float", "PM2.5 mass concentration"),
    "pm10": FieldSpec("ug/m3", "float", "PM10 mass concentration"),
    "temperature": FieldSpec("degC", "float", "air temperature"),
    "humidity": FieldSpec("%RH", "float", "relative humidity"),
    # weather
    "pressure": FieldSpec("hPa", "float", "atmospheric pressure"),
    "rain": FieldSpec("mm", "float", "precipitation in the interval"),
    "wind_speed": FieldSpec("m/s", "float", "mean wind speed"),
    "wind_direction": FieldSpec("deg", "float", "mean wind direction, from north clockwise"),
    # water_level
    "level": FieldSpec("cm", "float", "water level above the road reference"),
    "distance": FieldSpec("cm", "float", "sensor-to-water distance"),
    # road_surface
    "surface_temperature": FieldSpec("degC", "float", "road surface temperature"),
    "water_film": FieldSpec("mm", "float", "water film thickness on the road"),
    # traffic (per lane and interval)
    "count": FieldSpec("vehicles", "int", "vehicles counted in the interval"),
    "speed_mean": FieldSpec("km/h", "float", "mean spot speed of the vehicles counted"),
    # gateway_health
    "uptime": FieldSpec("s", "float", "seconds since the gateway process started"),
    "spool_depth": FieldSpec("readings", "int", "readings waiting to be published"),
    "dropped": FieldSpec("readings", "int", "readings dropped since start"),
    "decode_errors": FieldSpec("frames", "int", "device frames that failed to decode"),
}


def field_kind(name: str) -> Literal["float", "int"]:
    spec = FIELDS.get(name)
    return spec.kind if spec else "float"
