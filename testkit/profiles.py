"""Writing small Modbus register-map profiles in tests."""

from __future__ import annotations

from pathlib import Path

from telemetry.units import FIELDS


def write(tmp_path: Path, text: str, name: str = "sensor.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


HEADER = 'model = "test"\nmeasurement = "weather"\n'


def field(name: str, address: int, type_: str = "uint16", **extra: object) -> str:
    lines = [
        "[[fields]]",
        f'name = "{name}"',
        f"address = {address}",
        f'type = "{type_}"',
        f'unit = "{FIELDS[name].unit if name in FIELDS else "x"}"',
    ]
    lines += [f"{k} = {v!r}".replace("'", '"') for k, v in extra.items()]
    return "\n".join(lines) + "\n"
