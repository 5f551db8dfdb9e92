"""Installing a gateway release with an atomic switch, a health check and rollback.

:func:`update` runs one update; :func:`recover` finishes or undoes an update that was cut
short (power cut, the updater killed). Each step is announced in the journal (written with
fsync) before it is done, so :func:`recover` knows which steps may have happened:

=================  =========================================================================
journal phase      what recover does
=================  =========================================================================
staging            nothing was switched: removes the half-installed release; ``aborted``
switching, trial   points ``current`` back at the old release; ``rolled_back``
rolling_back       finishes pointing ``current`` at the old release; ``rolled_back``
terminal phases    nothing
=================  =========================================================================

So a gateway is never left without a runnable release: ``current`` is only ever renamed from
one complete release to another (layout.py), and an update interrupted before its health check
passed ends on the old release. The boot unit (deploy/systemd/jagajalan-gateway-recover.service)
runs :func:`recover` before the gateway starts; every ``gateway-update`` command runs it first.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from firmware_tools.gateway_update.checks import HealthCheck, Service, VerifiedLike
from firmware_tools.gateway_update.install import InstallError, install
from firmware_tools.gateway_update.layout import TERMINAL, Journal, Layout

log = logging.getLogger(__name__)

VERSION = re.compile(r"[0-9A-Za-z][0-9A-Za-z._+-]{0,63}")
#: Crash injection for tests: called with the name of each point between two durable steps.
Step = Callable[[str], None]


@dataclass(frozen=True)
class Outcome:
    result: str  # committed | rolled_back | aborted | unchanged | kept_unhealthy (first release)
    version: str  # the release that runs now
    new: str | None = None
    old: str | None = None
    key: str = ""  # message key of the reason (kernel/messages/update.toml)
    detail: str = ""


class UpdateError(Exception):
    def __init__(self, key: str, detail: str = "") -> None:
        super().__init__(f"{key}: {detail}")
        self.key = key
        self.detail = detail


def _no_step(_name: str) -> None:
    pass


def _field(verified: VerifiedLike, name: str) -> object:
    manifest = verified.manifest
    return manifest.get(name) if isinstance(manifest, dict) else getattr(manifest, name, None)


def manifest_version(verified: VerifiedLike) -> str:
    version = str(_field(verified, "version"))
    if not VERSION.fullmatch(version):
        raise UpdateError("update.bad_version", version)
    return version


def update(
    verified: VerifiedLike,
    *,
    layout: Layout,
    service: Service,
    health: HealthCheck,
    clock: Callable[[], float] = time.time,
    step: Step = _no_step,
) -> Outcome:
    """Install the verified release, switch to it, check it; roll back when it fails."""
    version = manifest_version(verified)
    if layout.venv.exists() and not layout.venv.is_symlink():
        raise UpdateError("update.old_layout", str(layout.venv))
    recover(layout, service, restart=True)
    old = layout.current_version()
    if old == version:
        return Outcome("unchanged", version, key="update.same_version")
    journal = Journal("staging", version, old, clock())
    layout.write_journal(journal)
    step("staging")
    if not layout.is_complete(version):
        try:
            install(layout, version, verified.image)
        except InstallError as exc:
            _abort(layout, journal, exc.key, exc.detail)
            return Outcome("aborted", old or "", version, old, exc.key, exc.detail)
    step("staged")
    journal.phase = "switching"
    layout.write_journal(journal)
    step("switching")
    if old is not None:
        layout.point_previous(old)
        step("previous")
    layout.point_current(version)
    step("current")
    journal.phase = "trial"
    layout.write_journal(journal)
    step("trial")
    since = clock()
    service.restart()
    step("restarted")
    result = health.wait(version, since)
    step("checked")
    if result.ok:
        journal.phase = "committed"
        journal.reason, journal.detail = result.key, result.detail
        layout.write_journal(journal)
        step("committed")
        counter = _field(verified, "counter")
        if isinstance(counter, int):
            layout.write_counter(counter)  # anti-rollback: only a committed release raises it
        layout.prune()
        return Outcome("committed", version, version, old, result.key, result.detail)
    if old is None:
        # The first release has nothing to go back to: it stays, reported as failing.
        journal.phase = "committed"
        journal.reason, journal.detail = "update.no_previous", result.detail
        layout.write_journal(journal)
        return Outcome("kept_unhealthy", version, version, old, result.key, result.detail)
    journal.reason, journal.detail = result.key, result.detail
    _roll_back(layout, journal, step)
    service.restart()
    return Outcome("rolled_back", old, version, old, result.key, result.detail)


def _abort(layout: Layout, journal: Journal, key: str, detail: str) -> None:
    layout.remove_release(journal.new)
    journal.phase = "aborted"
    journal.reason, journal.detail = key, detail
    layout.write_journal(journal)


def _roll_back(layout: Layout, journal: Journal, step: Step = _no_step) -> None:
    assert journal.old is not None
    journal.phase = "rolling_back"
    layout.write_journal(journal)
    step("rolling_back")
    layout.point_current(journal.old)
    step("pointed_back")
    journal.phase = "rolled_back"
    layout.write_journal(journal)
    step("rolled_back")
    layout.remove_release(journal.new)  # a failed release is not kept (small SD cards)


def recover(layout: Layout, service: Service | None, *, restart: bool) -> Journal | None:
    """Finish or undo an interrupted update; return the journal (None: no update ever ran).

    *restart*: restart the gateway after a rollback (not at boot, where the gateway starts
    after this). Ends by removing what a cut left behind: releases that are neither current
    nor previous, unpacking folders.
    """
    layout.clean_temporaries()
    journal = layout.read_journal()
    if journal is not None and journal.phase not in TERMINAL:
        log.warning("update to %s was interrupted in phase %s", journal.new, journal.phase)
        rolled_back = _finish(layout, journal)
        if rolled_back and restart and service is not None:
            service.restart()
    layout.prune()
    return journal


def _finish(layout: Layout, journal: Journal) -> bool:
    """Bring an interrupted update to a terminal phase; True when it rolled back."""
    if journal.phase == "staging":
        _abort(layout, journal, "update.interrupted", journal.phase)
        return False
    if journal.old is None or not layout.runnable(journal.old):
        # Nothing to go back to (first release): keep the new one if it is whole.
        if layout.current_version() != journal.new and layout.runnable(journal.new):
            layout.point_current(journal.new)
        journal.phase = "committed"
        journal.reason, journal.detail = "update.no_previous", "interrupted"
        layout.write_journal(journal)
        return False
    if journal.reason is None:
        journal.reason, journal.detail = "update.interrupted", journal.phase
    _roll_back(layout, journal)
    return True
