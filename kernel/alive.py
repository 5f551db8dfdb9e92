"""The gateway's local health file: how a running gateway tells the updater on the same machine
that it started and that it reached the broker, without any network.

The gateway (``gateway run``) rewrites it atomically (a temporary file renamed over it) when
it starts and whenever its phase changes: ``running`` once its drivers and spool are started,
``published`` once the broker acknowledged its ``online`` status. The updater
(``firmware_tools.gateway_update``) reads it to decide whether a new release is healthy. The
file is advisory: it is not fsynced (after a power cut a new gateway writes it again).

Fields: ``version`` (the running package's version), ``pid``, ``started`` (epoch seconds of the
process start), ``phase`` and ``time`` (epoch seconds of this write).
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any

#: The file's name; it lives in the folder of the gateway's spool (by default
#: /var/lib/jagajalan/<gateway id>/, the unit's StateDirectory), which only the gateway writes.
HEALTH_FILE_NAME = "health.json"
#: gateway.config.DEFAULT_SPOOL_DIR, repeated here for readers that are not the gateway
#: (tests/gateway/runtime/test_alive.py keeps both equal).
DEFAULT_SPOOL_DIR = Path("/var/lib/jagajalan")
PHASES = ("running", "published")


class HealthFileUnknown(Exception):
    """The gateway config does not say where the health file is (names the file and why)."""


def health_file_of(config_file: Path) -> Path:
    """Where the gateway configured by *config_file* writes its health file: beside its spool
    (``[spool] path``, relative to the config's folder), else in the default spool folder."""
    try:
        doc = tomllib.loads(config_file.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise HealthFileUnknown(f"{config_file}: {exc}") from exc
    spool = doc.get("spool", {}).get("path") if isinstance(doc.get("spool"), dict) else None
    if isinstance(spool, str) and spool:
        # the rule of kernel.fields.resolve_path: relative to the config file's folder
        path = Path(os.path.normpath((config_file.parent / Path(spool).expanduser()).absolute()))
        return path.parent / HEALTH_FILE_NAME
    gateway = doc.get("gateway")
    gateway_id = gateway.get("id") if isinstance(gateway, dict) else None
    if not isinstance(gateway_id, str) or not gateway_id or "/" in gateway_id:
        raise HealthFileUnknown(f"{config_file}: [gateway] id = {gateway_id!r}")
    return DEFAULT_SPOOL_DIR / gateway_id / HEALTH_FILE_NAME


def write_alive(path: Path, record: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps(record))
    os.replace(tmp, path)


def read_alive(path: Path) -> dict[str, Any] | None:
    """The record, or None when there is none or it cannot be read as one."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


#: The updater's journal (firmware_tools/gateway_update/layout.py: ``phase``, ``new``,
#: ``reason``), read by the gateway to report its last update in its status.
UPDATE_JOURNAL = Path("/opt/jagajalan/update.json")
UPDATE_RESULTS = ("committed", "rolled_back", "aborted")


def last_update(path: Path | None) -> dict[str, str] | None:
    """``{"version", "result"[, "reason"]}`` of the last finished update, or None (no journal,
    an update still running, or a journal this version cannot read)."""
    if path is None:
        return None
    data = read_alive(path)
    if data is None or data.get("phase") not in UPDATE_RESULTS:
        return None
    if not isinstance(data.get("new"), str):
        return None
    out = {"version": data["new"], "result": data["phase"]}
    if isinstance(data.get("reason"), str):
        out["reason"] = data["reason"]
    return out
