"""The gateway's command inbox (gateway/runtime/commands.py) on a real folder: its own cmd
topic's message is written atomically beside the spool, the same command again (the retained
message after a reconnect) does not touch the file, an empty message removes it, another
topic and an oversized message are ignored."""

from __future__ import annotations

from pathlib import Path

from gateway.runtime.commands import MAX_COMMAND, CommandInbox
from telemetry import topics


def test_the_inbox_writes_its_own_command_once_and_removes_a_withdrawn_one(tmp_path: Path) -> None:
    inbox = CommandInbox("gw-1", tmp_path)
    assert inbox.handle(topics.command("gw-2"), b'{"x":1}') is False
    assert not inbox.path.exists()
    assert inbox.handle(topics.command("gw-1"), b'{"x":1}') is True
    assert inbox.path.read_bytes() == b'{"x":1}'
    written = inbox.path.stat().st_mtime_ns, inbox.path.stat().st_ino
    assert inbox.handle(topics.command("gw-1"), b'{"x":1}')
    assert (inbox.path.stat().st_mtime_ns, inbox.path.stat().st_ino) == written
    assert inbox.received == 1
    assert inbox.handle(topics.command("gw-1"), b"x" * (MAX_COMMAND + 1))
    assert inbox.path.read_bytes() == b'{"x":1}'
    assert inbox.handle(topics.command("gw-1"), b"")
    assert not inbox.path.exists()
    assert inbox.received == 2
    assert [p.name for p in tmp_path.iterdir()] == []  # no temporary left behind
