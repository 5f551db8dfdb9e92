"""The gateway's health file (kernel/alive.py), as the updater on the same machine reads it:
a real `gateway run` process and a real Mosquitto. The file says ``running`` once the gateway
started, ``published`` once the broker acknowledged its status; with no broker it stays at
``running``, which the updater's check accepts only when told to (the USB case, no network).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from firmware_tools.gateway_update.checks import HealthFile
from gateway import config as gateway_config
from kernel import __version__, alive
from testkit import children
from testkit.gateway import emit_device, wait_until, write_config
from testkit.procs import start_gateway
from testkit.services import Mosquitto, free_port

pytestmark = pytest.mark.services


def test_a_running_gateway_says_published_with_its_version(
    broker: Mosquitto, tmp_path: Path
) -> None:
    config = write_config(tmp_path, "gw-alive", broker.url, [emit_device("c1", 5)])
    path = alive.health_file_of(config)
    assert path == tmp_path / "health.json"
    proc = start_gateway(config, tmp_path / "gw.log")
    try:
        assert wait_until(lambda: (alive.read_alive(path) or {}).get("phase") == "published")
        record = alive.read_alive(path)
        assert (record["version"], record["pid"]) == (__version__, proc.pid)
        result = HealthFile(path, timeout=5, poll=0.05).wait(__version__, record["started"])
        assert (result.ok, result.key) == (True, "health.ok_published")
        # another version is not this one
        assert HealthFile(path, timeout=0).wait("9.9.9", 0).key == "health.not_started"
    finally:
        children.stop(proc)
    # a gateway that is gone is not healthy, whatever its file says
    assert HealthFile(path, timeout=0).wait(__version__, 0).key == "health.exited"


def test_without_a_broker_the_gateway_stays_running(tmp_path: Path) -> None:
    url = f"mqtt://127.0.0.1:{free_port()}"  # nothing listens there
    config = write_config(tmp_path, "gw-offline", url, [emit_device("c1", 5)])
    path = alive.health_file_of(config)
    proc = start_gateway(config, tmp_path / "gw.log")
    try:
        assert wait_until(lambda: (alive.read_alive(path) or {}).get("phase") == "running")
        started = alive.read_alive(path)["started"]
        strict = HealthFile(path, timeout=1.0, poll=0.05).wait(__version__, started)
        assert (strict.ok, strict.key, strict.detail) == (False, "health.not_published", "running")
        offline = HealthFile(path, require="running", timeout=1.0).wait(__version__, started)
        assert (offline.ok, offline.key) == (True, "health.ok_running")
    finally:
        children.stop(proc)


def test_the_health_file_is_found_from_the_gateway_config(tmp_path: Path) -> None:
    assert alive.DEFAULT_SPOOL_DIR == gateway_config.DEFAULT_SPOOL_DIR
    plain = tmp_path / "gw.toml"
    plain.write_text('[gateway]\nid = "srl-pasar-01"\n')
    assert alive.health_file_of(plain) == Path("/var/lib/jagajalan/srl-pasar-01/health.json")
    relative = tmp_path / "etc" / "gw.toml"
    relative.parent.mkdir()
    relative.write_text('[gateway]\nid = "x"\n[spool]\npath = "../spool/s.sqlite"\n')
    assert alive.health_file_of(relative) == tmp_path / "spool" / "health.json"
    broken = tmp_path / "broken.toml"
    broken.write_text("[gateway\n")
    with pytest.raises(alive.HealthFileUnknown, match=r"broken\.toml"):
        alive.health_file_of(broken)
    with pytest.raises(alive.HealthFileUnknown, match=r"missing\.toml"):
        alive.health_file_of(tmp_path / "missing.toml")
    assert os.path.basename(alive.health_file_of(plain)) == alive.HEALTH_FILE_NAME


def test_the_status_reports_the_last_update_from_the_updaters_journal(tmp_path: Path) -> None:
    """The journal the updater writes (its own code) -> the gateway's status -> what a
    rollout reads from it (its own parser): one chain, three components' code."""
    import time as _time

    from firmware_tools.gateway_update.layout import Journal, Layout
    from firmware_tools.rollout.runner import seen_of
    from gateway.runtime.health import Health
    from gateway.runtime.spool import Spool
    from telemetry.codec import encode_status

    layout = Layout(tmp_path / "opt")
    layout.root.mkdir()
    spool = Spool(tmp_path / "spool.sqlite", 100)
    try:
        health = Health("gw-upd", spool, list, update_journal=layout.journal_path)
        assert "update" not in health.status("online").model_dump(exclude_none=True)
        journal = Journal("trial", "2.0.0", "1.0.0", _time.time())
        layout.write_journal(journal)
        assert "update" not in health.status("online").model_dump()  # not finished yet
        journal.phase, journal.reason = "rolled_back", "health.not_published"
        layout.write_journal(journal)
        status = health.status("online")
        assert status.model_dump()["update"] == {
            "version": "2.0.0",
            "result": "rolled_back",
            "reason": "health.not_published",
        }
        gateway, seen = seen_of(encode_status(status))
        assert (gateway, seen.update_version, seen.update_result) == (
            "gw-upd",
            "2.0.0",
            "rolled_back",
        )
    finally:
        spool.close()


