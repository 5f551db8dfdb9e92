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
from pathlib import Path
from typing import Any

#: The default place, in the gateway unit's StateDirectory (deploy/systemd), one per machine.
DEFAULT_HEALTH_FILE = Path("/var/lib/jagajalan/health.json")
PHASES = ("running", "published")


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
