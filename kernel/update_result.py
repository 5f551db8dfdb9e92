"""The updater's outcome file: how the last software update ended, for the gateway to report.

The updater (``jagajalan firmware gateway-update``, run as root beside the gateway) writes
``update-result.json`` in the folder of the gateway's spool (where the gateway writes the
command it received, ``command.json``, and its health file) every time it finishes with a
command or a bundle: installed, rolled back, refused, not downloaded, not installed. The
gateway reads it when it builds its status and reports it as ``update`` (docs/protocol.md,
section 3), so a refused command or a failed update is seen on the server, not only in the
updater's log. Components do not import each other: both sides meet here.

The file is written atomically (a temporary file, fsync, renamed over it, the folder fsynced):
a reader sees the old outcome or the new one, never half of one. Fields:

===========  ==============================================================================
``v``        1
``version``  the release the command or bundle named ("" when a refused command named none
             that could be read)
``result``   ``committed`` | ``rolled_back`` | ``aborted`` | ``refused`` | ``kept_unhealthy``
``reason``   message key of the reason (kernel/messages/update.toml), e.g.
             ``update.command_refused``, ``update.download_failed``, ``health.not_published``
``detail``   the check's own words (at most :data:`MAX_DETAIL` characters)
``rollout``  the rollout id of the command ("" for a bundle from a USB stick)
``time``     when the updater finished, ms since the epoch, UTC
===========  ==============================================================================
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

UPDATE_RESULT_NAME = "update-result.json"
RESULTS = ("committed", "rolled_back", "aborted", "refused", "kept_unhealthy")
MAX_DETAIL = 200
MAX_VERSION = 64
_KEY = re.compile(r"[a-z][a-z0-9_.]{0,63}")
_TEXT_FIELDS = {"version": MAX_VERSION, "rollout": 100, "detail": MAX_DETAIL}


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def update_record(
    *, version: str, result: str, reason: str, detail: str, rollout: str, time_ms: int
) -> dict[str, Any]:
    """The outcome as the file holds it (texts clipped to their limits)."""
    if result not in RESULTS:
        raise ValueError(f"update result {result!r}: not one of {', '.join(RESULTS)}")
    return {
        "v": 1,
        "version": _clip(version, MAX_VERSION),
        "result": result,
        "reason": reason if _KEY.fullmatch(reason) else "",
        "detail": _clip(" ".join(detail.split()), MAX_DETAIL),
        "rollout": _clip(rollout, 100),
        "time": int(time_ms),
    }


def write_update_result(folder: Path, record: dict[str, Any]) -> Path:
    """Write *record* as ``<folder>/update-result.json``, atomically and durably."""
    path = folder / UPDATE_RESULT_NAME
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    with tmp.open("w", encoding="utf-8") as out:
        json.dump(record, out)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return path


def read_update_result(path: Path | None) -> dict[str, Any] | None:
    """The outcome in *path*, checked and clipped as :func:`update_record` makes it; None when
    there is none or it is not one (a damaged file is never reported half)."""
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("result") not in RESULTS:
        return None
    texts = {name: data.get(name, "") for name in ("version", "reason", "detail", "rollout")}
    when = data.get("time")
    if not all(isinstance(v, str) for v in texts.values()):
        return None
    if not isinstance(when, int) or isinstance(when, bool) or when < 0:
        return None
    return update_record(result=data["result"], time_ms=when, **texts)
