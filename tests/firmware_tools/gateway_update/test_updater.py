"""Gateway updates on a release tree in a temporary folder: the switch, the health check, the
rollback and its report, and crash injection at every step between two durable writes.

Fakes (kit.py): unsigned payloads through a test verifier, a tiny installed "venv", a process
supervisor in place of systemd. The file-system steps, the journal, the payload's install.sh
and the gateway processes are real.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from firmware_tools.gateway_update.checks import HealthFile
from firmware_tools.gateway_update.layout import Layout
from firmware_tools.gateway_update.updater import UpdateError, recover, update
from kernel.alive import read_alive

from .kit import Supervisor, runs, tar_verifier, write_payload


@pytest.fixture
def env(tmp_path: Path):
    root = tmp_path / "opt"
    root.mkdir()
    health_file = tmp_path / "health.json"
    service = Supervisor(root, health_file)
    yield root, health_file, service, tmp_path
    service.stop()


def run_update(env, version: str, behaviour: str = "ok", timeout: float = 10.0, **kw):
    root, health_file, service, tmp = env
    payload = write_payload(tmp, version, behaviour, **kw)
    check = HealthFile(health_file, timeout=timeout, poll=0.02)
    return update(tar_verifier(payload), layout=Layout(root), service=service, health=check)


def test_an_update_switches_and_keeps_the_previous_release(env) -> None:
    root, health_file, _service, _ = env
    first = run_update(env, "1.0.0")
    assert (first.result, first.version, first.old) == ("committed", "1.0.0", None)
    second = run_update(env, "1.1.0")
    layout = Layout(root)
    assert (second.result, second.key) == ("committed", "health.ok_published")
    assert (layout.current_version(), layout.previous_version()) == ("1.1.0", "1.0.0")
    assert runs(root) == "1.1.0"
    assert read_alive(health_file)["version"] == "1.1.0"
    assert layout.read_journal().history == ["staging", "switching", "trial", "committed"]
    third = run_update(env, "1.2.0")
    assert third.result == "committed"
    assert layout.versions() == ["1.1.0", "1.2.0"]  # only current and previous are kept


@pytest.mark.parametrize(
    ("behaviour", "key"),
    [("silent", "health.not_published"), ("crash", "health.not_started")],
)
def test_a_release_that_fails_its_health_check_is_rolled_back_and_reported(
    env, behaviour: str, key: str
) -> None:
    root, health_file, _service, _ = env
    run_update(env, "1.0.0")
    outcome = run_update(env, "2.0.0", behaviour, timeout=1.0)
    layout = Layout(root)
    assert (outcome.result, outcome.version, outcome.new, outcome.key) == (
        "rolled_back",
        "1.0.0",
        "2.0.0",
        key,
    )
    assert layout.current_version() == "1.0.0"
    assert runs(root) == "1.0.0"
    journal = layout.read_journal()
    assert (journal.phase, journal.reason) == ("rolled_back", key)
    # the old release was started again and is healthy
    assert HealthFile(health_file, timeout=10, poll=0.02).wait("1.0.0", 0).ok


def test_a_broken_payload_changes_nothing(env) -> None:
    root, *_, tmp = env
    run_update(env, "1.0.0")
    bad = tmp / "jagajalan-gateway-1.1.0.tar.gz"
    bad.write_bytes(b"not a tar")
    layout = Layout(root)
    outcome = update(
        tar_verifier(bad), layout=layout, service=env[2], health=HealthFile(env[1], timeout=1)
    )
    assert (outcome.result, outcome.key) == ("aborted", "update.bad_image")
    failing = run_update(env, "1.2.0", install_fails=True)
    assert (failing.result, failing.key) == ("aborted", "update.install_failed")
    assert "no space left" in failing.detail
    assert layout.current_version() == "1.0.0"
    assert layout.versions() == ["1.0.0"]


def test_a_version_that_is_no_folder_name_is_refused(env) -> None:
    root, _, service, tmp = env
    payload = write_payload(tmp, "1.0.0")
    verified = tar_verifier(payload)
    verified.manifest["version"] = "../../etc"
    with pytest.raises(UpdateError) as err:
        update(verified, layout=Layout(root), service=service, health=HealthFile(tmp / "h"))
    assert err.value.key == "update.bad_version"
    assert not (root / "releases").exists()


def test_the_same_version_again_changes_nothing(env) -> None:
    _root, _, service, _ = env
    run_update(env, "1.0.0")
    starts = service.starts
    assert run_update(env, "1.0.0").result == "unchanged"
    assert service.starts == starts


class Crash(Exception):
    """Stands for the power going off at one point of the update."""


STEPS = [
    "staging",
    "staged",
    "switching",
    "previous",
    "current",
    "trial",
    "restarted",
    "checked",
    "committed",
    "rolling_back",
    "pointed_back",
    "rolled_back",
]


def assert_runnable(root: Path) -> str:
    layout = Layout(root)
    version = layout.current_version()
    assert version is not None and layout.runnable(version), version
    return runs(root)


@pytest.mark.parametrize("at", STEPS)
@pytest.mark.parametrize("behaviour", ["ok", "silent"])
def test_a_crash_at_any_step_leaves_a_runnable_release(env, at: str, behaviour: str) -> None:
    """Between any two durable steps the gateway has a runnable release; the next start
    (recover) ends on the old release unless the new one had been committed."""
    root, health_file, service, tmp = env
    run_update(env, "1.0.0")
    payload = write_payload(tmp, "2.0.0", behaviour)
    layout = Layout(root)

    def step(name: str) -> None:
        if name == at:
            raise Crash(name)

    check = HealthFile(health_file, timeout=0.5, poll=0.02)
    with contextlib.suppress(Crash):
        update(tar_verifier(payload), layout=layout, service=service, health=check, step=step)
    service.stop()  # the power is off: nothing runs
    assert assert_runnable(root) in ("1.0.0", "2.0.0")
    journal = recover(layout, service, restart=False)  # the boot unit
    # only a release that passed its check and was committed stays (a healthy release never
    # reaches the rollback steps: its update runs to the end)
    after_commit = STEPS.index(at) >= STEPS.index("committed")
    expected = "2.0.0" if (after_commit and behaviour == "ok") else "1.0.0"
    assert assert_runnable(root) == expected
    assert journal.phase in ("committed", "rolled_back", "aborted")
    # and the gateway updates again afterwards
    assert run_update(env, "3.0.0").result == "committed"
    assert assert_runnable(root) == "3.0.0"


def test_an_unhealthy_first_release_stays_and_is_reported(env, capsys) -> None:
    """Nothing to go back to: the release stays current, the outcome says it is unhealthy."""
    from firmware_tools.gateway_update.report import outcome as render

    root, *_ = env
    outcome = run_update(env, "1.0.0", "silent", timeout=0.5)
    assert (outcome.result, outcome.key) == ("kept_unhealthy", "health.not_published")
    assert Layout(root).current_version() == "1.0.0"
    assert render(outcome, "en").startswith("WARNING: version 1.0.0 did not pass")
