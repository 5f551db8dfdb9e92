"""Unpacking a verified gateway release and installing it into ``releases/<version>/``.

The bundle's image is the offline gateway bundle that ``make gateway-bundle`` builds
(scripts/gateway_bundle.py): a tar (gzip or not) holding one folder with ``install.sh``,
``wheels/`` and ``src/``. Its ``install.sh PREFIX`` creates ``PREFIX/venv`` from the wheels
alone (no network) and copies ``src/``. The script comes from a bundle whose signature was
checked before this runs.

A venv is not relocatable (its scripts name their interpreter by absolute path), so the release
is installed at its final path and made known by the ``.complete`` marker, written last, after
every file is flushed to disk (:func:`firmware_tools.gateway_update.durable.fsync_tree`).
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
from pathlib import Path

from firmware_tools.gateway_update.durable import fsync_dir, fsync_tree, write_durably
from firmware_tools.gateway_update.layout import COMPLETE, Layout

INSTALL_TIMEOUT = 900.0  # a venv from wheels on a slow SD card


class InstallError(Exception):
    """The release could not be installed; ``key`` names the message, ``detail`` says more."""

    def __init__(self, key: str, detail: str) -> None:
        super().__init__(f"{key}: {detail}")
        self.key = key
        self.detail = detail


def unpack(image: bytes, into: Path) -> Path:
    """Unpack *image* into *into*; return the folder holding ``install.sh``."""
    shutil.rmtree(into, ignore_errors=True)
    into.mkdir(parents=True)
    try:
        with tarfile.open(fileobj=io.BytesIO(image)) as tar:
            tar.extractall(into, filter="data")  # no absolute paths, no links out of *into*
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise InstallError("update.bad_image", str(exc)) from exc
    candidates = [into, *sorted(p for p in into.iterdir() if p.is_dir())]
    for folder in candidates:
        if (folder / "install.sh").is_file():
            return folder
    raise InstallError("update.no_installer", "install.sh")


def install(layout: Layout, version: str, image: bytes) -> None:
    """Install *image* as release *version*; on success the release is marked complete."""
    dest = layout.release(version)
    work = layout.releases / f".unpack-{version}"
    layout.releases.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(dest, ignore_errors=True)  # a half-installed earlier attempt
    try:
        top = unpack(image, work)
        dest.mkdir()
        try:
            done = subprocess.run(
                ["sh", str(top / "install.sh"), str(dest)],
                capture_output=True,
                text=True,
                timeout=INSTALL_TIMEOUT,
                cwd=top,
            )
        except subprocess.TimeoutExpired as exc:
            raise InstallError("update.install_failed", f"timeout {exc.timeout:.0f} s") from exc
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise InstallError("update.install_failed", " | ".join(tail))
        if not layout.runnable_files(version):
            raise InstallError("update.install_failed", f"{dest}/venv/bin/jagajalan")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    fsync_tree(dest)
    write_durably(dest / COMPLETE, f"{version}\n".encode())
    fsync_dir(layout.releases)
