"""Whether a process of this machine still runs, by its pid (claim files, the demo's state
file, the gateway's health file name the process that wrote them)."""

from __future__ import annotations

import os


def pid_alive(pid: object) -> bool:
    """True when *pid* (a positive int) names a running process, also one of another user."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True
