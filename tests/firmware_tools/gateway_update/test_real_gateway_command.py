"""The whole path of a rollout command through the real gateway process and a real Mosquitto:
a signed command published retained on the gateway's cmd topic before the gateway starts
reaches it when it connects, and it writes the command beside its spool (byte for byte); a
command on another gateway's topic is not written. The updater then applies that file with the
gateway's own config (`gateway-update --command FILE`, as the path unit
deploy/systemd/jagajalan-gateway-command@.path starts it) and installs the version it names.
Withdrawing the command (an empty retained message) while the gateway runs removes the file.

Faked: systemd (the path unit: the test starts the updater once the file is there; the
gateway's restart: kit.Supervisor runs kit's stand-in release, not this gateway) and the
broker's ACL (the session's anonymous broker; tests/deploy checks that a gateway may read its
own cmd topic and no other)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from firmware_tools.bundle import SecretKey
from kernel import alive
from kernel.mqtt import new_client
from telemetry import topics
from testkit import REPO, children
from testkit.gateway import emit_device, wait_until, write_config
from testkit.services import Mosquitto

from .commands_kit import TARGET, bundle, command, write_keys
from .kit import kill_pid_file, runs
from .run_cli import main

pytestmark = pytest.mark.services


def publish_retained(port: int, topic: str, payload: bytes) -> None:
    client = new_client(f"rollout.test-{port}")
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        info = client.publish(topic, payload, qos=1, retain=True)
        info.wait_for_publish(10)
        assert info.is_published()
    finally:
        client.loop_stop()
        client.disconnect()


def test_the_gateway_hands_its_command_to_the_updater(broker: Mosquitto, tmp_path: Path) -> None:
    gw = "gw-cmd-real"
    key = SecretKey.generate()
    made = bundle(tmp_path, key, "2.0.0", counter=1)
    payload = command(key, gw, "2.0.0", str(made), made)
    publish_retained(broker.port, topics.command(gw), payload)
    stranger = command(key, "gw-cmd-other", "2.0.0", str(made), made)
    publish_retained(broker.port, topics.command("gw-cmd-other"), stranger)
    config = write_config(tmp_path, gw, broker.url, [emit_device("c1", 3)])
    inbox = alive.health_file_of(config).parent / "command.json"
    health = tmp_path / "release-health.json"
    proc = children.start(
        [sys.executable, "-m", "testkit.gateway_cli", "gateway", "run", "--config", str(config)],
        cwd=REPO,
    )
    try:
        assert wait_until(lambda: inbox.exists() and inbox.read_bytes() == payload, 20)
        assert list(tmp_path.glob("command*.json")) == [inbox]
        root = tmp_path / "opt"
        args = [
            "--root",
            str(root),
            "--health-file",
            str(health),
            "--timeout",
            "10",
            "--keys",
            str(write_keys(tmp_path, key)),
            "--target",
            TARGET,
            "--lang",
            "en",
            "--config",
            str(config),
            "--command",
            str(inbox),
        ]
        assert main(args, signed=True) == 0
        assert runs(root) == "2.0.0"
        publish_retained(broker.port, topics.command(gw), b"")
        assert wait_until(lambda: not inbox.exists(), 20)
        assert proc.poll() is None
    finally:
        children.stop(proc, timeout=10)
        kill_pid_file(health.with_name("gateway.pid"))
        publish_retained(broker.port, topics.command("gw-cmd-other"), b"")
