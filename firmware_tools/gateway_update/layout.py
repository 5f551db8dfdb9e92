"""Where releases live on a gateway and the journal that makes an update survive a power cut.

::

    /opt/jagajalan/                       (the root; --root)
      releases/<version>/                 one installed release: venv/, src/, and .complete
      releases/<version>/.complete        written (fsync) only once the release is whole
      current  -> releases/<version>      what the gateway runs
      previous -> releases/<version>      what a rollback goes back to
      venv     -> current/venv            the path the systemd unit names (unchanged since the
                                          first install: /opt/jagajalan/venv/bin/jagajalan)
      update.json                         the journal: the running or last update

Guarantees: ``current`` always names a complete release once one is installed (it is only ever
switched to a release with its ``.complete`` marker, by renaming a symbolic link, and the
marker is written after every file of the release is flushed). The journal is written with
fsync before each step it announces, so after a power cut the next start
(:func:`firmware_tools.gateway_update.updater.recover`) knows how far the update got and
finishes or undoes it.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from firmware_tools.gateway_update.durable import TMP_SUFFIX, point, write_durably

#: The journal's states, in the order an update passes them.
#: staging: the release is being unpacked and installed (no switch yet; ``current`` is old)
#: switching: ``previous`` and ``current`` are being pointed at old and new
#: trial: ``current`` is the new release; its gateway was (re)started and its health is checked
#: committed: the new release passed its health check (terminal)
#: rolling_back: ``current`` is being pointed back at the old release
#: rolled_back: the old release runs again (terminal)
#: aborted: the update stopped before the switch; nothing changed (terminal)
Phase = Literal[
    "staging", "switching", "trial", "committed", "rolling_back", "rolled_back", "aborted"
]
TERMINAL: frozenset[str] = frozenset({"committed", "rolled_back", "aborted"})

COMPLETE = ".complete"
ENTRY = "jagajalan"  # the release's command, venv/bin/jagajalan


@dataclass
class Journal:
    phase: Phase
    new: str
    old: str | None
    started: float
    reason: str | None = None  # why it was rolled back or aborted (a message key)
    detail: str | None = None  # the health check's or installer's own words
    history: list[str] = field(default_factory=list)

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=1).encode() + b"\n"


class Layout:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.releases = root / "releases"
        self.current = root / "current"
        self.previous = root / "previous"
        self.venv = root / "venv"
        self.journal_path = root / "update.json"
        self.counter_path = root / "counter"

    # -- releases ---------------------------------------------------------------------------
    def release(self, version: str) -> Path:
        return self.releases / version

    def is_complete(self, version: str) -> bool:
        return (self.release(version) / COMPLETE).is_file()

    def runnable_files(self, version: str) -> bool:
        return os.access(self.release(version) / "venv" / "bin" / ENTRY, os.X_OK)

    def runnable(self, version: str) -> bool:
        return self.is_complete(version) and self.runnable_files(version)

    def versions(self) -> list[str]:
        if not self.releases.is_dir():
            return []
        return sorted(
            p.name for p in self.releases.iterdir() if p.is_dir() and not p.name.startswith(".")
        )

    def _target(self, link: Path) -> str | None:
        try:
            return Path(os.readlink(link)).name
        except (FileNotFoundError, OSError):
            return None

    def current_version(self) -> str | None:
        return self._target(self.current)

    def previous_version(self) -> str | None:
        return self._target(self.previous)

    def point_current(self, version: str) -> None:
        point(self.current, f"releases/{version}")
        if not self.venv.is_symlink():
            point(self.venv, "current/venv")

    def point_previous(self, version: str) -> None:
        point(self.previous, f"releases/{version}")

    def remove_release(self, version: str) -> None:
        """Remove a release that is neither current nor previous (the marker goes first)."""
        if version in (self.current_version(), self.previous_version()):
            return
        path = self.release(version)
        (path / COMPLETE).unlink(missing_ok=True)
        shutil.rmtree(path, ignore_errors=True)

    def prune(self) -> None:
        """Remove every release but current and previous, and unpacking leftovers."""
        if not self.releases.is_dir():
            return
        for path in self.releases.iterdir():
            if path.name.startswith(".unpack-"):
                shutil.rmtree(path, ignore_errors=True)
        for version in self.versions():
            self.remove_release(version)

    def clean_temporaries(self) -> None:
        for link in (self.current, self.previous, self.venv, self.journal_path):
            link.with_name(link.name + TMP_SUFFIX).unlink(missing_ok=True)

    # -- the anti-rollback counter of the last committed release -------------------------------
    def installed_counter(self) -> int | None:
        try:
            return int(self.counter_path.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def write_counter(self, counter: int) -> None:
        write_durably(self.counter_path, f"{counter}\n".encode())

    # -- journal ----------------------------------------------------------------------------
    def read_journal(self) -> Journal | None:
        try:
            data = json.loads(self.journal_path.read_bytes())
        except FileNotFoundError:
            return None
        return Journal(**data)

    def write_journal(self, journal: Journal) -> None:
        journal.history.append(journal.phase)
        write_durably(self.journal_path, journal.to_json())
