"""A small filesystem made for a test (a ``tmpfs`` with ``size=``, as root) and a filler file
that takes all of it but a given headroom: the gateway's disk, full on demand.

``tmpfs`` rather than a loop-mounted ext4: no image file, no ``mkfs``, no loop device to
leak; an ``ENOSPC`` on it is the same error SQLite sees on a full SD card (``SQLITE_FULL``).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

FILLER = ".filler"


@contextlib.contextmanager
def small_fs(path: Path, size_kib: int) -> Iterator[Path]:
    """A tmpfs of *size_kib* KiB mounted on *path* for the block; unmounted after (lazily,
    should a process still hold a file in it)."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_kib}k,mode=0755", "jjchaos-spool", str(path)],
        check=True,
        capture_output=True,
    )
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False, capture_output=True)


def free_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def fill(path: Path, headroom: int) -> int:
    """Take all free space on *path*'s filesystem but *headroom* bytes (a filler file);
    returns the filler's size."""
    size = max(0, free_bytes(path) - headroom)
    filler = path / FILLER
    with filler.open("ab") as f:
        chunk = b"\0" * (1 << 16)
        left = size
        while left > 0:
            left -= f.write(chunk[: min(left, len(chunk))])
        f.flush()
        os.fsync(f.fileno())
    return size


def free_up(path: Path) -> None:
    """Space returns: the filler goes."""
    (path / FILLER).unlink(missing_ok=True)
