"""Small durable file-system steps the updater is built from: each either happened whole or
not at all after a power cut.

* :func:`write_durably` writes a file beside its target, fsyncs it, renames it over the target
  (rename(2) is atomic) and fsyncs the folder, so the folder entry survives the cut too.
* :func:`point` makes a symbolic link point elsewhere the same way: a new link under a temporary
  name, renamed over the old one. A reader sees the old target or the new one, never none.
* :func:`fsync_tree` flushes every file and folder of an installed release before it is marked
  complete, so a release marked complete is complete on disk.
"""

from __future__ import annotations

import os
from pathlib import Path

TMP_SUFFIX = ".tmp-update"


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_durably(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + TMP_SUFFIX)
    with open(tmp, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def point(link: Path, target: str) -> None:
    """Make *link* a symbolic link to *target* (relative to the link's folder), atomically."""
    tmp = link.with_name(link.name + TMP_SUFFIX)
    tmp.unlink(missing_ok=True)
    os.symlink(target, tmp)
    os.replace(tmp, link)
    fsync_dir(link.parent)


def fsync_tree(root: Path) -> None:
    for folder, _dirs, files in os.walk(root):
        for name in files:
            path = Path(folder, name)
            if path.is_symlink():
                continue
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(Path(folder))
