"""The ``[settings]`` of a Modbus profile, read as data.

firmware_tools may not import the gateway (components do not import each other), so this reads
the profile TOML itself and validates only the ``[settings]`` table with the shared schema
:class:`telemetry.node_settings.NodeSetting` (the gateway's loader validates the same table
with the same model, plus the rest of the profile). Shipped profiles are found by name in the
gateway's package data folder, read as files.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from kernel.text import TextError
from telemetry.node_settings import NodeSetting, settings_problems

#: The shipped profiles (the gateway package's data, read as files).
PROFILE_DIR = Path(__file__).resolve().parents[2] / "gateway" / "devices" / "modbus" / "profiles"

_SETTINGS = TypeAdapter(dict[str, NodeSetting])


@dataclass(frozen=True)
class NodeProfile:
    model: str
    path: Path
    settings: dict[str, NodeSetting]

    def setting(self, name: str) -> NodeSetting:
        if name not in self.settings:
            known = ", ".join(self.settings)
            raise TextError("node.err.unknown", profile=self.model, name=name, known=known)
        return self.settings[name]

    def role(self, role: str) -> str | None:
        return next((n for n, s in self.settings.items() if s.role == role), None)


def profile_path(name_or_path: str) -> Path:
    if "/" in name_or_path or name_or_path.endswith(".toml"):
        return Path(name_or_path)
    return PROFILE_DIR / f"{name_or_path}.toml"


def load_node_profile(name_or_path: str) -> NodeProfile:
    """The settings of a profile; :class:`TextError` names the file, key and problem."""
    path = profile_path(name_or_path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise TextError("node.err.profile", path=str(path), detail=str(exc)) from None
    model = str(data.get("model", path.stem))
    if "settings" not in data:
        raise TextError("node.err.no_settings", profile=model, path=str(path))
    try:
        settings = _SETTINGS.validate_python(data["settings"])
    except ValidationError as exc:
        error = exc.errors()[0]
        key = ".".join(str(p) for p in error["loc"])
        detail = f"settings.{key}: {error['msg']}"
        raise TextError("node.err.profile", path=str(path), detail=detail) from None
    if problems := settings_problems(settings):
        key, value, message = problems[0]
        detail = f"{key} = {value!r}: {message}"
        raise TextError("node.err.profile", path=str(path), detail=detail)
    return NodeProfile(model, path, settings)
