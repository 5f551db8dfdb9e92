"""Processes of this machine: whether one still runs, by its pid (claim files, the demo's state
file, the gateway's health file name the process that wrote them), and children that end with
the process that started them."""

from __future__ import annotations

import ctypes
import os
import signal
import sys


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


#: prctl(2) option: the signal a process gets when its parent thread ends.
PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """For ``subprocess.Popen(preexec_fn=...)``: on Linux, the child is sent *sig* (SIGTERM)
    when the process that started it ends, even by SIGKILL, so that a killed supervisor
    leaves no children behind holding ports. The parent must start its children from a
    thread that lives as long as it does (the main thread). Elsewhere: nothing."""
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)
    if os.getppid() != parent:  # the parent ended before the prctl: end as it would have
        os.kill(os.getpid(), sig)
