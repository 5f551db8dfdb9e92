"""The updater's side of the outcome file (kernel/update_result.py): after each command or
bundle it finished with, ``gateway-update`` writes how it ended beside the gateway's spool, and
the gateway reports it in its status (docs/protocol.md, section 3: ``update``).

Written for: an installed release (``committed``), a rollback (``rolled_back``), a first release
kept although unhealthy (``kept_unhealthy``), an update stopped before the switch, a failed
download among them (``aborted``), a command or bundle refused by a check (``refused``). Not
written when there was nothing to do (the version runs already, or the command's version was
rolled back here before: the outcome of that attempt stays).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from firmware_tools.gateway_update.updater import VERSION, Outcome
from kernel.update_result import update_record, write_update_result

log = logging.getLogger(__name__)

#: Reasons that mean a check refused the command or the bundle (not a failure on the way).
REFUSALS = frozenset(
    {
        "update.command_refused",
        "update.command_sha256",
        "update.command_version",
        "update.refused",
        "update.bad_version",
    }
)


def claimed(command_file: Path) -> tuple[str, str]:
    """``(version, rollout)`` as a command file claims them, unchecked (for reporting which
    command was refused; "" for what cannot be read)."""
    try:
        data = json.loads(command_file.read_bytes()[: 16 * 1024])
    except (OSError, ValueError):
        return "", ""
    if not isinstance(data, dict):
        return "", ""
    version, rollout = data.get("version"), data.get("rollout")
    return (
        version if isinstance(version, str) and VERSION.fullmatch(version) else "",
        rollout if isinstance(rollout, str) and rollout.isprintable() else "",
    )


def write(
    folder: Path | None,
    *,
    version: str,
    result: str,
    reason: str,
    detail: str = "",
    rollout: str = "",
) -> None:
    """Write the outcome to *folder*; a failure to write is logged, never raised (the update
    itself is done)."""
    if folder is None:
        return
    record = update_record(
        version=version,
        result=result,
        reason=reason,
        detail=detail,
        rollout=rollout,
        time_ms=int(time.time() * 1000),
    )
    try:
        write_update_result(folder, record)
    except OSError as exc:
        log.error("cannot write the update outcome to %s: %s", folder, exc)


def of_error(folder: Path | None, key: str, detail: str, version: str, rollout: str) -> None:
    result = "refused" if key in REFUSALS else "aborted"
    write(folder, version=version, result=result, reason=key, detail=detail, rollout=rollout)


def of_outcome(folder: Path | None, out: Outcome, version: str, rollout: str) -> None:
    if out.result == "unchanged":
        return
    write(
        folder,
        version=out.new or version,
        result=out.result,
        reason=out.key,
        detail=out.detail,
        rollout=rollout,
    )