def test_the_status_reports_a_refused_command_from_the_outcome_file(tmp_path: Path) -> None:
    """The updater's outcome file (written by its own code) -> the gateway's status: a refused
    command, which leaves no trace in the journal, is reported with its reason; the outcome
    file wins over the journal; a change of the file is a change worth a status at once."""
    from firmware_tools.gateway_update import outcome_file
    from firmware_tools.rollout.runner import seen_of
    from gateway.runtime.health import Health
    from gateway.runtime.spool import Spool
    from kernel.update_result import UPDATE_RESULT_NAME
    from telemetry.codec import encode_status

    spool = Spool(tmp_path / "spool.sqlite", 100)
    journal = tmp_path / "update.json"
    journal.write_text('{"phase": "committed", "new": "1.0.0", "old": null}')
    try:
        health = Health(
            "gw-upd",
            spool,
            list,
            update_journal=journal,
            update_result=tmp_path / UPDATE_RESULT_NAME,
        )
        assert health.status("online").model_dump()["update"]["version"] == "1.0.0"
        before = health.changes()
        outcome_file.of_error(
            tmp_path, "update.command_refused", "signature", version="2.0.0", rollout="r9"
        )
        assert health.changes() != before
        update = health.status("online").model_dump()["update"]
        assert update["version"] == "2.0.0" and update["result"] == "refused"
        assert (update["reason"], update["detail"], update["rollout"]) == (
            "update.command_refused",
            "signature",
            "r9",
        )
        assert abs(update["time"] - _time_ms()) < 60_000
        gateway, seen = seen_of(encode_status(health.status("online")))
        assert (gateway, seen.update_version, seen.update_result) == ("gw-upd", "2.0.0", "refused")
        # An update the updater did not live to report (recovered at boot): the newer wins.
        later = (_time_ms() + 5_000) / 1000
        journal.write_text(
            f'{{"phase": "rolled_back", "new": "2.1.0", "old": "1.0.0", "started": {later}}}'
        )
        assert health.status("online").model_dump()["update"]["version"] == "2.1.0"
        journal.write_text('{"phase": "committed", "new": "1.0.0", "old": null, "started": 1}')
        assert health.status("online").model_dump()["update"]["version"] == "2.0.0"
        (tmp_path / UPDATE_RESULT_NAME).write_text("{half a file")  # never reported half
        assert health.status("online").model_dump()["update"]["version"] == "1.0.0"
    finally:
        spool.close()


def _time_ms() -> int:
    import time as _time

    return int(_time.time() * 1000)
