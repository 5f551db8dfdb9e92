"""The gateway's side of its ``cmd`` topic (docs/protocol.md, 1.1): it subscribes to its own
``jagajalan/v1/<gateway>/cmd`` (its ACL lets it read nothing else there) and writes each
retained command it receives, unread and unchecked, to ``command.json`` beside its spool
(atomically: a reader sees the old or the new file, never half of one). An empty message (the
rollout withdrew the command) removes the file.

The gateway neither checks the signature nor installs anything: components do not import each
other, and installing needs root. The updater does both: the path unit
deploy/systemd/jagajalan-gateway-command@.path starts
``jagajalan firmware gateway-update --command <file>`` when the file changes; it checks the
signature, the gateway named and the expiry, and ignores a command already applied. The
same command arriving again (the retained message on every reconnect) is not rewritten, so
the updater is not started for nothing.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from telemetry import topics

log = logging.getLogger(__name__)

COMMAND_FILE_NAME = "command.json"
MAX_COMMAND = 16 * 1024  # bytes; larger is no command of ours: dropped


class CommandInbox:
    def __init__(self, gateway: str, folder: Path) -> None:
        self.topic = topics.command(gateway)
        self.path = folder / COMMAND_FILE_NAME
        self.received = 0  # commands handed over (file written or removed)

    def handle(self, topic: str, payload: bytes) -> bool:
        """Handle a message; True when it was this gateway's command topic."""
        if topic != self.topic:
            return False
        if len(payload) > MAX_COMMAND:
            log.warning(
                "command on %s: %d bytes, more than %d; ignored", topic, len(payload), MAX_COMMAND
            )
            return True
        try:
            if not payload:
                if self.path.exists():
                    self.path.unlink()
                    self.received += 1
                    log.info("command withdrawn; %s removed", self.path)
                return True
            if self.path.exists() and self.path.read_bytes() == payload:
                return True  # the retained command again, after a reconnect
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}")
            with tmp.open("wb") as out:
                out.write(payload)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
            self.received += 1
            log.info("command received on %s; written to %s for the updater", topic, self.path)
        except OSError as exc:
            log.error("cannot write the command to %s: %s", self.path, exc)
        return True
