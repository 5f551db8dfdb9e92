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
    "rain_intensity": FieldSpec("mm/h", "float", "rain intensity"),
    # water_level
    "level": FieldSpec("cm", "float", "water level above the road reference"),
    "distance": FieldSpec("cm", "float", "sensor-to-water distance"),
    # road_surface
    "surface_temperature": FieldSpec("degC", "float", "road surface temperature"),
    "water_film": FieldSpec("mm", "float", "water film thickness on the road"),
    # traffic (per lane and interval)
    "count": FieldSpec("vehicles", "int", "vehicles counted in the interval"),
    "speed_mean": FieldSpec("km/h", "float", "mean spot speed of the vehicles counted"),
    "speed_p85": FieldSpec(
        "km/h", "float", "85th-percentile spot speed of the vehicles counted (nearest rank)"
    ),
    # traffic_flow (per lane and direction) and traffic_segment (per interval)
    "pcu_flow": FieldSpec("pcu/h", "float", "flow in passenger-car units per hour (smp/jam)"),
    "occupancy": FieldSpec("1", "float", "share of the interval the detection zone was occupied"),
    "headway_mean": FieldSpec("s", "float", "mean time between successive vehicles"),
    "degree_of_saturation": FieldSpec("1", "float", "pcu_flow / capacity (DS, PKJI: DJ)"),
    # vehicle (one per vehicle record, forward_records)
    "speed": FieldSpec("km/h", "float", "spot speed of one vehicle"),
    "length": FieldSpec("m", "float", "length of one vehicle"),
    # gateway_position (the gateway's GPS)
    "latitude": FieldSpec("deg", "float", "latitude, WGS 84, south negative"),
    "longitude": FieldSpec("deg", "float", "longitude, WGS 84, west negative"),
    "altitude": FieldSpec("m", "float", "GPS altitude above mean sea level"),
    "satellites": FieldSpec("satellites", "int", "satellites used in the fix"),
    "clock_offset": FieldSpec("s", "float", "gateway clock minus GPS time"),
    # gateway_health
    "uptime": FieldSpec("s", "float", "seconds since the gateway process started"),
    "spool_depth": FieldSpec("readings", "int", "readings waiting to be published"),
    "dropped": FieldSpec("readings", "int", "readings a full spool dropped (spool file lifetime)"),
    "decode_errors": FieldSpec("frames", "int", "device frames that failed to decode"),
    "spool_oldest_age": FieldSpec("s", "float", "seconds the oldest waiting reading has waited"),
    "devices_ok": FieldSpec("devices", "int", "devices of the gateway in state ok"),
    "devices_total": FieldSpec("devices", "int", "devices configured on the gateway"),
}


def field_kind(name: str) -> Literal["float", "int"]:
    spec = FIELDS.get(name)
    return spec.kind if spec else "float"
